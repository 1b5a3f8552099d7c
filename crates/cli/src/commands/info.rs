//! `dmo info`: what a trace holds.

use super::text::print_op_segment;
use clap::Args as ClapArgs;
use dmo_core::RunEnd;
use dmo_trace::{BufferOrigin, TraceReader};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(ClapArgs, Debug)]
pub struct Args {
    /// Trace file written by `dmo trace`.
    pub trace: PathBuf,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let reader = TraceReader::open(&args.trace)?;
    let metadata = reader.metadata();
    let stats = &metadata.stats;
    let file_bytes = std::fs::metadata(&args.trace)?.len();
    let sha: String = metadata
        .elf_sha256
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let status = match &metadata.status {
        RunEnd::Complete { exit_code } => format!("complete (firmware exit status {exit_code})"),
        RunEnd::Fault { message, .. } => format!("stopped by a fault: {message}"),
        RunEnd::Budget { instructions } => {
            format!("stopped: instruction budget exhausted after {instructions}")
        }
        RunEnd::Incomplete => "incomplete".into(),
    };
    let seconds = stats.wall_time_ms.max(1) as f64 / 1000.0;
    let events = reader.event_count();
    println!("trace        {}", args.trace.display());
    println!("firmware     {}", metadata.elf_path.display());
    println!("sha256       {sha}");
    println!(
        "cpu          {}   recorded by dmo {}",
        metadata.cpu, metadata.tool_version
    );
    println!(
        "run          {status}{}",
        if reader.is_complete() {
            ""
        } else {
            "  [partial file]"
        }
    );
    println!(
        "events       {events} ({} reads, {} writes) in {} blocks",
        stats.reads,
        stats.writes,
        reader.block_count()
    );
    println!("instructions {}", stats.instructions);
    println!(
        "size         {file_bytes} bytes, {:.2} bytes/event",
        file_bytes as f64 / events.max(1) as f64
    );
    println!(
        "wall time    {seconds:.2} s ({:.1} M events/s while recording)",
        events as f64 / seconds / 1e6
    );
    println!(
        "MMIO         {} reads, {} writes (stubbed, not traced)",
        stats.mmio_reads, stats.mmio_writes
    );
    println!("memory map");
    for region in &metadata.memory_map {
        println!(
            "  {:<20} {}..0x{:08x}  {:>9} bytes  {:?}",
            region.name,
            region.start,
            region.end(),
            region.len,
            region.kind
        );
    }
    let segments = reader.segments();
    println!("ops          {}", segments.len());
    if !segments.is_empty() {
        let stored = segments.iter().any(|segment| !segment.buffers.is_empty());
        let origin = match (reader.buffer_origin(), stored) {
            (Some(BufferOrigin::Markers), _) => "from the firmware's markers (dmo_buffer)",
            (Some(BufferOrigin::Discovery), _) => {
                "found by buffer discovery when traced (no markers; stored in the trace)"
            }
            (None, false) => "none stored (readers discover them from the events)",
            (None, true) => "stored; origin not recorded (a trace from an older dmo)",
        };
        println!("buffers      {origin}");
    }
    for (index, segment) in segments.iter().enumerate() {
        print_op_segment(&format!("  #{index:<3} "), segment, metadata, "         ");
    }
    Ok(ExitCode::SUCCESS)
}
