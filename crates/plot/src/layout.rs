//! Memory layout over the run: each buffer a rectangle over the ops that
//! use it (x) at its offset range (y), two or more placements of the same
//! buffers side by side on the same scales, each one's peak marked.
//!
//! This module only draws the [`LayoutFigure`] it is given. The plans in it
//! come from `dmo_plan::plan_buffers`, through `dmo_plan::plan_trace` for a
//! trace ([`trace_layout`]: the firmware's placement next to the DMO plan)
//! or `dmo_plan::plan_model` for a `.tflite` ([`model_layout`]: TFLM's
//! greedy plan next to the DMO plan).

use crate::axes::{bytes_text, tick, ByteUnit};
use crate::frame::{self, draw_error, header, Area};
use crate::style::{self, PEAK};
use crate::{FigureSummary, PlotError};
use dmo_core::ByteCount;
use dmo_plan::{plan_trace, ArenaPlan, MinedPair, ModelPlan, Peak, SearchEffort, TracePlan};
use dmo_trace::{PairMiner, TraceReader};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

/// A buffer as the layout figure draws it: a rectangle over the ops that
/// use it.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct FigureBuffer {
    pub name: String,
    /// First and last op (column) that use it.
    pub first_op: usize,
    pub last_op: usize,
    /// Alive before the first op (a model input): drawn from the left edge.
    pub before_first_op: bool,
}

/// One placement of all buffers.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct LayoutPanel {
    pub name: String,
    /// Per buffer: its offset and the bytes it occupies in this placement.
    pub placed: Vec<(ByteCount, ByteCount)>,
    /// The highest end offset.
    pub peak: ByteCount,
}

/// Everything the layout figure shows.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct LayoutFigure {
    pub title: String,
    pub subtitle: Vec<String>,
    pub op_names: Vec<String>,
    pub buffers: Vec<FigureBuffer>,
    /// Side by side, left to right.
    pub panels: Vec<LayoutPanel>,
}

/// The planned buffers of a trace: what `dmo_trace::PairMiner` mines,
/// planned by `dmo_plan::plan_trace`.
pub fn layout_of_trace(reader: &TraceReader) -> Result<TracePlan, PlotError> {
    let segments = reader.segments();
    let pairs = PairMiner::of_trace(reader, segments)?;
    let mined = pairs.iter().map(|pair| MinedPair {
        segment_index: pair.segment_index,
        input: &pair.input,
        output: &pair.output,
        overlap: &pair.overlap,
    });
    let plan =
        plan_trace(segments, mined, SearchEffort::default()).map_err(|source| PlotError::Plan {
            what: reader.path().display().to_string(),
            source,
        })?;
    if plan.buffers.is_empty() {
        return Err(PlotError::NothingToPlot {
            trace: reader.path().to_path_buf(),
            problem: "no op declares activation buffers: nothing to lay out".to_string(),
        });
    }
    Ok(plan)
}

/// Each buffer's offset and aligned size in `plan`.
fn panel(name: &str, plan: &ArenaPlan) -> LayoutPanel {
    LayoutPanel {
        name: name.to_string(),
        placed: (0..plan.buffers.len()).map(|i| plan.placed(i)).collect(),
        peak: plan.head,
    }
}

/// The figure of a trace's plan: the firmware's own placement (exact
/// sizes) next to the DMO plan (sizes rounded up as TFLM does).
/// `firmware` names the traced ELF; `base_name` is the symbol at the
/// lowest buffer address.
pub fn trace_layout(plan: &TracePlan, firmware: &str, base_name: &str) -> LayoutFigure {
    let title = format!("Arena layout over the run: {firmware}");
    let (firmware_peak, greedy_peak, dmo_peak) = (
        plan.firmware_peak.0,
        plan.plan.baseline.head.0,
        plan.plan.dmo.head.0,
    );
    let saving = firmware_peak.saturating_sub(dmo_peak);
    let mut subtitle = vec![
        format!(
            "peak: firmware {}, TFLM greedy without overlap {}, DMO plan {} ({:.1}% below the firmware)",
            bytes_text(firmware_peak),
            bytes_text(greedy_peak),
            bytes_text(dmo_peak),
            100.0 * saving as f64 / firmware_peak.max(1) as f64
        ),
        format!(
            "{} activation buffers over {} ops; offsets from {} (0x{:08x}); DMO sizes rounded up to 16 B as TFLM does",
            plan.buffers.len(),
            plan.op_names.len(),
            base_name,
            plan.base.0
        ),
        // A safe overlap belongs to a loop order: these were measured on
        // this binary's kernels, and hold for them only.
        "the DMO plan's overlaps were measured in this trace: they hold only for the kernels of this firmware build".to_string(),
    ];
    if let Some(ops) = op_list(&plan.op_names) {
        subtitle.push(ops);
    }
    let firmware_panel = LayoutPanel {
        name: "firmware placement".to_string(),
        placed: plan
            .firmware_offsets
            .iter()
            .zip(&plan.buffers)
            .map(|(&offset, buffer)| (offset, buffer.bytes))
            .collect(),
        peak: plan.firmware_peak,
    };
    LayoutFigure {
        title,
        subtitle,
        op_names: plan.op_names.clone(),
        buffers: plan
            .buffers
            .iter()
            .map(|b| FigureBuffer {
                name: b.name.clone(),
                first_op: b.first_op,
                last_op: b.last_op,
                before_first_op: b.model_input,
            })
            .collect(),
        panels: vec![firmware_panel, panel("DMO plan", &plan.plan.dmo)],
    }
}

