//! One op's input and output drawn at the mined `s_min` placement (output
//! `s_min` bytes below the input), the read and write frontiers over time,
//! the saved bytes shaded and the witness that `s_min - 1` is unsafe.
//!
//! y is the byte offset from the start of the output; input byte `i` sits at
//! `s_min + i`. Read frontier: `s_min + minLive(t)`, the lowest input byte
//! still to be read (`min{i : lr[i] > t}`). Write frontier: the highest
//! output byte first accessed by `t`. Reads and writes of the pair are binned
//! behind them, as in the access figure.

use crate::access::role_colour;
use crate::axes::{bytes_text, tick, ByteUnit, TimeUnit};
use crate::bins::{stretch_to_pixels, AccessCounts, Grid};
use crate::frame::{self, draw_error, header, Area, LegendEntry, Swatch};
use crate::style::{READ, SAVED, WRITE};
use crate::{FigureRequest, FigureSummary, PlotError};
use dmo_core::{BufferRole, ByteCount, EventTime, OpSegment, TimeRange};
use dmo_overlap::{footprint, AccessRecorder, Direction, PairOverlap};
use dmo_trace::{PairMiner, PairResult, TraceReader};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

pub fn draw<DB: DrawingBackend>(
    root: &Area<DB>,
    reader: &TraceReader,
    request: &FigureRequest,
) -> Result<FigureSummary, PlotError> {
    let pair = choose_pair(reader, request)?;
    let segment = &reader.segments()[pair.segment_index];
    let time = segment.time;
    let (input, output) = (&pair.input, &pair.output);
    // lr and fa again, for the frontiers (the miner keeps only results).
    let mut recorder =
        AccessRecorder::new(ByteCount(input.len as u64), ByteCount(output.len as u64));
    for event in reader.events_in(time)? {
        recorder.record_event(&event?, input.start, output.start);
    }
    let overlap: PairOverlap = pair.overlap;
    let s_min = overlap.s_min.0;
    let (n_in, n_out) = (input.len as u64, output.len as u64);
    let footprint = footprint(
        overlap.input_len,
        overlap.output_len,
        Direction::Down,
        overlap.s_min,
    )
    .0;
    let saved = n_in + n_out - footprint;
    let saved_percent = 100.0 * saved as f64 / (n_in + n_out).max(1) as f64;
    let title = format!(
        "Safe overlap: op #{} {} ({}), {} -> {}",
        pair.segment_index,
        segment.display_name(),
        segment.kind,
        input.name,
        output.name
    );
    let mut subtitle = vec![format!(
        "output placed s_min = {} B below the input: footprint {} instead of {}, saving {} ({:.1}%)",
        s_min,
        bytes_text(footprint),
        bytes_text(n_in + n_out),
        bytes_text(saved),
        saved_percent
    )];
    subtitle.push(format!(
        "s_mono = {} B, u_min = {} B, u_mono = {} B; input {}, output {}; t = {}..{}",
        overlap.s_mono.0,
        overlap.u_min.0,
        overlap.u_mono.0,
        bytes_text(n_in),
        bytes_text(n_out),
        time.start.0,
        time.end.0
    ));
    let mut legend = vec![
        LegendEntry::new(Swatch::Fill(READ), "input read"),
        LegendEntry::new(Swatch::Fill(WRITE), "output write"),
        LegendEntry::new(
            Swatch::Line(role_colour(BufferRole::Input)),
            "read frontier",
        ),
        LegendEntry::new(
            Swatch::Line(role_colour(BufferRole::Output)),
            "write frontier",
        ),
        LegendEntry::new(Swatch::Band(SAVED, 0.25), "saved bytes"),
    ];
    if overlap.witness_down.is_some() {
        legend.push(LegendEntry::new(
            Swatch::Cross(RGBColor(0, 0, 0)),
            "witness: s_min - 1 unsafe",
        ));
    }
    let body = header(root, &title, &subtitle, &legend)?;

    let time_unit = TimeUnit::for_span(time.len());
    let byte_unit = ByteUnit::for_span(footprint);
    let x = |t: u64| time_unit.of(t.saturating_sub(time.start.0) as f64);
    let y = |offset: u64| byte_unit.of(offset as f64);
    let mut chart = ChartBuilder::on(&body)
        .margin_left(10)
        .margin_right(30)
        .margin_bottom(10)
        .x_label_area_size(55)
        .y_label_area_size(80)
        .build_cartesian_2d(x(time.start.0)..x(time.end.0), 0.0..y(footprint))
        .map_err(draw_error)?;
    chart
        .configure_mesh()
        .disable_mesh()
        .x_labels(10)
        .y_labels(10)
        .x_label_formatter(&tick)
        .y_label_formatter(&tick)
        .label_style(frame::axis_text())
        .axis_desc_style(frame::axis_desc_text())
        .x_desc(format!("time since op start ({})", time_unit.name))
        .y_desc(format!("offset from output start ({})", byte_unit.name))
        .draw()
        .map_err(draw_error)?;
    let plotting_area = chart.plotting_area().strip_coord_spec();
    let (columns, rows) = plotting_area.dim_in_pixel();

    // Reads of input byte i at s_min + i, writes of output byte j at j.
    let grid = Grid::new(time, 0, footprint, columns, rows);
    let mut counts = AccessCounts::new(grid);
    for_each_pair_access(reader, time, input, output, s_min, |t, byte, kind| {
        counts.add_at(t, byte, 1, kind)
    })?;
    let pixels = stretch_to_pixels(&grid, columns, rows, |column, row| {
        if counts.writes(column, row) > 0 {
            [WRITE.0, WRITE.1, WRITE.2]
        } else if counts.reads(column, row) > 0 {
            [READ.0, READ.1, READ.2]
        } else {
            [255, 255, 255]
        }
    });
    frame::blit(&plotting_area, pixels)?;

    let area = chart.plotting_area();
    let (x0, x1) = (x(time.start.0), x(time.end.0));
    let band = |low: u64, high: u64, colour: RGBColor, opacity: f64| {
        let corners = [(x0, y(low)), (x1, y(high))];
        area.draw(&Rectangle::new(corners, colour.mix(opacity).filled()))?;
        area.draw(&Rectangle::new(corners, colour.stroke_width(1)))
    };
    band(s_min, s_min + n_in, role_colour(BufferRole::Input), 0.06).map_err(draw_error)?;
    band(0, n_out, role_colour(BufferRole::Output), 0.06).map_err(draw_error)?;
    if saved > 0 {
        band(s_min, s_min + saved, SAVED, 0.25).map_err(draw_error)?;
    }
    // Input label under the input band's top edge, output label above the
    // output band's bottom edge: they never meet, whatever s_min is.
    let (l, t) = (area.get_pixel_range().0, area.get_pixel_range().1);
    let band_label = |text: String, at: u64, vertical: VPos, nudge: i32| {
        let (px, py) = area.map_coordinate(&(x1, y(at)));
        let style = frame::label_text(13).pos(Pos::new(HPos::Right, vertical));
        plotting_area
            .draw(&Text::new(
                text,
                (px - l.start - 6, py - t.start + nudge),
                style,
            ))
            .map_err(draw_error)
    };
    let described = |role: &str, name: &str, len: u64| {
        if role == name {
            format!("{role} ({len} B)")
        } else {
            format!("{role} {name} ({len} B)")
        }
    };
    band_label(
        format!("{} at +{} B", described("input", &input.name, n_in), s_min),
        s_min + n_in,
        VPos::Top,
        4,
    )?;
    band_label(
        format!("{} at 0", described("output", &output.name, n_out)),
        0,
        VPos::Bottom,
        -4,
    )?;

    // Frontiers at the end of each pixel column: exact, every event counted.
    let column_ends: Vec<u64> = (1..=grid.columns)
        .map(|c| grid.column_start(c) - 1)
        .collect();
    let read_frontier = read_frontier(recorder.last_read(), &column_ends);
    let write_frontier = write_frontier(recorder.first_access(), &column_ends);
    let series = |values: Vec<Option<u64>>, shift: u64| -> Vec<Vec<(f64, f64)>> {
        // Split where the frontier does not exist (before the first write,
        // after the last read).
        let mut runs = vec![Vec::new()];
        for (&t, value) in column_ends.iter().zip(values) {
            match value {
                Some(v) => runs.last_mut().unwrap().push((x(t + 1), y(v + shift))),
                None if !runs.last().unwrap().is_empty() => runs.push(Vec::new()),
                None => {}
            }
        }
        runs.retain(|run| !run.is_empty());
        runs
    };
    for run in series(read_frontier, s_min) {
        area.draw(&PathElement::new(
            run,
            role_colour(BufferRole::Input).stroke_width(2),
        ))
        .map_err(draw_error)?;
    }
    for run in series(write_frontier, 0) {
        area.draw(&PathElement::new(
            run,
            role_colour(BufferRole::Output).stroke_width(2),
        ))
        .map_err(draw_error)?;
    }
    if let Some(witness) = overlap.witness_down {
        // At s_min - 1, output byte j would land on input byte j - s_min + 1,
        // drawn here one byte above j.
        let write_at = (x(witness.output_first_access.0), y(witness.output_byte));
        let read_at = (x(witness.input_last_read.0), y(s_min + witness.input_byte));
        for at in [write_at, read_at] {
            area.draw(&Cross::new(at, 7, BLACK.stroke_width(2)))
                .map_err(draw_error)?;
        }
        area.draw(&PathElement::new(
            vec![write_at, read_at],
            BLACK.stroke_width(1),
        ))
        .map_err(draw_error)?;
        let note = format!(
            "witness at s = {}: output byte {} (first accessed t={}) lands on input byte {} (last read t={})",
            s_min - 1,
            witness.output_byte,
            witness.output_first_access.0,
            witness.input_byte,
            witness.input_last_read.0
        );
        let style = frame::label_text(13).pos(Pos::new(HPos::Left, VPos::Top));
        plotting_area
            .draw(&Text::new(note, (6, 6), style))
            .map_err(draw_error)?;
    }
    Ok(FigureSummary {
        title,
        events_binned: counts.binned,
        raster: (grid.columns, grid.rows),
        plot_area: frame::pixel_rect(&plotting_area),
    })
}

