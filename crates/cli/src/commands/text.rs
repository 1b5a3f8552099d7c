//! Plain-text output shared by the commands that run firmware.

use dmo_core::{AccessKind, Event, OpSegment};
use dmo_emu::{Disassembler, Firmware, RunOutcome, RunStatus};
use dmo_trace::TraceMetadata;
use dmo_trace::TraceSummary;
use std::io::Write;
use std::path::Path;

/// An error and its causes joined by `: `, as anyhow's `{:#}`, but with a
/// cause left out when it reads exactly like the one before: some libraries
/// (goblin, for one) print their inner error and also return it as the source.
pub fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut links: Vec<String> = Vec::new();
    let mut cause = Some(error);
    while let Some(error) = cause {
        let text = error.to_string();
        if links.last() != Some(&text) {
            links.push(text);
        }
        cause = error.source();
    }
    links.join(": ")
}

/// Refuses to replace an existing file (or symlink, even a dangling one)
/// unless `force`, and anything that is not a regular file even with it. An
/// early check so no work is wasted; the final rename checks again.
pub fn refuse_overwrite(path: &Path, force: bool) -> anyhow::Result<()> {
    Ok(dmo_fsio::check_output(path, force)?)
}

/// Reads a firmware ELF: a regular file of at most
/// [`dmo_fsio::MAX_INPUT_BYTES`], refused before opening otherwise.
pub fn load_firmware(path: &Path) -> anyhow::Result<Firmware> {
    Ok(Firmware::load(path)?)
}

/// Echoes the firmware's console output.
pub fn print_firmware_output(outcome: &RunOutcome) {
    let _ = std::io::stdout().write_all(&outcome.stdout);
    let _ = std::io::stderr().write_all(&outcome.stderr);
}

pub fn describe_event(event: &Event, firmware: &Firmware, disassembler: &Disassembler) -> String {
    let kind = match event.kind {
        AccessKind::Read => "R",
        AccessKind::Write => "W",
    };
    let instruction = disassembler
        .instruction_at(firmware, event.pc)
        .unwrap_or_default();
    format!(
        "t={:<10} {kind}{:<2} {:<28} pc {:<24} {}",
        event.time.0,
        event.size,
        firmware.symbols.describe(event.address),
        firmware.symbols.describe(event.pc),
        instruction
    )
}

/// The fault report: what, where, the instruction and the last events.
pub fn print_fault(outcome: &RunOutcome, firmware: &Firmware) {
    match &outcome.status {
        RunStatus::Fault(report) => {
            eprintln!(
                "error: {}: {}\n  at pc {} ({}): {}",
                firmware.path.display(),
                report.message,
                report.pc,
                report.location,
                report.instruction
            );
            if !report.recent_events.is_empty() {
                eprintln!("  last events:");
                let disassembler = Disassembler::new();
                for event in &report.recent_events {
                    eprintln!("    {}", describe_event(event, firmware, &disassembler));
                }
            }
        }
        RunStatus::BudgetExhausted { instructions } => eprintln!(
            "error: {}: instruction budget exhausted after {instructions} instructions \
             (raise --max-insns if the firmware really needs more; it may loop forever)",
            firmware.path.display()
        ),
        RunStatus::StoppedBySink => eprintln!(
            "error: {}: the run was stopped because its output could not be written",
            firmware.path.display()
        ),
        _ => {}
    }
    for warning in &outcome.warnings {
        eprintln!("warning: {warning}");
    }
}

/// One block of run statistics after a run.
pub fn print_run_summary(outcome: &RunOutcome, trace: Option<&TraceSummary>) {
    let stats = &outcome.stats;
    let seconds = stats.wall_time_ms.max(1) as f64 / 1000.0;
    eprintln!(
        "{} instructions, {} events ({} reads, {} writes), {} ops, {:.2} s, {:.1} M events/s",
        stats.instructions,
        stats.events,
        stats.reads,
        stats.writes,
        outcome.ops.len(),
        seconds,
        stats.events as f64 / seconds / 1e6
    );
    if stats.mmio_reads + stats.mmio_writes > 0 {
        eprintln!(
            "peripheral/system stub accesses: {} reads, {} writes (not traced)",
            stats.mmio_reads, stats.mmio_writes
        );
    }
    if let Some(trace) = trace {
        eprintln!(
            "wrote {}: {} bytes, {:.2} bytes/event",
            trace.path.display(),
            trace.file_bytes,
            trace.bytes_per_event()
        );
    }
    for warning in &outcome.warnings {
        eprintln!("warning: {warning}");
    }
}

/// An op segment and its buffers, indented by `indent` (used by `info` and `dump`).
pub fn print_op_segment(label: &str, segment: &OpSegment, metadata: &TraceMetadata, indent: &str) {
    let instructions = segment
        .instructions
        .map(|count| format!(", {count} instructions"))
        .unwrap_or_default();
    println!(
        "{label}{:<24} {:<20} t={}..{} ({} events{instructions})",
        segment.display_name(),
        segment.kind,
        segment.time.start.0,
        segment.time.end.0,
        segment.time.len()
    );
    for buffer in &segment.buffers {
        println!(
            "{indent}{:<8} {:<20} {}..{} {:>8} bytes  ({})",
            buffer.role.as_str(),
            buffer.name,
            buffer.start,
            buffer.end(),
            buffer.len,
            metadata.name_address(buffer.start)
        );
    }
}
