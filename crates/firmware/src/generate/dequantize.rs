//! DEQUANTIZE int8 / int16 -> float32: TFLM's `DequantizePrepare` keeps the input's scale as a
//! double and its zero point; Eval calls `reference_ops::Dequantize` (one flat loop, the product
//! in double, cast to float). The firmware calls `dmo_dequantize`
//! (fixtures/kernels/dequantize.c) with the same float scale, written as the shortest decimal
//! that reads back as the same float.

use super::{Generator, OperatorContext};
use crate::error::GenerateError;
use dmo_tflite::TensorType;
use std::fmt::Write;

impl Generator<'_> {
    pub(super) fn dequantize(
        &mut self,
        context: &OperatorContext<'_>,
    ) -> Result<(), GenerateError> {
        let input = self.input(context, 0)?;
        let output = self.output(context)?;
        let input_type = self.model.tensors[input].element_type;
        let output_type = self.model.tensors[output].element_type;
        let input_bytes: u64 = match (input_type, output_type) {
            (TensorType::Int8, TensorType::Float32) => 1,
            (TensorType::Int16, TensorType::Float32) => 2,
            _ => {
                return Err((context.unsupported)(format!(
                    "{} to {}: the kernel dequantizes int8 or int16 to FLOAT32",
                    input_type.name(),
                    output_type.name()
                )))
            }
        };
        let elements = self.tensor_bytes(input)? / input_bytes;
        if elements * 4 != self.tensor_bytes(output)? {
            return Err((context.unsupported)(
                "input and output hold different numbers of elements".into(),
            ));
        }
        let scales = self.contents[input]
            .quantization
            .as_ref()
            .map_or(0, |q| q.scale.len());
        if scales != 1 {
            return Err((context.unsupported)(format!(
                "the input has {scales} scales; the kernel dequantizes per tensor"
            )));
        }
        let affine = self.affine(input)?;
        if !affine.scale.is_finite() {
            return Err((context.unsupported)(format!(
                "input scale {} is not finite",
                affine.scale
            )));
        }
        let name = context.name;
        writeln!(
            self.parameter_definitions,
            "static const dmo_dequantize_params {name}_params = {{\n    \
             .elements = {elements}, .input_bytes = {input_bytes},\n    \
             .scale = {:e}f, .zero_point = {},\n}};\n",
            affine.scale, affine.zero_point,
        )
        .unwrap();
        let input_pointer = self.activation(input, "const void")?;
        let output_pointer = self.activation(output, "float")?;
        writeln!(
            self.calls,
            "    dmo_dequantize(\"{name}\", &{name}_params, {input_pointer}, {output_pointer});"
        )
        .unwrap();
        Ok(())
    }
}
