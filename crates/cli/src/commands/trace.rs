//! `dmo trace`: run a firmware ELF and record every load and store.

use super::firmware_args::EmulatorArgs;
use super::progress::ProgressSink;
use super::text::{print_fault, print_firmware_output, print_run_summary, refuse_overwrite};
use anyhow::Context;
use clap::Args as ClapArgs;
use dmo_emu::RunStatus;
use dmo_trace::{TraceMetadata, TraceOptions, TraceWriter};
use std::path::PathBuf;
use std::process::ExitCode;

/// Exit codes: 0 the run completed and the firmware exited with 0; 1 the run
/// completed but the firmware reported a non-zero status (the trace is
/// written); 2 the run failed (fault, budget, bad input): no trace is left
/// unless --keep-partial.
#[derive(ClapArgs, Debug)]
#[command(
    after_help = "Exit status: 0 when the firmware exited with 0; 1 when it exited with another \
status (the trace is still written); 2 on a fault, an exhausted budget or bad input (no trace is \
left unless --keep-partial)."
)]
pub struct Args {
    /// Firmware ELF (32-bit little-endian ARM).
    pub elf: PathBuf,

    /// Trace file to write [default: ELF name with .dmotrace, in the current folder].
    #[arg(short, long)]
    pub output: Option<PathBuf>,

    /// Overwrite the output file if it exists.
    #[arg(long)]
    pub force: bool,

    /// On a fault or exhausted budget, keep a trace file marked incomplete.
    #[arg(long)]
    pub keep_partial: bool,

    #[command(flatten)]
    pub emulator: EmulatorArgs,

    /// Do not echo what the firmware printed.
    #[arg(short, long)]
    pub quiet: bool,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let output = args.output.clone().unwrap_or_else(|| {
        let stem = args.elf.file_stem().unwrap_or_default();
        PathBuf::from(stem).with_extension("dmotrace")
    });
    refuse_overwrite(&output, args.force)?;
    let mut firmware = super::text::load_firmware(&args.elf)?;
    if let Ok(absolute) = std::fs::canonicalize(&args.elf) {
        firmware.path = absolute;
    }
    let mut config = args.emulator.run_config()?;
    super::firmware_args::detect_runtime(&firmware, &mut config);
    let mut writer = TraceWriter::create(
        &output,
        TraceOptions {
            keep_partial: args.keep_partial,
            overwrite: args.force,
            ..TraceOptions::default()
        },
    )?;
    let outcome = {
        let mut sink = ProgressSink::new(&mut writer, "tracing");
        let outcome = dmo_emu::run(&firmware, &config, &mut sink)?;
        sink.finish();
        outcome
    };
    if !args.quiet {
        print_firmware_output(&outcome);
    }
    let metadata = TraceMetadata::from(outcome.record(&firmware, config.cpu));
    if outcome.status.is_complete() {
        let summary = writer
            .finish(metadata)
            .with_context(|| format!("writing {}", output.display()))?;
        print_run_summary(&outcome, Some(&summary));
        return Ok(match outcome.status {
            RunStatus::Exited { status } if status != 0 => {
                eprintln!("firmware exited with status {status}");
                ExitCode::from(1)
            }
            _ => ExitCode::SUCCESS,
        });
    }
    print_fault(&outcome, &firmware);
    match writer.abandon(metadata)? {
        Some(summary) => eprintln!(
            "kept a partial trace (marked incomplete): {} ({} events)",
            summary.path.display(),
            summary.events
        ),
        None => {
            eprintln!("no trace written (pass --keep-partial to keep the events up to the failure)")
        }
    }
    Ok(ExitCode::from(2))
}
