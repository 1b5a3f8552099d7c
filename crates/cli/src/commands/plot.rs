//! `dmo plot`: paper-style figures of a trace (PNG or SVG).

use clap::{Args as ClapArgs, ValueEnum};
use dmo_plot::{render_to_file, AddressScope, FigureKind, FigureRequest, OpSelector};
use dmo_trace::TraceReader;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum Kind {
    /// Address over time, reads and writes, buffers as bands, op boundaries.
    Access,
    /// Share of live bytes per address x time cell, with a colour bar.
    Liveness,
    /// One op's input and output at the mined s_min, frontiers, saved bytes, witness.
    Overlap,
    /// Buffers over their lifetimes: firmware placement vs a DMO plan, peaks marked.
    Layout,
}

#[derive(ClapArgs, Debug)]
pub struct Args {
    /// Trace file written by `dmo trace`.
    pub trace: PathBuf,
    /// Which figure to draw.
    #[arg(long, value_enum)]
    pub kind: Kind,
    /// One op, by name or by position (0, 1, ...; see `dmo info`). Without it:
    /// the whole run (overlap: the pair with the largest saving; layout always
    /// shows the whole run).
    #[arg(long, value_name = "NAME|INDEX")]
    pub op: Option<String>,
    /// Output file, .png or .svg [default: TRACE-KIND.png in the current directory].
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    /// Image width in pixels.
    #[arg(long, default_value_t = 1200)]
    pub width: u32,
    /// Image height in pixels.
    #[arg(long, default_value_t = 750)]
    pub height: u32,
    /// access/liveness: show all RAM the run touched, stack included, not just the arena.
    #[arg(long)]
    pub all_memory: bool,
    /// Replace an existing output file.
    #[arg(long)]
    pub force: bool,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let kind = match args.kind {
        Kind::Access => FigureKind::Access,
        Kind::Liveness => FigureKind::Liveness,
        Kind::Overlap => FigureKind::Overlap,
        Kind::Layout => FigureKind::Layout,
    };
    let output = args.output.clone().unwrap_or_else(|| {
        let stem = args
            .trace
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "trace".to_string());
        PathBuf::from(format!("{stem}-{}.png", kind.as_str()))
    });
    let mut request = FigureRequest::new(kind);
    request.op = args.op.as_deref().map(OpSelector::parse);
    request.width = args.width;
    request.height = args.height;
    if args.all_memory {
        request.scope = AddressScope::AllRam;
    }
    let reader = TraceReader::open(&args.trace)?;
    let started = Instant::now();
    let summary = render_to_file(&reader, &request, &output, args.force)?;
    let cells = match summary.raster {
        (0, 0) => String::new(),
        (columns, rows) => format!(" into {columns}x{rows} cells"),
    };
    println!(
        "wrote {}: {} ({} events binned{cells}) in {:.2} s",
        output.display(),
        summary.title,
        summary.events_binned,
        started.elapsed().as_secs_f64()
    );
    Ok(ExitCode::SUCCESS)
}
