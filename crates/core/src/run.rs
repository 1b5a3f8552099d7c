//! What a firmware run found out besides its events. The emulator fills a
//! [`RunRecord`] in; whoever keeps the run (the trace file) turns it into
//! its own format, so the emulator need not know any of them.

use crate::cpu::CpuModel;
use crate::memory::{MemoryRegion, Symbol};
use crate::units::Address;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// One firmware run, apart from its events and op segments (those went to
/// the [`crate::EventSink`] as they happened).
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct RunRecord {
    pub elf_path: PathBuf,
    /// SHA-256 of the ELF file, so a record can be matched to its firmware.
    pub elf_sha256: [u8; 32],
    pub cpu: CpuModel,
    pub memory_map: Vec<MemoryRegion>,
    /// The ELF symbols the events touched (functions run, objects accessed).
    pub symbols: Vec<Symbol>,
    pub end: RunEnd,
    pub stats: RunStats,
    /// What the firmware printed (semihosting or UART stub).
    pub firmware_stdout: String,
}

/// How a run ended, in the few words a record keeps.
#[derive(Clone, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
pub enum RunEnd {
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
