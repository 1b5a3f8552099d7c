//! A `.tflite` operator as an [`OperatorSpec`]: the only code that reads a
//! model's operator options for their memory behaviour. `dmo plan`,
//! `dmo firmware` and `dmo compare` all describe operators through
//! [`describe_tflite_operator`]; operators it cannot describe get a typed
//! reason and are planned with no overlap.

use crate::description::{OpDescription, OpError, OpKind, SliceSpec, Window};
use crate::padding::Padding;
use crate::registry::OperatorSpec;
use crate::shape::{ElementType, TensorShape};
use dmo_tflite::{BuiltinCode, Model, OperatorOptions, TensorType};
use thiserror::Error;

/// A model operator as dmo-ops sees it, and which tensor each of its
/// activation inputs and its output are.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct TfliteOperator {
    pub description: OpDescription,
    /// Tensor index of `description.inputs()[i]`.
    pub input_tensors: Vec<usize>,
    pub output_tensor: usize,
    /// The filter or weights tensor of a convolution or FULLY_CONNECTED.
    pub weights_tensor: Option<usize>,
}

/// Why an operator has no description.
#[derive(Clone, PartialEq, Eq, Debug, Error)]
pub enum DescribeError {
    #[error("custom operator {0}")]
    Custom(String),
    #[error("{0} has no memory model")]
    NoModel(String),
    #[error("{kind} lacks input {slot}")]
    MissingInput { kind: OpKind, slot: usize },
    #[error("{kind} has {count} outputs; only single-output operators are modelled")]
    Outputs { kind: OpKind, count: usize },
    #[error("{kind}: options are missing")]
    MissingOptions { kind: OpKind },
    #[error("tensor {tensor} has dynamic dimension {dimension}")]
    DynamicDimension { tensor: usize, dimension: i32 },
    #[error("element type {0} is not modelled")]
    ElementType(String),
    #[error("{what} {value} is not positive")]
    NotPositive { what: &'static str, value: i64 },
    #[error("{kind}: filter shape {shape:?} {problem}")]
    Filter {
        kind: OpKind,
        shape: Vec<i32>,
        problem: &'static str,
    },
    #[error("tensor {0} is not a small constant integer tensor")]
    NotConstantIntegers(usize),
    #[error("{kind}: {what} (tensor {tensor}) is {element}; TFLM reads it as int32")]
    NotInt32 {
        kind: OpKind,
        what: &'static str,
        tensor: usize,
        element: String,
    },
    #[error("negative padding {0}")]
    NegativePadding(i64),
    #[error(transparent)]
    Invalid(#[from] OpError),
}

fn element_type(t: TensorType) -> Result<ElementType, DescribeError> {
    match t {
        TensorType::Int8 => Ok(ElementType::Int8),
        TensorType::Int16 => Ok(ElementType::Int16),
        TensorType::Int32 => Ok(ElementType::Int32),
        TensorType::Float32 => Ok(ElementType::Float32),
        other => Err(DescribeError::ElementType(other.name())),
    }
}

/// The shape of tensor `tensor` as dmo-ops types it.
pub fn tensor_shape(model: &Model, tensor: usize) -> Result<TensorShape, DescribeError> {
    let t = &model.tensors[tensor];
    let dims = t
        .shape
        .iter()
        .map(|&d| {
            usize::try_from(d).map_err(|_| DescribeError::DynamicDimension {
                tensor,
                dimension: d,
            })
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

fn positive(value: i32, what: &'static str) -> Result<usize, DescribeError> {
    if value >= 1 {
        Ok(value as usize)
    } else {
        Err(DescribeError::NotPositive {
            what,
            value: value.into(),
        })
    }
}

/// The operator kind of a builtin code, if dmo-ops knows it.
pub fn kind_of(code: BuiltinCode) -> Option<OpKind> {
    OpKind::from_tflite_name(code.name()?)
}

/// Describes operator `index` of `model` (subgraph 0), or says why not.
pub fn describe_tflite_operator(
    model: &Model,
    index: usize,
) -> Result<TfliteOperator, DescribeError> {
    let operator = &model.operators[index];
    let code = operator
        .builtin()
        .ok_or_else(|| DescribeError::Custom(operator.code.to_string()))?;
    let kind = kind_of(code).ok_or_else(|| DescribeError::NoModel(code.to_string()))?;
    let input = |slot: usize| -> Result<usize, DescribeError> {
        operator
            .inputs
            .get(slot)
            .copied()
            .flatten()
            .ok_or(DescribeError::MissingInput { kind, slot })
    };
    let output_tensor = match operator.outputs.as_slice() {
        [single] => *single,
        other => {
            return Err(DescribeError::Outputs {
                kind,
                count: other.len(),
            })
        }
    };
    let output = tensor_shape(model, output_tensor)?;
    // The filter of a convolution: [out, h, w, in] (depthwise: [1, h, w, out]).
    let filter = |slot: usize| -> Result<Vec<i32>, DescribeError> {
        let shape = model.tensors[input(slot)?].shape.clone();
        if shape.len() != 4 {
            return Err(DescribeError::Filter {
                kind,
                shape,
                problem: "is not 4-D",
            });
        }
        Ok(shape)
    };
    let mut weights_tensor = None;
    let (activation_slots, spec): (Vec<usize>, OperatorSpec) = match (code, &operator.options) {
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
        )
        | (
            BuiltinCode::DEPTHWISE_CONV_2D,
            OperatorOptions::DepthwiseConv2D {
                padding: p,
                stride_w,
                stride_h,
                dilation_w,
                dilation_h,
                ..
            },
        ) => {
            let filter = filter(1)?;
            weights_tensor = Some(input(1)?);
            let window = Window {
                filter_height: positive(filter[1], "filter height")?,
                filter_width: positive(filter[2], "filter width")?,
                stride_height: positive(*stride_h, "stride")?,
                stride_width: positive(*stride_w, "stride")?,
                dilation_height: positive(*dilation_h, "dilation")?,
                dilation_width: positive(*dilation_w, "dilation")?,
                padding: padding(*p),
            };
            let output_channels = output.dims().last().copied().unwrap_or(0);
            let mut spec = OperatorSpec::new(kind, vec![tensor_shape(model, input(0)?)?], output);
            spec.window = Some(window);
            if let OperatorOptions::DepthwiseConv2D {
                depth_multiplier, ..
            } = &operator.options
            {
                // TFLM checks the filter's channels against the output's.
                if usize::try_from(filter[3]) != Ok(output_channels) {
                    return Err(DescribeError::Filter {
                        kind,
                        shape: filter,
                        problem: "does not end in the output's channels",
                    });
                }
                spec.depth_multiplier = Some(positive(*depth_multiplier, "depth multiplier")?);
            } else {
                if usize::try_from(filter[0]) != Ok(output_channels) {
                    return Err(DescribeError::Filter {
                        kind,
                        shape: filter,
                        problem: "does not start with the output's channels",
                    });
                }
                spec.filter_input_channels = Some(positive(filter[3], "filter input channels")?);
            }
            (vec![0], spec)
        }
        (BuiltinCode::CONV_2D | BuiltinCode::DEPTHWISE_CONV_2D, _) => {
            return Err(DescribeError::MissingOptions { kind })
        }
        (BuiltinCode::FULLY_CONNECTED, _) => {
            weights_tensor = Some(input(1)?);
            let weights = model.tensors[input(1)?].shape.clone();
            let depth = *weights.last().ok_or(DescribeError::Filter {
                kind,
                shape: weights.clone(),
                problem: "has no dimensions",
            })?;
            let mut spec = OperatorSpec::new(kind, vec![tensor_shape(model, input(0)?)?], output);
            spec.accumulation_depth = Some(positive(depth, "accumulation depth")?);
            (vec![0], spec)
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
            let mut spec = OperatorSpec::new(kind, vec![tensor_shape(model, input(0)?)?], output);
            spec.window = Some(Window {
                filter_height: positive(*filter_h, "filter height")?,
                filter_width: positive(*filter_w, "filter width")?,
                stride_height: positive(*stride_h, "stride")?,
                stride_width: positive(*stride_w, "stride")?,
                dilation_height: 1,
                dilation_width: 1,
                padding: padding(*p),
            });
            (vec![0], spec)
        }
        (BuiltinCode::AVERAGE_POOL_2D | BuiltinCode::MAX_POOL_2D, _) => {
            return Err(DescribeError::MissingOptions { kind })
        }
        (BuiltinCode::ADD | BuiltinCode::MUL, _) => {
            let inputs = vec![
                tensor_shape(model, input(0)?)?,
                tensor_shape(model, input(1)?)?,
            ];
            (vec![0, 1], OperatorSpec::new(kind, inputs, output))
        }
        (BuiltinCode::PAD, _) => {
            let values = constant_integers(model, input(1)?)?;
            let paddings = values
                .chunks_exact(2)
                .map(|pair| Ok((non_negative(pair[0])?, non_negative(pair[1])?)))
                .collect::<Result<Vec<_>, DescribeError>>()?;
            let mut spec = OperatorSpec::new(kind, vec![tensor_shape(model, input(0)?)?], output);
            spec.paddings = Some(paddings);
            (vec![0], spec)
        }
        (BuiltinCode::TRANSPOSE, _) => {
            let perm = constant_integers(model, input(1)?)?
                .into_iter()
                .map(non_negative)
                .collect::<Result<Vec<_>, DescribeError>>()?;
            let mut spec = OperatorSpec::new(kind, vec![tensor_shape(model, input(0)?)?], output);
            spec.perm = Some(perm);
            (vec![0], spec)
        }
        (BuiltinCode::STRIDED_SLICE, _) => {
            let mut spec = OperatorSpec::new(kind, vec![tensor_shape(model, input(0)?)?], output);
            spec.slice = Some(slice_spec(model, index)?);
            (vec![0], spec)
        }
        (BuiltinCode::CONCATENATION, OperatorOptions::Concatenation { axis, .. }) => {
            let slots: Vec<usize> = (0..operator.inputs.len())
                .filter(|&slot| operator.inputs[slot].is_some())
                .collect();
            let shapes = slots
                .iter()
                .map(|&slot| tensor_shape(model, input(slot)?))
                .collect::<Result<Vec<_>, _>>()?;
            let mut spec = OperatorSpec::new(kind, shapes, output);
            spec.axis = Some(i64::from(*axis));
            (slots, spec)
        }
        (BuiltinCode::CONCATENATION, _) => return Err(DescribeError::MissingOptions { kind }),
        (BuiltinCode::MEAN, OperatorOptions::Reducer { keep_dims }) => {
            let mut spec = OperatorSpec::new(kind, vec![tensor_shape(model, input(0)?)?], output);
            spec.axes = Some(constant_integers(model, input(1)?)?);
            spec.keep_dims = *keep_dims;
            (vec![0], spec)
        }
        (BuiltinCode::MEAN, _) => return Err(DescribeError::MissingOptions { kind }),
        (BuiltinCode::SVDF, OperatorOptions::Svdf { rank, .. }) => {
            // Inputs: input, weights_feature [filters, input_size], weights_time,
            // bias, state (a variable tensor: persistent, not an activation).
            weights_tensor = Some(input(1)?);
            let weights = model.tensors[input(1)?].shape.clone();
            let filters = *weights.first().ok_or(DescribeError::Filter {
                kind,
                shape: weights.clone(),
                problem: "has no dimensions",
            })?;
            let mut spec = OperatorSpec::new(kind, vec![tensor_shape(model, input(0)?)?], output);
            spec.filters = Some(positive(filters, "SVDF filters")?);
            spec.rank = Some(positive(*rank, "SVDF rank")?);
            (vec![0], spec)
        }
        (BuiltinCode::SVDF, _) => return Err(DescribeError::MissingOptions { kind }),
        (
            BuiltinCode::UNIDIRECTIONAL_SEQUENCE_LSTM,
            OperatorOptions::UnidirectionalSequenceLstm { time_major, .. },
        ) => {
            // Input 0 is the sequence; the weights (1..=8), biases (12..=15) and the
            // hidden and cell states (18, 19: variable tensors) are not activations.
            weights_tensor = Some(input(2)?);
            let mut spec = OperatorSpec::new(kind, vec![tensor_shape(model, input(0)?)?], output);
            spec.time_major = *time_major;
            (vec![0], spec)
        }
        (BuiltinCode::UNIDIRECTIONAL_SEQUENCE_LSTM, _) => {
            return Err(DescribeError::MissingOptions { kind })
        }
        // SOFTMAX (over the last axis), RESHAPE and the unary elementwise kinds.
        _ => (
            vec![0],
            OperatorSpec::new(kind, vec![tensor_shape(model, input(0)?)?], output),
        ),
    };
    let input_tensors = activation_slots
        .iter()
        .map(|&slot| input(slot))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(TfliteOperator {
        description: spec.describe()?,
        input_tensors,
        output_tensor,
        weights_tensor,
    })
}

/// What TFLM's micro kernel takes from STRIDED_SLICE operator `index` (`StridedSlicePrepare`):
/// begin, end and strides as int32 constants, and the begin, end and shrink-axis masks (16 bits
/// each, TFLM's `uint16_t` fields). It sets the ellipsis and new-axis masks to 0 and leaves
/// `offset` false whatever the options say; no options table means all 0, as TFLM parses it.
pub fn slice_spec(model: &Model, index: usize) -> Result<SliceSpec, DescribeError> {
    let kind = OpKind::StridedSlice;
    let operator = &model.operators[index];
    let (begin_mask, end_mask, shrink_axis_mask) = match &operator.options {
        OperatorOptions::StridedSlice {
            begin_mask,
            end_mask,
            shrink_axis_mask,
            ..
        } => (*begin_mask, *end_mask, *shrink_axis_mask),
        OperatorOptions::None => (0, 0, 0),
        _ => return Err(DescribeError::MissingOptions { kind }),
    };
    let int32s = |slot: usize, what: &'static str| -> Result<Vec<i64>, DescribeError> {
        let tensor = operator
            .inputs
            .get(slot)
            .copied()
            .flatten()
            .ok_or(DescribeError::MissingInput { kind, slot })?;
        let element = model.tensors[tensor].element_type;
        if element != TensorType::Int32 {
            return Err(DescribeError::NotInt32 {
                kind,
                what,
                tensor,
                element: element.name(),
            });
        }
        constant_integers(model, tensor)
    };
    Ok(SliceSpec {
        begin: int32s(1, "begin")?,
        end: int32s(2, "end")?,
        strides: int32s(3, "strides")?,
        begin_mask: begin_mask as u32 & 0xffff,
        end_mask: end_mask as u32 & 0xffff,
        shrink_axis_mask: shrink_axis_mask as u32 & 0xffff,
    })
}

fn constant_integers(model: &Model, tensor: usize) -> Result<Vec<i64>, DescribeError> {
    model.tensors[tensor]
        .integer_values
        .clone()
        .ok_or(DescribeError::NotConstantIntegers(tensor))
}

fn non_negative(value: i64) -> Result<usize, DescribeError> {
    usize::try_from(value).map_err(|_| DescribeError::NegativePadding(value))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn model(name: &str) -> Model {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../../../shared/models")
            .join(name);
        Model::read(&path).unwrap()
    }

    #[test]
    fn every_person_detect_operator_describes_with_tflites_geometry() {
        let model = model("person_detect.tflite");
        let described: Vec<TfliteOperator> = (0..model.operators.len())
            .map(|index| describe_tflite_operator(&model, index).unwrap())
            .collect();
        assert_eq!(described.len(), 31);
        // Op 0: 3x3 stride-2 SAME depthwise conv on 96x96x1 -> 48x48x8
        // (multiplier 8). Total padding (48-1)*2 + 3 - 96 = 1: TFLite puts
        // the odd one after, so pad_top and pad_left are 0.
        let first = &described[0];
        assert_eq!(first.description.kind(), OpKind::DepthwiseConv2d);
        match first.description.params() {
            crate::OpParams::DepthwiseConv2d {
                window,
                depth_multiplier,
            } => {
                assert_eq!((window.pad_top, window.pad_left), (0, 0));
                assert_eq!(window.window.stride_height, 2);
                assert_eq!(*depth_multiplier, 8);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(first.weights_tensor, model.operators[0].inputs[1]);
        // Op 2 is DESIGN.md's 1x1 conv: 48x48x8 -> 48x48x16.
        assert_eq!(described[2].description.output().bytes(), 36864);
        assert_eq!(described[2].description.inputs()[0].bytes(), 18432);
    }

    #[test]
    fn a_filter_that_does_not_fit_the_output_is_refused() {
        let mut model = model("person_detect.tflite");
        let filter = model.operators[2].inputs[1].unwrap();
        // Control: as shipped it describes.
        assert!(describe_tflite_operator(&model, 2).is_ok());
        model.tensors[filter].shape[0] += 1;
        let error = describe_tflite_operator(&model, 2).unwrap_err();
        assert!(
            matches!(
                error,
                DescribeError::Filter {
                    kind: OpKind::Conv2d,
                    ..
                }
            ),
            "{error}"
        );
        assert!(error.to_string().contains("output's channels"), "{error}");
    }

    #[test]
    fn trained_lstm_int8_describes_its_lstm_batch_major() {
        let model = model("trained_lstm_int8.tflite");
        let lstm = describe_tflite_operator(&model, 0).unwrap();
        // [1, 28, 28] int8 -> [1, 28, 20]: 28 steps of one row, 28 in, 20 cells.
        assert_eq!(lstm.description.kind(), OpKind::UnidirectionalSequenceLstm);
        assert_eq!(
            lstm.description.params(),
            &crate::OpParams::UnidirectionalSequenceLstm { time_major: false }
        );
        assert_eq!(lstm.input_tensors, [0]);
        // Input 2, input-to-forget weights [20, 28]: tensor 14.
        assert_eq!(lstm.weights_tensor, Some(14));
        assert_eq!(lstm.description.output().bytes(), 560);
        // Every operator of the model is described now.
        for index in 0..model.operators.len() {
            describe_tflite_operator(&model, index).unwrap();
        }
        // Control: an operator of a kind dmo-ops does not know is refused by name.
        let mut broken = model.clone();
        broken.operators[0].code =
            dmo_tflite::OperatorCode::Builtin(BuiltinCode::BIDIRECTIONAL_SEQUENCE_LSTM);
        let error = describe_tflite_operator(&broken, 0)
            .unwrap_err()
            .to_string();
        assert!(error.contains("has no memory model"), "{error}");
    }

    #[test]
    fn every_keyword_scrambled_operator_describes_svdf_with_its_filters_and_rank() {
        let model = model("keyword_scrambled.tflite");
        let described: Vec<TfliteOperator> = (0..model.operators.len())
            .map(|index| describe_tflite_operator(&model, index).unwrap())
            .collect();
        // Op 1: SVDF on int8 [1, 96], weights_feature [64, 96] (tensor 1), rank 1:
        // output [1, 64]. The state (tensor 4, a variable) is not an activation.
        let svdf = &described[1];
        assert_eq!(svdf.description.kind(), OpKind::Svdf);
        assert_eq!(
            svdf.description.params(),
            &crate::OpParams::Svdf {
                filters: 64,
                rank: 1
            }
        );
        assert_eq!(svdf.input_tensors, [0]);
        assert_eq!(svdf.weights_tensor, Some(1));
        // Op 0 is QUANTIZE int16 [1, 96] -> int8; op 14 int16 -> int32.
        assert_eq!(described[0].description.inputs()[0].bytes(), 192);
        assert_eq!(described[14].description.output().bytes(), 8);
        // Control: a rank that does not divide the filters is refused.
        let mut broken = model.clone();
        if let OperatorOptions::Svdf { rank, .. } = &mut broken.operators[1].options {
            *rank = 5;
        }
        let error = describe_tflite_operator(&broken, 1)
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("rank 5 must be positive and divide"),
            "{error}"
        );
    }
}
