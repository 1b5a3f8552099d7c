//! STRIDED_SLICE: TFLM's micro Prepare (`strided_slice_common.cc`) keeps begin, end and strides
//! (constant int32 tensors) and the begin, end and shrink-axis masks, and its Eval calls the 5-D
//! `reference_ops::StridedSlice` for float32, int8, int16, int32 and bool. The firmware calls
//! `dmo_strided_slice` (fixtures/kernels/strided_slice.c), which resolves the slice itself.

use super::{Generator, OperatorContext};
use crate::error::GenerateError;
use dmo_tflite::TensorType;
use std::fmt::Write;

/// TFLM's `StridedSlicePrepare`: "input dim should not exceed 4" (reference_ops takes 5).
const MAX_RANK: usize = 4;

impl Generator<'_> {
    pub(super) fn strided_slice(
        &mut self,
        context: &OperatorContext<'_>,
    ) -> Result<(), GenerateError> {
        let input = self.input(context, 0)?;
        let output = self.output(context)?;
        // dmo-ops reads the operator as TFLM's Prepare does and refuses what it refuses (or
        // what its Eval would leave unwritten); the kernel gets the same raw values.
        // (The message already names the operator and its kind.)
        let refuse = |error: dmo_ops::DescribeError| {
            (context.unsupported)(match error {
                dmo_ops::DescribeError::Invalid(error) => error.problem,
                dmo_ops::DescribeError::NotInt32 {
                    what,
                    tensor,
                    element,
                    ..
                } => {
                    format!("{what} (tensor {tensor}) is {element}; TFLM reads it as int32")
                }
                other => other.to_string(),
            })
        };
        dmo_ops::describe_tflite_operator(self.model, context.index).map_err(refuse)?;
        let spec = dmo_ops::slice_spec(self.model, context.index).map_err(refuse)?;
        let element = self.model.tensors[input].element_type;
        let element_bytes = match element {
            TensorType::Int8 => 1,
            TensorType::Int16 => 2,
            TensorType::Int32 | TensorType::Float32 => 4,
            other => {
                return Err((context.unsupported)(format!(
                    "input is {}: dmo's STRIDED_SLICE takes int8, int16, int32 or float32",
                    other.name()
                )))
            }
        };
        let dims = &self.model.tensors[input].shape;
        let rank = dims.len();
        if rank > MAX_RANK {
            return Err((context.unsupported)(format!(
                "input has {rank} dimensions; TFLM's STRIDED_SLICE takes at most {MAX_RANK}"
            )));
        }
        let list = |values: &mut dyn Iterator<Item = i64>| {
            let mut items: Vec<String> = values.map(|v| v.to_string()).collect();
            items.resize(5, "0".into());
            items.join(", ")
        };
        let name = context.name;
        writeln!(
            self.parameter_definitions,
            "static const dmo_strided_slice_params {name}_params = {{\n    \
             .rank = {rank}, .element_bytes = {element_bytes},\n    \
             .input_dims = {{{}}},\n    .begin = {{{}}},\n    .end = {{{}}},\n    \
             .strides = {{{}}},\n    .begin_mask = {}, .end_mask = {}, .shrink_axis_mask = {},\n}};\n",
            list(&mut dims.iter().map(|&d| i64::from(d))),
            list(&mut spec.begin.iter().copied()),
            list(&mut spec.end.iter().copied()),
            list(&mut spec.strides.iter().copied()),
            spec.begin_mask,
            spec.end_mask,
            spec.shrink_axis_mask,
        )
        .unwrap();
        let input_pointer = self.activation(input, "const void")?;
        let output_pointer = self.activation(output, "void")?;
        writeln!(
            self.calls,
            "    dmo_strided_slice(\"{name}\", &{name}_params, {input_pointer}, {output_pointer});"
        )
        .unwrap();
        Ok(())
    }
}
