//! `dmo plot`: paper-style figures of a trace (PNG or SVG).

use anyhow::Context;
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

    /// The .tflite model the firmware runs: label ops with the model's op
    /// index (access figure) and print how the traced ops matched it.
    #[arg(long, value_name = "MODEL.tflite")]
    pub model: Option<PathBuf>,
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
    let model = match &args.model {
        Some(path) => Some(dmo_tflite::Model::read(path).context("--model")?),
        None => None,
    };
    let reader = TraceReader::open(&args.trace)?;
    let started = Instant::now();
    if let (Some(model), Some(path)) = (&model, &args.model) {
        let report = dmo_report::report_of_trace_with_model(
            &reader,
            None,
            Some((model, path.display().to_string())),
        )
        .with_context(|| format!("matching {} to {}", args.trace.display(), path.display()))?;
        let mut labels: Vec<String> = reader.segments().iter().map(|s| s.kind.clone()).collect();
        for row in &report.rows {
            if let (Some(operator), Some(label)) =
                (row.model_operator, labels.get_mut(row.op_index))
            {
                *label = format!("{} = model op {operator}", row.op_kind);
            }
        }
        request.op_labels = labels;
        if let Some(matching) = &report.model_match {
            for line in matching.lines() {
                eprintln!("{line}");
            }
        }
    }
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
