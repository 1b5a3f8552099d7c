//! TFLite's host-side quantisation arithmetic (tensorflow/lite/kernels/internal/quantization_util.cc
//! and kernel_util.cc): what TFLM's `Prepare` functions compute from scales and zero points before
//! the kernels run. The generated firmware gets these numbers as constants.

/// A real multiplier as TFLite's `QuantizeMultiplier`: `multiplier * 2^(shift - 31)`, with the
/// multiplier in `[2^30, 2^31)` (or 0).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct QuantizedMultiplier {
    pub multiplier: i32,
    pub shift: i32,
}

/// `std::frexp`: `value = fraction * 2^exponent` with `0.5 <= |fraction| < 1` (value finite, non-zero).
fn frexp(value: f64) -> (f64, i32) {
    if value == 0.0 || !value.is_finite() {
        return (value, 0);
    }
    // Scale subnormals into the normal range first.
    let (value, bias) = if value.abs() < f64::MIN_POSITIVE {
        (value * 2f64.powi(64), -64)
    } else {
        (value, 0)
    };
    let bits = value.to_bits();
    let exponent = ((bits >> 52) & 0x7ff) as i32 - 1022;
    let fraction_bits = (bits & !(0x7ffu64 << 52)) | (1022u64 << 52);
    (f64::from_bits(fraction_bits), exponent + bias)
}

/// TFLite's `QuantizeMultiplier` (without TFLITE_EMULATE_FLOAT).
pub fn quantize_multiplier(real: f64) -> QuantizedMultiplier {
    if real == 0.0 {
        return QuantizedMultiplier {
            multiplier: 0,
            shift: 0,
        };
    }
    let (fraction, mut shift) = frexp(real);
    // TfLiteRound is std::round: halves away from zero, as f64::round.
    let mut fixed = (fraction * (1i64 << 31) as f64).round() as i64;
    if fixed == 1i64 << 31 {
        fixed /= 2;
        shift += 1;
    }
    if shift < -31 {
        shift = 0;
        fixed = 0;
    }
    QuantizedMultiplier {
        multiplier: fixed as i32,
        shift,
    }
}

/// `CalculateActivationRangeQuantized` for int8: the clamp bounds of a fused activation.
/// Returns `None` for activations TFLM's int8 kernels reject (TANH, SIGN_BIT as fused ones).
pub fn activation_range_int8(
    activation: dmo_tflite::FusedActivation,
    scale: f32,
    zero_point: i32,
) -> Option<(i32, i32)> {
    use dmo_tflite::FusedActivation;
    let (qmin, qmax) = (-128i32, 127i32);
    // TFLM: zero_point + static_cast<int32_t>(TfLiteRound(f / scale)), in float.
    let quantize = |real: f32| zero_point + (real / scale).round() as i32;
    match activation {
        FusedActivation::None => Some((qmin, qmax)),
        FusedActivation::Relu => Some((qmin.max(quantize(0.0)), qmax)),
        FusedActivation::Relu6 => Some((qmin.max(quantize(0.0)), qmax.min(quantize(6.0)))),
        FusedActivation::ReluN1To1 => Some((qmin.max(quantize(-1.0)), qmax.min(quantize(1.0)))),
        _ => None,
    }
}

/// What TFLM's int8 SOFTMAX `Prepare` computes (`CalculateSoftmaxParams`, 5 integer bits).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct SoftmaxScaling {
    pub input_multiplier: i32,
    pub input_left_shift: i32,
    pub diff_min: i32,
}

/// `PreprocessSoftmaxScaling(beta, input_scale, 5)` and `-CalculateInputRadius(5, left_shift)`.
pub fn softmax_scaling(beta: f32, input_scale: f32) -> SoftmaxScaling {
    const SCALED_DIFF_INTEGER_BITS: i32 = 5;
    let real =
        (beta as f64 * input_scale as f64 * (1i64 << (31 - SCALED_DIFF_INTEGER_BITS)) as f64)
            .min((1i64 << 31) as f64 - 1.0);
    let quantized = quantize_multiplier(real);
    let max_input_rescaled = ((1i64 << SCALED_DIFF_INTEGER_BITS) - 1) as f64
        * (1i64 << (31 - SCALED_DIFF_INTEGER_BITS)) as f64
        / (1i64 << quantized.shift.clamp(0, 62)) as f64;
    SoftmaxScaling {
        input_multiplier: quantized.multiplier,
        input_left_shift: quantized.shift,
        diff_min: -(max_input_rescaled.floor() as i32),
    }
}

/// What TFLM's int8 ADD `Prepare` computes (`CalculateOpDataAdd`, left shift 20).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct AddScaling {
    pub left_shift: i32,
    pub input1: QuantizedMultiplier,
    pub input2: QuantizedMultiplier,
    pub output: QuantizedMultiplier,
}

