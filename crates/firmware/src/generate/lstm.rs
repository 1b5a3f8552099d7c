//! UNIDIRECTIONAL_SEQUENCE_LSTM with int8 activations and weights and an int16 cell state, as
//! TFLM's `UnidirectionalSequenceLstmPrepare` (`PrepareGateParametersInteger`,
//! `CreateGateParams`, `CreateInterGateMulParams`, `CreateLstmCellStateInfo`) sets it up and
//! `EvalLstm<int8_t, int8_t, int16_t, int32_t>` runs it (`fixtures/kernels/lstm.c`). The hidden
//! and cell states are variable tensors (persistent, reset once as TFLM resets them: int8 to its
//! zero point, int16 to 0); the four scratch buffers TFLM requests (`batches x cells` int16
//! each) are the plan's scratch buffers 0 to 3 of the op.

use super::{Generator, OperatorContext};
use crate::error::GenerateError;
use crate::quantisation::quantize_multiplier;
use dmo_tflite::{FusedActivation, OperatorOptions, TensorType};
use std::fmt::Write;

/// Input positions of TFLM's 24-input LSTM (`lstm_shared.h`), per gate in the kernel's order
/// (forget, input, cell, output): input weights, recurrent weights, bias.
const GATES: [(usize, usize, usize); 4] = [(2, 6, 13), (1, 5, 12), (3, 7, 14), (4, 8, 15)];
const HIDDEN_STATE: usize = 18;
const CELL_STATE: usize = 19;
/// Peephole (9..=11), projection (16, 17) and layer-norm (20..=23) inputs: TFLM's kernel
/// refuses an LSTM that has any of them.
const VARIANT_INPUTS: [usize; 9] = [9, 10, 11, 16, 17, 20, 21, 22, 23];
/// The scale of the gates' FC outputs (Q3.12) and of the nonlinearities' outputs (Q0.15).
const GATE_INPUT_SCALE: f32 = 1.0 / 4096.0;
const GATE_OUTPUT_SCALE: f32 = 1.0 / 32768.0;

