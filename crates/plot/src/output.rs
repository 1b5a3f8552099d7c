//! Picking the backend from the file name and writing the figure atomically.

use crate::frame::Area;
use crate::layout::{self, LayoutFigure};
use crate::style::register_fonts;
use crate::{access, liveness, overlap, FigureKind, FigureRequest, FigureSummary, PlotError};
use dmo_trace::TraceReader;
use plotters::prelude::*;
use std::path::Path;

/// The image file types `dmo-plot` writes.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum ImageFormat {
    Png,
    Svg,
}

impl ImageFormat {
    /// From the extension of `path` (`.png` or `.svg`, any case).
    pub fn of_path(path: &Path) -> Result<ImageFormat, PlotError> {
        let extension = path
            .extension()
            .map(|e| e.to_string_lossy().to_ascii_lowercase());
        match extension.as_deref() {
            Some("png") => Ok(ImageFormat::Png),
            Some("svg") => Ok(ImageFormat::Svg),
            _ => Err(PlotError::UnsupportedFormat {
                path: path.to_path_buf(),
            }),
        }
    }

    fn suffix(self) -> &'static str {
        match self {
            ImageFormat::Png => ".partial.png",
            ImageFormat::Svg => ".partial.svg",
        }
    }
}

/// What a render draws from.
enum Drawing<'a> {
    Trace(&'a TraceReader, &'a FigureRequest),
    Layout(&'a LayoutFigure),
}

/// Draws `request` from `reader` into `path` (PNG or SVG by extension).
/// The figure is written to a temporary file beside `path` and renamed into
/// place; an existing `path` is replaced only with `overwrite`.
pub fn render_to_file(
    reader: &TraceReader,
    request: &FigureRequest,
    path: &Path,
    overwrite: bool,
) -> Result<FigureSummary, PlotError> {
    let size = (request.width, request.height);
    render(&Drawing::Trace(reader, request), size, path, overwrite)
}

/// Draws a layout figure (e.g. [`model_layout`](crate::model_layout)) of
/// `width` x `height` pixels into `path`, by the rules of
/// [`render_to_file`].
pub fn render_layout_to_file(
    figure: &LayoutFigure,
    (width, height): (u32, u32),
    path: &Path,
    overwrite: bool,
) -> Result<FigureSummary, PlotError> {
    render(&Drawing::Layout(figure), (width, height), path, overwrite)
}

fn render(
    drawing: &Drawing<'_>,
    (width, height): (u32, u32),
    path: &Path,
    overwrite: bool,
) -> Result<FigureSummary, PlotError> {
    if !(200..=8000).contains(&width) || !(200..=8000).contains(&height) {
        return Err(PlotError::BadSize { width, height });
    }
    let format = ImageFormat::of_path(path)?;
    // Refuses an existing target without `overwrite`, and any non-regular
    // file, before the drawing work.
    // The PNG encoder picks its format from the temporary name's extension.
    let mut temporary = dmo_fsio::AtomicFile::create_with_suffix(path, overwrite, format.suffix())?;
    register_fonts();
    let io_error = |action: &'static str| {
        move |source| PlotError::Io {
            path: path.to_path_buf(),
            action,
            source,
        }
    };
    let with_path = |error: PlotError| match error {
        PlotError::Draw { message, .. } => PlotError::Draw {
            path: path.to_path_buf(),
            message,
        },
        other => other,
    };
    let summary = match format {
        ImageFormat::Png => {
            let root =
                BitMapBackend::new(temporary.temporary_path(), (width, height)).into_drawing_area();
            let summary = draw(&root, drawing).map_err(with_path)?;
            root.present()
                .map_err(|e| with_path(crate::frame::draw_error(e)))?;
            summary
        }
        ImageFormat::Svg => {
            let mut text = String::new();
            let summary = {
                let root = SVGBackend::with_string(&mut text, (width, height)).into_drawing_area();
                let summary = draw(&root, drawing).map_err(with_path)?;
                root.present()
                    .map_err(|e| with_path(crate::frame::draw_error(e)))?;
                summary
            };
            std::io::Write::write_all(&mut temporary, text.as_bytes())
                .map_err(io_error("cannot write"))?;
            summary
        }
    };
    // Renamed into place with no-clobber unless `overwrite`; dropped (and
    // removed) on any error above.
    temporary.commit()?;
    Ok(summary)
}

fn draw<DB: DrawingBackend>(
    root: &Area<DB>,
    drawing: &Drawing<'_>,
) -> Result<FigureSummary, PlotError> {
    root.fill(&WHITE).map_err(crate::frame::draw_error)?;
    let (reader, request) = match *drawing {
        Drawing::Layout(figure) => return layout::draw(root, figure),
        Drawing::Trace(reader, request) => (reader, request),
    };
    match request.kind {
        FigureKind::Access => access::draw(root, reader, request),

        FigureKind::Liveness => liveness::draw(root, reader, request),
        FigureKind::Overlap => overlap::draw(root, reader, request),
        FigureKind::Layout => layout::draw_trace(root, reader),
    }
}
