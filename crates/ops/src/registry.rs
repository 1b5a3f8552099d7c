//! The operator registry: the one place that turns what a source knows about
//! an operator (a `.tflite` operator, `dmo op`'s command line) into a
//! validated [`OpDescription`]. Each source fills an [`OperatorSpec`]; the
//! rules (how many activation inputs a kind takes, which options it needs,
//! defaults) live here once, and the shape rules in the constructors of
//! [`OpDescription`].

use crate::description::{
    Conv2dParams, DepthwiseConv2dParams, ElementwiseBinaryParams, FullyConnectedParams,
    OpDescription, OpError, OpKind, Pool2dParams, SliceSpec, Window,
};
use crate::shape::TensorShape;

/// How many activation inputs (not weights or biases) a kind takes.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ActivationInputs {
    Exactly(usize),
    AtLeast(usize),
}

impl OpKind {
    /// The activation inputs this kind reads.
    pub fn activation_inputs(self) -> ActivationInputs {
        match self {
            OpKind::Add | OpKind::Mul => ActivationInputs::Exactly(2),
            OpKind::Concatenation => ActivationInputs::AtLeast(1),
            _ => ActivationInputs::Exactly(1),
        }
    }
}

/// Everything a source says about one operator, in one neutral form. Fields
/// a kind does not use are ignored; a field a kind needs and lacks is an
/// error, except where the kind has TFLite's default (noted per field).
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct OperatorSpec {
    pub kind: OpKind,
    /// Activation inputs in the operator's order.
    pub inputs: Vec<TensorShape>,
    pub output: TensorShape,
    /// Convolutions and pools.
    pub window: Option<Window>,
    /// DEPTHWISE_CONV_2D; default 1.
    pub depth_multiplier: Option<usize>,
    /// CONV_2D input channels per filter; default: all (no groups).
    pub filter_input_channels: Option<usize>,
    /// FULLY_CONNECTED weights' last dimension; default: the input's last.
    pub accumulation_depth: Option<usize>,
    /// SOFTMAX and CONCATENATION; negative counts from the end; default -1.
    pub axis: Option<i64>,
    /// MEAN's reduced axes (negative counts from the end).
    pub axes: Option<Vec<i64>>,
    /// MEAN keeps reduced dimensions.
    pub keep_dims: bool,
    /// PAD `(before, after)` per input dimension.
    pub paddings: Option<Vec<(usize, usize)>>,
    /// SVDF: rows of the feature weights (`weights_feature` dimension 0).
    pub filters: Option<usize>,
    /// SVDF: filters per output unit; default 1.
    pub rank: Option<usize>,
    /// UNIDIRECTIONAL_SEQUENCE_LSTM: input `[time, batch, input]`.
    pub time_major: bool,
    /// TRANSPOSE: input dimension of each output dimension.
    pub perm: Option<Vec<usize>>,
    /// STRIDED_SLICE: begin, end, strides and masks.
    pub slice: Option<SliceSpec>,
}

impl OperatorSpec {
    /// A spec with only kind, inputs and output set.
    pub fn new(kind: OpKind, inputs: Vec<TensorShape>, output: TensorShape) -> OperatorSpec {
        OperatorSpec {
            kind,
            inputs,
            output,
            window: None,
            depth_multiplier: None,
            filter_input_channels: None,
            accumulation_depth: None,
            axis: None,
            axes: None,
            keep_dims: false,
            paddings: None,
            filters: None,
            rank: None,
            time_major: false,
            perm: None,
            slice: None,
        }
    }

