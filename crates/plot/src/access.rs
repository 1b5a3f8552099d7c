//! The access pattern: address over time, reads and writes in two colours,
//! each op's buffers as labelled bands over the op's time, op boundaries as
//! vertical lines. This is where the diagonals of the DMO paper show.

use crate::axes::{tick, ByteUnit, TimeUnit};
use crate::bins::{stretch_to_pixels, AccessCounts, Grid};
use crate::frame::{self, draw_error, header, Area, LegendEntry, Swatch};
use crate::select::{view_of, View};
use crate::style::{self, BOUNDARY, READ, WRITE};
use crate::{FigureRequest, FigureSummary, PlotError};
use dmo_core::BufferRole;
use dmo_trace::TraceReader;
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

pub fn draw<DB: DrawingBackend>(
    root: &Area<DB>,
    reader: &TraceReader,
    request: &FigureRequest,
) -> Result<FigureSummary, PlotError> {
    let view = view_of(reader, request)?;
    let title = format!("Memory access pattern: {}", view.subject);
    let bytes_shown = view.high - view.low;
    let mut subtitle = vec![format!(
        "{} events in t = {}..{}, {} bytes from {}; a cell is coloured if any access hit it, writes over reads",
        view.time.len(),
        view.time.start.0,
        view.time.end.0,
        bytes_shown,
        view.base_text()
    )];
    // Many ops: their labels shrink to `#12` where `#12 CONV_2D` does not
    // fit, so say which number is which kind.
    if view.op.is_none() && reader.segments().len() > 8 {
        // At most ~150 characters a line (the default width), split at `; `.
        let mut line = String::new();
        for part in op_kind_legend(reader.segments(), &request.op_labels).split("; ") {
            if !line.is_empty() && line.len() + part.len() > 150 {
                subtitle.push(std::mem::take(&mut line));
            }
            if !line.is_empty() {
                line.push_str("; ");
            }
            line.push_str(part);
        }
        subtitle.push(line);
    }
    let legend = legend_for(&view);
    let body = header(root, &title, &subtitle, &legend)?;
    let chart_area = draw_frame(&body, &view)?;
    let (width, height) = chart_area.plotting_area_pixels;
    let grid = Grid::new(view.time, view.low, view.high, width, height);
    let mut counts = AccessCounts::new(grid);
    for event in reader.events_in(view.time)? {
        counts.add(&event?);
    }
    let pixels = stretch_to_pixels(&grid, width, height, |column, row| {
        if counts.writes(column, row) > 0 {
            [WRITE.0, WRITE.1, WRITE.2]
        } else if counts.reads(column, row) > 0 {
            [READ.0, READ.1, READ.2]
        } else {
            [255, 255, 255]
        }
    });
    frame::blit(&chart_area.plotting_area, pixels)?;
    draw_bands_and_boundaries(&body, &chart_area, reader, &view, &request.op_labels)?;
    Ok(FigureSummary {
        title,
        events_binned: counts.binned,
        raster: (grid.columns, grid.rows),
        plot_area: frame::pixel_rect(&chart_area.plotting_area),
    })
}

fn legend_for(view: &View) -> Vec<LegendEntry> {
    let mut legend = vec![
        LegendEntry::new(Swatch::Fill(READ), "read"),
        LegendEntry::new(Swatch::Fill(WRITE), "write"),
    ];
    for role in [BufferRole::Input, BufferRole::Output, BufferRole::Scratch] {
        if view.bands.iter().any(|(_, b)| b.role == role) {
            legend.push(LegendEntry::new(
                Swatch::Band(role_colour(role), 0.12),
                format!("{role} buffer"),
            ));
        }
    }
    if view.op.is_none() {
        legend.push(LegendEntry::new(Swatch::Line(BOUNDARY), "op boundary"));
    }
    legend
}

pub fn role_colour(role: BufferRole) -> RGBColor {
    match role {
        BufferRole::Input => style::INPUT_BAND,
        BufferRole::Output => style::OUTPUT_BAND,
        _ => style::SCRATCH_BAND,
    }
}

/// A chart over the view in display units, with its plot area split out.
pub struct ChartFrame<'a, DB: DrawingBackend> {
    pub plotting_area: Area<DB>,
    pub plotting_area_pixels: (u32, u32),
    pub chart: ChartContext<'a, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>,
    pub time: TimeUnit,
    pub bytes: ByteUnit,
    /// Subtracted from event times before scaling (the op's start, or 0).
    pub time_origin: u64,
}

