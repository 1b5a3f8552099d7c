//! What a run is asked to do. Its own module so that the memory layout and
//! the run loop both read it without importing each other.

use crate::runtime::OpFunctions;
use dmo_core::{Address, CpuModel};
use std::path::PathBuf;

/// Default instruction budget: about a minute of emulation.
pub const DEFAULT_MAX_INSTRUCTIONS: u64 = 5_000_000_000;

/// Bytes written into a symbol before the run (`--poke SYMBOL=FILE`).
#[derive(Clone, Debug)]
pub struct Poke {
    pub symbol: String,
    pub bytes: Vec<u8>,
    /// Where the bytes came from, for messages.
    pub source: PathBuf,
}

/// How to run a firmware.
#[derive(Clone, Debug)]
pub struct RunConfig {
    pub cpu: CpuModel,
    /// RAM `(start, length)`; by default from the vector table's stack pointer.
    pub ram: Option<(Address, u32)>,
    /// Call this function (AAPCS, no arguments) instead of starting at reset.
    pub entry: Option<String>,
    /// Stop with [`crate::RunStatus::BudgetExhausted`] after this many instructions.
    pub max_instructions: u64,
    pub pokes: Vec<Poke>,
    /// Without markers: each top-level call of a function these select
    /// (`--ops`, or a known runtime's kernels) becomes an op segment.
    pub op_functions: Option<OpFunctions>,
}

impl Default for RunConfig {
    fn default() -> RunConfig {
        RunConfig {
            cpu: CpuModel::default(),
            ram: None,
            entry: None,
            max_instructions: DEFAULT_MAX_INSTRUCTIONS,
            pokes: Vec::new(),
            op_functions: None,
        }
    }
}
