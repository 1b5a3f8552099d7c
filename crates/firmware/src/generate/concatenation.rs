//! CONCATENATION: TFLM's `ConcatenationPrepare` resolves a negative axis, requires no fused
//! activation, one element type and (int8/int16) the output's scale and zero point on every
//! input; Eval calls `reference_ops::Concatenation` (a memcpy per input per outer index). The
//! firmware calls `dmo_concatenation` (fixtures/kernels/concatenation.c) with the outer count,
//! the inner bytes and each input's dimension along the axis. Constant inputs are copied from
//! flash, as TFLM copies them from the model.

use super::{Generator, OperatorContext};
use crate::error::GenerateError;
use dmo_tflite::{FusedActivation, OperatorOptions, TensorType};
use std::fmt::Write;

/// TFLM's `kMaxInputNum` for CONCATENATION (and the C kernel's array size).
const MAX_INPUTS: usize = 10;

impl Generator<'_> {
    pub(super) fn concatenation(
        &mut self,
        context: &OperatorContext<'_>,
    ) -> Result<(), GenerateError> {
        let OperatorOptions::Concatenation { axis, activation } = context.operator.options else {
            return Err((context.unsupported)("options are missing".into()));
        };
        if activation != FusedActivation::None {
            return Err((context.unsupported)(format!(
                "fused activation {activation:?}: TFLM's CONCATENATION allows none"
            )));
        }
        let output = self.output(context)?;
        let inputs: Vec<usize> = context.operator.present_inputs().collect();
        if inputs.is_empty() || inputs.len() > MAX_INPUTS {
            return Err((context.unsupported)(format!(
                "{} inputs: TFLM's CONCATENATION takes 1 to {MAX_INPUTS}",
                inputs.len()
            )));
        }
        let output_tensor = &self.model.tensors[output];
        let element = output_tensor.element_type;
        let element_bytes: u64 = match element {
            TensorType::Int8 => 1,
            TensorType::Int16 => 2,
            TensorType::Int32 | TensorType::Float32 => 4,
            other => {
                return Err((context.unsupported)(format!(
                    "output is {}: the kernel copies int8, int16, int32 or float32",
                    other.name()
                )))
            }
        };
        let rank = output_tensor.shape.len() as i32;
        let resolved = if axis < 0 { axis + rank } else { axis };
        if !(0..rank).contains(&resolved) {
            return Err((context.unsupported)(format!(
                "axis {axis} is outside the output's rank {rank}"
            )));
        }
        let axis = resolved as usize;
        let output_shape = output_tensor.shape.clone();
        let quantised = matches!(element, TensorType::Int8 | TensorType::Int16);
        let output_affine = if quantised {
            Some(self.affine(output)?)
        } else {
            None
        };
        let mut axis_dims = Vec::new();
        for (position, &input) in inputs.iter().enumerate() {
            let tensor = &self.model.tensors[input];
            if tensor.element_type != element {
                return Err((context.unsupported)(format!(
                    "input {position} is {}, the output {}",
                    tensor.element_type.name(),
                    element.name()
                )));
            }
            let same_shape_elsewhere = tensor.shape.len() == output_shape.len()
                && tensor
                    .shape
                    .iter()
                    .zip(&output_shape)
                    .enumerate()
                    .all(|(dim, (a, b))| dim == axis || a == b);
            if !same_shape_elsewhere {
                return Err((context.unsupported)(format!(
                    "input {position} shape {:?} does not match the output {output_shape:?} \
                     off axis {axis}",
                    tensor.shape
                )));
            }
            if let Some(expected) = &output_affine {
                let affine = self.affine(input)?;
                if affine.scale != expected.scale || affine.zero_point != expected.zero_point {
                    return Err((context.unsupported)(format!(
                        "input {position} is quantised ({}, {}), the output ({}, {}): TFLM \
                         requires the same",
                        affine.scale, affine.zero_point, expected.scale, expected.zero_point
                    )));
                }
            }
            axis_dims.push(tensor.shape[axis].max(0) as u64);
        }
        if axis_dims.iter().sum::<u64>() != output_shape[axis].max(0) as u64 {
            return Err((context.unsupported)(format!(
                "the inputs' dimensions {axis_dims:?} along axis {axis} do not add up to the \
                 output's {}",
                output_shape[axis]
            )));
        }
        let outer: u64 = output_shape[..axis]
            .iter()
            .map(|&d| d.max(0) as u64)
            .product();
        let inner_bytes: u64 = output_shape[axis + 1..]
            .iter()
            .map(|&d| d.max(0) as u64)
            .product::<u64>()
            * element_bytes;
        let mut pointers = Vec::new();
        for &input in &inputs {
            let pointer = if self.tensor_offsets[input].is_some() {
                self.activation(input, "const void")?
            } else {
                format!("(const void *){}", self.constant(input, element)?)
            };
            pointers.push(pointer);
        }
        let name = context.name;
        let dims = axis_dims
            .iter()
            .map(|d| d.to_string())
            .collect::<Vec<_>>()
            .join(", ");
        writeln!(
            self.parameter_definitions,
            "static const dmo_concatenation_params {name}_params = {{\n    \
             .inputs = {}, .outer = {outer}, .inner_bytes = {inner_bytes},\n    \
             .axis_dims = {{{dims}}},\n}};\n",
            inputs.len()
        )
        .unwrap();
        let output_pointer = self.activation(output, "void")?;
        writeln!(
            self.calls,
            "    {{\n        const void *const {name}_inputs[] = {{{}}};\n        \
             dmo_concatenation(\"{name}\", &{name}_params, {name}_inputs, {output_pointer});\n    }}",
            pointers.join(", ")
        )
        .unwrap();
        Ok(())
    }
}
