//! int8 MUL: TFLM's `CalculateOpDataMul` computes `QuantizeMultiplier(double(s1) * double(s2) /
//! double(s_out))`. When the inputs, extended to one rank, have the same shape
//! (`ProcessBroadcastShapes`) its Eval calls `reference_integer_ops::Mul` (one flat loop) and the
//! firmware `dmo_mul_int8`; otherwise `BroadcastMul4DSlow`, i.e. `BroadcastBinaryOpSimple`'s
//! merged loops, and the firmware `dmo_mul_broadcast_int8` (fixtures/kernels/mul.c), up to 6
//! dimensions. A constant input (a per-channel scale, ...) is read from flash. For the cmsis-nn
//! kernels a same-shape MUL runs `dmo_mul_int8_cmsis_order` (`arm_elementwise_mul_s8`'s order,
//! same arithmetic); TFLM's cmsis_nn MUL broadcasts with the reference loops, as here.

use super::{Generator, OperatorContext};
use crate::cmsis::Kernel;
use crate::error::GenerateError;
use crate::quantisation::quantize_multiplier;
use dmo_tflite::{OperatorOptions, TensorType};
use std::fmt::Write;

/// The most dimensions `dmo_mul_broadcast_int8` takes (`DMO_MUL_MAX_RANK`).
const MAX_BROADCAST_RANK: usize = 6;

impl Generator<'_> {
    pub(super) fn mul(&mut self, context: &OperatorContext<'_>) -> Result<(), GenerateError> {
        let OperatorOptions::Elementwise { activation } = context.operator.options else {
            return Err((context.unsupported)("options are missing".into()));
        };
        let input1 = self.input(context, 0)?;
        let input2 = self.input(context, 1)?;
        let output = self.output(context)?;
        for (tensor, role) in [(input1, "input1"), (input2, "input2"), (output, "output")] {
            self.require_type(tensor, TensorType::Int8, role)?;
        }
        // The shapes must broadcast as TFLite's (the operator registry checks them).
        dmo_ops::describe_tflite_operator(self.model, context.index).map_err(|error| {
            (context.unsupported)(match error {
                dmo_ops::DescribeError::Invalid(error) => error.problem,
                other => other.to_string(),
            })
        })?;
        let output_shape = self.model.tensors[output].shape.clone();
        let rank = output_shape.len();
        let extended = |tensor: usize| {
            let shape = &self.model.tensors[tensor].shape;
            let mut dims = vec![1i32; rank.saturating_sub(shape.len())];
            dims.extend_from_slice(shape);
            dims
        };
        let (shape1, shape2) = (extended(input1), extended(input2));
        let broadcast = shape1 != shape2;
        if broadcast && rank > MAX_BROADCAST_RANK {
            return Err((context.unsupported)(format!(
                "broadcasting over {rank} dimensions; dmo's kernel takes at most \
                 {MAX_BROADCAST_RANK}"
            )));
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
        let elements = self.tensor_bytes(output)?;
        let arithmetic = format!(
            ".elements = {elements},\n    \
             .input1_offset = {}, .input2_offset = {}, .output_offset = {},\n    \
             .output_multiplier = {}, .output_shift = {},\n    \
             .activation_min = {activation_min}, .activation_max = {activation_max},",
            -affine1.zero_point,
            -affine2.zero_point,
            output_affine.zero_point,
            scaling.multiplier,
            scaling.shift,
        );
        let mut pointers = Vec::new();
        for input in [input1, input2] {
            pointers.push(if self.tensor_offsets[input].is_some() {
                self.activation(input, "const int8_t")?
            } else {
                format!(
                    "(const int8_t *){}",
                    self.constant(input, TensorType::Int8)?
                )
            });
        }
        let output_pointer = self.activation(output, "int8_t")?;
        let name = context.name;
        let [first, second] = [&pointers[0], &pointers[1]];
        if broadcast {
            let list = |dims: &[i32]| {
                let mut items: Vec<String> = dims.iter().map(|d| d.to_string()).collect();
                items.resize(MAX_BROADCAST_RANK, "1".into());
                items.join(", ")
            };
            writeln!(
                self.parameter_definitions,
                "static const dmo_mul_broadcast_params {name}_params = {{\n    \
                 .arithmetic = {{\n    {arithmetic}\n    }},\n    .rank = {rank},\n    \
                 .input1_dims = {{{}}},\n    .input2_dims = {{{}}},\n    \
                 .output_dims = {{{}}},\n}};\n",
                list(&shape1),
                list(&shape2),
                list(&output_shape),
            )
            .unwrap();
            writeln!(
                self.calls,
                "    dmo_mul_broadcast_int8(\"{name}\", &{name}_params, {first}, {second}, \
                 {output_pointer});"
            )
            .unwrap();
        } else {
            writeln!(
                self.parameter_definitions,
                "static const dmo_mul_params {name}_params = {{\n    {arithmetic}\n}};\n"
            )
            .unwrap();
            let function = match context.kernel {
                Kernel::Mul => "dmo_mul_int8_cmsis_order",
                _ => "dmo_mul_int8",
            };
            writeln!(
                self.calls,
                "    {function}(\"{name}\", &{name}_params, {first}, {second}, \
                 {output_pointer});"
            )
            .unwrap();
        }
        Ok(())
    }
}