/// Axes for `view`: x = time (since the op's start when one op is shown),
/// y = bytes above `view.low`.
pub fn draw_frame<'a, DB: DrawingBackend>(
    body: &'a Area<DB>,
    view: &View,
) -> Result<ChartFrame<'a, DB>, PlotError> {
    let time_origin = if view.op.is_some() {
        view.time.start.0
    } else {
        0
    };
    let time = TimeUnit::for_span(view.time.end.0 - time_origin);
    let bytes = ByteUnit::for_span(view.high - view.low);
    let x_range = time.of((view.time.start.0 - time_origin) as f64)
        ..time.of((view.time.end.0 - time_origin) as f64);
    let y_range = 0.0..bytes.of((view.high - view.low) as f64);
    // Room above the plot for op names in the whole-run figure.
    let top = if view.op.is_none() { 20 } else { 6 };
    let mut chart = ChartBuilder::on(body)
        .margin_top(top)
        .margin_left(10)
        .margin_right(30)
        .margin_bottom(10)
        .x_label_area_size(55)
        .y_label_area_size(80)
        .build_cartesian_2d(x_range, y_range)
        .map_err(draw_error)?;
    let x_desc = if view.op.is_some() {
        format!("time since op start ({})", time.name)
    } else {
        format!("time ({})", time.name)
    };
    let y_desc = format!("offset from {} ({})", view.base_name, bytes.name);
    chart
        .configure_mesh()
        .disable_mesh()
        .x_labels(10)
        .y_labels(10)
        .x_label_formatter(&tick)
        .y_label_formatter(&tick)
        .label_style(frame::axis_text())
        .axis_desc_style(frame::axis_desc_text())
        .x_desc(x_desc)
        .y_desc(y_desc)
        .draw()
        .map_err(draw_error)?;
    let plotting_area = chart.plotting_area().strip_coord_spec();
    let plotting_area_pixels = plotting_area.dim_in_pixel();
    Ok(ChartFrame {
        plotting_area,
        plotting_area_pixels,
        chart,
        time,
        bytes,
        time_origin,
    })
}

impl<DB: DrawingBackend> ChartFrame<'_, DB> {
    pub fn x(&self, time: u64) -> f64 {
        self.time.of(time.saturating_sub(self.time_origin) as f64)
    }

    pub fn y(&self, low: u64, address: u64) -> f64 {
        self.bytes.of(address.saturating_sub(low) as f64)
    }
}

fn draw_bands_and_boundaries<DB: DrawingBackend>(
    body: &Area<DB>,
    frame: &ChartFrame<DB>,
    reader: &TraceReader,
    view: &View,
    op_labels: &[String],
) -> Result<(), PlotError> {
    let area = frame.chart.plotting_area();
    let label = frame::label_text(13).pos(Pos::new(HPos::Left, VPos::Top));
    for (time, buffer) in &view.bands {
        let colour = role_colour(buffer.role);
        let start = buffer.start.0 as u64;
        let corners = [
            (frame.x(time.start.0), frame.y(view.low, start)),
            (
                frame.x(time.end.0),
                frame.y(view.low, start + buffer.len as u64),
            ),
        ];
        area.draw(&Rectangle::new(corners, colour.mix(0.12).filled()))
            .map_err(draw_error)?;
        area.draw(&Rectangle::new(corners, colour.mix(0.8).stroke_width(1)))
            .map_err(draw_error)?;
        // Label the band if it is tall and wide enough for one line of text.
        let (x0, y0) = area.map_coordinate(&(corners[0].0, corners[1].1));
        let (x1, y1) = area.map_coordinate(&(corners[1].0, corners[0].1));
        let text = format!("{} ({} B)", buffer.name, buffer.len);
        let (text_width, _) = area.estimate_text_size(&text, &label).unwrap_or((0, 0));
        if y1 - y0 >= 18 && x1 - x0 >= text_width as i32 + 8 {
            let (l, _) = area.get_pixel_range();
            let at = (x0 - l.start + 4, y0 - area.get_pixel_range().1.start + 3);
            frame
                .plotting_area
                .draw(&Text::new(text, at, label.clone()))
                .map_err(draw_error)?;
        }
    }
    if view.op.is_none() {
        let (top, bottom) = (frame.y(view.low, view.high), 0.0);
        let name_style = frame::label_text(12).pos(Pos::new(HPos::Left, VPos::Bottom));
        let (plot_x, plot_y) = frame.plotting_area.get_base_pixel();
        let (body_x, body_y) = body.get_base_pixel();
        let mut last_label_end = i32::MIN;
        for (index, segment) in reader.segments().iter().enumerate() {
            let x = frame.x(segment.time.start.0);
            area.draw(&PathElement::new(
                vec![(x, bottom), (x, top)],
                BOUNDARY.stroke_width(1),
            ))
            .map_err(draw_error)?;
            // Names left to right where they fit without touching the last.
            let (px, _) = area.map_coordinate(&(x, top));
            let px = px - area.get_pixel_range().0.start;
            // `#12 CONV_2D` where it fits, else `#12`: the number is the
            // op's index in `dmo info` and `dmo report`.
            let kind = if let Some(label) = op_labels.get(index) {
                label.clone()
            } else if segment.kind == segment.name {
                segment.display_name().into_owned()
            } else {
                segment.kind.clone()
            };
            let next_px = reader
                .segments()
                .get(index + 1)
                .map(|next| {
                    let (p, _) = area.map_coordinate(&(frame.x(next.time.start.0), top));
                    p - area.get_pixel_range().0.start
                })
                .unwrap_or(i32::MAX);
            for (long, text) in [
                (true, format!("#{index} {kind}")),
                (false, format!("#{index}")),
            ] {
                let (w, _) = area
                    .estimate_text_size(&text, &name_style)
                    .unwrap_or((0, 0));
                if px + 3 > last_label_end + 6
                    && px + 3 + (w as i32) < frame.plotting_area_pixels.0 as i32
                    && (!long || next_px > px + 3 + w as i32)
                {
                    let at = (plot_x - body_x + px + 3, plot_y - body_y - 3);
                    body.draw(&Text::new(text, at, name_style.clone()))
                        .map_err(draw_error)?;
                    last_label_end = px + 3 + w as i32;
                    break;
                }
            }
        }
    }
    Ok(())
}

