//! TFLite's SAME / VALID padding, computed exactly as
//! `tflite::ComputePaddingHeightWidth` (tensorflow/lite/kernels/padding.h)
//! does, because the kernels only ever see its `pad_top` / `pad_left`.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// TFLite's padding scheme of convolutions and pools.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub enum Padding {
    Same,
    Valid,
}

impl fmt::Display for Padding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Padding::Same => "SAME",
            Padding::Valid => "VALID",
        })
    }
}

impl FromStr for Padding {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.to_ascii_lowercase().as_str() {
            "same" => Ok(Padding::Same),
            "valid" => Ok(Padding::Valid),
            _ => Err(format!("unknown padding `{text}` (expected same or valid)")),
        }
    }
}

/// Padding along one spatial axis, as TFLite resolves it.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub struct AxisPadding {
    /// Output size along the axis (`ComputeOutSize`); 0 or less means the
    /// window does not fit.
    pub output_size: i64,
    /// Padding before the first input element (`pad_top` / `pad_left`), the
    /// only padding the kernels use.
    pub before: usize,
    /// The odd extra padding TFLite puts after the last element
    /// (`height_offset` / `width_offset`); the kernels never read it.
    pub extra_after: usize,
}

/// `ComputeOutSize` and `ComputePaddingWithOffset` for one axis.
pub fn tflite_axis_padding(
    padding: Padding,
    input_size: usize,
    filter_size: usize,
    stride: usize,
    dilation: usize,
) -> AxisPadding {
    let input_size = input_size as i64;
    let stride = stride.max(1) as i64;
    let effective_filter = (filter_size as i64 - 1) * dilation as i64 + 1;
    let output_size = match padding {
        Padding::Same => (input_size + stride - 1) / stride,
        Padding::Valid => (input_size + stride - effective_filter).div_euclid(stride),
    };
    let total_padding = ((output_size - 1) * stride + effective_filter - input_size).max(0);
    AxisPadding {
        output_size,
        before: (total_padding / 2) as usize,
        extra_after: (total_padding % 2) as usize,
    }
}

/// Resolved padding of a 2-D window op: `ComputePaddingHeightWidth`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub struct PaddingValues {
    pub height: AxisPadding,
    pub width: AxisPadding,
}

/// `tflite::ComputePaddingHeightWidth` for the given window geometry.
#[allow(clippy::too_many_arguments)]
pub fn compute_padding_height_width(
    padding: Padding,
    input_height: usize,
    input_width: usize,
    filter_height: usize,
    filter_width: usize,
    stride_height: usize,
    stride_width: usize,
    dilation_height: usize,
    dilation_width: usize,
) -> PaddingValues {
    PaddingValues {
        height: tflite_axis_padding(
            padding,
            input_height,
            filter_height,
            stride_height,
            dilation_height,
        ),
        width: tflite_axis_padding(
            padding,
            input_width,
            filter_width,
            stride_width,
            dilation_width,
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_padding_matches_tflite_by_hand() {
        // 96 input, 3x3 filter, stride 2, SAME: out = ceil(96/2) = 48;
        // total = (48-1)*2 + 3 - 96 = 1 -> pad_top 0, offset 1 (TFLite pads
        // the odd pixel at the bottom/right).
        let axis = tflite_axis_padding(Padding::Same, 96, 3, 2, 1);
        assert_eq!(
            axis,
            AxisPadding {
                output_size: 48,
                before: 0,
                extra_after: 1
            }
        );
        // 48 input, 3x3, stride 1, SAME: total = 47 + 3 - 48 = 2 -> 1 before.
        let axis = tflite_axis_padding(Padding::Same, 48, 3, 1, 1);
        assert_eq!(
            axis,
            AxisPadding {
                output_size: 48,
                before: 1,
                extra_after: 0
            }
        );
        // Dilation 2 makes a 3-tap filter span 5: total = 9 + 5 - 10 = 4.
        let axis = tflite_axis_padding(Padding::Same, 10, 3, 1, 2);
        assert_eq!(
            axis,
            AxisPadding {
                output_size: 10,
                before: 2,
                extra_after: 0
            }
        );
    }

    #[test]
    fn valid_padding_never_pads() {
        // (7 + 2 - 3) / 2 = 3 outputs; total = 2*2 + 3 - 7 = 0.
        let axis = tflite_axis_padding(Padding::Valid, 7, 3, 2, 1);
        assert_eq!(
            axis,
            AxisPadding {
                output_size: 3,
                before: 0,
                extra_after: 0
            }
        );
        // A filter larger than the input leaves no output.
        assert!(tflite_axis_padding(Padding::Valid, 2, 5, 1, 1).output_size <= 0);
    }
}
