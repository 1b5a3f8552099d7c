//! Liveness heatmap: for each address x time cell, the share of its
//! byte-time in which the byte holds a live value (`shared/DESIGN.md`,
//! "Liveness": from a write to the last read of what it stored; initial data
//! from time 0), with a colour bar.

use crate::access::draw_frame;
use crate::axes::tick;
use crate::bins::{stretch_to_pixels, Grid, LiveShare};
use crate::frame::{self, draw_error, header, Area};
use crate::select::view_of;
use crate::style::heat_colour;
use crate::{FigureRequest, FigureSummary, PlotError};
use dmo_core::{Address, EventSink};
use dmo_trace::{ByteRange, LivenessTracker, TraceReader};
use plotters::prelude::*;

/// The most bytes the liveness figure tracks: 16 MiB of address space
/// (224 MiB of tracker state), far more than a Cortex-M's RAM.
pub const MAX_TRACKED_BYTES: u64 = 1 << 24;

pub fn draw<DB: DrawingBackend>(
    root: &Area<DB>,
    reader: &TraceReader,
    request: &FigureRequest,
) -> Result<FigureSummary, PlotError> {
    let view = view_of(reader, request)?;
    // The tracker keeps 14 bytes of state per tracked byte: bound the view
    // before allocating (a forged buffer at 0xffffffff made it span 4 GiB
    // and allocate 56 GiB).
    if view.high - view.low > MAX_TRACKED_BYTES {
        return Err(PlotError::NothingToPlot {
            trace: reader.path().to_path_buf(),
            problem: format!(
                "the view spans {} bytes, more than the liveness figure tracks ({MAX_TRACKED_BYTES}); choose one op with --op",
                view.high - view.low
            ),
        });
    }
    let title = format!("Live bytes: {}", view.subject);
    let subtitle = vec![format!(
        "share of each cell's bytes x time holding a live value (write to last read); {} bytes from {}, t = {}..{}",
        view.high - view.low,
        view.base_text(),
        view.time.start.0,
        view.time.end.0
    )];
    let body = header(root, &title, &subtitle, &[])?;
    let (width, _) = body.dim_in_pixel();
    let (chart_body, bar_body) = body.split_horizontally(width.saturating_sub(110));
    let chart_frame = draw_frame(&chart_body, &view)?;
    let (columns, rows) = chart_frame.plotting_area_pixels;
    let grid = Grid::new(view.time, view.low, view.high, columns, rows);
    let mut share = LiveShare::new(grid);
    let tracked = [ByteRange::new(
        Address(view.low as u32),
        (view.high - view.low) as u32,
    )];
    let mut events = 0u64;
    {
        let mut tracker = LivenessTracker::new(&tracked, view.time, |window| {
            if let Some(live) = window.live_time() {
                let first = window.bytes.start.0 as u64;
                share.add_window(first, window.bytes.end(), live.start.0, live.end.0);
            }
        });
        // Later reads extend windows that are live in the view: stream all.
        let mut blocks = reader.blocks()?;
        while let Some(block) = blocks.next_block()? {
            for event in block {
                tracker.event(event);
            }
            events += block.len() as u64;
        }
        tracker.finish();
    }
    let shares = share.shares();
    let pixels = stretch_to_pixels(&grid, columns, rows, |column, row| {
        let c = heat_colour(shares[(row * grid.columns + column) as usize]);
        [c.0, c.1, c.2]
    });
    frame::blit(&chart_frame.plotting_area, pixels)?;
    draw_colour_bar(
        &bar_body,
        chart_frame.plotting_area.get_base_pixel().1,
        rows,
    )?;
    Ok(FigureSummary {
        title,
        events_binned: events,
        raster: (grid.columns, grid.rows),
        plot_area: frame::pixel_rect(&chart_frame.plotting_area),
    })
}

/// A vertical bar from 0 (bottom) to 1 (top) aligned with the plot area.
fn draw_colour_bar<DB: DrawingBackend>(
    area: &Area<DB>,
    plot_top: i32,
    plot_height: u32,
) -> Result<(), PlotError> {
    let top = plot_top - area.get_base_pixel().1;
    let bar = area.margin(top.max(0) as u32, 0, 10, 0);
    let (bar_width, bar_height) = bar.dim_in_pixel();
    let height = plot_height.min(bar_height).max(2);
    let bar = bar.shrink((0, 0), (bar_width, height));
    let mut chart = ChartBuilder::on(&bar)
        .y_label_area_size(0)
        .right_y_label_area_size(55)
        .margin_right(5)
        .build_cartesian_2d(0.0..1.0f64, 0.0..1.0f64)
        .map_err(draw_error)?;
    chart
        .configure_mesh()
        .disable_mesh()
        .disable_x_axis()
        .y_labels(6)
        .y_label_formatter(&tick)
        .label_style(frame::axis_text())
        .axis_desc_style(frame::axis_desc_text())
        .y_desc("live share")
        .draw()
        .map_err(draw_error)?;
    let steps = 200;
    chart
        .draw_series((0..steps).map(|step| {
            let low = step as f64 / steps as f64;
            let high = (step + 1) as f64 / steps as f64;
            Rectangle::new(
                [(0.0, low), (1.0, high)],
                heat_colour((low + high) / 2.0).filled(),
            )
        }))
        .map_err(draw_error)?;
    chart
        .draw_series(std::iter::once(Rectangle::new(
            [(0.0, 0.0), (1.0, 1.0)],
            BLACK.stroke_width(1),
        )))
        .map_err(draw_error)?;
    Ok(())
}
