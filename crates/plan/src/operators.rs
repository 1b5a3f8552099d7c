//! Turns a `.tflite` operator into a `dmo_ops::OpDescription`, whose models
//! give the safe input/output overlaps. Operators dmo-ops cannot describe get
//! a reason instead, and are planned with no overlap.

use dmo_ops::{
    Conv2dParams, DepthwiseConv2dParams, ElementType, ElementwiseBinaryParams,
    FullyConnectedParams, OpDescription, OpKind, OpParams, Padding, Pool2dParams, TensorShape,
    Window,
};
use dmo_tflite::{BuiltinCode, Model, OperatorOptions, TensorType};

/// An operator as dmo-ops sees it, and which tensor each of its activation
/// inputs and its output are.
pub struct DescribedOperator {
    pub description: OpDescription,
    /// Tensor index of `description.inputs()[i]`.
    pub input_tensors: Vec<usize>,
    pub output_tensor: usize,
}

fn element_type(t: TensorType) -> Result<ElementType, String> {
    match t {
        TensorType::Int8 => Ok(ElementType::Int8),
        TensorType::Int16 => Ok(ElementType::Int16),
        TensorType::Int32 => Ok(ElementType::Int32),
        TensorType::Float32 => Ok(ElementType::Float32),
        other => Err(format!("element type {} is not modelled", other.name())),
    }
}

