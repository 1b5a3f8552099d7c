//! C source for one model: weights and quantisation parameters as `const` arrays (flash), one
//! static 16-byte-aligned arena laid out by TFLM's greedy planner, and one kernel call per
//! operator in model order (each kernel wraps itself in the dmo markers), in the loop orders of
//! one kernel family (`crate::cmsis` picks the CMSIS-NN-order kernels), each followed by a
//! CRC-32 of the operator's output.

use crate::cmsis::{self, Kernel};
use crate::error::GenerateError;
use crate::quantisation::{
    activation_range_int8, add_scaling, convolution_multiplier, quantize_multiplier,
    softmax_scaling, QuantizedMultiplier,
};
use dmo_ops::{LoopOrders, OpParams, ResolvedWindow};
use dmo_plan::{tflm_baseline_for, tflm_with_offline_tensors, BufferSource};
use dmo_tflite::{
    BuiltinCode, FusedActivation, Model, Operator, OperatorOptions, TensorContents, TensorType,
};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

mod activation;
mod concatenation;
mod dequantize;
mod lstm;
mod mul;
mod quantize;
mod strided_slice;
mod svdf;
mod transpose;

/// Name of the pokeable symbol the firmware copies its input tensor from.
pub const INPUT_SYMBOL: &str = "dmo_model_input";

/// One operator as the firmware runs it.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct GeneratedOperator {
    /// The op segment's name (`dmo_op_begin`'s first argument): `op<index>_<kind>`.
    pub name: String,
    /// TFLite operator name, e.g. `CONV_2D`.
    pub kind: String,
}

/// The generated C file and what a caller needs to drive the firmware.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct GeneratedSource {
    pub c_source: String,
    /// Size of `dmo_arena`: the TFLM-greedy head.
    pub arena_bytes: u64,
    /// Offset in the arena of every planned tensor (by tensor index), `None` for constants.
    pub tensor_offsets: Vec<Option<u64>>,
    /// Bytes of the model input (the size of [`INPUT_SYMBOL`]).
    pub input_bytes: u64,
    pub operators: Vec<GeneratedOperator>,
}

/// The op segment name of operator `index`.
pub fn operator_name(index: usize, kind: &str) -> String {
    format!("op{index}_{}", kind.to_lowercase())
}

/// Generates the firmware's C source. `contents` are the model's tensor contents
/// ([`dmo_tflite::tensor_contents`]); `kernels` the loop orders its kernels follow (with
/// `CmsisNn`, an operator whose CMSIS-NN order has no C kernel is refused by name), whose
/// scratch buffers the arena holds.
///
/// Tensors go where TFLM's greedy planner puts them, or, given an
/// `offline_plan` (one offset per tensor of all subgraphs, -1 = planned
/// online, as `OfflineMemoryAllocation` holds it), where that plan puts them,
/// with scratch buffers placed by TFLM's own rule around them.
pub fn generate_source(
    model: &Model,
    contents: &[TensorContents],
    offline_plan: Option<&[i32]>,
    kernels: LoopOrders,
) -> Result<GeneratedSource, GenerateError> {
    let baseline = tflm_baseline_for(model, kernels)
        .map_err(|error| GenerateError::Model(error.to_string()))?;
    let plan = match offline_plan {
        None => baseline,
        Some(offsets) => {
            let tensor_offsets = baseline
                .buffers
                .iter()
                .map(|buffer| match buffer.source {
                    BufferSource::Tensor(tensor) => match offsets.get(tensor) {
                        Some(&offset) if offset >= 0 => Ok(offset as u64),
                        other => Err(GenerateError::Model(format!(
                            "the offline plan gives tensor {tensor} no arena offset ({other:?})"
                        ))),
                    },
                    BufferSource::Scratch { .. } => Ok(0),
                })
                .collect::<Result<Vec<u64>, _>>()?;
            tflm_with_offline_tensors(baseline.buffers, &tensor_offsets)
        }
    };
    let placement = if offline_plan.is_some() {
        "the offline plan"
    } else {
        "TFLM's GreedyMemoryPlanner"
    };
    let mut tensor_offsets = vec![None; model.tensors.len()];
    let mut scratch_buffers = BTreeMap::new();
    for (buffer, &offset) in plan.buffers.iter().zip(&plan.offsets) {
        match buffer.source {
            BufferSource::Tensor(index) => tensor_offsets[index] = Some(offset),
            BufferSource::Scratch { operator, request } => {
                let bytes = buffer.bytes.0;
                scratch_buffers.insert((operator, request), ScratchBuffer { offset, bytes });
            }
        }
    }
    if contents.len() != model.tensors.len() {
        return Err(GenerateError::Model(format!(
            "{} tensors but contents for {}",
            model.tensors.len(),
            contents.len()
        )));
    }
    let [input] = model.inputs[..] else {
        return Err(GenerateError::Model(format!(
            "the model has {} inputs; the firmware supports exactly one",
            model.inputs.len()
        )));
    };
    let mut generator = Generator {
        model,
        contents,
        tensor_offsets: &tensor_offsets,
        scratch_buffers: &scratch_buffers,
        kernels,
        constants: BTreeSet::new(),
        variables: BTreeSet::new(),
        constant_definitions: String::new(),
        parameter_definitions: String::new(),
        calls: String::new(),
        operators: Vec::new(),
    };
    for (index, operator) in model.operators.iter().enumerate() {
        generator.operator(index, operator)?;
    }

    let input_tensor = &model.tensors[input];
    let input_bytes = generator.tensor_bytes(input)?;
    let input_offset = generator.arena_offset(input, "model input")?;
    if !matches!(
        input_tensor.element_type,
        TensorType::Int8 | TensorType::Int16
    ) {
        return Err(GenerateError::Model(format!(
            "model input {} is {}; the firmware supports INT8 and INT16 inputs",
            input_tensor.name,
            input_tensor.element_type.name()
        )));
    }

    let family = cmsis::family_name(kernels);
    let mut source = String::new();
    writeln!(
        source,
        "/* Generated by `dmo firmware`: {} operators, arena head {} bytes ({placement}),\n \
         * kernels in the {family} loop orders.\n \
         * Weights and quantisation parameters are const (flash); activations live in dmo_arena. */",
        model.operators.len(),
        plan.head.0
    )
    .unwrap();
    source.push_str(
        "#include <stdint.h>\n#include <stdio.h>\n#include <string.h>\n\n#include \"harness.h\"\n#include \"kernels.h\"\n\n",
    );
    writeln!(
        source,
        "/* The model input, written by the emulator before the run (`--poke {INPUT_SYMBOL}=FILE`).\n \
         * In .data so that the startup code does not clear it. */\n\
         __attribute__((section(\".data.dmo_pokeable\"))) int8_t {INPUT_SYMBOL}[{input_bytes}];\n"
    )
    .unwrap();
    writeln!(
        source,
        "/* All activation tensors, at the offsets {placement} gives them. */\n\
         static uint8_t dmo_arena[{}] __attribute__((aligned(16)));\n",
        plan.head.0.max(16)
    )
    .unwrap();
    writeln!(
        source,
        "const dmo_pokeable dmo_pokeables[] = {{{{\"{INPUT_SYMBOL}\", {INPUT_SYMBOL}, sizeof {INPUT_SYMBOL}}}}};\n\
         const uint32_t dmo_pokeable_count = 1;\n"
    )
    .unwrap();
    source.push_str(&generator.constant_definitions);
    source.push_str(&generator.parameter_definitions);
    source.push_str("int main(void)\n{\n");
    writeln!(source, "    printf(\"kernels {family}\\n\");").unwrap();
    writeln!(
        source,
        "    memcpy(dmo_arena + {input_offset}, {INPUT_SYMBOL}, {input_bytes});"
    )
    .unwrap();
    source.push_str(&generator.calls);
    for (position, &output) in model.outputs.iter().enumerate() {
        let bytes = generator.tensor_bytes(output)?;
        let offset = generator.arena_offset(output, "model output")?;
        let label = if model.outputs.len() == 1 {
            "output".to_owned()
        } else {
            format!("output{position}")
        };
        writeln!(
            source,
            "    dmo_print_bytes(\"{label}\", dmo_arena + {offset}, {bytes});"
        )
        .unwrap();
    }
    source.push_str("    return 0;\n}\n");

    Ok(GeneratedSource {
        c_source: source,
        arena_bytes: plan.head.0,
        tensor_offsets: tensor_offsets.clone(),
        input_bytes,
        operators: generator.operators,
    })
}

