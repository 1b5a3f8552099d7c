//! `dmo plot`: paper-style figures of a trace (PNG or SVG), and the layout
//! figure of a `.tflite` model's plan.

use anyhow::{bail, Context};
use clap::{Args as ClapArgs, ValueEnum};
use dmo_plan::{plan_model, BufferSource, OffsetSource, SearchEffort};
use dmo_plot::{
    model_layout, render_layout_to_file, render_to_file, AddressScope, FigureKind, FigureRequest,
    OpSelector,
};
use dmo_tflite::Model;
use dmo_trace::TraceReader;
use std::path::{Path, PathBuf};
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
    #[arg(required_unless_present = "model")]
    pub trace: Option<PathBuf>,
    /// The .tflite model. With a trace: label the ops with the model's op index and print
    /// how the traced ops matched it. Without a trace: draw the layout of the model's plan
    /// (--kind layout), TFLM's greedy plan beside the DMO plan, as `dmo plan` makes them.
    #[arg(long, value_name = "MODEL.tflite")]
    pub model: Option<PathBuf>,
    /// With --model and no trace: the kernels the firmware runs (data/kernel_families.toml),
    /// which the DMO plan holds for; without it the figure assumes `reference` and says so.
    #[arg(
        long,
        value_name = "NAME",
        requires = "model",
        conflicts_with = "trace"
    )]
    pub kernels: Option<String>,
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
    let Some(trace) = &args.trace else {
        return plot_model(&args, kind);
    };
    let output = args.output.clone().unwrap_or_else(|| {
        let stem = trace
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
    let reader = TraceReader::open(trace)?;
    let started = Instant::now();
    if let (Some(model), Some(path)) = (&model, &args.model) {
        let report = dmo_report::report_of_trace_with_model(
            &reader,
            None,
            Some((model, path.display().to_string())),
        )
        .with_context(|| format!("matching {} to {}", trace.display(), path.display()))?;
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

/// `dmo plot --model MODEL.tflite --kind layout [--kernels NAME]`.
fn plot_model(args: &Args, kind: FigureKind) -> anyhow::Result<ExitCode> {
    let Some(path) = &args.model else {
        bail!("give a trace file or --model MODEL.tflite");
    };
    if kind != FigureKind::Layout {
        bail!(
            "--model draws only --kind layout; the {} figure needs a trace (`dmo trace`)",
            kind.as_str()
        );
    }
    if args.op.is_some() || args.all_memory {
        bail!("--op and --all-memory apply to trace figures, not to --model");
    }
    let output = args
        .output
        .clone()
        .unwrap_or_else(|| PathBuf::from(format!("{}-layout.png", file_stem(path))));
    // The error's message already names the file and its cause.
    let model = Model::read(path).map_err(|error| anyhow::anyhow!("{error}"))?;
    let family = dmo_ops::kernel_family(args.kernels.as_deref().unwrap_or("reference"))?;
    let started = Instant::now();
    let plan = plan_model(
        &model,
        OffsetSource::Kernels(family),
        SearchEffort::default(),
    )
    .map_err(|error| anyhow::anyhow!("{}: {error}", path.display()))?;
    let offsets_for = match args.kernels {
        Some(_) => plan.offsets_from.to_string(),
        None => format!("{} (assumed)", plan.offsets_from),
    };
    // Tensors by index (their names are long paths); scratch by operator.
    let names = plan
        .baseline
        .buffers
        .iter()
        .map(|buffer| match buffer.source {
            BufferSource::Tensor(tensor) => format!("t{tensor}"),
            BufferSource::Scratch { operator, request } => format!("scratch {operator}.{request}"),
        })
        .collect();
    let model_name = path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    let figure = model_layout(&plan, &model_name, names, &offsets_for);
    let summary = render_layout_to_file(&figure, (args.width, args.height), &output, args.force)?;
    println!(
        "wrote {}: {} in {:.2} s",
        output.display(),
        summary.title,
        started.elapsed().as_secs_f64()
    );
    Ok(ExitCode::SUCCESS)
}

fn file_stem(path: &Path) -> String {
    path.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "model".to_string())
}
