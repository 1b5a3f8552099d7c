//! `dmo report`: the per-layer overlap report of a recorded trace.

use super::text::refuse_overwrite;
use anyhow::Context;
use clap::Args as ClapArgs;
use dmo_emu::Firmware;
use dmo_report::{render, report_of_trace, Format, Report};
use dmo_trace::TraceReader;
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
}

fn parse_format(text: &str) -> Result<Format, String> {
    text.parse()
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    if let Some(path) = &args.output.output {
        refuse_overwrite(path, args.output.force)?;
    }
    let reader = TraceReader::open(&args.trace)?;
    // The traced ELF names and disassembles the witness instructions; use it
    // only if it is still the same file.
    let metadata = reader.metadata();
    let firmware = Firmware::load(&metadata.elf_path)
        .ok()
        .filter(|firmware| firmware.sha256 == metadata.elf_sha256);
    if firmware.is_none() {
        eprintln!(
            "note: {} is missing or changed since the trace was recorded; witnesses show no disassembly",
            metadata.elf_path.display()
        );
    }
    let report = report_of_trace(&reader, firmware.as_ref())
        .with_context(|| format!("reporting {}", args.trace.display()))?;
    write_report(&report, &args.output)?;
    Ok(ExitCode::SUCCESS)
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

/// Writes a temporary file beside `path` and renames it over `path`, so no
/// half-written file is left; refuses to replace an existing file unless `force`.
pub fn write_atomically(path: &Path, bytes: &[u8], force: bool) -> anyhow::Result<()> {
    refuse_overwrite(path, force)?;
    let directory = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let file_name = path
        .file_name()
        .with_context(|| format!("{}: not a file path", path.display()))?;
    let temporary = directory.join(format!(
        ".{}.{}.tmp",
        file_name.to_string_lossy(),
        std::process::id()
    ));
    std::fs::write(&temporary, bytes)
        .with_context(|| format!("writing {}", temporary.display()))?;
    std::fs::rename(&temporary, path).with_context(|| {
        let _ = std::fs::remove_file(&temporary);
        format!("writing {}", path.display())
    })?;
    Ok(())
}
