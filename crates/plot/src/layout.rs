//! Memory layout over the run: each activation buffer a rectangle over the
//! ops that use it (x) at its address range (y), the firmware's own placement
//! next to a DMO plan of the same buffers, on the same scales, with each
//! side's peak marked.
//!
//! The DMO plan comes from `dmo_plan` (the planner `dmo plan` uses): the
//! buffers' lifetimes are the ops that use them, the allowed overlaps are
//! the mined `s_mono`/`u_mono` (rounded up to 16 bytes, plus `s_min` when it
//! is a multiple of 16) of every (input, output) pair whose input dies at
//! that op. The plan is checked with `dmo_plan::check_plan`.

use crate::axes::{bytes_text, tick, ByteUnit};
use crate::frame::{self, draw_error, header, Area};
use crate::style::{self, PEAK};
use crate::{FigureSummary, PlotError};
use dmo_core::{Address, BufferRole, ByteCount};
use dmo_plan::{
    align_up, check_plan, greedy_offsets, plan_dmo, ArenaBuffer, BufferSource, OverlapAllowance,
    PlannerRequest, Scope, SearchEffort,
};
use dmo_trace::{PairMiner, TraceReader};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

/// One activation buffer: what an op wrote (or a model input, or scratch)
/// and the ops that use it.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct LayoutBuffer {
    /// `op.buffer`, e.g. `conv1.output`.
    pub name: String,
    pub start: Address,
    pub len: u32,
    pub first_op: usize,
    pub last_op: usize,
    /// Not written by any op of the run: its life starts before the first.
    pub model_input: bool,
}

/// The firmware's placement and a DMO plan of the same buffers.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct TraceLayout {
    pub buffers: Vec<LayoutBuffer>,
    pub op_names: Vec<String>,
    /// The lowest buffer address; firmware offsets count from here.
    pub base: Address,
    pub firmware_offsets: Vec<u64>,
    /// Highest byte any buffer of the firmware's placement ends at.
    pub firmware_peak: u64,
    /// TFLM's greedy planner without overlaps (sizes rounded up to 16).
    pub greedy_peak: u64,
    pub dmo_offsets: Vec<u64>,
    pub dmo_peak: u64,
}

