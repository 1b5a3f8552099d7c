//! The dmo trace: a file of every data load and store of a firmware run, and
//! the liveness analysis over it.
//!
//! Writing: [`TraceWriter`] is an [`dmo_core::EventSink`]; the emulator feeds
//! it and calls [`TraceWriter::finish`] with the run's [`TraceMetadata`]
//! (made from the emulator's [`dmo_core::RunRecord`]). The trace knows
//! nothing of the emulator.
//! Reading: [`TraceReader::open`], then [`TraceReader::events`] or
//! [`TraceReader::replay`] into any sink. The layout is described in the
//! `format` module.
//!
//! Analysis: [`LivenessTracker`] (live windows, dead stores, initial-data
//! reads of chosen bytes), [`BufferDiscovery`] (buffers of ops without
//! markers) and [`PairMiner`] (`lr`/`fa` per (input, output) pair, mined with
//! `dmo_overlap`) are sinks too, so they run over a trace file or online.

mod codec;
mod discovery;
mod error;
mod format;
mod liveness;
mod metadata;
mod pairs;
mod ranges;
mod reader;
mod sanitizer;
mod writer;

pub use discovery::BufferDiscovery;
pub use error::{BlockPosition, TraceError};
pub use format::FORMAT_VERSION;
pub use liveness::{LiveWindow, LivenessReport, LivenessTracker};
pub use metadata::{BufferOrigin, TraceMetadata};
pub use pairs::{PairMiner, PairResult};
pub use ranges::ByteRange;
pub use reader::{BlockStream, Events, TraceReader, MAX_MAPPED_BYTES, MAX_PAIR_BYTES};
pub use sanitizer::{clobbered_reads, ClobberFinding, ClobberSanitizer, ClobberedAccess};
pub use writer::{TraceOptions, TraceSummary, TraceWriter};
