//! QUANTIZE between integer types: TFLM's `PrepareQuantizeReference` computes
//! `QuantizeMultiplier(double(input scale) / double(output scale))` and its
//! Eval calls `reference_ops::Requantize`; the firmware calls `dmo_requantize`
//! (fixtures/kernels/quantize.c) with the same numbers.

use super::{Generator, OperatorContext};
use crate::error::GenerateError;
use crate::quantisation::quantize_multiplier;
use dmo_tflite::TensorType;
use std::fmt::Write;

/// Bytes of an integer element type the requantising kernel takes.
fn integer_bytes(element: TensorType) -> Option<u32> {
    match element {
        TensorType::Int8 => Some(1),
        TensorType::Int16 => Some(2),
        TensorType::Int32 => Some(4),
        _ => None,
    }
}

impl Generator<'_> {
    pub(super) fn quantize(&mut self, context: &OperatorContext<'_>) -> Result<(), GenerateError> {
        let input = self.input(context, 0)?;
        let output = self.output(context)?;
        let input_type = self.model.tensors[input].element_type;
        let output_type = self.model.tensors[output].element_type;
        // The integer pairs TFLM's quantize_common.cc requantises (uint8 aside).
        let supported = matches!(
            (input_type, output_type),
            (TensorType::Int16, TensorType::Int8)
                | (TensorType::Int8, TensorType::Int8)
                | (TensorType::Int8, TensorType::Int16)
                | (TensorType::Int8, TensorType::Int32)
                | (TensorType::Int16, TensorType::Int16)
                | (TensorType::Int16, TensorType::Int32)
                | (TensorType::Int32, TensorType::Int8)
                | (TensorType::Int32, TensorType::Int16)
        );
        let (Some(input_bytes), Some(output_bytes), true) = (
            integer_bytes(input_type),
            integer_bytes(output_type),
            supported,
        ) else {
            return Err((context.unsupported)(format!(
                "{} to {}: the kernel requantises between int8, int16 and int32 as TFLM does",
                input_type.name(),
                output_type.name()
            )));
        };
        let elements = self.tensor_bytes(input)? / u64::from(input_bytes);
        if elements * u64::from(output_bytes) != self.tensor_bytes(output)? {
            return Err((context.unsupported)(
                "input and output hold different numbers of elements".into(),
            ));
        }
        let [input_affine, output_affine] = [self.affine(input)?, self.affine(output)?];
        if !(output_affine.scale.is_finite() && output_affine.scale > 0.0) {
            return Err((context.unsupported)(format!(
                "output scale {} is not a positive number",
                output_affine.scale
            )));
        }
        let scaling = quantize_multiplier(input_affine.scale as f64 / output_affine.scale as f64);
        let name = context.name;
        writeln!(
            self.parameter_definitions,
            "static const dmo_requantize_params {name}_params = {{\n    \
             .elements = {elements}, .input_bytes = {input_bytes}, .output_bytes = {output_bytes},\n    \
             .input_zero_point = {}, .output_zero_point = {},\n    \
             .multiplier = {}, .shift = {},\n}};\n",
            input_affine.zero_point,
            output_affine.zero_point,
            scaling.multiplier,
            scaling.shift,
        )
        .unwrap();
        let input_pointer = self.activation(input, "const void")?;
        let output_pointer = self.activation(output, "void")?;
        writeln!(
            self.calls,
            "    dmo_requantize(\"{name}\", &{name}_params, {input_pointer}, {output_pointer});"
        )
        .unwrap();
        Ok(())
    }
}