/// Buffers and both placements of a trace's ops.
pub fn layout_of_trace(reader: &TraceReader) -> Result<TraceLayout, PlotError> {
    let segments = reader.segments();
    let mut buffers: Vec<LayoutBuffer> = Vec::new();
    // Per op, the layout buffer of each of its (input, output) buffers.
    let mut op_buffer_index: Vec<Vec<Option<usize>>> = Vec::new();
    for (op, segment) in segments.iter().enumerate() {
        let mut indices = Vec::new();
        for buffer in &segment.buffers {
            if buffer.role == BufferRole::Weights || buffer.len == 0 {
                indices.push(None);
                continue;
            }
            let earlier = buffers
                .iter()
                .rposition(|b| b.start == buffer.start && b.len == buffer.len);
            let index = match (buffer.role, earlier) {
                (BufferRole::Input, Some(index)) => {
                    buffers[index].last_op = op;
                    index
                }
                (role, _) => {
                    buffers.push(LayoutBuffer {
                        name: format!("{}.{}", segment.name, buffer.name),
                        start: buffer.start,
                        len: buffer.len,
                        first_op: op,
                        last_op: op,
                        model_input: role == BufferRole::Input,
                    });
                    buffers.len() - 1
                }
            };
            indices.push(Some(index));
        }
        op_buffer_index.push(indices);
    }
    if buffers.is_empty() {
        return Err(PlotError::NothingToPlot {
            trace: reader.path().to_path_buf(),
            problem: "no op declares activation buffers: nothing to lay out".to_string(),
        });
    }
    let base = buffers.iter().map(|b| b.start).min().unwrap_or_default();
    let firmware_offsets: Vec<u64> = buffers
        .iter()
        .map(|b| (b.start.0 - base.0) as u64)
        .collect();
    let firmware_peak = buffers
        .iter()
        .zip(&firmware_offsets)
        .map(|(b, &offset)| offset + b.len as u64)
        .max()
        .unwrap_or(0);

    let arena: Vec<ArenaBuffer> = buffers
        .iter()
        .enumerate()
        .map(|(index, b)| ArenaBuffer {
            source: BufferSource::Tensor(index),
            bytes: ByteCount(b.len as u64),
            first_scope: if b.model_input {
                Scope(0)
            } else {
                Scope::of_operator(b.first_op)
            },
            last_scope: Scope::of_operator(b.last_op),
        })
        .collect();
    let requests: Vec<PlannerRequest> = arena
        .iter()
        .map(|b| PlannerRequest {
            size: b.aligned_bytes(),
            first_scope: b.first_scope,
            last_scope: b.last_scope,
            offline_offset: None,
        })
        .collect();
    let greedy = greedy_offsets(&requests);
    let greedy_peak = arena
        .iter()
        .zip(&greedy)
        .map(|(b, &o)| o + b.aligned_bytes())
        .max()
        .unwrap_or(0);

    let mut allowances = Vec::new();
    for pair in PairMiner::of_trace(reader, segments)? {
        let op = pair.segment_index;
        let segment = &segments[op];
        let find = |wanted: &dmo_core::Buffer| {
            segment
                .buffers
                .iter()
                .position(|b| b == wanted)
                .and_then(|position| op_buffer_index[op][position])
        };
        let (Some(input), Some(output)) = (find(&pair.input), find(&pair.output)) else {
            continue;
        };
        // Only an input that dies here may be overwritten by the output.
        if input == output || buffers[input].last_op != op || buffers[output].first_op != op {
            continue;
        }
        let overlap = pair.overlap;
        let s_min = overlap.s_min.0;
        allowances.push(OverlapAllowance {
            operator: op,
            input,
            output,
            down: Some(align_up(overlap.s_mono.0)),
            up: Some(align_up(overlap.u_mono.0)),
            exact_down: if s_min % 16 == 0 { vec![s_min] } else { vec![] },
        });
    }
    let plan = plan_dmo(&arena, &allowances, &greedy, SearchEffort::default());
    let conflicts = check_plan(&arena, &plan.offsets, &allowances);
    if let Some(conflict) = conflicts.first() {
        return Err(PlotError::NothingToPlot {
            trace: reader.path().to_path_buf(),
            problem: format!("the DMO plan of the trace's buffers is invalid: {conflict}"),
        });
    }
    Ok(TraceLayout {
        buffers,
        op_names: segments
            .iter()
            .map(|s| s.display_name().into_owned())
            .collect(),
        base,
        firmware_offsets,
        firmware_peak,
        greedy_peak,
        dmo_offsets: plan.offsets,
        dmo_peak: plan.head,
    })
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

pub fn draw<DB: DrawingBackend>(
    root: &Area<DB>,
    reader: &TraceReader,
) -> Result<FigureSummary, PlotError> {
    let layout = layout_of_trace(reader)?;
    let firmware = reader
        .metadata()
        .elf_path
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    let title = format!("Arena layout over the run: {firmware}");
    let saving = layout.firmware_peak.saturating_sub(layout.dmo_peak);
    let mut subtitle = vec![
        format!(
            "peak: firmware {}, TFLM greedy without overlap {}, DMO plan {} ({:.1}% below the firmware)",
            bytes_text(layout.firmware_peak),
            bytes_text(layout.greedy_peak),
            bytes_text(layout.dmo_peak),
            100.0 * saving as f64 / layout.firmware_peak.max(1) as f64
        ),
        format!(
            "{} activation buffers over {} ops; offsets from {} (0x{:08x}); DMO sizes rounded up to 16 B as TFLM does",
            layout.buffers.len(),
            layout.op_names.len(),
            reader.metadata().name_address(layout.base),
            layout.base.0
        ),
    ];
    if layout.op_names.len() <= 12 {
        let names: Vec<String> = layout
            .op_names
            .iter()
            .enumerate()
            .map(|(index, name)| format!("#{index} {name}"))
            .collect();
        subtitle.push(format!("ops: {}", names.join(", ")));
    }
    let body = header(root, &title, &subtitle, &[])?;
    let top = layout.firmware_peak.max(layout.dmo_peak);
    let unit = ByteUnit::for_span(top);
    let panels = body.split_evenly((1, 2));
    let aligned = |i: usize| align_up(layout.buffers[i].len as u64);
    let firmware_size = |i: usize| layout.buffers[i].len as u64;
    draw_panel(
        &panels[0],
        "firmware placement",
        &layout,
        &layout.firmware_offsets,
        &firmware_size,
        layout.firmware_peak,
        top,
        unit,
    )?;
    draw_panel(
        &panels[1],
        "DMO plan",
        &layout,
        &layout.dmo_offsets,
        &aligned,
        layout.dmo_peak,
        top,
        unit,
    )?;
    Ok(FigureSummary {
        title,
        events_binned: reader.event_count(),
        raster: (0, 0),
        plot_area: None,
    })
}

#[allow(clippy::too_many_arguments)]
fn draw_panel<DB: DrawingBackend>(
    area: &Area<DB>,
    name: &str,
    layout: &TraceLayout,
    offsets: &[u64],
    size: &dyn Fn(usize) -> u64,
    peak: u64,
    top: u64,
    unit: ByteUnit,
) -> Result<(), PlotError> {
    let ops = layout.op_names.len().max(1) as f64;
    let y_top = unit.of(top as f64) * 1.08;
    let mut chart = ChartBuilder::on(area)
        .caption(name, style::text(frame::TEXT_SIZE + 2))
        .margin(10)
        .x_label_area_size(55)
        .y_label_area_size(70)
        .build_cartesian_2d(0.0..ops, 0.0..y_top)
        .map_err(draw_error)?;
    let op_label = |x: &f64| {
        let index = x.floor() as usize;
        if (x - x.floor() - 0.5).abs() < 1e-6 && index < layout.op_names.len() {
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
        let low = unit.of(offsets[index] as f64);
        let high = unit.of((offsets[index] + size(index)) as f64);
        let left = if buffer.model_input {
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