struct Generator<'a> {
    model: &'a Model,
    contents: &'a [TensorContents],
    tensor_offsets: &'a [Option<u64>],
    /// Each scratch buffer, by (operator index, request index).
    scratch_buffers: &'a BTreeMap<(usize, usize), ScratchBuffer>,
    /// The loop orders the kernels follow.
    kernels: LoopOrders,
    /// Constant tensors already defined.
    constants: BTreeSet<usize>,
    /// Variable tensors (operator state) already given storage.
    variables: BTreeSet<usize>,
    constant_definitions: String,
    parameter_definitions: String,
    calls: String,
    operators: Vec<GeneratedOperator>,
}

/// A scratch buffer the arena plan holds for a kernel.
#[derive(Clone, Copy)]
struct ScratchBuffer {
    /// Offset in the arena.
    offset: u64,
    /// Bytes the kernel requested.
    bytes: u64,
}

/// Scale and zero point of a per-tensor quantised tensor.
struct Affine {
    scale: f32,
    zero_point: i32,
}

impl<'a> Generator<'a> {
    fn operator(&mut self, index: usize, operator: &Operator) -> Result<(), GenerateError> {
        let kind = operator.code.to_string();
        let name = operator_name(index, &kind);
        let unsupported = |problem: String| GenerateError::Unsupported {
            operator: index,
            kind: kind.clone(),
            problem,
        };
        let Some(builtin) = operator.builtin() else {
            return Err(GenerateError::NoKernel {
                operator: index,
                kind,
            });
        };
        // One comment per call: which tensors (by index) it reads and writes.
        let indices = |tensors: &mut dyn Iterator<Item = usize>| {
            tensors
                .map(|t| t.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        };
        let comment = format!(
            "    /* operator {index}, {kind}: tensors {} -> {} */\n",
            indices(&mut operator.present_inputs()),
            indices(&mut operator.outputs.iter().copied())
        );
        // The one list of kinds the generator has a kernel for.
        type Generate = fn(&mut Generator<'_>, &OperatorContext<'_>) -> Result<(), GenerateError>;
        let generate: Generate = match builtin {
            BuiltinCode::CONV_2D => |g, c| g.convolution(c, false),
            BuiltinCode::DEPTHWISE_CONV_2D => |g, c| g.convolution(c, true),
            BuiltinCode::FULLY_CONNECTED => |g, c| g.fully_connected(c),
            BuiltinCode::AVERAGE_POOL_2D => |g, c| g.pool(c, true),
            BuiltinCode::MAX_POOL_2D => |g, c| g.pool(c, false),
            BuiltinCode::ADD => |g, c| g.add(c),
            BuiltinCode::MUL => |g, c| g.mul(c),
            BuiltinCode::LOGISTIC => |g, c| g.activation_function(c, true),
            BuiltinCode::TANH => |g, c| g.activation_function(c, false),
            BuiltinCode::DEQUANTIZE => |g, c| g.dequantize(c),
            BuiltinCode::CONCATENATION => |g, c| g.concatenation(c),
            BuiltinCode::TRANSPOSE => |g, c| g.transpose(c),
            BuiltinCode::STRIDED_SLICE => |g, c| g.strided_slice(c),
            BuiltinCode::SOFTMAX => |g, c| g.softmax(c),
            BuiltinCode::RESHAPE => |g, c| g.reshape(c),
            BuiltinCode::PAD => |g, c| g.pad(c),
            BuiltinCode::MEAN => |g, c| g.mean(c),
            BuiltinCode::QUANTIZE => |g, c| g.quantize(c),
            BuiltinCode::SVDF => |g, c| g.svdf(c),
            BuiltinCode::UNIDIRECTIONAL_SEQUENCE_LSTM => |g, c| g.lstm(c),
            _ => {
                return Err(GenerateError::NoKernel {
                    operator: index,
                    kind,
                })
            }
        };
        let kernel = cmsis::select(self.model, index, self.kernels)?;
        self.calls.push_str(&comment);
        let context = OperatorContext {
            index,
            name: &name,
            operator,
            kernel,
            unsupported: &unsupported,
        };
        generate(self, &context)?;
        self.output_checksums(&context)?;
        self.operators.push(GeneratedOperator { name, kind });
        Ok(())
    }

    /// After the call: `NAME output[K] N bytes crc32 X` for every output tensor in the arena, so
    /// that every operator's result can be compared, not only the model's.
    fn output_checksums(&mut self, context: &OperatorContext<'_>) -> Result<(), GenerateError> {
        for (position, &output) in context.operator.outputs.iter().enumerate() {
            let Some(offset) = self.tensor_offsets[output] else {
                continue;
            };
            let bytes = self.tensor_bytes(output)?;
            writeln!(
                self.calls,
                "    dmo_print_checksum(\"{} output{position}\", dmo_arena + {offset}, {bytes});",
                context.name
            )
            .unwrap();
        }
        Ok(())
    }

    fn tensor_bytes(&self, tensor: usize) -> Result<u64, GenerateError> {
        self.model.tensors[tensor]
            .byte_size()
            .map_err(|problem| self.tensor_error(tensor, problem.to_string()))
    }

    fn tensor_error(&self, tensor: usize, problem: String) -> GenerateError {
        GenerateError::Tensor {
            tensor,
            name: self.model.tensors[tensor].name.clone(),
            problem,
        }
    }

    fn arena_offset(&self, tensor: usize, what: &str) -> Result<u64, GenerateError> {
        self.tensor_offsets[tensor].ok_or_else(|| {
            self.tensor_error(tensor, format!("{what} is not a planned arena tensor"))
        })
    }

    /// A C expression for an activation tensor: a pointer into the arena.
    fn activation(&self, tensor: usize, c_type: &str) -> Result<String, GenerateError> {
        let offset = self.arena_offset(tensor, "activation")?;
        Ok(format!("({c_type} *)(dmo_arena + {offset})"))
    }

    /// Scratch request `request` of the operator, as the arena plan placed it.
    fn scratch(
        &self,
        context: &OperatorContext<'_>,
        request: usize,
    ) -> Result<ScratchBuffer, GenerateError> {
        self.scratch_buffers
            .get(&(context.index, request))
            .copied()
            .ok_or_else(|| {
                (context.unsupported)(format!(
                    "the arena plan has no scratch buffer {request} for it"
                ))
            })
    }

    fn affine(&self, tensor: usize) -> Result<Affine, GenerateError> {
        let quantization = self.contents[tensor]
            .quantization
            .as_ref()
            .ok_or_else(|| self.tensor_error(tensor, "has no quantisation parameters".into()))?;
        Ok(Affine {
            scale: quantization.scale[0],
            zero_point: quantization.zero_point.first().copied().unwrap_or(0) as i32,
        })
    }

    fn require_type(
        &self,
        tensor: usize,
        wanted: TensorType,
        role: &str,
    ) -> Result<(), GenerateError> {
        let found = self.model.tensors[tensor].element_type;
        if found == wanted {
            Ok(())
        } else {
            Err(self.tensor_error(
                tensor,
                format!(
                    "{role} is {}; the kernel needs {}",
                    found.name(),
                    wanted.name()
                ),
            ))
        }
    }

    /// Defines a constant tensor's data once, as a typed const array, and returns its C name.
    fn constant(&mut self, tensor: usize, element: TensorType) -> Result<String, GenerateError> {
        let identifier = format!("tensor{tensor}");
        if self.constants.contains(&tensor) {
            return Ok(identifier);
        }
        let info = &self.model.tensors[tensor];
        if !info.is_constant {
            return Err(self.tensor_error(tensor, "weights must be constant".into()));
        }
        self.require_type(tensor, element, "constant")?;
        let data = &self.contents[tensor].data;
        let expected = self.tensor_bytes(tensor)?;
        if data.len() as u64 != expected {
            return Err(self.tensor_error(
                tensor,
                format!("holds {} bytes, its shape needs {expected}", data.len()),
            ));
        }
        let (c_type, values): (&str, Vec<i64>) = match element {
            TensorType::Int8 => ("int8_t", data.iter().map(|&b| b as i8 as i64).collect()),
            TensorType::Int16 => (
                "int16_t",
                data.chunks_exact(2)
                    .map(|c| i16::from_le_bytes([c[0], c[1]]) as i64)
                    .collect(),
            ),
            TensorType::Int32 => (
                "int32_t",
                data.chunks_exact(4)
                    .map(|c| i32::from_le_bytes([c[0], c[1], c[2], c[3]]) as i64)
                    .collect(),
            ),
            other => {
                return Err(self.tensor_error(tensor, format!("constant of type {}", other.name())))
            }
        };
        writeln!(
            self.constant_definitions,
            "/* tensor {tensor} {}: {:?} {} */",
            // Converter names list every fused op after `;`: the first says enough.
            info.name
                .split(';')
                .next()
                .unwrap_or_default()
                .replace("*/", "* /"),
            info.shape,
            element.name()
        )
        .unwrap();
        write_array(
            &mut self.constant_definitions,
            &format!(
                "static const {c_type} {identifier}[{}] __attribute__((aligned(4)))",
                values.len()
            ),
            &values,
        );
        self.constants.insert(tensor);
        Ok(identifier)
    }

    fn input(
        &self,
        context: &OperatorContext<'_>,
        position: usize,
    ) -> Result<usize, GenerateError> {
        context
            .operator
            .inputs
            .get(position)
            .copied()
            .flatten()
            .ok_or_else(|| (context.unsupported)(format!("input {position} is missing")))
    }

    fn output(&self, context: &OperatorContext<'_>) -> Result<usize, GenerateError> {
        match context.operator.outputs[..] {
            [output] => Ok(output),
            _ => Err((context.unsupported)(format!(
                "{} outputs, the kernel has one",
                context.operator.outputs.len()
            ))),
        }
    }

    fn shape4(
        &self,
        context: &OperatorContext<'_>,
        tensor: usize,
    ) -> Result<[u32; 4], GenerateError> {
        let shape = &self.model.tensors[tensor].shape;
        if shape.len() != 4 || shape.iter().any(|&d| d <= 0) {
            return Err((context.unsupported)(format!(
                "tensor {tensor} has shape {shape:?}; the kernel needs a 4-D NHWC tensor"
            )));
        }
        Ok([
            shape[0] as u32,
            shape[1] as u32,
            shape[2] as u32,
            shape[3] as u32,
        ])
    }

    fn activation_range(
        &self,
        context: &OperatorContext<'_>,
        activation: FusedActivation,
        output: &Affine,
    ) -> Result<(i32, i32), GenerateError> {
        activation_range_int8(activation, output.scale, output.zero_point).ok_or_else(|| {
            (context.unsupported)(format!("fused activation {activation:?} on int8"))
        })
    }

    /// The operator's window with TFLite's padding, from the operator
    /// registry, which also checks the shapes against it.
    fn resolved_window(
        &self,
        context: &OperatorContext<'_>,
    ) -> Result<ResolvedWindow, GenerateError> {
        let described = dmo_ops::describe_tflite_operator(self.model, context.index)
            .map_err(|error| (context.unsupported)(error.to_string()))?;
        match described.description.params() {
            OpParams::Conv2d { window, .. }
            | OpParams::DepthwiseConv2d { window, .. }
            | OpParams::Pool2d { window } => Ok(*window),
            _ => Err((context.unsupported)("has no window".into())),
        }
    }

    fn convolution(
        &mut self,
        context: &OperatorContext<'_>,
        depthwise: bool,
    ) -> Result<(), GenerateError> {
        let (stride_w, stride_h, dilation_w, dilation_h, activation) =
            match context.operator.options {
                OperatorOptions::Conv2D {
                    stride_w,
                    stride_h,
                    dilation_w,
                    dilation_h,
                    activation,
                    ..
                }
                | OperatorOptions::DepthwiseConv2D {
                    stride_w,
                    stride_h,
                    dilation_w,
                    dilation_h,
                    activation,
                    ..
                } => (stride_w, stride_h, dilation_w, dilation_h, activation),
                _ => return Err((context.unsupported)("options are missing".into())),
            };
        let input = self.input(context, 0)?;
        let filter = self.input(context, 1)?;
        let bias = context.operator.inputs.get(2).copied().flatten();
        let output = self.output(context)?;
        self.require_type(input, TensorType::Int8, "input")?;
        self.require_type(output, TensorType::Int8, "output")?;
        let input_shape = self.shape4(context, input)?;
        let filter_shape = self.shape4(context, filter)?;
        let output_shape = self.shape4(context, output)?;
        let [batches, input_height, input_width, input_depth] = input_shape;
        let [_, output_height, output_width, output_depth] = output_shape;
        let (filter_height, filter_width) = (filter_shape[1], filter_shape[2]);
        // Shapes, filter, strides and TFLite's padding: the operator registry.
        let window = self.resolved_window(context)?;
        if !depthwise && filter_shape[3] != input_depth {
            return Err((context.unsupported)(format!(
                "grouped convolution (filter {filter_shape:?}, input depth {input_depth}) has no kernel"
            )));
        }
        let (padding_top, padding_left) = (window.pad_top, window.pad_left);
        let input_affine = self.affine(input)?;
        let output_affine = self.affine(output)?;
        let filter_quantization = self.contents[filter]
            .quantization
            .clone()
            .ok_or_else(|| self.tensor_error(filter, "has no quantisation parameters".into()))?;
        if filter_quantization.zero_point.iter().any(|&z| z != 0) {
            return Err((context.unsupported)(
                "filter zero points must be 0 (TFLite int8 weights are symmetric)".into(),
            ));
        }
        let scales = &filter_quantization.scale;
        if scales.len() != 1 && scales.len() != output_depth as usize {
            return Err((context.unsupported)(format!(
                "{} filter scales for {output_depth} output channels",
                scales.len()
            )));
        }
        let multipliers: Vec<QuantizedMultiplier> = (0..output_depth as usize)
            .map(|channel| {
                let filter_scale = scales[if scales.len() == 1 { 0 } else { channel }];
                convolution_multiplier(input_affine.scale, filter_scale, output_affine.scale)
            })
            .collect();
        let (activation_min, activation_max) =
            self.activation_range(context, activation, &output_affine)?;

        let filter_name = self.constant(filter, TensorType::Int8)?;
        let bias_name = match bias {
            Some(bias) => self.constant(bias, TensorType::Int32)?,
            None => "NULL".to_owned(),
        };
        let name = context.name;
        let parameters = &mut self.parameter_definitions;
        writeln!(
            parameters,
            "/* {name}: {} */",
            if depthwise {
                "DEPTHWISE_CONV_2D"
            } else {
                "CONV_2D"
            }
        )
        .unwrap();
        writeln!(
            parameters,
            "static const dmo_conv_int8_params {name}_params = {{\n    \
             .geometry = {{.input = {{{batches}, {input_height}, {input_width}, {input_depth}}},\n                 \
             .output_height = {output_height}, .output_width = {output_width}, .output_depth = {output_depth},\n                 \
             .filter_height = {filter_height}, .filter_width = {filter_width},\n                 \
             .stride_height = {stride_h}, .stride_width = {stride_w},\n                 \
             .dilation_height = {dilation_h}, .dilation_width = {dilation_w},\n                 \
             .padding_top = {padding_top}, .padding_left = {padding_left}}},\n    \
             .input_offset = {}, .output_offset = {},\n    \
             .activation_min = {activation_min}, .activation_max = {activation_max},\n}};",
            -input_affine.zero_point,
            output_affine.zero_point
        )
        .unwrap();
        let multiplier_values: Vec<i64> = multipliers.iter().map(|m| m.multiplier as i64).collect();
        let shift_values: Vec<i64> = multipliers.iter().map(|m| m.shift as i64).collect();
        write_array(
            parameters,
            &format!("static const int32_t {name}_output_multiplier[{output_depth}]"),
            &multiplier_values,
        );
        write_array(
            parameters,
            &format!("static const int32_t {name}_output_shift[{output_depth}]"),
            &shift_values,
        );
        parameters.push('\n');
        let function = match (context.kernel, depthwise) {
            (Kernel::Reference, true) => "dmo_depthwise_conv_int8",
            (Kernel::Reference, false) => "dmo_conv_int8",
            (Kernel::Conv1x1, false) => "dmo_conv_1x1_int8_cmsis_order",
            (Kernel::Depthwise3x3, true) => "dmo_depthwise_3x3_int8_cmsis_order",
            (Kernel::DepthwiseMult4, true) => "dmo_depthwise_mult4_int8_cmsis_order",
            (Kernel::ConvGeneric, false) => "dmo_conv_int8_cmsis_order",
            (Kernel::DepthwiseOpt, true) => "dmo_depthwise_opt_int8_cmsis_order",
            (other, _) => {
                return Err((context.unsupported)(format!(
                    "the {other:?} kernel is not a convolution"
                )))
            }
        };
        // The C kernel's own check that the geometry takes its CMSIS-NN path.
        let problem = match context.kernel {
            Kernel::Conv1x1 => Some("dmo_conv_1x1_cmsis_problem"),
            Kernel::Depthwise3x3 => Some("dmo_depthwise_3x3_cmsis_problem"),
            Kernel::DepthwiseMult4 => Some("dmo_depthwise_mult4_cmsis_problem"),
            Kernel::ConvGeneric => Some("dmo_conv_cmsis_problem"),
            Kernel::DepthwiseOpt => Some("dmo_depthwise_opt_cmsis_problem"),
            _ => None,
        };
        if let Some(problem) = problem {
            writeln!(
                self.calls,
                "    if ({problem}(&{name}_params.geometry) != NULL) {{\n        \
                 return dmo_bad_params({problem}(&{name}_params.geometry));\n    }}"
            )
            .unwrap();
        }
        // arm_convolve_s8's im2col buffer and arm_depthwise_conv_s8_opt's column buffer: the
        // scratch request TFLM places in the arena head, checked against the size the kernel
        // itself uses.
        let buffer_size = match context.kernel {
            Kernel::ConvGeneric => Some("dmo_conv_cmsis_buffer_bytes"),
            Kernel::DepthwiseOpt => Some("dmo_depthwise_opt_cmsis_buffer_bytes"),
            _ => None,
        };
        let buffer = if let Some(buffer_size) = buffer_size {
            let scratch = self.scratch(context, 0)?;
            writeln!(
                self.calls,
                "    if ({buffer_size}(&{name}_params.geometry) != {}) {{\n        \
                 return dmo_bad_params(\"{name}: the kernel's buffer differs from the planned scratch buffer\");\n    }}",
                scratch.bytes
            )
            .unwrap();
            format!(", (int16_t *)(dmo_arena + {})", scratch.offset)
        } else {
            String::new()
        };
        let input_pointer = self.activation(input, "const int8_t")?;
        let output_pointer = self.activation(output, "int8_t")?;
        writeln!(
            self.calls,
            "    {function}(\"{name}\", &{name}_params, {name}_output_multiplier, {name}_output_shift,\n        \
             {input_pointer}, {filter_name}, {bias_name}, {output_pointer}{buffer});"
        )
        .unwrap();
        Ok(())
    }

    fn fully_connected(&mut self, context: &OperatorContext<'_>) -> Result<(), GenerateError> {
        let OperatorOptions::FullyConnected { activation, .. } = context.operator.options else {
            return Err((context.unsupported)("options are missing".into()));
        };
        let input = self.input(context, 0)?;
        let filter = self.input(context, 1)?;
        let bias = context.operator.inputs.get(2).copied().flatten();
        let output = self.output(context)?;
        self.require_type(input, TensorType::Int8, "input")?;
        self.require_type(output, TensorType::Int8, "output")?;
        let filter_shape = &self.model.tensors[filter].shape;
        let [output_depth, input_depth] = filter_shape[..] else {
            return Err((context.unsupported)(format!(
                "filter shape {filter_shape:?} is not [output depth, input depth]"
            )));
        };
        if output_depth <= 0 || input_depth <= 0 {
            return Err((context.unsupported)(format!(
                "filter shape {filter_shape:?}"
            )));
        }
        let input_elements = self.tensor_bytes(input)?;
        let output_elements = self.tensor_bytes(output)?;
        let batches = input_elements / input_depth as u64;
        if input_elements % input_depth as u64 != 0
            || batches * output_depth as u64 != output_elements
        {
            return Err((context.unsupported)(format!(
                "input of {input_elements} and output of {output_elements} elements do not fit filter {filter_shape:?}"
            )));
        }
        let input_affine = self.affine(input)?;
        let output_affine = self.affine(output)?;
        let filter_affine = self.affine(filter)?;
        let filter_scales = self.contents[filter]
            .quantization
            .as_ref()
            .map_or(1, |q| q.scale.len());
        if filter_scales != 1 {
            return Err((context.unsupported)(format!(
                "{filter_scales} filter scales: the kernel is per-tensor"
            )));
        }
        let multiplier =
            convolution_multiplier(input_affine.scale, filter_affine.scale, output_affine.scale);
        let (activation_min, activation_max) =
            self.activation_range(context, activation, &output_affine)?;
        let filter_name = self.constant(filter, TensorType::Int8)?;
        let bias_name = match bias {
            Some(bias) => self.constant(bias, TensorType::Int32)?,
            None => "NULL".to_owned(),
        };
        let name = context.name;
        writeln!(
            self.parameter_definitions,
            "static const dmo_fully_connected_params {name}_params = {{\n    \
             .batches = {batches}, .input_depth = {input_depth}, .output_depth = {output_depth},\n    \
             .input_offset = {}, .filter_offset = {}, .output_offset = {},\n    \
             .output_multiplier = {}, .output_shift = {},\n    \
             .activation_min = {activation_min}, .activation_max = {activation_max},\n}};\n",
            -input_affine.zero_point,
            -filter_affine.zero_point,
            output_affine.zero_point,
            multiplier.multiplier,
            multiplier.shift
        )
        .unwrap();
        let function = match context.kernel {
            Kernel::FullyConnected => "dmo_fully_connected_int8_cmsis_order",
            Kernel::FullyConnectedAsConv1x1 => "dmo_fully_connected_int8_cmsis_conv1x1",
            _ => "dmo_fully_connected_int8",
        };
        // TFLM's conv-1x1 FULLY_CONNECTED: per-channel quantisation in its scratch buffer, and
        // no filter offset on that path.
        let quantisation = if context.kernel == Kernel::FullyConnectedAsConv1x1 {
            if filter_affine.zero_point != 0 {
                return Err((context.unsupported)(format!(
                    "filter zero point {}: CMSIS-NN's 1x1 path has no filter offset",
                    filter_affine.zero_point
                )));
            }
            let scratch = self.scratch(context, 0)?;
            if scratch.bytes != output_depth as u64 * 8 {
                return Err((context.unsupported)(format!(
                    "the planned scratch buffer has {} bytes, the kernel needs {}",
                    scratch.bytes,
                    output_depth as u64 * 8
                )));
            }
            format!(", (int32_t *)(dmo_arena + {})", scratch.offset)
        } else {
            String::new()
        };
        let input_pointer = self.activation(input, "const int8_t")?;
        let output_pointer = self.activation(output, "int8_t")?;
        writeln!(
            self.calls,
            "    {function}(\"{name}\", &{name}_params, {input_pointer}, {filter_name},\n        \
             {bias_name}, {output_pointer}{quantisation});"
        )
        .unwrap();
        Ok(())
    }

    fn pool(&mut self, context: &OperatorContext<'_>, average: bool) -> Result<(), GenerateError> {
        let OperatorOptions::Pool2D {
            stride_w,
            stride_h,
            filter_w,
            filter_h,
            activation,
            ..
        } = context.operator.options
        else {
            return Err((context.unsupported)("options are missing".into()));
        };
        let input = self.input(context, 0)?;
        let output = self.output(context)?;
        self.require_type(input, TensorType::Int8, "input")?;
        self.require_type(output, TensorType::Int8, "output")?;
        let [batches, input_height, input_width, depth] = self.shape4(context, input)?;
        let [_, output_height, output_width, _] = self.shape4(context, output)?;
        // Shapes, strides and TFLite's padding: the operator registry.
        let window = self.resolved_window(context)?;
        let (padding_top, padding_left) = (window.pad_top, window.pad_left);
        let output_affine = self.affine(output)?;
        let (activation_min, activation_max) =
            self.activation_range(context, activation, &output_affine)?;
        let name = context.name;
        writeln!(
            self.parameter_definitions,
            "static const dmo_pool_params {name}_params = {{\n    \
             .input = {{{batches}, {input_height}, {input_width}, {depth}}},\n    \
             .output_height = {output_height}, .output_width = {output_width},\n    \
             .filter_height = {filter_h}, .filter_width = {filter_w},\n    \
             .stride_height = {stride_h}, .stride_width = {stride_w},\n    \
             .padding_top = {padding_top}, .padding_left = {padding_left},\n    \
             .activation_min = {activation_min}, .activation_max = {activation_max},\n}};\n"
        )
        .unwrap();
        let input_pointer = self.activation(input, "const int8_t")?;
        let output_pointer = self.activation(output, "int8_t")?;
        if average && context.kernel == Kernel::AveragePool {
            let sums = self.scratch(context, 0)?.offset;
            writeln!(
                self.calls,
                "    if (dmo_average_pool_int8_cmsis_order(\"{name}\", &{name}_params, {input_pointer}, {output_pointer},\n        \
                 (int32_t *)(dmo_arena + {sums})) != 0) {{\n        \
                 return dmo_bad_params(\"{name}: an average-pool window lies wholly in the padding\");\n    }}"
            )
            .unwrap();
        } else if average {
            writeln!(
                self.calls,
                "    if (dmo_average_pool_int8(\"{name}\", &{name}_params, {input_pointer}, {output_pointer}) != 0) {{\n        \
                 return dmo_bad_params(\"{name}: an average-pool window lies wholly in the padding\");\n    }}"
            )
            .unwrap();
        } else {
            writeln!(
                self.calls,
                "    dmo_max_pool_int8(\"{name}\", &{name}_params, {input_pointer}, {output_pointer});"
            )
            .unwrap();
        }
        Ok(())
    }

    /// The two int8 activation inputs, the output and the fused activation
    /// of ADD or MUL; `verb` says what the kernel does to them.
    pub(super) fn binary_activations(
        &self,
        context: &OperatorContext<'_>,
        verb: &str,
    ) -> Result<(usize, usize, usize, FusedActivation), GenerateError> {
        let OperatorOptions::Elementwise { activation } = context.operator.options else {
            return Err((context.unsupported)("options are missing".into()));
        };
        let input1 = self.input(context, 0)?;
        let input2 = self.input(context, 1)?;
        let output = self.output(context)?;
        for (tensor, role) in [(input1, "input1"), (input2, "input2"), (output, "output")] {
            self.require_type(tensor, TensorType::Int8, role)?;
            if self.tensor_offsets[tensor].is_none() {
                return Err((context.unsupported)(format!(
                    "{role} is constant; the kernel {verb} two activation tensors"
                )));
            }
        }
        Ok((input1, input2, output, activation))
    }

    fn add(&mut self, context: &OperatorContext<'_>) -> Result<(), GenerateError> {
        let (input1, input2, output, activation) = self.binary_activations(context, "adds")?;
        let output_shape = padded_shape4(&self.model.tensors[output].shape)
            .ok_or_else(|| (context.unsupported)("output has more than 4 dimensions".into()))?;
        let mut shapes = [[0u32; 4]; 2];
        for (slot, tensor) in [input1, input2].into_iter().enumerate() {
            let shape = padded_shape4(&self.model.tensors[tensor].shape)
                .ok_or_else(|| (context.unsupported)("input has more than 4 dimensions".into()))?;
            if shape
                .iter()
                .zip(&output_shape)
                .any(|(&d, &o)| d != 1 && d != o)
            {
                return Err((context.unsupported)(format!(
                    "input shape {shape:?} does not broadcast to {output_shape:?}"
                )));
            }
            shapes[slot] = shape;
        }
        let [affine1, affine2, output_affine] = [
            self.affine(input1)?,
            self.affine(input2)?,
            self.affine(output)?,
        ];
        let scaling = add_scaling(affine1.scale, affine2.scale, output_affine.scale);
        let (activation_min, activation_max) =
            self.activation_range(context, activation, &output_affine)?;
        let name = context.name;
        let [a, b] = shapes;
        writeln!(
            self.parameter_definitions,
            "static const dmo_add_params {name}_params = {{\n    \
             .input1 = {{{}, {}, {}, {}}}, .input2 = {{{}, {}, {}, {}}},\n    \
             .left_shift = {},\n    \
             .input1_offset = {}, .input1_multiplier = {}, .input1_shift = {},\n    \
             .input2_offset = {}, .input2_multiplier = {}, .input2_shift = {},\n    \
             .output_offset = {}, .output_multiplier = {}, .output_shift = {},\n    \
             .activation_min = {activation_min}, .activation_max = {activation_max},\n}};\n",
            a[0],
            a[1],
            a[2],
            a[3],
            b[0],
            b[1],
            b[2],
            b[3],
            scaling.left_shift,
            -affine1.zero_point,
            scaling.input1.multiplier,
            scaling.input1.shift,
            -affine2.zero_point,
            scaling.input2.multiplier,
            scaling.input2.shift,
            output_affine.zero_point,
            scaling.output.multiplier,
            scaling.output.shift,
        )
        .unwrap();
        let first = self.activation(input1, "const int8_t")?;
        let second = self.activation(input2, "const int8_t")?;
        let output_pointer = self.activation(output, "int8_t")?;
        if context.kernel == Kernel::Add {
            writeln!(
                self.calls,
                "    if (dmo_add_cmsis_problem(&{name}_params) != NULL) {{\n        \
                 return dmo_bad_params(dmo_add_cmsis_problem(&{name}_params));\n    }}\n    \
                 dmo_add_int8_cmsis_order(\"{name}\", &{name}_params, {first}, {second}, {output_pointer});"
            )
            .unwrap();
        } else {
            writeln!(
                self.calls,
                "    dmo_add_int8(\"{name}\", &{name}_params, {first}, {second}, {output_pointer});"
            )
            .unwrap();
        }
        Ok(())
    }

    fn softmax(&mut self, context: &OperatorContext<'_>) -> Result<(), GenerateError> {
        let OperatorOptions::Softmax { beta } = context.operator.options else {
            return Err((context.unsupported)("options are missing".into()));
        };
        let input = self.input(context, 0)?;
        let output = self.output(context)?;
        self.require_type(input, TensorType::Int8, "input")?;
        let output_affine = self.affine(output)?;
        // TFLM's int8-input SOFTMAX requires these output quantisations
        // (softmax_common.cc: int16 within 0.1% of 1/65536).
        let int16_output = self.model.tensors[output].element_type == TensorType::Int16;
        if int16_output {
            if output_affine.zero_point != -32768
                || (output_affine.scale - 1.0 / 65536.0).abs() >= 0.001 / 65536.0
            {
                return Err((context.unsupported)(format!(
                    "output scale {} zero point {}: int16 SOFTMAX needs 1/65536 and -32768",
                    output_affine.scale, output_affine.zero_point
                )));
            }
        } else {
            self.require_type(output, TensorType::Int8, "output")?;
            if output_affine.zero_point != -128 || output_affine.scale != 1.0 / 256.0 {
                return Err((context.unsupported)(format!(
                    "output scale {} zero point {}: int8 SOFTMAX needs 1/256 and -128",
                    output_affine.scale, output_affine.zero_point
                )));
            }
        }
        let shape = &self.model.tensors[input].shape;
        let depth = *shape
            .last()
            .filter(|&&d| d > 0)
            .ok_or_else(|| (context.unsupported)(format!("input shape {shape:?}")))?
            as u64;
        let rows = self.tensor_bytes(input)? / depth;
        let scaling = softmax_scaling(beta, self.affine(input)?.scale);
        let name = context.name;
        writeln!(
            self.parameter_definitions,
            "static const dmo_softmax_params {name}_params = {{\n    \
             .rows = {rows}, .depth = {depth},\n    \
             .input_multiplier = {}, .input_left_shift = {}, .diff_min = {},\n}};\n",
            scaling.input_multiplier, scaling.input_left_shift, scaling.diff_min
        )
        .unwrap();
        let input_pointer = self.activation(input, "const int8_t")?;
        let (function, output_type) = if int16_output {
            ("dmo_softmax_int8_int16", "int16_t")
        } else {
            ("dmo_softmax_int8", "int8_t")
        };
        let output_pointer = self.activation(output, output_type)?;
        writeln!(
            self.calls,
            "    {function}(\"{name}\", &{name}_params, {input_pointer}, {output_pointer});"
        )
        .unwrap();
        Ok(())
    }

    fn reshape(&mut self, context: &OperatorContext<'_>) -> Result<(), GenerateError> {
        let input = self.input(context, 0)?;
        let output = self.output(context)?;
        let bytes = self.tensor_bytes(input)?;
        if bytes != self.tensor_bytes(output)? {
            return Err((context.unsupported)(format!(
                "input of {bytes} bytes, output of {}",
                self.tensor_bytes(output)?
            )));
        }
        let input_pointer = self.activation(input, "const void")?;
        let output_pointer = self.activation(output, "void")?;
        let name = context.name;
        writeln!(
            self.calls,
            "    dmo_reshape(\"{name}\", {input_pointer}, {output_pointer}, {bytes});"
        )
        .unwrap();
        Ok(())
    }

    fn pad(&mut self, context: &OperatorContext<'_>) -> Result<(), GenerateError> {
        let input = self.input(context, 0)?;
        let paddings = self.input(context, 1)?;
        let output = self.output(context)?;
        self.require_type(input, TensorType::Int8, "input")?;
        self.require_type(output, TensorType::Int8, "output")?;
        let input_shape = padded_shape4(&self.model.tensors[input].shape)
            .ok_or_else(|| (context.unsupported)("input has more than 4 dimensions".into()))?;
        let rank = self.model.tensors[input].shape.len();
        let values = self.model.tensors[paddings]
            .integer_values
            .clone()
            .filter(|values| {
                values.len() == 2 * rank && values.iter().all(|&v| (0..=4095).contains(&v))
            })
            .ok_or_else(|| {
                (context.unsupported)(
                    "paddings must be a constant [rank, 2] tensor of 0..4095".into(),
                )
            })?;
        let mut before = [0u32; 4];
        let mut after = [0u32; 4];
        for dimension in 0..rank {
            before[4 - rank + dimension] = values[2 * dimension] as u32;
            after[4 - rank + dimension] = values[2 * dimension + 1] as u32;
        }
        let expected: Vec<u32> = (0..4)
            .map(|d| before[d] + input_shape[d] + after[d])
            .collect();
        let output_shape = padded_shape4(&self.model.tensors[output].shape);
        if output_shape.map(|s| s.to_vec()) != Some(expected.clone()) {
            return Err((context.unsupported)(format!(
                "output shape {:?} differs from the padded input {expected:?}",
                self.model.tensors[output].shape
            )));
        }
        // TFLM's PAD fills with the output zero point when the model gives no value.
        let pad_value = self.affine(output)?.zero_point;
        let name = context.name;
        let shape = |s: [u32; 4]| format!("{{{}, {}, {}, {}}}", s[0], s[1], s[2], s[3]);
        writeln!(
            self.parameter_definitions,
            "static const dmo_pad_params {name}_params = {{\n    \
             .input = {}, .before = {}, .after = {}, .pad_value = {pad_value},\n}};\n",
            shape(input_shape),
            shape(before),
            shape(after)
        )
        .unwrap();
        let input_pointer = self.activation(input, "const int8_t")?;
        let output_pointer = self.activation(output, "int8_t")?;
        writeln!(
            self.calls,
            "    dmo_pad_int8(\"{name}\", &{name}_params, {input_pointer}, {output_pointer});"
        )
        .unwrap();
        Ok(())
    }

    /// TFLM's int8 MEAN: resolved axes (as reference_ops::ResolveAxis), the multiplier, shift
    /// and zero points its Prepare stores, and its temp-sum scratch buffer (first scratch
    /// request).
    fn mean(&mut self, context: &OperatorContext<'_>) -> Result<(), GenerateError> {
        let OperatorOptions::Reducer { keep_dims } = context.operator.options else {
            return Err((context.unsupported)("options are missing".into()));
        };
        let input = self.input(context, 0)?;
        let axis = self.input(context, 1)?;
        let output = self.output(context)?;
        self.require_type(input, TensorType::Int8, "input")?;
        self.require_type(output, TensorType::Int8, "output")?;
        self.require_type(axis, TensorType::Int32, "axis")?;
        let input_shape = &self.model.tensors[input].shape;
        let rank = input_shape.len();
        if !(1..=5).contains(&rank) || input_shape.iter().any(|&d| d <= 0) {
            return Err((context.unsupported)(format!(
                "input shape {input_shape:?}; the kernel takes rank 1 to 5 with positive dimensions"
            )));
        }
        let requested = self.model.tensors[axis]
            .integer_values
            .clone()
            .filter(|_| self.model.tensors[axis].is_constant)
            .ok_or_else(|| (context.unsupported)("axis must be a constant int32 tensor".into()))?;
        // reference_ops::ResolveAxis: negative axes count from the end, duplicates drop.
        let mut axes: Vec<u32> = Vec::new();
        for &value in &requested {
            let resolved = if value < 0 {
                value + rank as i64
            } else {
                value
            };
            if !(0..rank as i64).contains(&resolved) {
                return Err((context.unsupported)(format!(
                    "axis {value} is out of range for rank {rank}"
                )));
            }
            if !axes.contains(&(resolved as u32)) {
                axes.push(resolved as u32);
            }
        }
        if axes.is_empty() {
            // TFLite then copies the input unchanged (ReduceIsCopy), a path not checked here.
            return Err((context.unsupported)(
                "the axis tensor is empty; the kernel needs one or two axes".into(),
            ));
        }
        if axes.len() > 2 {
            return Err((context.unsupported)(format!(
                "axes {requested:?} reduce {} dimensions; TFLM's MEAN resolves at most 2",
                axes.len()
            )));
        }
        let reduced = |dimension: usize| axes.contains(&(dimension as u32));
        let expected_shape: Vec<i32> = (0..rank)
            .filter(|&d| keep_dims || !reduced(d))
            .map(|d| if reduced(d) { 1 } else { input_shape[d] })
            .collect();
        let output_shape = &self.model.tensors[output].shape;
        let elements = |shape: &[i32]| shape.iter().map(|&d| d as i64).product::<i64>();
        if elements(output_shape) != elements(&expected_shape) {
            return Err((context.unsupported)(format!(
                "output shape {output_shape:?} does not hold the mean's {expected_shape:?}"
            )));
        }
        let [input_affine, output_affine] = [self.affine(input)?, self.affine(output)?];
        for (affine, role) in [(&input_affine, "input"), (&output_affine, "output")] {
            if !(affine.scale.is_finite() && affine.scale > 0.0) {
                return Err((context.unsupported)(format!(
                    "{role} scale {} is not a positive number",
                    affine.scale
                )));
            }
        }
        // PrepareSimple: QuantizeMultiplier(double(input scale) / double(output scale)).
        let scaling = quantize_multiplier(input_affine.scale as f64 / output_affine.scale as f64);
        let temp_sum_offset = self.scratch(context, 0)?.offset;
        let list = |values: &mut dyn Iterator<Item = String>| values.collect::<Vec<_>>().join(", ");
        let name = context.name;
        writeln!(
            self.parameter_definitions,
            "static const dmo_mean_params {name}_params = {{\n    \
             .rank = {rank}, .dims = {{{}}},\n    \
             .axis_count = {}, .axes = {{{}}},\n    \
             .multiplier = {}, .shift = {},\n    \
             .input_zero_point = {}, .output_zero_point = {},\n}};\n",
            list(&mut input_shape.iter().map(|d| d.to_string())),
            axes.len(),
            list(&mut axes.iter().map(|a| a.to_string())),
            scaling.multiplier,
            scaling.shift,
            input_affine.zero_point,
            output_affine.zero_point,
        )
        .unwrap();
        let input_pointer = self.activation(input, "const int8_t")?;
        let output_pointer = self.activation(output, "int8_t")?;
        writeln!(
            self.calls,
            "    dmo_mean_int8(\"{name}\", &{name}_params, {input_pointer}, {output_pointer},\n        \
             (int32_t *)(dmo_arena + {temp_sum_offset}));"
        )
        .unwrap();
        Ok(())
    }
}

struct OperatorContext<'a> {
    /// The operator's index in the model (scratch buffers are keyed by it).
    index: usize,
    name: &'a str,
    operator: &'a Operator,
    /// The C kernel the family runs it with.
    kernel: Kernel,
    unsupported: &'a dyn Fn(String) -> GenerateError,
}

/// A shape of rank <= 4 with leading 1s up to rank 4 (TFLite's broadcasting rule).
fn padded_shape4(shape: &[i32]) -> Option<[u32; 4]> {
    if shape.len() > 4 || shape.iter().any(|&d| d <= 0) {
        return None;
    }
    let mut padded = [1u32; 4];
    for (slot, &dimension) in padded[4 - shape.len()..].iter_mut().zip(shape) {
        *slot = dimension as u32;
    }
    Some(padded)
}

/// Writes `declaration = { values };`, 16 values a line.
fn write_array(out: &mut String, declaration: &str, values: &[i64]) {
    writeln!(out, "{declaration} = {{").unwrap();
    for line in values.chunks(16) {
        out.push_str("   ");
        for value in line {
            write!(out, " {value},").unwrap();
        }
        out.push('\n');
    }
    out.push_str("};\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_pad_to_rank_four() {
        assert_eq!(padded_shape4(&[5, 3]), Some([1, 1, 5, 3]));
        assert_eq!(padded_shape4(&[1, 2, 3, 4, 5]), None);
    }
}
