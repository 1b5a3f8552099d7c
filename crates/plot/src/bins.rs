//! Binning a stream of events (or live windows) into the cells of a figure.
//!
//! A [`Grid`] splits a time range into columns and an address range into
//! rows. It never has more cells than there are distinct times or bytes, so
//! no cell is empty by construction; the raster is stretched to the plot
//! area's pixels when drawn. Binning is exact integer arithmetic: the same
//! trace gives the same cells on every machine.

use dmo_core::{AccessKind, Event, TimeRange};

/// Columns over `[time_start, time_end)` and rows over `[low, high)` bytes.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Grid {
    pub time_start: u64,
    pub time_end: u64,
    pub low: u64,
    pub high: u64,
    pub columns: u32,
    pub rows: u32,
}

impl Grid {
    /// At most `columns x rows` cells, fewer if the ranges are shorter.
    /// Both ranges must be non-empty.
    pub fn new(time: TimeRange, low: u64, high: u64, columns: u32, rows: u32) -> Grid {
        let time_span = time.len().max(1);
        let byte_span = high.saturating_sub(low).max(1);
        Grid {
            time_start: time.start.0,
            time_end: time.start.0 + time_span,
            low,
            high: low + byte_span,
            columns: columns.clamp(1, u32::try_from(time_span).unwrap_or(u32::MAX)),
            rows: rows.clamp(1, u32::try_from(byte_span).unwrap_or(u32::MAX)),
        }
    }

    fn time_span(&self) -> u64 {
        self.time_end - self.time_start
    }

    fn byte_span(&self) -> u64 {
        self.high - self.low
    }

    /// The column holding time `t`.
    pub fn column(&self, t: u64) -> Option<u32> {
        (self.time_start..self.time_end)
            .contains(&t)
            .then(|| scale(t - self.time_start, self.columns, self.time_span()))
    }

    /// The row holding byte `address`.
    pub fn row(&self, address: u64) -> Option<u32> {
        (self.low..self.high)
            .contains(&address)
            .then(|| scale(address - self.low, self.rows, self.byte_span()))
    }

    /// First time of column `c` (`c == columns` gives the end).
    pub fn column_start(&self, c: u32) -> u64 {
        self.time_start + boundary(c, self.columns, self.time_span())
    }

    /// First byte of row `r` (`r == rows` gives the end).
    pub fn row_start(&self, r: u32) -> u64 {
        self.low + boundary(r, self.rows, self.byte_span())
    }

    fn cells(&self) -> usize {
        self.columns as usize * self.rows as usize
    }

    fn cell(&self, column: u32, row: u32) -> usize {
        row as usize * self.columns as usize + column as usize
    }
}

/// `floor(offset * parts / span)`: which of `parts` equal slices of `span`
/// holds `offset`.
fn scale(offset: u64, parts: u32, span: u64) -> u32 {
    ((offset as u128 * parts as u128) / span as u128) as u32
}

/// The smallest offset that [`scale`] puts in slice `part`:
/// `ceil(part * span / parts)`.
fn boundary(part: u32, parts: u32, span: u64) -> u64 {
    (part as u128 * span as u128).div_ceil(parts as u128) as u64
}

/// Reads and writes per cell.
pub struct AccessCounts {
    pub grid: Grid,
    reads: Vec<u32>,
    writes: Vec<u32>,
    /// Events that touched at least one cell.
    pub binned: u64,
}

impl AccessCounts {
    pub fn new(grid: Grid) -> AccessCounts {
        AccessCounts {
            grid,
            reads: vec![0; grid.cells()],
            writes: vec![0; grid.cells()],
            binned: 0,
        }
    }

    /// Counts `event` in every cell its bytes touch, at its address as is.
    pub fn add(&mut self, event: &Event) {
        self.add_at(event.time.0, event.address.0 as u64, event.size, event.kind);
    }

    /// Counts an access of `size` bytes at `address` (already mapped to the
    /// grid's coordinates) at time `time`.
    pub fn add_at(&mut self, time: u64, address: u64, size: u8, kind: AccessKind) {
        let Some(column) = self.grid.column(time) else {
            return;
        };
        let first = address.max(self.grid.low);
        let last = (address + size as u64).min(self.grid.high);
        if first >= last {
            return;
        }
        let (Some(low_row), Some(high_row)) = (self.grid.row(first), self.grid.row(last - 1))
        else {
            return;
        };
        let counts = match kind {
            AccessKind::Read => &mut self.reads,
            AccessKind::Write => &mut self.writes,
        };
        for row in low_row..=high_row {
            let cell = self.grid.cell(column, row);
            counts[cell] = counts[cell].saturating_add(1);
        }
        self.binned += 1;
    }

