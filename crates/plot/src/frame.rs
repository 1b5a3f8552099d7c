//! What every figure shares: a header with title, subtitle and legend above
//! the chart (so the legend never covers data), axis styling, and the data
//! raster blitted into the plot area.

use crate::style::{self, TEXT};
use crate::PlotError;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use std::path::PathBuf;

pub type Area<DB> = DrawingArea<DB, Shift>;

/// A drawing error, before the caller adds the output path.
pub fn draw_error<E: std::fmt::Debug>(error: E) -> PlotError {
    PlotError::Draw {
        path: PathBuf::new(),
        message: format!("{error:?}"),
    }
}

/// How a legend entry is drawn.
#[derive(Clone, Copy, Debug)]
pub enum Swatch {
    Fill(RGBColor),
    /// A fill at this opacity with a solid border.
    Band(RGBColor, f64),
    Line(RGBColor),
    Cross(RGBColor),
}

pub struct LegendEntry {
    pub swatch: Swatch,
    pub label: String,
}

impl LegendEntry {
    pub fn new(swatch: Swatch, label: impl Into<String>) -> LegendEntry {
        LegendEntry {
            swatch,
            label: label.into(),
        }
    }
}

pub const TITLE_SIZE: u32 = 22;
pub const TEXT_SIZE: u32 = 15;
pub const LABEL_SIZE: u32 = 14;

/// Draws the title, the subtitle lines and one legend row at the top of
/// `root`; returns the area below for the chart.
pub fn header<DB: DrawingBackend>(
    root: &Area<DB>,
    title: &str,
    subtitle: &[String],
    legend: &[LegendEntry],
) -> Result<Area<DB>, PlotError> {
    let (width, _) = root.dim_in_pixel();
    let centre = width as i32 / 2;
    let title_style = style::text(TITLE_SIZE).pos(Pos::new(HPos::Center, VPos::Top));
    root.draw(&Text::new(title.to_string(), (centre, 8), title_style))
        .map_err(draw_error)?;
    let mut y = 8 + TITLE_SIZE as i32 + 8;
    let line_style = style::text(TEXT_SIZE).pos(Pos::new(HPos::Center, VPos::Top));
    for line in subtitle {
        root.draw(&Text::new(line.clone(), (centre, y), line_style.clone()))
            .map_err(draw_error)?;
        y += TEXT_SIZE as i32 + 5;
    }
    if !legend.is_empty() {
        y += 3;
        let label_style = style::text(TEXT_SIZE);
        let swatch = 14;
        let gap = 22;
        let widths: Vec<i32> = legend
            .iter()
            .map(|entry| {
                let (w, _) = root
                    .estimate_text_size(&entry.label, &label_style)
                    .unwrap_or((entry.label.len() as u32 * 8, 0));
                swatch + 6 + w as i32
            })
            .collect();
        let total: i32 = widths.iter().sum::<i32>() + gap * (legend.len() as i32 - 1);
        let mut x = centre - total / 2;
        for (entry, entry_width) in legend.iter().zip(widths) {
            draw_swatch(root, entry.swatch, (x, y), swatch)?;
            let text_style = label_style.pos(Pos::new(HPos::Left, VPos::Center));
            root.draw(&Text::new(
                entry.label.clone(),
                (x + swatch + 6, y + swatch / 2),
                text_style,
            ))
            .map_err(draw_error)?;
            x += entry_width + gap;
        }
        y += swatch + 6;
    }
    Ok(root.margin(y as u32 + 4, 0, 0, 0))
}

fn draw_swatch<DB: DrawingBackend>(
    root: &Area<DB>,
    swatch: Swatch,
    (x, y): (i32, i32),
    size: i32,
) -> Result<(), PlotError> {
    let corner = (x + size, y + size);
    match swatch {
        Swatch::Fill(colour) => root.draw(&Rectangle::new([(x, y), corner], colour.filled())),
        Swatch::Band(colour, opacity) => {
            root.draw(&Rectangle::new(
                [(x, y), corner],
                colour.mix(opacity).filled(),
            ))
            .map_err(draw_error)?;
            root.draw(&Rectangle::new([(x, y), corner], colour.stroke_width(1)))
        }
        Swatch::Line(colour) => root.draw(&PathElement::new(
            vec![(x, y + size / 2), (corner.0, y + size / 2)],
            colour.stroke_width(3),
        )),
        Swatch::Cross(colour) => root.draw(&Cross::new(
            (x + size / 2, y + size / 2),
            size / 2,
            colour.stroke_width(2),
        )),
    }
    .map_err(draw_error)
}

/// Axis label and tick text styles.
pub fn axis_text() -> TextStyle<'static> {
    style::text(LABEL_SIZE)
}

pub fn axis_desc_text() -> TextStyle<'static> {
    style::text(TEXT_SIZE)
}

/// Draws an RGB raster (from [`crate::bins::stretch_to_pixels`]) over the
/// whole plotting area of `area`, whose size in pixels it must have.
pub fn blit<DB: DrawingBackend>(area: &Area<DB>, pixels: Vec<u8>) -> Result<(), PlotError> {
    let size = area.dim_in_pixel();
    let element = BitMapElement::<(i32, i32)>::with_owned_buffer((0, 0), size, pixels)
        .ok_or_else(|| draw_error("raster does not match the plot area"))?;
    area.draw(&element).map_err(draw_error)
}

/// Text colour for labels drawn inside the plot.
pub fn label_text(size: u32) -> TextStyle<'static> {
    style::text(size).color(&TEXT)
}

/// Where `area` lies in the image: left, top, width, height.
pub fn pixel_rect<DB: DrawingBackend>(area: &Area<DB>) -> Option<(i32, i32, u32, u32)> {
    let (left, top) = area.get_base_pixel();
    let (width, height) = area.dim_in_pixel();
    Some((left, top, width, height))
}
