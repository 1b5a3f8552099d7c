//! The dmo trace: a file of every data load and store of a firmware run, and
//! the liveness analysis over it.
//!
//! Writing: [`TraceWriter`] is an [`dmo_core::EventSink`]; the emulator feeds
//! it and calls [`TraceWriter::finish`] with the run's [`TraceMetadata`].
//! Reading: [`TraceReader::open`], then [`TraceReader::events`] or
//! [`TraceReader::replay`] into any sink. The layout is described in the
//! `format` module.

mod codec;
mod error;
mod format;
mod metadata;
mod reader;
mod writer;

pub use error::{BlockPosition, TraceError};
pub use format::FORMAT_VERSION;
pub use metadata::{
    MemoryRegion, RegionKind, RunStats, RunStatus, Symbol, SymbolKind, TraceMetadata,
};
pub use reader::{BlockStream, Events, TraceReader};
pub use writer::{TraceOptions, TraceSummary, TraceWriter};
