//! int8 LOGISTIC and TANH: TFLM's Prepare (`CalculateArithmeticOpDataLogistic`,
//! `CalculateArithmeticOpData` in tanh.cc) takes `frexp(double(input scale) * 2^27)`, rounds the
//! mantissa to Q31 (`TfLiteRound`) and computes `CalculateInputRadius(4, left_shift, 31)`; Eval
//! calls `reference_integer_ops::Logistic` / `Tanh` (one flat loop). The firmware calls
//! `dmo_logistic_int8` / `dmo_tanh_int8` (fixtures/kernels/activation.c) with the same numbers.
//! Neither uses the output's scale; LOGISTIC requires its zero point to be -128, as TFLM does.

use super::{Generator, OperatorContext};
use crate::error::GenerateError;
use dmo_tflite::TensorType;
use std::fmt::Write;

/// `std::frexp` for a positive, finite, normal `x`: `(q, e)` with `x = q 2^e`, `q` in [0.5, 1).
fn frexp(x: f64) -> (f64, i32) {
    let bits = x.to_bits();
    let exponent = ((bits >> 52) & 0x7ff) as i32 - 1022;
    let mantissa = f64::from_bits((bits & !(0x7ff << 52)) | (1022 << 52));
    (mantissa, exponent)
}

/// The Prepare numbers of an int8 LOGISTIC / TANH: (multiplier, left shift, range radius).
pub(crate) fn activation_scaling(input_scale: f32) -> Option<(i32, i32, i32)> {
    const INPUT_INTEGER_BITS: i32 = 4;
    let real = f64::from(input_scale) * f64::from(1u32 << (31 - INPUT_INTEGER_BITS));
    if !(real.is_finite() && real.is_normal() && real > 0.0) {
        return None;
    }
    let (mantissa, left_shift) = frexp(real);
    let multiplier = (mantissa * (1u64 << 31) as f64).round();
    // The radius divides by 1 << left_shift; the kernel shifts left by it: 0..=30 only.
    if !(0..=30).contains(&left_shift) || multiplier >= 2147483648.0 {
        return None;
    }
    let radius = (f64::from((1 << INPUT_INTEGER_BITS) - 1)
        * (1u64 << (31 - INPUT_INTEGER_BITS)) as f64
        / (1u64 << left_shift) as f64)
        .floor();
    Some((multiplier as i32, left_shift, radius as i32))
}

impl Generator<'_> {
    pub(super) fn activation_function(
        &mut self,
        context: &OperatorContext<'_>,
        logistic: bool,
    ) -> Result<(), GenerateError> {
        let input = self.input(context, 0)?;
        let output = self.output(context)?;
        for (tensor, role) in [(input, "input"), (output, "output")] {
            let element = self.model.tensors[tensor].element_type;
            if element != TensorType::Int8 {
                return Err((context.unsupported)(format!(
                    "{role} is {}: only the int8 kernel is implemented (int16 takes TFLM's \
                     lookup-table path)",
                    element.name()
                )));
            }
        }
        let elements = self.tensor_bytes(input)?;
        if elements != self.tensor_bytes(output)? {
            return Err((context.unsupported)(
                "input and output hold different numbers of elements".into(),
            ));
        }
        let [input_affine, output_affine] = [self.affine(input)?, self.affine(output)?];
        if logistic && output_affine.zero_point != -128 {
            return Err((context.unsupported)(format!(
                "output zero point {}: int8 LOGISTIC needs -128 (TFLM's Prepare checks it)",
                output_affine.zero_point
            )));
        }
        let (multiplier, left_shift, radius) =
            activation_scaling(input_affine.scale).ok_or_else(|| {
                (context.unsupported)(format!(
                    "input scale {}: frexp(scale * 2^27) must have an exponent of 0..30",
                    input_affine.scale
                ))
            })?;
        let name = context.name;
        writeln!(
            self.parameter_definitions,
            "static const dmo_activation_params {name}_params = {{\n    \
             .elements = {elements}, .input_zero_point = {},\n    \
             .input_range_radius = {radius}, .input_multiplier = {multiplier}, \
             .input_left_shift = {left_shift},\n}};\n",
            input_affine.zero_point,
        )
        .unwrap();
        let function = if logistic {
            "dmo_logistic_int8"
        } else {
            "dmo_tanh_int8"
        };
        let input_pointer = self.activation(input, "const int8_t")?;
        let output_pointer = self.activation(output, "int8_t")?;
        writeln!(
            self.calls,
            "    {function}(\"{name}\", &{name}_params, {input_pointer}, {output_pointer});"
        )
        .unwrap();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::activation_scaling;

    #[test]
    fn scaling_of_a_typical_scale() {
        // 0.05f * 2^27 = 0.8000000119 * 2^23: TFLM's Prepare gives these (fixtures/programs).
        assert_eq!(activation_scaling(0.05), Some((1717986944, 23, 240)));
        assert_eq!(activation_scaling(0.0), None);
        assert_eq!(activation_scaling(1e-12), None);
    }
}