/// The pair to draw: the chosen op's pair with the largest saving at
/// `s_min`, or over all ops without a choice (ties: the earliest).
fn choose_pair(reader: &TraceReader, request: &FigureRequest) -> Result<PairResult, PlotError> {
    let (segments, offset): (Vec<OpSegment>, usize) = match &request.op {
        Some(selector) => {
            let index = selector.find(reader)?;
            (vec![reader.segments()[index].clone()], index)
        }
        None => (reader.segments().to_vec(), 0),
    };
    let pairs = PairMiner::of_trace(reader, &segments)?;
    let saving = |p: &PairResult| {
        let o = &p.overlap;
        o.naive().0 - footprint(o.input_len, o.output_len, Direction::Down, o.s_min).0
    };
    let mut best: Option<PairResult> = None;
    for pair in pairs {
        if best.as_ref().map_or(true, |b| saving(&pair) > saving(b)) {
            best = Some(pair);
        }
    }
    let mut pair = best.ok_or_else(|| PlotError::NothingToPlot {
        trace: reader.path().to_path_buf(),
        problem: "no op with both an input and an output buffer".to_string(),
    })?;
    pair.segment_index += offset;
    Ok(pair)
}

/// Calls `visit(time, offset, kind)` for each access of the pair's bytes in
/// `time`, at their placed offsets: input byte `i` at `s_min + i`, output
/// byte `j` at `j`. Once per byte touched; streams, keeps nothing.
fn for_each_pair_access(
    reader: &TraceReader,
    time: TimeRange,
    input: &dmo_core::Buffer,
    output: &dmo_core::Buffer,
    s_min: u64,
    mut visit: impl FnMut(u64, u64, dmo_core::AccessKind),
) -> Result<(), PlotError> {
    for event in reader.events_in(time)? {
        let event = event?;
        let first = event.address.0 as u64;
        for address in first..first + event.size as u64 {
            let (in_start, out_start) = (input.start.0 as u64, output.start.0 as u64);
            if (in_start..in_start + input.len as u64).contains(&address) {
                visit(event.time.0, s_min + address - in_start, event.kind);
            }
            if (out_start..out_start + output.len as u64).contains(&address) {
                visit(event.time.0, address - out_start, event.kind);
            }
        }
    }
    Ok(())
}

