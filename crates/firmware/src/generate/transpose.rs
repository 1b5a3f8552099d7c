//! TRANSPOSE: TFLM's Eval reads the constant perm tensor and calls `reference_ops::Transpose`
//! (at most 6 dimensions; float32, int8 and int16 in TFLM's micro kernel). The firmware calls
//! `dmo_transpose` (fixtures/kernels/transpose.c) with the input's dimensions and perm.

use super::{Generator, OperatorContext};
use crate::error::GenerateError;
use dmo_tflite::TensorType;
use std::fmt::Write;

/// TFLM's `TransposePrepare` takes 1 to 5 dimensions (reference_ops itself up to 6).
const MAX_RANK: usize = 5;

impl Generator<'_> {
    pub(super) fn transpose(&mut self, context: &OperatorContext<'_>) -> Result<(), GenerateError> {
        let input = self.input(context, 0)?;
        let perm_tensor = self.input(context, 1)?;
        let output = self.output(context)?;
        let element = self.model.tensors[input].element_type;
        let element_bytes = match element {
            TensorType::Int8 => 1,
            TensorType::Int16 => 2,
            TensorType::Float32 => 4,
            other => {
                return Err((context.unsupported)(format!(
                    "input is {}: TFLM's TRANSPOSE takes int8, int16 or float32",
                    other.name()
                )))
            }
        };
        if self.model.tensors[output].element_type != element {
            return Err((context.unsupported)(
                "input and output element types differ".into(),
            ));
        }
        let perm: Vec<i64> = self.model.tensors[perm_tensor]
            .integer_values
            .clone()
            .ok_or_else(|| (context.unsupported)("perm is not a constant integer tensor".into()))?;
        let input_shape = self.model.tensors[input].shape.clone();
        let output_shape = self.model.tensors[output].shape.clone();
        let rank = input_shape.len();
        let valid = (1..=MAX_RANK).contains(&rank)
            && perm.len() == rank
            && output_shape.len() == rank
            && {
                let mut seen = [false; 6];
                perm.iter().all(|&p| {
                    (0..rank as i64).contains(&p) && !std::mem::replace(&mut seen[p as usize], true)
                })
            }
            && perm
                .iter()
                .zip(&output_shape)
                .all(|(&p, &d)| input_shape[p as usize] == d);
        if !valid {
            return Err((context.unsupported)(format!(
                "perm {perm:?} does not take {input_shape:?} to {output_shape:?}, or rank \
                 {rank} is outside TFLM's 1 to {MAX_RANK}"
            )));
        }
        let list = |values: &mut dyn Iterator<Item = i64>| {
            let mut items: Vec<String> = values.map(|v| v.to_string()).collect();
            items.resize(6, "0".into());
            items.join(", ")
        };
        let dims = list(&mut input_shape.iter().map(|&d| i64::from(d)));
        let perm_list = list(&mut perm.iter().copied());
        let name = context.name;
        writeln!(
            self.parameter_definitions,
            "static const dmo_transpose_params {name}_params = {{\n    \
             .rank = {rank}, .element_bytes = {element_bytes},\n    \
             .input_dims = {{{dims}}},\n    .perm = {{{perm_list}}},\n}};\n"
        )
        .unwrap();
        let input_pointer = self.activation(input, "const void")?;
        let output_pointer = self.activation(output, "void")?;
        writeln!(
            self.calls,
            "    dmo_transpose(\"{name}\", &{name}_params, {input_pointer}, {output_pointer});"
        )
        .unwrap();
        Ok(())
    }
}
