//! The shared vocabulary of `dmo`.
//!
//! Every crate speaks in these types so that an address, an event time and a
//! byte count can never be swapped by accident (see `shared/DESIGN.md`,
//! "Time and events"), and so that the emulator and the consumers of its
//! runs (the trace file, the miner) need not know each other.

mod cpu;
mod event;
mod memory;
mod op;
mod run;
mod sink;
mod units;

pub use cpu::{CpuModel, UnknownCpu};
pub use event::{AccessKind, Event};
pub use memory::{demangle, describe_address, MemoryRegion, RegionKind, Symbol, SymbolKind};
pub use op::{Buffer, BufferRole, OpSegment};
pub use run::{RunEnd, RunRecord, RunStats};
pub use sink::{CountingSink, EventClock, EventSink, FanOut};
pub use units::{Address, ByteCount, EventTime, TimeRange};