/// `minLive(t) = min{i : lr[i] > t}` at each time in `times` (ascending).
/// Non-decreasing in `t`, so one pass over the bytes: byte `i` is the answer
/// for every time before `lr[i]` not already claimed by a lower byte.
pub fn read_frontier(last_read: &[Option<EventTime>], times: &[u64]) -> Vec<Option<u64>> {
    let mut frontier = vec![None; times.len()];
    let mut claimed = 0;
    for (i, lr) in last_read.iter().enumerate() {
        let Some(lr) = lr else { continue };
        let reach = times.partition_point(|&t| t < lr.0);
        while claimed < reach {
            frontier[claimed] = Some(i as u64);
            claimed += 1;
        }
    }
    frontier
}

/// `max{j : fa[j] <= t}` at each time in `times` (ascending).
pub fn write_frontier(first_access: &[Option<EventTime>], times: &[u64]) -> Vec<Option<u64>> {
    let mut highest_from = vec![None::<u64>; times.len()];
    for (j, fa) in first_access.iter().enumerate() {
        let Some(fa) = fa else { continue };
        let from = times.partition_point(|&t| t < fa.0);
        if from < times.len() {
            highest_from[from] = Some(highest_from[from].map_or(j as u64, |h| h.max(j as u64)));
        }
    }
    let mut running = None;
    for value in &mut highest_from {
        running = running.max(*value);
        *value = running;
    }
    highest_from
}

