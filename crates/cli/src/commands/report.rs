//! `dmo report`: the per-layer overlap report of a recorded trace.

use super::clobbers::print_clobbers_if_any;
use super::text::refuse_overwrite;
use anyhow::Context;
use clap::Args as ClapArgs;
use dmo_core::BufferRole;
use dmo_report::{render, report_of_trace_with_model, Format, Report};
use dmo_trace::{clobbered_reads, BufferDiscovery, TraceReader};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(ClapArgs, Debug)]
pub struct Args {
    /// Trace file written by `dmo trace`.
    pub trace: PathBuf,

    #[command(flatten)]
    pub output: OutputArgs,
}

/// Where and how a report is written (shared with `dmo analyse`).
#[derive(ClapArgs, Debug, Clone)]
pub struct OutputArgs {
    /// table (terminal), markdown, json or csv (schemas: docs/report-format.md).
    #[arg(long, default_value = "table", value_parser = parse_format)]
    pub format: Format,

    /// Write the report to FILE instead of standard output.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// Overwrite FILE if it exists.
    #[arg(long)]
    pub force: bool,

    /// The .tflite model the firmware runs: match the traced ops to its
    /// operators (order, kind, output size), show its op index and tensor
    /// names, and say where trace and model disagree.
    #[arg(long, value_name = "MODEL.tflite")]
    pub model: Option<PathBuf>,
}

impl OutputArgs {
    /// The `--model`, read (one error naming the file if it is not a model).
    pub fn read_model(&self) -> anyhow::Result<Option<(dmo_tflite::Model, String)>> {
        self.model
            .as_ref()
            .map(|path| {
                let model = dmo_tflite::Model::read(path).context("--model")?;
                Ok((model, path.display().to_string()))
            })
            .transpose()
    }
}

fn parse_format(text: &str) -> Result<Format, String> {
    text.parse()
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    if let Some(path) = &args.output.output {
        refuse_overwrite(path, args.output.force)?;
    }
    let model = args.output.read_model()?;
    let reader = TraceReader::open(&args.trace)?;
    // The traced ELF names and disassembles the witness instructions; use it
    // only if it is still the same file.
    let metadata = reader.metadata();
    // Read only if it is a regular file (a FIFO would hang, /dev/zero never
    // end), at most MAX_INPUT_BYTES.
    let firmware = super::text::load_firmware(&metadata.elf_path)
        .ok()
        .filter(|firmware| firmware.sha256 == metadata.elf_sha256);
    if firmware.is_none() {
        eprintln!(
            "note: {} is missing or changed since the trace was recorded; witnesses show no disassembly",
            metadata.elf_path.display()
        );
    }
    let model = model.as_ref().map(|(model, name)| (model, name.clone()));
    let report = report_of_trace_with_model(&reader, firmware.as_ref(), model)
        .with_context(|| format!("reporting {}", args.trace.display()))?;
    write_report(&report, &args.output)?;
    warn_about_placed_overlaps(&reader)?;
    // A planned arena that breaks an op shows as reads of bytes the op had
    // overwritten: errors, and a failing exit status.
    let findings = clobbered_reads(&reader)
        .with_context(|| format!("checking {} for clobbered reads", args.trace.display()))?;
    if print_clobbers_if_any(&findings, reader.segments().len(), firmware.as_ref()) {
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}

/// Pairs whose input and output already share bytes as placed (a planned
/// arena): their mined offsets describe the aliased run, not the kernel.
fn warn_about_placed_overlaps(reader: &TraceReader) -> anyhow::Result<()> {
    for (index, segment) in BufferDiscovery::segments_to_mine(reader)?
        .iter()
        .enumerate()
    {
        for input in segment.buffers_with_role(BufferRole::Input) {
            for output in segment.buffers_with_role(BufferRole::Output) {
                if input.start < output.end() && output.start < input.end() {
                    let placed = i64::from(output.start.0) - i64::from(input.start.0);
                    eprintln!(
                        "note: op {index} `{}`: output `{}` already overlaps input `{}` as placed (output at input {placed:+} B): its offsets are measured on shared memory, not the kernel's own; run the firmware with separate buffers to mine them",
                        segment.name, output.name, input.name
                    );
                }
            }
        }
    }
    Ok(())
}

/// Renders `report` and writes it to the chosen file (atomically) or stdout.
pub fn write_report(report: &Report, output: &OutputArgs) -> anyhow::Result<()> {
    let text = render(report, output.format)?;
    match &output.output {
        Some(path) => write_atomically(path, text.as_bytes(), output.force),
        None => {
            std::io::stdout()
                .write_all(text.as_bytes())
                .context("writing the report to standard output")?;
            Ok(())
        }
    }
}

/// Writes `bytes` to `path` through a temporary file renamed into place
/// (`dmo_fsio::AtomicFile`): no half-written file, no existing file replaced
/// unless `force`, never a device.
pub fn write_atomically(path: &Path, bytes: &[u8], force: bool) -> anyhow::Result<()> {
    Ok(dmo_fsio::write_atomically(path, bytes, force)?)
}
