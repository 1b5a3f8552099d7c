//! `dmo`: the command-line front end. It only parses arguments, calls the
//! library crates and prints; every subcommand lives in `commands/`.

use clap::{Parser, Subcommand};
use std::process::ExitCode;

mod commands;

#[derive(Parser)]
#[command(
    name = "dmo",
    version,
    about = "How much RAM does a Cortex-M ML model really need? Traces firmware, mines safe \
             input/output overlaps (diagonal memory optimisation) and plans arenas.",
    propagate_version = true
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

// One variant per subcommand; each module in `commands/` owns its arguments.
#[derive(Subcommand)]
enum Command {
    /// Run a firmware ELF under emulation and record every load and store to a trace file.
    Trace(commands::trace::Args),
    /// Summarise a trace: run status, events, memory map, ops and their buffers.
    Info(commands::info::Args),
    /// Print a trace's events with symbols and disassembly.
    Dump(commands::dump::Args),
    /// Arena plans for a .tflite model and the kernels it runs: TFLM greedy vs DMO, per-layer overlaps, MCU fit, offline plan.
    Plan(commands::plan::Args),
    /// Safe overlap and footprint of one operator under a kernel family's loop order (--kernels).
    Op(commands::op::Args),
    /// Build Cortex-M firmware from a .tflite model: TFLM-greedy or planned arena, reference or CMSIS-NN-order kernels, markers.
    Firmware(commands::firmware::Args),
    /// Per layer: s_min and s_mono from a firmware's trace, the loop-nest simulation and the formula.
    Compare(commands::compare::Args),
    /// Per-layer overlap report of a trace: s_min, s_mono, footprint, saving, witnesses, run peaks.
    Report(commands::report::Args),
    /// Trace and report in one step (no trace file unless --keep-trace).
    Analyse(commands::analyse::Args),
    /// Re-run one op with its output placed over its input: check s_min (safe) and s_min - 1 (clobbered).
    Verify(commands::verify::Args),
    /// Run a firmware and report every read of an op's input byte after the op overwrote it (a broken arena plan).
    Check(commands::check::Args),
    /// Paper-style figures of a trace (PNG/SVG): access pattern, liveness, overlap, layout.
    Plot(commands::plot::Args),
}

/// `dmo info T | head`: a closed pipe ends dmo quietly, as it ends any
/// Unix tool, instead of a panic in `println!`. Rust ignores SIGPIPE by
/// default; this puts back the default action.
#[allow(unsafe_code)]
fn die_quietly_on_a_closed_pipe() {
    // SAFETY: called first thing in main, before any thread exists; it only
    // resets one signal's disposition to the default.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

fn main() -> ExitCode {
    die_quietly_on_a_closed_pipe();
    let cli = Cli::parse();
    let result: anyhow::Result<ExitCode> = match cli.command {
        Command::Trace(args) => commands::trace::run(args),
        Command::Info(args) => commands::info::run(args),
        Command::Dump(args) => commands::dump::run(args),
        Command::Plan(args) => commands::plan::run(args),
        Command::Op(args) => commands::op::run(args),
        Command::Firmware(args) => commands::firmware::run(args),
        Command::Compare(args) => commands::compare::run(args),
        Command::Report(args) => commands::report::run(args),
        Command::Analyse(args) => commands::analyse::run(args),
        Command::Check(args) => commands::check::run(args),
        Command::Verify(args) => commands::verify::run(args),
        Command::Plot(args) => commands::plot::run(args),
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {}", commands::text::error_chain(error.as_ref()));
            ExitCode::from(2)
        }
    }
}