fn shape(model: &Model, tensor: usize) -> Result<TensorShape, String> {
    let t = &model.tensors[tensor];
    let dims = t
        .shape
        .iter()
        .map(|&d| {
            usize::try_from(d).map_err(|_| format!("tensor {tensor} has dynamic dimension {d}"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(TensorShape::new(dims, element_type(t.element_type)?))
}

fn padding(p: dmo_tflite::Padding) -> Padding {
    match p {
        dmo_tflite::Padding::Same => Padding::Same,
        dmo_tflite::Padding::Valid => Padding::Valid,
    }
}

fn positive(value: i32, what: &str) -> Result<usize, String> {
    if value >= 1 {
        Ok(value as usize)
    } else {
        Err(format!("{what} {value} is not positive"))
    }
}

/// Describes operator `index` of `model` for dmo-ops, or says why not.
pub fn describe(model: &Model, index: usize) -> Result<DescribedOperator, String> {
    let operator = &model.operators[index];
    let code = operator
        .builtin()
        .ok_or_else(|| format!("custom operator {}", operator.code))?;
    let input = |slot: usize| -> Result<usize, String> {
        operator
            .inputs
            .get(slot)
            .copied()
            .flatten()
            .ok_or_else(|| format!("{code} lacks input {slot}"))
    };
    let output_tensor = match operator.outputs.as_slice() {
        [single] => *single,
        other => {
            return Err(format!(
                "{code} has {} outputs; only single-output operators are modelled",
                other.len()
            ))
        }
    };
    let output = shape(model, output_tensor)?;
    let filter_dims =
        |slot: usize| -> Result<Vec<i32>, String> { Ok(model.tensors[input(slot)?].shape.clone()) };
    let one_input = |description: Result<OpDescription, dmo_ops::OpError>| -> Result<DescribedOperator, String> {
        Ok(DescribedOperator {
            description: description.map_err(|e| e.to_string())?,
            input_tensors: vec![input(0)?],
            output_tensor,
        })
    };
    match (code, &operator.options) {
        (
            BuiltinCode::CONV_2D,
            OperatorOptions::Conv2D {
                padding: p,
                stride_w,
                stride_h,
                dilation_w,
                dilation_h,
                ..
            },
        ) => {
            let filter = filter_dims(1)?;
            if filter.len() != 4 {
                return Err(format!("filter shape {filter:?} is not 4-D"));
            }
            let window = Window {
                filter_height: positive(filter[1], "filter height")?,
                filter_width: positive(filter[2], "filter width")?,
                stride_height: positive(*stride_h, "stride")?,
                stride_width: positive(*stride_w, "stride")?,
                dilation_height: positive(*dilation_h, "dilation")?,
                dilation_width: positive(*dilation_w, "dilation")?,
                padding: padding(*p),
            };
            one_input(OpDescription::conv2d(Conv2dParams {
                input: shape(model, input(0)?)?,
                output,
                window,
                filter_input_channels: Some(positive(filter[3], "filter input channels")?),
            }))
        }
        (
            BuiltinCode::DEPTHWISE_CONV_2D,
            OperatorOptions::DepthwiseConv2D {
                padding: p,
                stride_w,
                stride_h,
                dilation_w,
                dilation_h,
                depth_multiplier,
                ..
            },
        ) => {
            let filter = filter_dims(1)?;
            if filter.len() != 4 {
                return Err(format!("filter shape {filter:?} is not 4-D"));
            }
            let window = Window {
                filter_height: positive(filter[1], "filter height")?,
                filter_width: positive(filter[2], "filter width")?,
                stride_height: positive(*stride_h, "stride")?,
                stride_width: positive(*stride_w, "stride")?,
                dilation_height: positive(*dilation_h, "dilation")?,
                dilation_width: positive(*dilation_w, "dilation")?,
                padding: padding(*p),
            };
            one_input(OpDescription::depthwise_conv2d(DepthwiseConv2dParams {
                input: shape(model, input(0)?)?,
                output,
                window,
                depth_multiplier: positive(*depth_multiplier, "depth multiplier")?,
            }))
        }
        (BuiltinCode::FULLY_CONNECTED, _) => {
            let weights = filter_dims(1)?;
            let depth = *weights.last().ok_or("weights have no dimensions")?;
            one_input(OpDescription::fully_connected(FullyConnectedParams {
                input: shape(model, input(0)?)?,
                output,
                accumulation_depth: positive(depth, "accumulation depth")?,
            }))
        }
        (
            BuiltinCode::AVERAGE_POOL_2D | BuiltinCode::MAX_POOL_2D,
            OperatorOptions::Pool2D {
                padding: p,
                stride_w,
                stride_h,
                filter_w,
                filter_h,
                ..
            },
        ) => {
            let params = Pool2dParams {
                input: shape(model, input(0)?)?,
                output,
                window: Window {
                    filter_height: positive(*filter_h, "filter height")?,
                    filter_width: positive(*filter_w, "filter width")?,
                    stride_height: positive(*stride_h, "stride")?,
                    stride_width: positive(*stride_w, "stride")?,
                    dilation_height: 1,
                    dilation_width: 1,
                    padding: padding(*p),
                },
            };
            one_input(if code == BuiltinCode::AVERAGE_POOL_2D {
                OpDescription::average_pool2d(params)
            } else {
                OpDescription::max_pool2d(params)
            })
        }
        (BuiltinCode::ADD | BuiltinCode::MUL, _) => {
            let params = ElementwiseBinaryParams {
                input1: shape(model, input(0)?)?,
                input2: shape(model, input(1)?)?,
                output,
            };
            let description = if code == BuiltinCode::ADD {
                OpDescription::add(params)
            } else {
                OpDescription::mul(params)
            };
            Ok(DescribedOperator {
                description: description.map_err(|e| e.to_string())?,
                input_tensors: vec![input(0)?, input(1)?],
                output_tensor,
            })
        }
        (BuiltinCode::SOFTMAX, _) => {
            let input_shape = shape(model, input(0)?)?;
            let axis = input_shape.rank().saturating_sub(1);
            one_input(OpDescription::softmax(input_shape, output, axis))
        }
        (BuiltinCode::RESHAPE, _) => {
            one_input(OpDescription::reshape(shape(model, input(0)?)?, output))
        }
        (BuiltinCode::PAD, _) => {
            let values = constant_integers(model, input(1)?)?;
            let paddings = values
                .chunks_exact(2)
                .map(|pair| Ok((non_negative(pair[0])?, non_negative(pair[1])?)))
                .collect::<Result<Vec<_>, String>>()?;
            one_input(OpDescription::pad(
                shape(model, input(0)?)?,
                output,
                paddings,
            ))
        }
        (BuiltinCode::CONCATENATION, OperatorOptions::Concatenation { axis, .. }) => {
            let tensors: Vec<usize> = operator.present_inputs().collect();
            let shapes = tensors
                .iter()
                .map(|&t| shape(model, t))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(DescribedOperator {
                description: OpDescription::concatenation(shapes, output, *axis as i64)
                    .map_err(|e| e.to_string())?,
                input_tensors: tensors,
                output_tensor,
            })
        }
        (BuiltinCode::MEAN, OperatorOptions::Reducer { keep_dims }) => {
            let axes = constant_integers(model, input(1)?)?;
            one_input(OpDescription::mean(
                shape(model, input(0)?)?,
                output,
                &axes,
                *keep_dims,
            ))
        }
        (
            BuiltinCode::QUANTIZE
            | BuiltinCode::DEQUANTIZE
            | BuiltinCode::LOGISTIC
            | BuiltinCode::TANH
            | BuiltinCode::RELU
            | BuiltinCode::RELU6,
            _,
        ) => {
            let kind = OpKind::from_tflite_name(code.name().unwrap_or_default())
                .ok_or_else(|| format!("{code} is not known to dmo-ops"))?;
            one_input(OpDescription::elementwise_unary(
                kind,
                shape(model, input(0)?)?,
                output,
            ))
        }
        _ => Err(format!("{code} has no memory model")),
    }
}

/// Accesses a simulation may walk at most; a model whose layers need more
/// (far beyond any MCU's memory) is planned without overlaps for them
/// instead of running for minutes.
pub const MAX_SIMULATED_ACCESSES: u128 = 200_000_000;

/// An upper estimate of the reads and writes `simulate` walks for `op`.
pub fn simulation_work(op: &OpDescription) -> u128 {
    let output = op.output().elements() as u128;
    let inputs: u128 = op.inputs().iter().map(|i| i.elements() as u128).sum();
    let per_output = match op.params() {
        OpParams::Conv2d {
            window,
            filter_input_channels,
        } => {
            (window.window.filter_height * window.window.filter_width * filter_input_channels)
                as u128
        }
        OpParams::DepthwiseConv2d { window, .. } | OpParams::Pool2d { window } => {
            (window.window.filter_height * window.window.filter_width) as u128
        }
        OpParams::FullyConnected { accumulation_depth } => *accumulation_depth as u128,
        _ => 3,
    };
    output
        .saturating_mul(per_output + 1)
        .saturating_add(3 * inputs)
}

fn constant_integers(model: &Model, tensor: usize) -> Result<Vec<i64>, String> {
    model.tensors[tensor]
        .integer_values
        .clone()
        .ok_or_else(|| format!("tensor {tensor} is not a small constant integer tensor"))
}

fn non_negative(value: i64) -> Result<usize, String> {
    usize::try_from(value).map_err(|_| format!("negative padding {value}"))
}