    /// The validated description.
    pub fn describe(self) -> Result<OpDescription, OpError> {
        let kind = self.kind;
        let invalid = |problem: String| OpError { kind, problem };
        match kind.activation_inputs() {
            ActivationInputs::Exactly(count) if self.inputs.len() != count => {
                return Err(invalid(format!(
                    "takes {count} activation input{}, got {}",
                    if count == 1 { "" } else { "s" },
                    self.inputs.len()
                )))
            }
            ActivationInputs::AtLeast(count) if self.inputs.len() < count => {
                return Err(invalid(format!(
                    "takes at least {count} activation input, got {}",
                    self.inputs.len()
                )))
            }
            _ => {}
        }
        let window = || self.window.ok_or_else(|| invalid("needs a window".into()));
        let mut inputs = self.inputs.clone().into_iter();
        let first = inputs.next().expect("input count checked above");
        let output = self.output.clone();
        match kind {
            OpKind::Conv2d => OpDescription::conv2d(Conv2dParams {
                input: first,
                output,
                window: window()?,
                filter_input_channels: self.filter_input_channels,
            }),
            OpKind::DepthwiseConv2d => OpDescription::depthwise_conv2d(DepthwiseConv2dParams {
                input: first,
                output,
                window: window()?,
                depth_multiplier: self.depth_multiplier.unwrap_or(1),
            }),
            OpKind::FullyConnected => {
                let accumulation_depth = self
                    .accumulation_depth
                    .unwrap_or_else(|| first.dims().last().copied().unwrap_or(1));
                OpDescription::fully_connected(FullyConnectedParams {
                    input: first,
                    output,
                    accumulation_depth,
                })
            }
            OpKind::AveragePool2d | OpKind::MaxPool2d => {
                let params = Pool2dParams {
                    input: first,
                    output,
                    window: window()?,
                };
                if kind == OpKind::AveragePool2d {
                    OpDescription::average_pool2d(params)
                } else {
                    OpDescription::max_pool2d(params)
                }
            }
            OpKind::Add | OpKind::Mul => {
                let params = ElementwiseBinaryParams {
                    input1: first,
                    input2: inputs.next().expect("input count checked above"),
                    output,
                };
                if kind == OpKind::Add {
                    OpDescription::add(params)
                } else {
                    OpDescription::mul(params)
                }
            }
            OpKind::Softmax => {
                let rank = first.rank() as i64;
                let given = self.axis.unwrap_or(-1);
                let axis = if given < 0 { given + rank } else { given };
                if axis < 0 || axis >= rank.max(1) {
                    return Err(invalid(format!("axis {given} is outside rank {rank}")));
                }
                OpDescription::softmax(first, output, axis as usize)
            }
            OpKind::Reshape => OpDescription::reshape(first, output),
            OpKind::Pad => {
                let paddings = self
                    .paddings
                    .clone()
                    .ok_or_else(|| invalid("needs paddings".into()))?;
                OpDescription::pad(first, output, paddings)
            }
            OpKind::Concatenation => {
                let all: Vec<TensorShape> = std::iter::once(first).chain(inputs).collect();
                OpDescription::concatenation(all, output, self.axis.unwrap_or(-1))
            }
            OpKind::Mean => {
                let axes = self
                    .axes
                    .clone()
                    .ok_or_else(|| invalid("needs axes".into()))?;
                OpDescription::mean(first, output, &axes, self.keep_dims)
            }
            OpKind::Svdf => {
                let filters = self
                    .filters
                    .ok_or_else(|| invalid("needs the number of filters".into()))?;
                OpDescription::svdf(first, output, filters, self.rank.unwrap_or(1))
            }
            OpKind::UnidirectionalSequenceLstm => {
                OpDescription::unidirectional_sequence_lstm(first, output, self.time_major)
            }
            OpKind::Transpose => {
                let perm = self
                    .perm
                    .clone()
                    .ok_or_else(|| invalid("needs perm".into()))?;
                OpDescription::transpose(first, output, perm)
            }
            OpKind::StridedSlice => {
                let slice = self
                    .slice
                    .as_ref()
                    .ok_or_else(|| invalid("needs begin, end and strides".into()))?;
                OpDescription::strided_slice(first, output, slice)
            }
            OpKind::Quantize
            | OpKind::Dequantize
            | OpKind::Logistic
            | OpKind::Tanh
            | OpKind::Relu
            | OpKind::Relu6 => OpDescription::elementwise_unary(kind, first, output),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::padding::Padding;
    use crate::shape::ElementType;

    fn shape(text: &str) -> TensorShape {
        TensorShape::parse_dims(text, ElementType::Int8).unwrap()
    }

    #[test]
    fn input_counts_are_checked_once_for_every_source() {
        let add = OperatorSpec::new(OpKind::Add, vec![shape("1x4")], shape("1x4"));
        let error = add.describe().unwrap_err().to_string();
        assert_eq!(error, "ADD: takes 2 activation inputs, got 1");
        let concat = OperatorSpec::new(OpKind::Concatenation, vec![], shape("1x4"));
        assert!(concat.describe().is_err());
        // Control: the right count describes.
        let add = OperatorSpec::new(OpKind::Add, vec![shape("1x4"), shape("1x4")], shape("1x4"));
        assert_eq!(add.describe().unwrap().inputs().len(), 2);
    }

    #[test]
    fn defaults_are_tflites() {
        // FULLY_CONNECTED: accumulation depth from the input's last dimension.
        let fc = OperatorSpec::new(OpKind::FullyConnected, vec![shape("2x8")], shape("2x3"));
        assert_eq!(
            fc.describe().unwrap().params(),
            &crate::OpParams::FullyConnected {
                accumulation_depth: 8
            }
        );
        // SOFTMAX: the last axis.
        let softmax = OperatorSpec::new(OpKind::Softmax, vec![shape("1x10")], shape("1x10"));
        assert_eq!(
            softmax.describe().unwrap().params(),
            &crate::OpParams::Softmax { axis: 1 }
        );
        // A window is required for convolutions; none is invented.
        let conv = OperatorSpec::new(OpKind::Conv2d, vec![shape("1x4x4x2")], shape("1x4x4x2"));
        assert!(conv.clone().describe().is_err());
        let described = OperatorSpec {
            window: Some(Window::square(1, 1, Padding::Same)),
            ..conv
        }
        .describe()
        .unwrap();
        assert_eq!(described.kind(), OpKind::Conv2d);
    }
}
