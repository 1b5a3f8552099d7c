//! The shared vocabulary of `dmo`.
//!
//! Every crate speaks in these types so that an address, an event time and a
//! byte count can never be swapped by accident (see `shared/DESIGN.md`,
//! "Time and events").

mod event;
mod op;
mod sink;
mod units;

pub use event::{AccessKind, Event};
pub use op::{Buffer, BufferRole, OpSegment};
pub use sink::{CountingSink, EventSink, FanOut};
pub use units::{Address, ByteCount, EventTime, TimeRange};
