//! MUL of two int8 activation tensors of the output's shape: TFLM's `CalculateOpDataMul`
//! computes `QuantizeMultiplier(double(s1) * double(s2) / double(s_out))` and its Eval calls
//! `reference_integer_ops::Mul` (one flat loop); the firmware calls `dmo_mul_int8`
//! (fixtures/kernels/mul.c) with the same numbers, or, for the cmsis-nn kernels,
//! `dmo_mul_int8_cmsis_order` (`arm_elementwise_mul_s8`'s order, same arithmetic). Broadcasting
//! MUL runs `BroadcastBinaryOpSimple`, another loop, and is refused.

use super::{Generator, OperatorContext};
use crate::cmsis::Kernel;
use crate::error::GenerateError;
use crate::quantisation::quantize_multiplier;
use std::fmt::Write;

impl Generator<'_> {
    pub(super) fn mul(&mut self, context: &OperatorContext<'_>) -> Result<(), GenerateError> {
        let (input1, input2, output, activation) =
            self.binary_activations(context, "multiplies")?;
        let elements = self.tensor_bytes(output)?;
        for (tensor, role) in [(input1, "input1"), (input2, "input2")] {
            if self.model.tensors[tensor].shape != self.model.tensors[output].shape {
                return Err((context.unsupported)(format!(
                    "{role} shape {:?} differs from the output's {:?}: broadcasting MUL \
                     (TFLM's BroadcastBinaryOpSimple order) has no kernel yet",
                    self.model.tensors[tensor].shape, self.model.tensors[output].shape
                )));
            }
        }
        let [affine1, affine2, output_affine] = [
            self.affine(input1)?,
            self.affine(input2)?,
            self.affine(output)?,
        ];
        if !(output_affine.scale.is_finite() && output_affine.scale > 0.0) {
            return Err((context.unsupported)(format!(
                "output scale {} is not a positive number",
                output_affine.scale
            )));
        }
        let scaling = quantize_multiplier(
            affine1.scale as f64 * affine2.scale as f64 / output_affine.scale as f64,
        );
        let (activation_min, activation_max) =
            self.activation_range(context, activation, &output_affine)?;
        let name = context.name;
        writeln!(
            self.parameter_definitions,
            "static const dmo_mul_params {name}_params = {{\n    \
             .elements = {elements},\n    \
             .input1_offset = {}, .input2_offset = {}, .output_offset = {},\n    \
             .output_multiplier = {}, .output_shift = {},\n    \
             .activation_min = {activation_min}, .activation_max = {activation_max},\n}};\n",
            -affine1.zero_point,
            -affine2.zero_point,
            output_affine.zero_point,
            scaling.multiplier,
            scaling.shift,
        )
        .unwrap();
        let first = self.activation(input1, "const int8_t")?;
        let second = self.activation(input2, "const int8_t")?;
        let output_pointer = self.activation(output, "int8_t")?;
        let function = match context.kernel {
            Kernel::Mul => "dmo_mul_int8_cmsis_order",
            _ => "dmo_mul_int8",
        };
        writeln!(
            self.calls,
            "    {function}(\"{name}\", &{name}_params, {first}, {second}, {output_pointer});"
        )
        .unwrap();
        Ok(())
    }
}