/// `ops: CONV_2D #0,2,4; DEPTHWISE_CONV_2D #1,3; ...`: each kind (or label)
/// with the indices of its ops, kinds in order of first appearance.
fn op_kind_legend(segments: &[dmo_core::OpSegment], labels: &[String]) -> String {
    let mut kinds: Vec<(String, Vec<usize>)> = Vec::new();
    for (index, segment) in segments.iter().enumerate() {
        let kind = labels
            .get(index)
            .map(|label| label.split(" = ").next().unwrap_or(label).to_string())
            .unwrap_or_else(|| {
                if segment.kind == segment.name {
                    segment.display_name().into_owned()
                } else {
                    segment.kind.clone()
                }
            });
        match kinds.iter_mut().find(|(k, _)| *k == kind) {
            Some((_, indices)) => indices.push(index),
            None => kinds.push((kind, vec![index])),
        }
    }
    let parts: Vec<String> = kinds
        .iter()
        .map(|(kind, indices)| format!("{kind} #{}", compress_indices(indices)))
        .collect();
    format!("ops: {}", parts.join("; "))
}

/// `0,2,…,28` for an arithmetic run of four or more, else the numbers.
fn compress_indices(indices: &[usize]) -> String {
    let mut parts = Vec::new();
    let mut at = 0;
    while at < indices.len() {
        let mut end = at + 1;
        if at + 2 < indices.len() {
            let step = indices[at + 1] - indices[at];
            end = at + 2;
            while end < indices.len() && indices[end] - indices[end - 1] == step {
                end += 1;
            }
            if end - at < 4 {
                end = at + 1;
            }
        }
        match end - at {
            1 => parts.push(indices[at].to_string()),
            _ => parts.push(format!(
                "{},{},\u{2026},{}",
                indices[at],
                indices[at + 1],
                indices[end - 1]
            )),
        }
        at = end;
    }
    parts.join(",")
}

#[cfg(test)]
mod legend_tests {
    use super::compress_indices;

    #[test]
    fn runs_of_four_or_more_are_shortened() {
        assert_eq!(compress_indices(&[0, 1, 3, 5, 7, 9]), "0,1,3,\u{2026},9");
        assert_eq!(compress_indices(&[2, 4, 6, 28]), "2,4,6,28");
        assert_eq!(compress_indices(&[2, 4, 6, 8, 28]), "2,4,\u{2026},8,28");
        assert_eq!(compress_indices(&[27]), "27");
        assert_eq!(compress_indices(&[4, 9]), "4,9");
    }
}
