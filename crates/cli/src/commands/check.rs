//! `dmo check ELF`: runs a firmware and reports every read of an op's input
//! byte after the op overwrote it — the memcheck of arena plans. Run it on a
//! firmware holding a planned model and it names the ops the plan breaks.

use super::clobbers::print_clobbers;
use super::firmware_args::EmulatorArgs;
use super::progress::ProgressSink;
use super::text::{print_fault, print_firmware_output};
use clap::Args as ClapArgs;
use dmo_emu::Firmware;
use dmo_trace::{clobbered_reads, TraceOptions, TraceReader, TraceWriter};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(ClapArgs, Debug)]
#[command(
    after_help = "Ops come from the firmware's markers, or from --ops (their buffers are then \
discovered from the run). Exit status: 0 when no op read an input byte after overwriting it; 1 \
when one did (each is printed as an error with both instructions); 2 on a fault, an exhausted \
budget or bad input."
)]
pub struct Args {
    /// Firmware ELF (32-bit little-endian ARM).
    pub elf: PathBuf,

    #[command(flatten)]
    pub emulator: EmulatorArgs,

    /// Do not echo what the firmware printed.
    #[arg(short, long)]
    pub quiet: bool,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let firmware = Firmware::load(&args.elf)?;
    let mut config = args.emulator.run_config()?;
    super::firmware_args::detect_runtime(&firmware, &mut config);
    // A trace in a private folder: buffer discovery for ops without markers
    // needs the whole run. The folder goes when this function returns.
    let folder = dmo_fsio::ScratchFolder::new()?;
    let path = folder.path().join("check.dmotrace");
    let mut writer = TraceWriter::create(&path, TraceOptions::default())?;
    let outcome = {
        let mut sink = ProgressSink::new(&mut writer, "checking");
        let outcome = dmo_emu::run(&firmware, &config, &mut sink)?;
        sink.finish();
        outcome
    };
    if !args.quiet {
        print_firmware_output(&outcome);
    }
    if !outcome.status.is_complete() {
        print_fault(&outcome, &firmware);
        writer.abandon(outcome.record(&firmware, config.cpu).into())?;
        eprintln!("no check: the run did not complete");
        return Ok(ExitCode::from(2));
    }
    writer.finish(outcome.record(&firmware, config.cpu).into())?;
    let reader = TraceReader::open(&path)?;
    let findings = clobbered_reads(&reader)?;
    let broken = print_clobbers(&findings, reader.segments().len(), Some(&firmware));
    Ok(if broken {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
