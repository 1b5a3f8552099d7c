//! What a trace records about its run besides the events: the firmware, the
//! memory map, the symbols the events touch, how the run ended, counters.
//! The emulator describes its run in a [`RunRecord`]; the trace turns that
//! into [`TraceMetadata`], its own on-disk form, and stores it after the
//! events.

use dmo_core::{
    describe_address, Address, MemoryRegion, OpSegment, RunEnd, RunRecord, RunStats, Symbol,
};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// Everything about a run that is not an event. Stored once, after the event
/// blocks, so the emulator can fill it in when the run has ended.
#[derive(Clone, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
pub struct TraceMetadata {
    /// Version of the `dmo` that recorded the trace.
    pub tool_version: String,
    pub elf_path: PathBuf,
    /// SHA-256 of the ELF file, so a trace can be matched to its firmware.
    pub elf_sha256: [u8; 32],
    /// Emulated CPU, e.g. `cortex-m4`.
    pub cpu: String,
    pub memory_map: Vec<MemoryRegion>,
    /// The ELF symbols the events touch (the emulator chooses them).
    pub symbols: Vec<Symbol>,
    pub status: RunEnd,
    pub stats: RunStats,
    /// What the firmware printed (semihosting or UART stub).
    pub firmware_stdout: String,
}

/// The trace's form of a run: the same facts, plus the version of the `dmo`
/// that writes it. Field order and types are the file format.
impl From<RunRecord> for TraceMetadata {
    fn from(run: RunRecord) -> TraceMetadata {
        TraceMetadata {
            tool_version: env!("CARGO_PKG_VERSION").to_owned(),
            elf_path: run.elf_path,
            elf_sha256: run.elf_sha256,
            cpu: run.cpu.name().to_owned(),
            memory_map: run.memory_map,
            symbols: run.symbols,
            status: run.end,
            stats: run.stats,
            firmware_stdout: run.firmware_stdout,
        }
    }
}

impl TraceMetadata {
    /// The region containing `address`, if any.
    pub fn region_of(&self, address: Address) -> Option<&MemoryRegion> {
        self.memory_map
            .iter()
            .find(|region| region.contains(address))
    }

    /// `symbol+0xoffset` for the symbol containing `address` (the smallest
    /// one if several do), else the bare address.
    pub fn name_address(&self, address: Address) -> String {
        let containing = self
            .symbols
            .iter()
            .filter(|symbol| symbol.contains(address))
            .min_by_key(|symbol| symbol.size);
        describe_address(containing, address)
    }
}

/// Where a trace's op buffers come from.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub enum BufferOrigin {
    /// Declared by the firmware's markers (`dmo_buffer`).
    Markers,
    /// Found by [`crate::BufferDiscovery`] when the trace was written (the
    /// ops carried none: `--ops`, a known runtime), and stored in it.
    Discovery,
}

/// Stored right after the [`Footer`], inside the footer's length and
/// checksum. bincode decodes a footer's own fields and leaves what follows,
/// so a `dmo` from before the extension reads these traces, and this one
/// reads traces without it (then it is `None`).
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub(crate) struct FooterExtension {
    pub buffer_origin: Option<BufferOrigin>,
}

/// What the trace file stores after the event blocks. `Segment` is the
/// current [`OpSegment`]; format 2 stored [`OpSegmentV2`].
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub(crate) struct Footer<Segment = OpSegment> {
    pub metadata: TraceMetadata,
    /// Op segments, in the order they began.
    pub segments: Vec<Segment>,
    /// One entry per event block, in file order.
    pub blocks: Vec<BlockIndexEntry>,
    pub event_count: u64,
    /// False when the run failed and the file was kept with `keep_partial`.
    pub complete: bool,
}

/// Where a block starts in the file and which events it holds.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub(crate) struct BlockIndexEntry {
    pub byte_offset: u64,
    pub first_time: u64,
    pub event_count: u32,
}

/// An op segment as format 2 stored it: without the instruction count.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub(crate) struct OpSegmentV2 {
    pub name: String,
    pub kind: String,
    pub time: dmo_core::TimeRange,
    pub buffers: Vec<dmo_core::Buffer>,
}

impl From<Footer<OpSegmentV2>> for Footer {
    fn from(old: Footer<OpSegmentV2>) -> Footer {
        Footer {
            metadata: old.metadata,
            segments: old
                .segments
                .into_iter()
                .map(|segment| OpSegment {
                    name: segment.name,
                    kind: segment.kind,
                    time: segment.time,
                    buffers: segment.buffers,
                    instructions: None,
                })
                .collect(),
            blocks: old.blocks,
            event_count: old.event_count,
            complete: old.complete,
        }
    }
}