impl Generator<'_> {
    fn per_tensor(
        &self,
        context: &OperatorContext<'_>,
        tensor: usize,
    ) -> Result<(), GenerateError> {
        let scales = self.contents[tensor]
            .quantization
            .as_ref()
            .map_or(0, |q| q.scale.len());
        if scales == 1 {
            Ok(())
        } else {
            Err((context.unsupported)(format!(
                "tensor {tensor} has {scales} scales; TFLM's LSTM uses one scale per weight tensor"
            )))
        }
    }

    pub(super) fn lstm(&mut self, context: &OperatorContext<'_>) -> Result<(), GenerateError> {
        let OperatorOptions::UnidirectionalSequenceLstm {
            activation,
            cell_clip,
            time_major,
        } = context.operator.options
        else {
            return Err((context.unsupported)("options are missing".into()));
        };
        let cell_gate_sigmoid = match activation {
            FusedActivation::Tanh => 0,
            FusedActivation::Unknown(6) => 1,
            other => {
                return Err((context.unsupported)(format!(
                    "cell gate activation {other:?}; TFLM's LSTM runs only tanh or sigmoid"
                )))
            }
        };
        let inputs = &context.operator.inputs;
        if inputs.len() != 24 {
            return Err((context.unsupported)(format!(
                "{} inputs; TFLM's LSTM has 24",
                inputs.len()
            )));
        }
        if let Some(&position) = VARIANT_INPUTS
            .iter()
            .find(|&&p| inputs.get(p).copied().flatten().is_some())
        {
            return Err((context.unsupported)(format!(
                "input {position} (peephole, projection or layer norm) is present; TFLM's LSTM \
                 supports none of them"
            )));
        }
        let input = self.input(context, 0)?;
        let hidden = self.input(context, HIDDEN_STATE)?;
        let cell = self.input(context, CELL_STATE)?;
        let output = self.output(context)?;
        self.require_type(input, TensorType::Int8, "input")?;
        self.require_type(hidden, TensorType::Int8, "hidden state")?;
        self.require_type(cell, TensorType::Int16, "cell state")?;
        self.require_type(output, TensorType::Int8, "output")?;
        let shape = |tensor: usize| self.model.tensors[tensor].shape.clone();
        let (input_shape, output_shape) = (shape(input), shape(output));
        if input_shape.len() != 3 || input_shape.iter().any(|&d| d <= 0) {
            return Err((context.unsupported)(format!(
                "input shape {input_shape:?}; the kernel needs 3-D"
            )));
        }
        let (batches, steps) = if time_major {
            (input_shape[1], input_shape[0])
        } else {
            (input_shape[0], input_shape[1])
        };
        let input_size = input_shape[2];
        let hidden_shape = shape(hidden);
        let cells = match hidden_shape[..] {
            [_, cells] if cells > 0 => cells,
            _ => {
                return Err((context.unsupported)(format!(
                    "hidden state shape {hidden_shape:?}; TFLM's LSTM needs [batches, cells]"
                )))
            }
        };
        let elements = |tensor: usize| -> i64 {
            self.model.tensors[tensor]
                .shape
                .iter()
                .map(|&d| d as i64)
                .product()
        };
        if output_shape != [input_shape[0], input_shape[1], cells]
            || elements(hidden) != (batches * cells) as i64
            || elements(cell) != (batches * cells) as i64
        {
            return Err((context.unsupported)(format!(
                "shapes do not fit together: input {input_shape:?}, output {output_shape:?}, \
                 hidden state {hidden_shape:?}, cell state {:?}",
                shape(cell)
            )));
        }
        let [input_affine, hidden_affine, cell_affine] = [
            self.affine(input)?,
            self.affine(hidden)?,
            self.affine(cell)?,
        ];
        let mut gate_params = String::new();
        let mut gate_weights = String::new();
        for (input_weights, recurrent_weights, bias) in GATES {
            let input_weights = self.input(context, input_weights)?;
            let recurrent_weights = self.input(context, recurrent_weights)?;
            let bias = self.input(context, bias)?;
            for (tensor, rows, columns) in [
                (input_weights, cells, input_size),
                (recurrent_weights, cells, cells),
            ] {
                if shape(tensor) != [rows, columns] {
                    return Err((context.unsupported)(format!(
                        "weights tensor {tensor} has shape {:?}, expected [{rows}, {columns}]",
                        shape(tensor)
                    )));
                }
                self.per_tensor(context, tensor)?;
            }
            if shape(bias) != [cells] {
                return Err((context.unsupported)(format!(
                    "bias tensor {bias} has shape {:?}, expected [{cells}]",
                    shape(bias)
                )));
            }
            // CreateGateParams: GetQuantizedConvolutionMultipler multiplies the float scales,
            // then widens to double and divides by the FC output scale 2^-12.
            let fc = |generator: &Self, activations: f32, weights: usize| {
                let product = activations * generator.affine(weights)?.scale;
                Ok::<_, GenerateError>(quantize_multiplier(
                    product as f64 / GATE_INPUT_SCALE as f64,
                ))
            };
            let input_fc = fc(self, input_affine.scale, input_weights)?;
            let recurrent_fc = fc(self, hidden_affine.scale, recurrent_weights)?;
            write!(
                gate_params,
                "\n        {{{}, {}, {}, {}}},",
                input_fc.multiplier, input_fc.shift, recurrent_fc.multiplier, recurrent_fc.shift
            )
            .unwrap();
            let input_name = self.constant(input_weights, TensorType::Int8)?;
            let recurrent_name = self.constant(recurrent_weights, TensorType::Int8)?;
            let bias_name = self.constant(bias, TensorType::Int32)?;
            write!(
                gate_weights,
                "\n    {{{input_name}, {recurrent_name}, {bias_name}}},"
            )
            .unwrap();
        }
        // CreateInterGateMulParams: product of the two scales over the output scale, in double.
        let mul = |a: f32, b: f32, out: f32| quantize_multiplier(a as f64 * b as f64 / out as f64);
        let forget_mul = mul(GATE_OUTPUT_SCALE, cell_affine.scale, cell_affine.scale);
        let input_mul = mul(GATE_OUTPUT_SCALE, GATE_OUTPUT_SCALE, cell_affine.scale);
        let output_mul = mul(GATE_OUTPUT_SCALE, GATE_OUTPUT_SCALE, hidden_affine.scale);
        // CreateLstmCellStateInfo: the cell scale as a power of two (CheckedLog2 rounds), the
        // clip in cell-state units, clamped to int16 and truncated.
        let power = (cell_affine.scale as f64).log2().round() as i32;
        let clip = if cell_clip > 0.0 {
            (cell_clip as f64 / cell_affine.scale as f64).clamp(-32768.0, 32767.0) as i16 as i32
        } else {
            -1
        };
        // lstm_internal::Tanh, then reference_integer_ops::Tanh's power-of-two case.
        let left_shift = 15 + power - 3;
        let (tanh_multiplier, tanh_shift) = if left_shift >= 0 {
            if left_shift > 12 {
                return Err((context.unsupported)(format!(
                    "cell state scale 2^{power} is too coarse for the int16 tanh"
                )));
            }
            (3i32 << left_shift, 0)
        } else {
            (3, -left_shift)
        };
        let scratch =
            |request: usize| Ok::<_, GenerateError>(self.scratch(context, request)?.offset);
        let buffers = [scratch(0)?, scratch(1)?, scratch(2)?, scratch(3)?];
        let name = context.name;
        writeln!(
            self.parameter_definitions,
            "static const dmo_lstm_params {name}_params = {{\n    \
             .batches = {batches}, .time_steps = {steps}, .input_size = {input_size}, \
             .cells = {cells},\n    \
             .time_major = {}, .cell_gate_sigmoid = {cell_gate_sigmoid},\n    \
             .input_zero_point = {}, .hidden_zero_point = {}, .cell_clip = {clip},\n    \
             .cell_tanh_multiplier = {tanh_multiplier}, .cell_tanh_shift = {tanh_shift},\n    \
             .forget_mul_multiplier = {}, .forget_mul_shift = {},\n    \
             .input_mul_multiplier = {}, .input_mul_shift = {},\n    \
             .output_mul_multiplier = {}, .output_mul_shift = {},\n    \
             .gates = {{ /* forget, input, cell, output */{gate_params}\n    }},\n}};\n\
             static const dmo_lstm_gate_weights {name}_gates[4] = {{{gate_weights}\n}};\n",
            u32::from(time_major),
            input_affine.zero_point,
            hidden_affine.zero_point,
            forget_mul.multiplier,
            forget_mul.shift,
            input_mul.multiplier,
            input_mul.shift,
            output_mul.multiplier,
            output_mul.shift,
        )
        .unwrap();
        let hidden_pointer = self.variable(context, hidden, "int8_t")?;
        let cell_pointer = self.variable(context, cell, "int16_t")?;
        let input_pointer = self.activation(input, "const int8_t")?;
        let output_pointer = self.activation(output, "int8_t")?;
        let buffer_pointers = buffers
            .iter()
            .map(|offset| format!("(int16_t *)(dmo_arena + {offset})"))
            .collect::<Vec<_>>()
            .join(",\n        ");
        writeln!(
            self.calls,
            "    {{\n    int16_t *const {name}_buffers[4] = {{\n        {buffer_pointers}}};\n    \
             dmo_lstm_int8(\"{name}\", &{name}_params, dmo_sigmoid_table, {input_pointer},\n        \
             {name}_gates, {hidden_pointer}, {cell_pointer}, {output_pointer}, {name}_buffers);\n    }}"
        )
        .unwrap();
        Ok(())
    }
}
