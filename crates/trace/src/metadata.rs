//! What a trace records about its run besides the events: the firmware, the
//! memory map, the symbols the events touch, how the run ended, counters.
//! The emulator fills these in; the trace stores them after the events.

use dmo_core::{Address, OpSegment};
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
    pub status: RunStatus,
    pub stats: RunStats,
    /// What the firmware printed (semihosting or UART stub).
    pub firmware_stdout: String,
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

/// `symbol+0xoffset` (just `symbol` at its start) for an address inside
/// `symbol`, or the bare address without one: the one spelling every part of
/// dmo uses.
pub fn describe_address(symbol: Option<&Symbol>, address: Address) -> String {
    match symbol {
        Some(symbol) if address.0 == symbol.address.0 => symbol.name.clone(),
        Some(symbol) => format!(
            "{}+0x{:x}",
            symbol.name,
            address.0.wrapping_sub(symbol.address.0)
        ),
        None => format!("{address}"),
    }
}

/// A region of the emulated address space `[start, start + len)`.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct MemoryRegion {
    pub name: String,
    pub start: Address,
    pub len: u32,
    pub kind: RegionKind,
}

impl MemoryRegion {
    pub fn end(&self) -> u64 {
        self.start.0 as u64 + self.len as u64
    }

    pub fn contains(&self, address: Address) -> bool {
        self.start <= address && (address.0 as u64) < self.end()
    }
}

/// What a memory region holds. Liveness and buffer discovery look at RAM,
/// treat flash as weights and constants, and leave the stack out.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub enum RegionKind {
    /// Code and read-only data.
    Flash,
    /// Data RAM (globals, heap, tensor arena).
    Ram,
    /// The part of RAM the stack used: lowest SP seen up to the initial SP.
    Stack,
    /// Peripheral registers answered by a stub.
    MmioStub,
}

/// An ELF symbol.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Symbol {
    pub name: String,
    pub address: Address,
    pub size: u32,
    pub kind: SymbolKind,
}

impl Symbol {
    pub fn contains(&self, address: Address) -> bool {
        self.address <= address && (address.0 as u64) < self.address.0 as u64 + self.size as u64
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub enum SymbolKind {
    Function,
    Object,
}

/// How the run ended.
#[derive(Clone, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
pub enum RunStatus {
    /// The firmware exited normally.
    Complete { exit_code: i32 },
    /// The emulated CPU faulted.
    Fault { message: String, pc: Address },
    /// The instruction budget ran out.
    Budget { instructions: u64 },
    /// The run was cut short for another reason (an I/O error, an interrupt).
    #[default]
    Incomplete,
}

/// Counters of the run.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
pub struct RunStats {
    pub instructions: u64,
    pub events: u64,
    pub reads: u64,
    pub writes: u64,
    pub mmio_reads: u64,
    pub mmio_writes: u64,
    pub wall_time_ms: u64,
}

/// What the trace file stores after the event blocks.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub(crate) struct Footer {
    pub metadata: TraceMetadata,
    /// Op segments, in the order they began.
    pub segments: Vec<OpSegment>,
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