#[cfg(test)]
mod tests {
    use super::*;

    fn times(values: &[Option<u64>]) -> Vec<Option<EventTime>> {
        values.iter().map(|v| v.map(EventTime)).collect()
    }

    /// Oracle: the definitions evaluated directly at every time.
    fn brute_read(lr: &[Option<u64>], t: u64) -> Option<u64> {
        (0..lr.len() as u64).find(|&i| lr[i as usize].is_some_and(|r| r > t))
    }

    fn brute_write(fa: &[Option<u64>], t: u64) -> Option<u64> {
        (0..fa.len() as u64)
            .rev()
            .find(|&j| fa[j as usize].is_some_and(|f| f <= t))
    }

    #[test]
    fn frontiers_match_their_definitions() {
        // A 1x1 conv in miniature: input byte i last read at 2i+1, output
        // byte j first written at 2j+2; byte 2 of the input never read.
        let lr = [Some(1), Some(3), None, Some(7), Some(9)];
        let fa = [Some(2), Some(4), None, Some(8), Some(10), Some(3)];
        let t: Vec<u64> = (0..12).collect();
        let reads = read_frontier(&times(&lr), &t);
        let writes = write_frontier(&times(&fa), &t);
        for &time in &t {
            assert_eq!(
                reads[time as usize],
                brute_read(&lr, time),
                "read at {time}"
            );
            assert_eq!(
                writes[time as usize],
                brute_write(&fa, time),
                "write at {time}"
            );
        }
        // Hand-checked: at t=3 the lowest byte still to be read is 3 (byte 1's
        // last read was at 3, byte 2 is never read); the highest output byte
        // accessed is 5 (first accessed at 3).
        assert_eq!(reads[3], Some(3));
        assert_eq!(writes[3], Some(5));
        assert_eq!(reads[9], None);
    }
}
