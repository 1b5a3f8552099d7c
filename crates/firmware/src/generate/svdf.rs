//! SVDF with int8 input and int16 state, as TFLM's `PrepareSvdf` and
//! `EvalIntegerSvdfReference<int16_t>` run it. The state is a variable tensor:
//! TFLM keeps it in the persistent tail of the arena, not in the head, and
//! resets it once (to 0, or to the zero point for int8) before the first
//! invocation; the firmware gives it a static array of its own, reset before
//! the op's first call. The two scratch buffers TFLM requests
//! (`batches x filters` and `batches x filters / rank` int32) are the plan's
//! scratch buffers 0 and 1 of the op.

use super::{Generator, OperatorContext};
use crate::error::GenerateError;
use crate::quantisation::quantize_multiplier;
use dmo_tflite::{OperatorOptions, TensorType};
use std::fmt::Write;

impl Generator<'_> {
    /// A variable tensor's persistent storage, reset as TFLM resets it: a C
    /// expression for a pointer to it.
    pub(super) fn variable(
        &mut self,
        context: &OperatorContext<'_>,
        tensor: usize,
        c_type: &str,
    ) -> Result<String, GenerateError> {
        let info = &self.model.tensors[tensor];
        if !info.is_variable {
            return Err((context.unsupported)(format!(
                "tensor {tensor} must be a variable tensor (the op's state)"
            )));
        }
        let identifier = format!("dmo_state{tensor}");
        if self.variables.insert(tensor) {
            let bytes = self.tensor_bytes(tensor)?;
            // micro_interpreter_graph's ResetVariableTensors: int8 to its zero point, else 0.
            let value = if info.element_type == TensorType::Int8 {
                self.affine(tensor)?.zero_point
            } else {
                0
            };
            writeln!(
                self.parameter_definitions,
                "/* variable tensor {tensor}: persistent state, outside the arena head */\n\
                 static uint8_t {identifier}[{}] __attribute__((aligned(16)));\n",
                bytes.max(1)
            )
            .unwrap();
            writeln!(
                self.calls,
                "    memset({identifier}, {value}, {bytes}); /* TFLM's ResetVariableTensors */"
            )
            .unwrap();
        }
        Ok(format!("({c_type} *){identifier}"))
    }

    pub(super) fn svdf(&mut self, context: &OperatorContext<'_>) -> Result<(), GenerateError> {
        let OperatorOptions::Svdf { rank, .. } = context.operator.options else {
            return Err((context.unsupported)("options are missing".into()));
        };
        let input = self.input(context, 0)?;
        let weights_feature = self.input(context, 1)?;
        let weights_time = self.input(context, 2)?;
        let bias = context.operator.inputs.get(3).copied().flatten();
        let state = self.input(context, 4)?;
        let output = self.output(context)?;
        self.require_type(input, TensorType::Int8, "input")?;
        self.require_type(output, TensorType::Int8, "output")?;
        self.require_type(weights_feature, TensorType::Int8, "weights_feature")?;
        self.require_type(weights_time, TensorType::Int16, "weights_time")?;
        self.require_type(state, TensorType::Int16, "state")?;
        let shape = |tensor: usize| self.model.tensors[tensor].shape.clone();
        let (input_shape, feature_shape, time_shape, state_shape, output_shape) = (
            shape(input),
            shape(weights_feature),
            shape(weights_time),
            shape(state),
            shape(output),
        );
        let two_d = |s: &[i32]| s.len() == 2 && s.iter().all(|&d| d > 0);
        if ![
            &input_shape,
            &feature_shape,
            &time_shape,
            &state_shape,
            &output_shape,
        ]
        .iter()
        .all(|s| two_d(s))
        {
            return Err((context.unsupported)(
                "input, weights, state and output must be 2-D with positive dimensions".into(),
            ));
        }
        let (batches, input_size) = (input_shape[0], input_shape[1]);
        let filters = feature_shape[0];
        let memory = time_shape[1];
        // PrepareSvdf's checks.
        if rank <= 0
            || filters % rank != 0
            || feature_shape[1] != input_size
            || time_shape[0] != filters
            || state_shape != [batches, memory * filters]
            || output_shape != [batches, filters / rank]
        {
            return Err((context.unsupported)(format!(
                "shapes do not fit together: input {input_shape:?}, weights_feature \
                 {feature_shape:?}, weights_time {time_shape:?}, state {state_shape:?}, \
                 output {output_shape:?}, rank {rank}"
            )));
        }
        let [input_affine, feature_affine, time_affine, state_affine, output_affine] = [
            self.affine(input)?,
            self.affine(weights_feature)?,
            self.affine(weights_time)?,
            self.affine(state)?,
            self.affine(output)?,
        ];
        // PrepareSvdf multiplies and divides the float scales, then widens to double.
        let scale1 = (input_affine.scale * feature_affine.scale / state_affine.scale) as f64;
        let scale2 = (state_affine.scale * time_affine.scale / output_affine.scale) as f64;
        if !(scale1.is_finite() && scale1 > 0.0 && scale2.is_finite() && scale2 > 0.0) {
            return Err((context.unsupported)(format!(
                "effective scales {scale1} and {scale2} are not positive numbers"
            )));
        }
        let [feature, rescale] = [quantize_multiplier(scale1), quantize_multiplier(scale2)];
        let scratch =
            |request: usize| Ok::<_, GenerateError>(self.scratch(context, request)?.offset);
        let (scratch0, scratch1) = (scratch(0)?, scratch(1)?);
        let name = context.name;
        writeln!(
            self.parameter_definitions,
            "static const dmo_svdf_params {name}_params = {{\n    \
             .batches = {batches}, .input_size = {input_size}, .filters = {filters}, \
             .rank = {rank}, .memory_size = {memory},\n    \
             .input_zero_point = {}, .state_zero_point = {}, .output_zero_point = {},\n    \
             .feature_multiplier = {}, .feature_shift = {},\n    \
             .output_multiplier = {}, .output_shift = {},\n}};\n",
            input_affine.zero_point,
            state_affine.zero_point,
            output_affine.zero_point,
            feature.multiplier,
            feature.shift,
            rescale.multiplier,
            rescale.shift,
        )
        .unwrap();
        let feature_name = self.constant(weights_feature, TensorType::Int8)?;
        let time_name = self.constant(weights_time, TensorType::Int16)?;
        let bias_name = match bias {
            Some(bias) => self.constant(bias, TensorType::Int32)?,
            None => "0".to_owned(),
        };
        let state_pointer = self.variable(context, state, "int16_t")?;
        let input_pointer = self.activation(input, "const int8_t")?;
        let output_pointer = self.activation(output, "int8_t")?;
        writeln!(
            self.calls,
            "    dmo_svdf_int8(\"{name}\", &{name}_params, {input_pointer}, {feature_name},\n        \
             {time_name}, {bias_name}, {state_pointer}, {output_pointer},\n        \
             (int32_t *)(dmo_arena + {scratch0}), (int32_t *)(dmo_arena + {scratch1}));"
        )
        .unwrap();
        Ok(())
    }
}