pub fn add_scaling(input1_scale: f32, input2_scale: f32, output_scale: f32) -> AddScaling {
    let left_shift = 20;
    let twice_max_input_scale = 2.0 * input1_scale.max(input2_scale) as f64;
    AddScaling {
        left_shift,
        input1: quantize_multiplier(input1_scale as f64 / twice_max_input_scale),
        input2: quantize_multiplier(input2_scale as f64 / twice_max_input_scale),
        output: quantize_multiplier(
            twice_max_input_scale / ((1i64 << left_shift) as f64 * output_scale as f64),
        ),
    }
}

/// The effective output scale of a convolution or fully connected layer (TFLM computes it in
/// double from the float scales): `input_scale * filter_scale / output_scale`.
pub fn convolution_multiplier(
    input_scale: f32,
    filter_scale: f32,
    output_scale: f32,
) -> QuantizedMultiplier {
    quantize_multiplier(input_scale as f64 * filter_scale as f64 / output_scale as f64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use dmo_tflite::FusedActivation;

    #[test]
    fn quantize_multiplier_matches_hand_derived_values() {
        // 0.5 = 0.5 * 2^0: fraction 0.5 -> 2^30, shift 0.
        assert_eq!(
            quantize_multiplier(0.5),
            QuantizedMultiplier {
                multiplier: 1 << 30,
                shift: 0
            }
        );
        // 1.0 = 0.5 * 2^1.
        assert_eq!(
            quantize_multiplier(1.0),
            QuantizedMultiplier {
                multiplier: 1 << 30,
                shift: 1
            }
        );
        // 0.1 = 0.8 * 2^-3; 0.8 * 2^31 = 1717986918.4 -> 1717986918.
        assert_eq!(
            quantize_multiplier(0.1),
            QuantizedMultiplier {
                multiplier: 1717986918,
                shift: -3
            }
        );
        // Just below 1.0 rounds to 2^31: TFLite halves it and bumps the shift.
        assert_eq!(
            quantize_multiplier(1.0 - 1e-12),
            QuantizedMultiplier {
                multiplier: 1 << 30,
                shift: 1
            }
        );
        // 2^-40 needs shift -39 < -31: TFLite flushes it to zero.
        assert_eq!(
            quantize_multiplier(2f64.powi(-40)),
            QuantizedMultiplier {
                multiplier: 0,
                shift: 0
            }
        );
        assert_eq!(
            quantize_multiplier(-0.75),
            QuantizedMultiplier {
                multiplier: -1610612736,
                shift: 0
            }
        );
    }

    #[test]
    fn frexp_handles_subnormals() {
        let value = f64::MIN_POSITIVE / 8.0; // 2^-1025 = 0.5 * 2^-1024
        assert_eq!(frexp(value), (0.5, -1024));
    }

    #[test]
    fn softmax_scaling_of_the_fixture_default() {
        // fixtures/README.md: input scale 1/8, beta 1 -> 2^23 = 0.5 * 2^24: multiplier 2^30,
        // left shift 24; radius 31 * 2^26 / 2^24 = 124.
        assert_eq!(
            softmax_scaling(1.0, 0.125),
            SoftmaxScaling {
                input_multiplier: 1 << 30,
                input_left_shift: 24,
                diff_min: -124
            }
        );
    }

    #[test]
    fn add_scaling_of_the_fixture_default() {
        // Scales 0.05, 0.1 -> output 0.15: twice_max 0.2; 0.05/0.2 = 0.25 = 0.5 * 2^-1,
        // 0.1/0.2 = 0.5 * 2^0; 0.2 / (2^20 * 0.15) = (4/3) * 2^-20 = (2/3) * 2^-19.
        let scaling = add_scaling(0.05, 0.1, 0.15);
        assert_eq!(scaling.left_shift, 20);
        assert_eq!(
            scaling.input1,
            QuantizedMultiplier {
                multiplier: 1 << 30,
                shift: -1
            }
        );
        assert_eq!(
            scaling.input2,
            QuantizedMultiplier {
                multiplier: 1 << 30,
                shift: 0
            }
        );
        assert_eq!(scaling.output.shift, -19);
        // (2/3) * 2^31 = 1431655765.33; float scales are not exact, so allow a few units.
        assert!((scaling.output.multiplier - 1431655765).abs() < 64);
    }

    #[test]
    fn activation_ranges() {
        // Scale 6/255 with zero point -128: ReLU6's 6.0 lands on 255 - 128 = 127.
        assert_eq!(
            activation_range_int8(FusedActivation::Relu6, 6.0 / 255.0, -128),
            Some((-128, 127))
        );
        // Scale 0.1, zero point -10: ReLU from -10; ReLU6 up to -10 + 60 = 50.
        assert_eq!(
            activation_range_int8(FusedActivation::Relu, 0.1, -10),
            Some((-10, 127))
        );
        assert_eq!(
            activation_range_int8(FusedActivation::Relu6, 0.1, -10),
            Some((-10, 50))
        );
        assert_eq!(
            activation_range_int8(FusedActivation::None, 0.1, 3),
            Some((-128, 127))
        );
        assert_eq!(activation_range_int8(FusedActivation::Tanh, 0.1, 3), None);
    }
}