    pub fn reads(&self, column: u32, row: u32) -> u32 {
        self.reads[self.grid.cell(column, row)]
    }

    pub fn writes(&self, column: u32, row: u32) -> u32 {
        self.writes[self.grid.cell(column, row)]
    }
}

/// Byte-time a cell spends live, accumulated from live windows, and the
/// share of the cell's byte-time that is live.
pub struct LiveShare {
    pub grid: Grid,
    /// Byte-time from windows that start or end inside a cell.
    partial: Vec<f64>,
    /// Per row, a difference array over columns of bytes live through the
    /// whole column (one extra slot for the end).
    through: Vec<f64>,
    pub windows: u64,
}

impl LiveShare {
    pub fn new(grid: Grid) -> LiveShare {
        LiveShare {
            grid,
            partial: vec![0.0; grid.cells()],
            through: vec![0.0; grid.rows as usize * (grid.columns as usize + 1)],
            windows: 0,
        }
    }

    /// Adds bytes `[first_byte, end_byte)` live over times `[start, end)`.
    /// O(rows spanned), whatever the window's length in time.
    pub fn add_window(&mut self, first_byte: u64, end_byte: u64, start: u64, end: u64) {
        let grid = self.grid;
        let (first_byte, end_byte) = (first_byte.max(grid.low), end_byte.min(grid.high));
        let (start, end) = (start.max(grid.time_start), end.min(grid.time_end));
        if first_byte >= end_byte || start >= end {
            return;
        }
        self.windows += 1;
        let (Some(first_column), Some(last_column)) = (grid.column(start), grid.column(end - 1))
        else {
            return;
        };
        let (Some(low_row), Some(high_row)) = (grid.row(first_byte), grid.row(end_byte - 1)) else {
            return;
        };
        let stride = grid.columns as usize + 1;
        for row in low_row..=high_row {
            let bytes = (end_byte.min(grid.row_start(row + 1))
                - first_byte.max(grid.row_start(row))) as f64;
            if first_column == last_column {
                self.partial[grid.cell(first_column, row)] += bytes * (end - start) as f64;
                continue;
            }
            let head = grid.column_start(first_column + 1) - start;
            let tail = end - grid.column_start(last_column);
            self.partial[grid.cell(first_column, row)] += bytes * head as f64;
            self.partial[grid.cell(last_column, row)] += bytes * tail as f64;
            if last_column > first_column + 1 {
                self.through[row as usize * stride + first_column as usize + 1] += bytes;
                self.through[row as usize * stride + last_column as usize] -= bytes;
            }
        }
    }

    /// Live share of every cell, row-major from the lowest address.
    pub fn shares(&self) -> Vec<f64> {
        let grid = self.grid;
        let stride = grid.columns as usize + 1;
        let mut shares = vec![0.0; grid.cells()];
        for row in 0..grid.rows {
            let row_bytes = (grid.row_start(row + 1) - grid.row_start(row)) as f64;
            let mut live_through = 0.0;
            for column in 0..grid.columns {
                live_through += self.through[row as usize * stride + column as usize];
                let width = (grid.column_start(column + 1) - grid.column_start(column)) as f64;
                let cell = grid.cell(column, row);
                let live = self.partial[cell] + live_through * width;
                shares[cell] = live / (row_bytes * width);
            }
        }
        shares
    }
}

/// An RGB raster of `width x height` pixels, top row first.
pub fn stretch_to_pixels(
    grid: &Grid,
    width: u32,
    height: u32,
    mut colour_of_cell: impl FnMut(u32, u32) -> [u8; 3],
) -> Vec<u8> {
    let mut pixels = Vec::with_capacity(width as usize * height as usize * 3);
    let columns: Vec<u32> = (0..width)
        .map(|x| scale(x as u64, grid.columns, width as u64))
        .collect();
    for y in 0..height {
        // Row 0 is the lowest address, drawn at the bottom.
        let row = scale((height - 1 - y) as u64, grid.rows, height as u64);
        for &column in &columns {
            pixels.extend_from_slice(&colour_of_cell(column, row));
        }
    }
    pixels
}

