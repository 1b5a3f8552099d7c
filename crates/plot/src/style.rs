//! Colours, fonts and text styles shared by every figure.
//!
//! Reads and writes use a light orange and a dark purple (ColorBrewer PuOr
//! ends): distinct for colour-blind readers and, by lightness, in greyscale
//! print. The liveness heatmap uses ColorBrewer YlGnBu, whose lightness falls
//! monotonically, so it too survives greyscale.

use plotters::style::{register_font, FontStyle, RGBColor, TextStyle};
use std::sync::Once;

/// The family every text element uses; registered from the shipped TTF.
pub const FONT: &str = "DejaVu Sans";

static FONT_BYTES: &[u8] = include_bytes!("../../../assets/fonts/DejaVuSans.ttf");

/// Registers the shipped font under its own name and under the generic
/// families plotters falls back to, once per process.
pub fn register_fonts() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        for family in [FONT, "sans-serif", "serif", "monospace"] {
            // The font is compiled in and known to parse; a failure here is a
            // broken build, caught by every test that draws text.
            if register_font(family, FontStyle::Normal, FONT_BYTES).is_err() {
                panic!("the DejaVu Sans compiled into dmo-plot does not parse");
            }
        }
    });
}

pub const READ: RGBColor = RGBColor(253, 184, 99);
pub const WRITE: RGBColor = RGBColor(94, 60, 153);
pub const INPUT_BAND: RGBColor = RGBColor(33, 102, 172);
pub const OUTPUT_BAND: RGBColor = RGBColor(178, 24, 43);
pub const SCRATCH_BAND: RGBColor = RGBColor(77, 146, 33);
pub const SAVED: RGBColor = RGBColor(27, 158, 119);
pub const BOUNDARY: RGBColor = RGBColor(120, 120, 120);
pub const TEXT: RGBColor = RGBColor(20, 20, 20);
pub const PEAK: RGBColor = RGBColor(200, 0, 0);

/// ColorBrewer YlGnBu, 9 classes, light to dark.
const YLGNBU: [(u8, u8, u8); 9] = [
    (255, 255, 217),
    (237, 248, 177),
    (199, 233, 180),
    (127, 205, 187),
    (65, 182, 196),
    (29, 145, 192),
    (34, 94, 168),
    (37, 52, 148),
    (8, 29, 88),
];

/// The heatmap colour of a share in `[0, 1]`, interpolated between the
/// YlGnBu classes.
pub fn heat_colour(share: f64) -> RGBColor {
    let share = if share.is_finite() {
        share.clamp(0.0, 1.0)
    } else {
        0.0
    };
    let position = share * (YLGNBU.len() - 1) as f64;
    let low = (position.floor() as usize).min(YLGNBU.len() - 2);
    let fraction = position - low as f64;
    let mix = |a: u8, b: u8| (a as f64 + (b as f64 - a as f64) * fraction).round() as u8;
    let (a, b) = (YLGNBU[low], YLGNBU[low + 1]);
    RGBColor(mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
}

pub fn text(size: u32) -> TextStyle<'static> {
    TextStyle::from((FONT, size as f64)).color(&TEXT)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Perceived lightness (ITU-R BT.601 luma), what greyscale print keeps.
    fn luma(c: RGBColor) -> f64 {
        0.299 * c.0 as f64 + 0.587 * c.1 as f64 + 0.114 * c.2 as f64
    }

    #[test]
    fn reads_and_writes_differ_in_greyscale() {
        // 195 vs 80 on a 0..255 scale: far apart after desaturation.
        assert!(luma(READ) - luma(WRITE) > 100.0);
    }

    #[test]
    fn heatmap_darkens_monotonically_and_hits_the_end_classes() {
        assert_eq!(heat_colour(0.0), RGBColor(255, 255, 217));
        assert_eq!(heat_colour(1.0), RGBColor(8, 29, 88));
        assert_eq!(heat_colour(f64::NAN), heat_colour(0.0));
        let mut previous = f64::MAX;
        for step in 0..=100 {
            let l = luma(heat_colour(step as f64 / 100.0));
            assert!(l <= previous, "lightness rises at {step}%");
            previous = l;
        }
    }
}