/// `ops: #0 conv, #1 relu, ...` when there are few enough to read.
fn op_list(op_names: &[String]) -> Option<String> {
    if op_names.len() > 12 {
        return None;
    }
    let names: Vec<String> = op_names
        .iter()
        .enumerate()
        .map(|(index, name)| format!("#{index} {name}"))
        .collect();
    Some(format!("ops: {}", names.join(", ")))
}

/// The figure of a model's plan: TFLM's greedy plan next to the DMO plan,
/// both as TFLM places them (sizes rounded up to 16 B). `model` names the
/// model file, `buffer_names` labels each planned buffer, and `offsets_for`
/// says which kernels the DMO plan holds for (as `dmo plan` prints it).
pub fn model_layout(
    plan: &ModelPlan,
    model: &str,
    buffer_names: Vec<String>,
    offsets_for: &str,
) -> LayoutFigure {
    let (greedy, dmo) = (plan.baseline.head.0, plan.dmo.head.0);
    let op_names: Vec<String> = plan.layers.iter().map(|l| l.kind.clone()).collect();
    let at = |peak: &Peak| match peak.operator {
        Some(op) => format!(" at op #{op} {}", op_names[op]),
        None => " before the first op".to_string(),
    };
    let mut subtitle = vec![
        format!(
            "arena head: TFLM greedy {}{}, DMO plan {}{} ({:.1}% smaller)",
            bytes_text(greedy),
            at(&plan.baseline_peak),
            bytes_text(dmo),
            at(&plan.dmo_peak),
            plan.saving_percent()
        ),
        format!("the DMO plan holds only for: {offsets_for}"),
        format!(
            "{} buffers over {} operators; sizes rounded up to 16 B as TFLM does; model inputs start at the left edge",
            plan.baseline.buffers.len(),
            op_names.len()
        ),
    ];
    if let Some(ops) = op_list(&op_names) {
        subtitle.push(ops);
    }
    let last_op = op_names.len().saturating_sub(1);
    let buffers = plan
        .baseline
        .buffers
        .iter()
        .zip(buffer_names)
        .map(|(b, name)| FigureBuffer {
            name,
            // Scope s is operator s - 1; scope 0 is before the first.
            first_op: (b.first_scope.0 as usize).saturating_sub(1),
            last_op: (b.last_scope.0 as usize).saturating_sub(1).min(last_op),
            before_first_op: b.first_scope.0 == 0,
        })
        .collect();
    LayoutFigure {
        title: format!("Arena layout: {model}, TFLM greedy vs DMO plan"),
        subtitle,
        op_names,
        buffers,
        panels: vec![
            panel("TFLM greedy (no overlap)", &plan.baseline),
            panel("DMO plan", &plan.dmo),
        ],
    }
}

/// ColorBrewer Set2: eight pale, print-friendly qualitative colours.
const PALETTE: [RGBColor; 8] = [
    RGBColor(102, 194, 165),
    RGBColor(252, 141, 98),
    RGBColor(141, 160, 203),
    RGBColor(231, 138, 195),
    RGBColor(166, 216, 84),
    RGBColor(255, 217, 47),
    RGBColor(229, 196, 148),
    RGBColor(179, 179, 179),
];

/// Draws a trace's layout figure.
pub fn draw_trace<DB: DrawingBackend>(
    root: &Area<DB>,
    reader: &TraceReader,
) -> Result<FigureSummary, PlotError> {
    let plan = layout_of_trace(reader)?;
    let firmware = reader
        .metadata()
        .elf_path
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    let base_name = reader.metadata().name_address(plan.base);
    let figure = trace_layout(&plan, &firmware, &base_name);
    let mut summary = draw(root, &figure)?;
    summary.events_binned = reader.event_count();
    Ok(summary)
}

