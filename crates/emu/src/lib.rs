//! Runs a Cortex-M firmware ELF under emulation (unicorn, Thumb M-class) and
//! reports every data load and store, in execution order, to an
//! [`dmo_core::EventSink`], together with the op segments that the firmware's
//! markers (`include/dmo_markers.h`) or `--ops` function calls delimit.
//!
//! Memory map: the ELF's loadable segments, RAM (from the vector table's
//! initial stack pointer, or `--ram`), and stubs for the peripheral
//! (0x4000_0000-0x5FFF_FFFF) and system (0xE000_0000+) ranges whose reads
//! return 0 and whose writes are ignored; stub accesses are counted, not
//! traced. Semihosting (`BKPT 0xAB`) gives the firmware a console and `exit()`.
//!
//! The emulator speaks only `dmo_core`: events and op segments go to an
//! `EventSink`, and [`RunOutcome::record`] describes the run as a
//! [`dmo_core::RunRecord`]. It knows nothing of the trace file or the miner
//! that consume them.

mod blockclock;
mod config;
mod cpu;
mod disasm;
mod error;
mod firmware;
mod layout;
mod overlay;
mod run;
mod runtime;
pub mod semihosting;
mod snapshot;

pub use blockclock::ClockStop;
pub use config::{Poke, RunConfig, DEFAULT_MAX_INSTRUCTIONS};
pub use disasm::{thumb_instruction_len, Disassembler};
pub use error::{ElfError, EmuError};
pub use firmware::{Firmware, Segment, SymbolTable, VectorTable};
pub use layout::{DEFAULT_RAM_SIZE, DEFAULT_RAM_START};
pub use overlay::{
    pseudo_random_bytes, ClobberedRead, HookedRange, Overlay, OverlayPlacement, OverlayReport,
};
pub use run::{
    run, run_counting_baseline, run_hook_probe, run_overlaid, FaultReport, HookProbe, RunOutcome,
    RunStatus,
};
pub use runtime::{OpFunctions, Runtime, UnknownRuntime};
pub use snapshot::{Session, SessionShare, DEFAULT_SNAPSHOT_BUDGET};