#[cfg(test)]
mod tests {
    use super::*;
    use dmo_core::{Address, EventTime};
    use proptest::prelude::*;

    fn grid(time: (u64, u64), bytes: (u64, u64), columns: u32, rows: u32) -> Grid {
        Grid::new(
            TimeRange::new(EventTime(time.0), EventTime(time.1)),
            bytes.0,
            bytes.1,
            columns,
            rows,
        )
    }

    #[test]
    fn grid_never_has_more_cells_than_values() {
        let g = grid((10, 15), (100, 103), 800, 600);
        assert_eq!((g.columns, g.rows), (5, 3));
        assert_eq!(g.column(10), Some(0));
        assert_eq!(g.column(14), Some(4));
        assert_eq!(g.column(15), None);
        assert_eq!(g.row(99), None);
        assert_eq!(g.row(102), Some(2));
    }

    #[test]
    fn column_boundaries_invert_the_column_of_a_time() {
        // 10 times in 3 columns: floor(t*3/10) = 0,0,0,0,1,1,1,2,2,2.
        let g = grid((0, 10), (0, 1), 3, 1);
        assert_eq!(
            (0..=3).map(|c| g.column_start(c)).collect::<Vec<_>>(),
            vec![0, 4, 7, 10]
        );
    }

    #[test]
    fn events_land_in_their_cells_and_wide_ones_in_several_rows() {
        // 4 bytes per row, 2 times per column.
        let mut counts = AccessCounts::new(grid((0, 8), (0x100, 0x110), 4, 4));
        let event = |time, address, size, kind| Event {
            time: EventTime(time),
            pc: Address(0),
            address: Address(address),
            size,
            kind,
        };
        counts.add(&event(3, 0x106, 4, AccessKind::Write)); // bytes 6..10: rows 1 and 2
        counts.add(&event(7, 0x100, 1, AccessKind::Read));
        counts.add(&event(8, 0x100, 1, AccessKind::Read)); // after the range
        counts.add(&event(0, 0x0fe, 2, AccessKind::Read)); // below the range
        assert_eq!(counts.writes(1, 1), 1);
        assert_eq!(counts.writes(1, 2), 1);
        assert_eq!(counts.writes(1, 0), 0);
        assert_eq!(counts.reads(3, 0), 1);
        assert_eq!(counts.binned, 2);
    }

    proptest! {
        /// Oracle: count live (byte, time) points cell by cell, straight from
        /// the definition, for random windows on a small grid.
        #[test]
        fn live_share_equals_brute_force(
            windows in proptest::collection::vec((0u64..40, 1u64..12, 0u64..90, 1u64..60), 0..20),
            columns in 1u32..12,
            rows in 1u32..9,
        ) {
            let g = grid((5, 85), (0, 36), columns, rows);
            let mut share = LiveShare::new(g);
            let mut live = vec![vec![0u32; 90]; 50];
            for &(byte, len, start, duration) in &windows {
                share.add_window(byte, byte + len, start, start + duration);
                for b in byte..byte + len {
                    for t in start..(start + duration).min(90) {
                        if b < 50 { live[b as usize][t as usize] += 1; }
                    }
                }
            }
            let shares = share.shares();
            for row in 0..g.rows {
                for column in 0..g.columns {
                    let mut total = 0u64;
                    let mut cell_points = 0u64;
                    for b in g.row_start(row)..g.row_start(row + 1) {
                        for t in g.column_start(column)..g.column_start(column + 1) {
                            total += live[b as usize][t as usize] as u64;
                            cell_points += 1;
                        }
                    }
                    let expected = total as f64 / cell_points as f64;
                    let got = shares[(row * g.columns + column) as usize];
                    prop_assert!((got - expected).abs() < 1e-9, "cell {column},{row}: {got} vs {expected}");
                }
            }
        }
    }

    #[test]
    fn stretching_repeats_cells_and_puts_low_addresses_at_the_bottom() {
        let g = grid((0, 2), (0, 2), 2, 2);
        let pixels = stretch_to_pixels(&g, 4, 2, |c, r| [c as u8, r as u8, 0]);
        // Top pixel row shows row 1, bottom row 0; each column twice.
        assert_eq!(&pixels[..12], &[0, 1, 0, 0, 1, 0, 1, 1, 0, 1, 1, 0]);
        assert_eq!(&pixels[12..15], &[0, 0, 0]);
    }
}
