//! `dmo analyse`: trace and report in one step, mining while emulating.

use super::firmware_args::EmulatorArgs;
use super::progress::ProgressSink;
use super::report::{write_report, OutputArgs};
use super::text::{print_fault, print_firmware_output, refuse_overwrite};
use anyhow::Context;
use clap::Args as ClapArgs;
use dmo_core::CountingSink;
use dmo_emu::RunStatus;
use dmo_trace::{TraceOptions, TraceWriter};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(ClapArgs, Debug)]
#[command(
    after_help = "Exit status: 0 when the firmware exited with 0; 1 when it exited with another \
status (the report is still written); 2 on a fault, an exhausted budget or bad input."
)]
pub struct Args {
    /// Firmware ELF (32-bit little-endian ARM).
    pub elf: PathBuf,

    #[command(flatten)]
    pub output: OutputArgs,

    /// Also keep the trace in this file.
    #[arg(long, value_name = "FILE")]
    pub keep_trace: Option<PathBuf>,

    #[command(flatten)]
    pub emulator: EmulatorArgs,

    /// Do not echo what the firmware printed.
    #[arg(short, long)]
    pub quiet: bool,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    if let Some(path) = &args.output.output {
        refuse_overwrite(path, args.output.force)?;
    }
    if let Some(path) = &args.keep_trace {
        refuse_overwrite(path, args.output.force)?;
    }
    let mut firmware = super::text::load_firmware(&args.elf)?;
    if let Ok(absolute) = std::fs::canonicalize(&args.elf) {
        firmware.path = absolute;
    }
    let mut config = args.emulator.run_config()?;
    super::firmware_args::detect_runtime(&firmware, &mut config);
    let model = args.output.read_model()?;
    // Ops without markers get their buffers from discovery, which needs the
    // whole run; matching a model needs the segments and pairs: both go
    // through a trace (kept with --keep-trace, else in a private folder).
    if config.op_functions.is_some() || model.is_some() {
        return analyse_via_trace(&args, &firmware, &config, model);
    }
    let (analysis, writer) = match &args.keep_trace {
        Some(path) => {
            let options = TraceOptions {
                overwrite: args.output.force,
                ..TraceOptions::default()
            };
            let mut writer = TraceWriter::create(path, options)?;
            let analysis = {
                let mut sink = ProgressSink::new(&mut writer, "analysing");
                let analysis = dmo_report::analyse(&firmware, &config, &mut sink)?;
                sink.finish();
                analysis
            };
            (analysis, Some((writer, path)))
        }
        None => {
            let mut counter = CountingSink::default();
            let mut sink = ProgressSink::new(&mut counter, "analysing");
            let analysis = dmo_report::analyse(&firmware, &config, &mut sink)?;
            sink.finish();
            (analysis, None)
        }
    };
    let outcome = &analysis.outcome;
    if !args.quiet {
        print_firmware_output(outcome);
    }
    if !outcome.status.is_complete() {
        print_fault(outcome, &firmware);
        if let Some((writer, _)) = writer {
            writer.abandon(outcome.record(&firmware, config.cpu).into())?;
        }
        eprintln!("no report: the run did not complete");
        return Ok(ExitCode::from(2));
    }
    if let Some((writer, path)) = writer {
        writer
            .finish(outcome.record(&firmware, config.cpu).into())
            .with_context(|| format!("writing {}", path.display()))?;
    }
    for warning in &outcome.warnings {
        eprintln!("warning: {warning}");
    }
    write_report(&analysis.report, &args.output)?;
    Ok(match outcome.status {
        RunStatus::Exited { status } if status != 0 => {
            eprintln!("firmware exited with status {status}");
            ExitCode::from(1)
        }
        _ => ExitCode::SUCCESS,
    })
}

/// `analyse` as `trace` then `report`: for ops without markers (buffer
/// discovery needs the whole run) and for `--model`.
fn analyse_via_trace(
    args: &Args,
    firmware: &dmo_emu::Firmware,
    config: &dmo_emu::RunConfig,
    model: Option<(dmo_tflite::Model, String)>,
) -> anyhow::Result<ExitCode> {
    let folder = dmo_fsio::ScratchFolder::new()?;
    let path = args
        .keep_trace
        .clone()
        .unwrap_or_else(|| folder.path().join("analyse.dmotrace"));
    let options = TraceOptions {
        overwrite: args.output.force,
        ..TraceOptions::default()
    };
    let mut writer = TraceWriter::create(&path, options)?;
    let outcome = {
        let mut sink = ProgressSink::new(&mut writer, "analysing");
        let outcome = dmo_emu::run(firmware, config, &mut sink)?;
        sink.finish();
        outcome
    };
    if !args.quiet {
        print_firmware_output(&outcome);
    }
    if !outcome.status.is_complete() {
        print_fault(&outcome, firmware);
        writer.abandon(outcome.record(firmware, config.cpu).into())?;
        eprintln!("no report: the run did not complete");
        return Ok(ExitCode::from(2));
    }
    writer
        .finish(outcome.record(firmware, config.cpu).into())
        .with_context(|| format!("writing {}", path.display()))?;
    for warning in &outcome.warnings {
        eprintln!("warning: {warning}");
    }
    let reader = dmo_trace::TraceReader::open(&path)?;
    let model = model.as_ref().map(|(model, name)| (model, name.clone()));
    let report = dmo_report::report_of_trace_with_model(&reader, Some(firmware), model)
        .with_context(|| format!("reporting {}", path.display()))?;
    write_report(&report, &args.output)?;
    Ok(match outcome.status {
        RunStatus::Exited { status } if status != 0 => {
            eprintln!("firmware exited with status {status}");
            ExitCode::from(1)
        }
        _ => ExitCode::SUCCESS,
    })
}