/// Draws `figure`: its title and captions, then one panel per placement.
pub fn draw<DB: DrawingBackend>(
    root: &Area<DB>,
    figure: &LayoutFigure,
) -> Result<FigureSummary, PlotError> {
    let body = header(root, &figure.title, &figure.subtitle, &[])?;
    let top = figure.panels.iter().map(|p| p.peak.0).max().unwrap_or(0);
    let unit = ByteUnit::for_span(top);
    let areas = body.split_evenly((1, figure.panels.len().max(1)));
    for (area, panel) in areas.iter().zip(&figure.panels) {
        draw_panel(area, figure, panel, top, unit)?;
    }
    Ok(FigureSummary {
        title: figure.title.clone(),
        events_binned: 0,
        raster: (0, 0),
        plot_area: None,
    })
}

fn draw_panel<DB: DrawingBackend>(
    area: &Area<DB>,
    layout: &LayoutFigure,
    panel: &LayoutPanel,
    top: u64,
    unit: ByteUnit,
) -> Result<(), PlotError> {
    let (name, peak) = (panel.name.as_str(), panel.peak.0);
    let ops = layout.op_names.len().max(1) as f64;
    let y_top = unit.of(top as f64) * 1.08;
    let mut chart = ChartBuilder::on(area)
        .caption(name, style::text(frame::TEXT_SIZE + 2))
        .margin(10)
        .x_label_area_size(55)
        .y_label_area_size(70)
        .build_cartesian_2d(0.0..ops, 0.0..y_top)
        .map_err(draw_error)?;
    // Every op's number while they fit (16 or fewer), else every k-th.
    let label_every = layout.op_names.len().div_ceil(16).max(1);
    let op_label = |x: &f64| {
        let index = x.floor() as usize;
        if (x - x.floor() - 0.5).abs() < 1e-6
            && index < layout.op_names.len()
            && index % label_every == 0
        {
            format!("#{index}")
        } else {
            String::new()
        }
    };
    chart
        .configure_mesh()
        .disable_mesh()
        .x_labels(layout.op_names.len() * 2 + 1)
        .x_label_formatter(&op_label)
        .y_labels(8)
        .y_label_formatter(&tick)
        .label_style(frame::axis_text())
        .axis_desc_style(frame::axis_desc_text())
        .x_desc("operator (execution order)")
        .y_desc(format!("offset ({})", unit.name))
        .draw()
        .map_err(draw_error)?;
    let plot = chart.plotting_area();
    let label_style = frame::label_text(12).pos(Pos::new(HPos::Center, VPos::Center));
    // Rectangles first, then every label, so overlapping (DMO) buffers keep
    // their names readable.
    let mut labels = Vec::new();
    for (index, buffer) in layout.buffers.iter().enumerate() {
        let (offset, size) = panel.placed[index];
        let low = unit.of(offset.0 as f64);
        let high = unit.of((offset.0 + size.0) as f64);
        let left = if buffer.before_first_op {
            0.0
        } else {
            buffer.first_op as f64
        };
        let corners = [(left + 0.04, low), (buffer.last_op as f64 + 0.96, high)];
        let colour = PALETTE[index % PALETTE.len()];
        plot.draw(&Rectangle::new(corners, colour.mix(0.75).filled()))
            .map_err(draw_error)?;
        plot.draw(&Rectangle::new(corners, BLACK.stroke_width(1)))
            .map_err(draw_error)?;
        let (x0, y0) = plot.map_coordinate(&(corners[0].0, corners[1].1));
        let (x1, y1) = plot.map_coordinate(&(corners[1].0, corners[0].1));
        let (w, h) = plot
            .estimate_text_size(&buffer.name, &label_style)
            .unwrap_or((0, 0));
        if (x1 - x0) > w as i32 + 4 && (y1 - y0) > h as i32 + 2 {
            let centre = ((corners[0].0 + corners[1].0) / 2.0, (low + high) / 2.0);
            labels.push((buffer.name.clone(), centre));
        }
    }
    for (text, centre) in labels {
        plot.draw(&Text::new(text, centre, label_style.clone()))
            .map_err(draw_error)?;
    }
    let peak_y = unit.of(peak as f64);
    plot.draw(&PathElement::new(
        vec![(0.0, peak_y), (ops, peak_y)],
        PEAK.stroke_width(2),
    ))
    .map_err(draw_error)?;
    let peak_style = frame::label_text(13)
        .color(&PEAK)
        .pos(Pos::new(HPos::Right, VPos::Bottom));
    plot.draw(&Text::new(
        format!("peak {}", bytes_text(peak)),
        (ops, peak_y),
        peak_style,
    ))
    .map_err(draw_error)?;
    Ok(())
}
