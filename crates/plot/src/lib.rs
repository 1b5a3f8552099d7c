//! Paper-style memory figures from a `dmo` trace, in PNG or SVG.
//!
//! Four kinds (see [`FigureKind`]): the access pattern (address over time,
//! where the diagonals of the DMO paper show), a liveness heatmap, the safe
//! overlap of one operator at its mined `s_min`, and the arena layout of the
//! firmware next to a DMO plan. The layout figure also draws a `.tflite`
//! model's plan ([`model_layout`], [`render_layout_to_file`]); plans come
//! from `dmo_plan`'s entry points, this crate only draws them. Every figure is built by streaming the trace
//! once (twice for `access` without op buffers) and binning events into the
//! pixels of the plot area, so memory is bounded by the image, not the trace,
//! and every event counts: none are sampled away.
//!
//! Text uses the DejaVu Sans font shipped in `assets/fonts` (registered with
//! plotters' `ab_glyph` support), so figures render the same everywhere.
//! Output goes to a temporary file that is renamed into place: a failed render
//! leaves no half-written figure.

mod access;
mod axes;
mod bins;
mod error;
mod frame;
mod layout;
mod liveness;
mod output;
mod overlap;
mod select;
mod style;

pub use error::PlotError;
pub use layout::{
    layout_of_trace, model_layout, trace_layout, FigureBuffer, LayoutFigure, LayoutPanel,
};
pub use output::{render_layout_to_file, render_to_file, ImageFormat};
pub use select::OpSelector;

/// Which figure to draw.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum FigureKind {
    /// Address over time, reads and writes in two colours.
    Access,
    /// Share of live bytes per address x time cell, with a colour bar.
    Liveness,
    /// One op's input and output at the mined `s_min` placement.
    Overlap,
    /// Buffers as rectangles over their lifetimes: firmware vs DMO placement.
    Layout,
}

impl FigureKind {
    /// The name `dmo plot --kind` uses.
    pub fn as_str(self) -> &'static str {
        match self {
            FigureKind::Access => "access",
            FigureKind::Liveness => "liveness",
            FigureKind::Overlap => "overlap",
            FigureKind::Layout => "layout",
        }
    }
}

/// Which addresses the `access` and `liveness` figures show when no op is
/// chosen.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
pub enum AddressScope {
    /// The span of the ops' activation buffers (inputs, outputs, scratch);
    /// the RAM data the run touched, stack excluded, if there are no ops.
    #[default]
    Arena,
    /// All RAM the run touched, stack included (flash is never shown: its
    /// addresses are far from RAM and it holds only constants).
    AllRam,
}

/// What to draw.
#[derive(Clone, Debug)]
pub struct FigureRequest {
    pub kind: FigureKind,
    /// One op (its buffers and its time range); `None`: the whole run
    /// (`overlap`: the pair with the largest saving).
    pub op: Option<OpSelector>,
    pub scope: AddressScope,
    /// Image size in pixels.
    pub width: u32,
    pub height: u32,
    /// What to call each op (by index) in the access figure's op labels,
    /// e.g. `CONV_2D = model op 12` with `--model`; missing entries: the
    /// op's kind.
    pub op_labels: Vec<String>,
}

impl FigureRequest {
    pub fn new(kind: FigureKind) -> FigureRequest {
        FigureRequest {
            kind,
            op: None,
            scope: AddressScope::Arena,
            width: 1200,
            height: 750,
            op_labels: Vec::new(),
        }
    }
}

/// What a render found, for the caller to print.
#[derive(Clone, PartialEq, Debug)]
pub struct FigureSummary {
    /// The figure's title.
    pub title: String,
    /// Events that fell into the figure's view and were binned (layout:
    /// every event, all streamed to mine the overlaps).
    pub events_binned: u64,
    /// Size of the data raster in cells (plot-area pixels at most; `(0, 0)`
    /// for the layout figure, which has none).
    pub raster: (u32, u32),
    /// The data area in image pixels: left, top, width, height (`None`
    /// for the two-panel layout figure).
    pub plot_area: Option<(i32, i32, u32, u32)>,
}
