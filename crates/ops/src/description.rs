//! A typed description of one operator, validated on construction: what a
//! `.tflite` model says about it (shapes, element types, stride, padding,
//! dilation, depth multiplier, axis), resolved the way TFLite resolves it.

use crate::padding::{tflite_axis_padding, Padding};
use crate::shape::{ElementType, TensorShape};
use serde::{Deserialize, Serialize};
use std::fmt;

/// The operator kinds `dmo-ops` knows.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub enum OpKind {
    Conv2d,
    DepthwiseConv2d,
    FullyConnected,
    AveragePool2d,
    MaxPool2d,
    Add,
    Mul,
    Softmax,
    Reshape,
    Pad,
    Concatenation,
    Mean,
    Quantize,
    Dequantize,
    Logistic,
    Tanh,
    Relu,
    Relu6,
    Svdf,
    UnidirectionalSequenceLstm,
    Transpose,
    StridedSlice,
}

impl OpKind {
    /// Every kind, in declaration order.
    pub const ALL: [OpKind; 22] = [
        OpKind::Conv2d,
        OpKind::DepthwiseConv2d,
        OpKind::FullyConnected,
        OpKind::AveragePool2d,
        OpKind::MaxPool2d,
        OpKind::Add,
        OpKind::Mul,
        OpKind::Softmax,
        OpKind::Reshape,
        OpKind::Pad,
        OpKind::Concatenation,
        OpKind::Mean,
        OpKind::Quantize,
        OpKind::Dequantize,
        OpKind::Logistic,
        OpKind::Tanh,
        OpKind::Relu,
        OpKind::Relu6,
        OpKind::Svdf,
        OpKind::UnidirectionalSequenceLstm,
        OpKind::Transpose,
        OpKind::StridedSlice,
    ];

    /// The builtin operator name TFLite uses (`CONV_2D`, ...).
    pub fn as_tflite_name(self) -> &'static str {
        match self {
            OpKind::Conv2d => "CONV_2D",
            OpKind::DepthwiseConv2d => "DEPTHWISE_CONV_2D",
            OpKind::FullyConnected => "FULLY_CONNECTED",
            OpKind::AveragePool2d => "AVERAGE_POOL_2D",
            OpKind::MaxPool2d => "MAX_POOL_2D",
            OpKind::Add => "ADD",
            OpKind::Mul => "MUL",
            OpKind::Softmax => "SOFTMAX",
            OpKind::Reshape => "RESHAPE",
            OpKind::Pad => "PAD",
            OpKind::Concatenation => "CONCATENATION",
            OpKind::Mean => "MEAN",
            OpKind::Quantize => "QUANTIZE",
            OpKind::Dequantize => "DEQUANTIZE",
            OpKind::Logistic => "LOGISTIC",
            OpKind::Tanh => "TANH",
            OpKind::Relu => "RELU",
            OpKind::Relu6 => "RELU6",
            OpKind::Svdf => "SVDF",
            OpKind::UnidirectionalSequenceLstm => "UNIDIRECTIONAL_SEQUENCE_LSTM",
            OpKind::Transpose => "TRANSPOSE",
            OpKind::StridedSlice => "STRIDED_SLICE",
        }
    }

    /// The kind for a name as people type it: TFLite's (`CONV_2D`) or
    /// loose (`conv2d`, `conv-2d`), case, `_` and `-` ignored.
    pub fn from_loose_name(name: &str) -> Option<OpKind> {
        let normalise = |name: &str| name.to_ascii_lowercase().replace(['_', '-'], "");
        let wanted = normalise(name);
        OpKind::ALL
            .into_iter()
            .find(|kind| normalise(kind.as_tflite_name()) == wanted)
    }

    /// The kind for a TFLite builtin name, if `dmo-ops` knows it.
    pub fn from_tflite_name(name: &str) -> Option<OpKind> {
        OpKind::ALL
            .into_iter()
            .find(|kind| kind.as_tflite_name() == name)
    }

    /// Kinds that map input element `i` to output element `i` with one read
    /// and one write (and nothing else): `OpDescription::elementwise_unary`.
    pub fn is_elementwise_unary(self) -> bool {
        matches!(
            self,
            OpKind::Quantize
                | OpKind::Dequantize
                | OpKind::Logistic
                | OpKind::Tanh
                | OpKind::Relu
                | OpKind::Relu6
        )
    }
}

impl fmt::Display for OpKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_tflite_name())
    }
}

/// A description that does not fit together; the message says what.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind}: {problem}")]
pub struct OpError {
    pub kind: OpKind,
    pub problem: String,
}

/// The largest tensor an operator may have, in bytes: TFLite's own limit
/// (tensor sizes are 32-bit signed there), 2^31.
pub const MAX_TENSOR_BYTES: u64 = 1 << 31;

/// Refuses a tensor whose size overflows or exceeds [`MAX_TENSOR_BYTES`].
fn check_shape(kind: OpKind, what: &str, shape: &TensorShape) -> Result<(), OpError> {
    match shape.checked_bytes() {
        Some(bytes) if bytes <= MAX_TENSOR_BYTES => Ok(()),
        Some(bytes) => invalid(
            kind,
            format!("{what} {shape} is {bytes} bytes, more than TFLite's limit of 2^31 bytes per tensor"),
        ),
        None => invalid(
            kind,
            format!("{what} {shape} has more bytes than 64 bits can count (TFLite's limit is 2^31)"),
        ),
    }
}

/// Every description goes out through here: its tensors are checked, so
/// `bytes()` and `elements()` cannot wrap anywhere downstream.
fn checked(op: OpDescription) -> Result<OpDescription, OpError> {
    for (index, input) in op.inputs.iter().enumerate() {
        check_shape(op.kind, &format!("input {index}"), input)?;
    }
    check_shape(op.kind, "output", &op.output)?;
    Ok(op)
}

fn invalid<T>(kind: OpKind, problem: impl Into<String>) -> Result<T, OpError> {
    Err(OpError {
        kind,
        problem: problem.into(),
    })
}

/// The sliding window of a convolution or pool, as a `.tflite` gives it.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub struct Window {
    pub filter_height: usize,
    pub filter_width: usize,
    pub stride_height: usize,
    pub stride_width: usize,
    pub dilation_height: usize,
    pub dilation_width: usize,
    pub padding: Padding,
}

impl Window {
    /// A square filter with equal strides and no dilation.
    pub fn square(filter: usize, stride: usize, padding: Padding) -> Window {
        Window {
            filter_height: filter,
            filter_width: filter,
            stride_height: stride,
            stride_width: stride,
            dilation_height: 1,
            dilation_width: 1,
            padding,
        }
    }
}

/// A window with TFLite's padding resolved against an input size.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub struct ResolvedWindow {
    pub window: Window,
    /// Rows of padding above the input that the kernel skips (`pad_top`).
    pub pad_top: usize,
    /// Columns of padding left of the input (`pad_left`).
    pub pad_left: usize,
}

/// `CONV_2D`: NHWC input and output; the filter is
/// `[output_channels, filter_height, filter_width, filter_input_channels]`.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Conv2dParams {
    pub input: TensorShape,
    pub output: TensorShape,
    pub window: Window,
    /// Input channels per filter; fewer than the input's channels means a
    /// grouped convolution. `None`: all input channels.
    pub filter_input_channels: Option<usize>,
}

/// `DEPTHWISE_CONV_2D`: output channel `in_channel * multiplier + m`.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct DepthwiseConv2dParams {
    pub input: TensorShape,
    pub output: TensorShape,
    pub window: Window,
    pub depth_multiplier: usize,
}

/// `FULLY_CONNECTED`: weights `[output_depth, accumulation_depth]`.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct FullyConnectedParams {
    pub input: TensorShape,
    pub output: TensorShape,
    /// The weights' last dimension: input elements per output row.
    pub accumulation_depth: usize,
}

/// `AVERAGE_POOL_2D` / `MAX_POOL_2D` (dilation must be 1).
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Pool2dParams {
    pub input: TensorShape,
    pub output: TensorShape,
    pub window: Window,
}

/// `ADD` / `MUL` with numpy-style broadcasting.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct ElementwiseBinaryParams {
    pub input1: TensorShape,
    pub input2: TensorShape,
    pub output: TensorShape,
}

/// Resolved parameters of each kind (what the simulation needs).
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub enum OpParams {
    Conv2d {
        window: ResolvedWindow,
        filter_input_channels: usize,
    },
    DepthwiseConv2d {
        window: ResolvedWindow,
        depth_multiplier: usize,
    },
    FullyConnected {
        accumulation_depth: usize,
    },
    Pool2d {
        window: ResolvedWindow,
    },
    /// Unary elementwise ops and `ADD` / `MUL` (with broadcasting).
    Elementwise,
    /// `axis` is always the last one: TFLite's softmax has no other.
    Softmax {
        axis: usize,
    },
    Reshape,
    /// `(before, after)` per dimension.
    Pad {
        paddings: Vec<(usize, usize)>,
    },
    Concatenation {
        axis: usize,
    },
    Mean {
        axes: Vec<usize>,
        keep_dims: bool,
    },
    /// `SVDF`: `filters` rows of the feature weights (each a dot product
    /// with the whole input row), `filters / rank` output units per batch.
    Svdf {
        filters: usize,
        rank: usize,
    },
    /// `UNIDIRECTIONAL_SEQUENCE_LSTM`: input `[batch, time, input]`, or
    /// `[time, batch, input]` when `time_major`; output the same with `cells`
    /// in the last dimension.
    UnidirectionalSequenceLstm {
        time_major: bool,
    },
    /// `TRANSPOSE`: output dimension `d` is input dimension `perm[d]`.
    Transpose {
        perm: Vec<usize>,
    },
    /// `STRIDED_SLICE`: per input axis, the indices TFLM's Eval visits.
    StridedSlice {
        axes: Vec<SliceAxis>,
    },
}

/// What a model or `dmo op` says about a STRIDED_SLICE: TFLM's `StridedSliceParams` as its
/// micro kernel fills them (one begin, end and stride per input axis; bit `i` of a mask is
/// axis `i`). TFLM's micro Prepare forces the ellipsis and new-axis masks to 0 and never sets
/// `offset`, so they have no field here.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct SliceSpec {
    pub begin: Vec<i64>,
    pub end: Vec<i64>,
    pub strides: Vec<i64>,
    pub begin_mask: u32,
    pub end_mask: u32,
    pub shrink_axis_mask: u32,
}

/// One input axis of a STRIDED_SLICE as TFLM's Eval walks it: indices `start`,
/// `start + stride`, ... (`count` of them; `stride` may be negative). A shrunk axis
/// (`shrink`) has no output dimension.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct SliceAxis {
    pub start: i64,
    pub stride: i64,
    pub count: usize,
    pub shrink: bool,
}

/// The most input dimensions `reference_ops::StridedSlice` takes (it extends shapes to 5-D).
pub const STRIDED_SLICE_MAX_RANK: usize = 5;

impl SliceSpec {
    /// The axes TFLM's Eval visits (`StridedSliceStartForAxis`, `StridedSliceEndForAxis`,
    /// then `for (i = start; stride > 0 ? i < stop : i > stop; i += stride)`), or what TFLM
    /// refuses (`StridedSlicePrepare`) or cannot run as its Prepare promised.
    pub fn axes(&self, input: &TensorShape) -> Result<Vec<SliceAxis>, OpError> {
        let kind = OpKind::StridedSlice;
        let rank = input.rank();
        if rank == 0 || rank > STRIDED_SLICE_MAX_RANK {
            return invalid(
                kind,
                format!("input {input} has rank {rank}; TFLM slices 1 to {STRIDED_SLICE_MAX_RANK} dimensions"),
            );
        }
        for (what, values) in [
            ("begin", &self.begin),
            ("end", &self.end),
            ("strides", &self.strides),
        ] {
            if values.len() != rank {
                return invalid(
                    kind,
                    format!("{what} has {} values for input rank {rank}", values.len()),
                );
            }
            if let Some(value) = values.iter().find(|&&v| i32::try_from(v).is_err()) {
                return invalid(
                    kind,
                    format!("{what} value {value} does not fit TFLM's int32"),
                );
            }
        }
        let bit = |mask: u32, axis: usize| mask & (1 << axis) != 0;
        let mut axes = Vec::with_capacity(rank);
        for axis in 0..rank {
            let size = input.dims()[axis] as i64;
            let stride = self.strides[axis];
            if stride == 0 {
                return invalid(
                    kind,
                    format!(
                        "stride of axis {axis} is 0 (TFLM: \"stride value has to be non-zero\")"
                    ),
                );
            }
            // StridedSliceStartForAxis.
            let mut start = self.begin[axis];
            if start < 0 {
                start += size;
            }
            start = if stride > 0 {
                start.clamp(0, size)
            } else {
                start.clamp(-1, size - 1)
            };
            if bit(self.begin_mask, axis) {
                start = if stride > 0 { 0 } else { size - 1 };
            }
            // StridedSliceEndForAxis.
            let shrink = bit(self.shrink_axis_mask, axis);
            let stop = if shrink {
                if start >= size {
                    start
                } else {
                    start + 1
                }
            } else {
                let mut stop = self.end[axis];
                if stop < 0 {
                    stop += size;
                }
                stop = if stride > 0 {
                    stop.clamp(0, size)
                } else {
                    stop.clamp(-1, size - 1)
                };
                if bit(self.end_mask, axis) {
                    stop = if stride > 0 { size } else { -1 };
                }
                stop
            };
            let span = if stride > 0 {
                stop - start
            } else {
                start - stop
            };
            let count = if span <= 0 {
                0
            } else {
                (span + stride.abs() - 1) / stride.abs()
            };
            // Prepare checks no output dimension of a shrunk axis, so it promises one
            // element where Eval writes none: TFLM's output would be left unwritten.
            if shrink && count != 1 {
                return invalid(
                    kind,
                    format!(
                        "shrunk axis {axis} (begin {}, stride {stride}, size {size}) selects no \
                         element in TFLM's Eval, though its Prepare keeps one",
                        self.begin[axis]
                    ),
                );
            }
            axes.push(SliceAxis {
                start,
                stride,
                count: count as usize,
                shrink,
            });
        }
        Ok(axes)
    }
}

/// One operator: kind, activation inputs, output and resolved parameters.
/// Only the constructors build one, so every description is consistent.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct OpDescription {
    kind: OpKind,
    inputs: Vec<TensorShape>,
    output: TensorShape,
    params: OpParams,
}

impl OpDescription {
    pub fn kind(&self) -> OpKind {
        self.kind
    }

    /// The activation inputs (weights and biases are not activations).
    pub fn inputs(&self) -> &[TensorShape] {
        &self.inputs
    }

    pub fn output(&self) -> &TensorShape {
        &self.output
    }

    pub fn params(&self) -> &OpParams {
        &self.params
    }

    pub fn conv2d(params: Conv2dParams) -> Result<OpDescription, OpError> {
        let kind = OpKind::Conv2d;
        let Conv2dParams {
            input,
            output,
            window,
            filter_input_channels,
        } = params;
        let resolved = resolve_window(kind, &input, &output, window)?;
        let input_channels = input.dims()[3];
        let output_channels = output.dims()[3];
        let filter_input_channels = filter_input_channels.unwrap_or(input_channels);
        if input_channels == 0 || output_channels == 0 {
            // Would make 0 groups and divide by them below.
            return invalid(
                kind,
                format!(
                    "the input has {input_channels} and the output {output_channels} channels; a convolution needs at least one of each"
                ),
            );
        }
        if filter_input_channels == 0 || input_channels % filter_input_channels != 0 {
            return invalid(
                kind,
                format!(
                    "filter input channels {filter_input_channels} do not divide the input's \
                     {input_channels} channels into groups"
                ),
            );
        }
        let groups = input_channels / filter_input_channels;
        if output_channels % groups != 0 {
            return invalid(
                kind,
                format!(
                    "output channels {output_channels} are not a multiple of the {groups} groups \
                     ({input_channels} input channels / {filter_input_channels} per filter)"
                ),
            );
        }
        checked(OpDescription {
            kind,
            inputs: vec![input],
            output,
            params: OpParams::Conv2d {
                window: resolved,
                filter_input_channels,
            },
        })
    }

    pub fn depthwise_conv2d(params: DepthwiseConv2dParams) -> Result<OpDescription, OpError> {
        let kind = OpKind::DepthwiseConv2d;
        let DepthwiseConv2dParams {
            input,
            output,
            window,
            depth_multiplier,
        } = params;
        let resolved = resolve_window(kind, &input, &output, window)?;
        let input_channels = input.dims()[3];
        let output_channels = output.dims()[3];
        if depth_multiplier == 0 || input_channels * depth_multiplier != output_channels {
            return invalid(
                kind,
                format!(
                    "output channels {output_channels} must be input channels {input_channels} \
                     x depth multiplier {depth_multiplier}"
                ),
            );
        }
        checked(OpDescription {
            kind,
            inputs: vec![input],
            output,
            params: OpParams::DepthwiseConv2d {
                window: resolved,
                depth_multiplier,
            },
        })
    }

    pub fn fully_connected(params: FullyConnectedParams) -> Result<OpDescription, OpError> {
        let kind = OpKind::FullyConnected;
        let FullyConnectedParams {
            input,
            output,
            accumulation_depth,
        } = params;
        if output.rank() == 0 || accumulation_depth == 0 {
            return invalid(
                kind,
                "output must have at least one dimension and the weights a non-zero depth",
            );
        }
        // As TFLM does: batches from the output, accumulation depth from the weights.
        let output_depth = output.dims()[output.rank() - 1];
        let batches = output.elements() / output_depth.max(1);
        if batches * accumulation_depth != input.elements() {
            return invalid(
                kind,
                format!(
                    "input has {} elements but {batches} batches (output {}) x accumulation \
                     depth {accumulation_depth} (weights) need {}",
                    input.elements(),
                    output,
                    batches * accumulation_depth
                ),
            );
        }
        checked(OpDescription {
            kind,
            inputs: vec![input],
            output,
            params: OpParams::FullyConnected { accumulation_depth },
        })
    }

    pub fn average_pool2d(params: Pool2dParams) -> Result<OpDescription, OpError> {
        OpDescription::pool2d(OpKind::AveragePool2d, params)
    }

    pub fn max_pool2d(params: Pool2dParams) -> Result<OpDescription, OpError> {
        OpDescription::pool2d(OpKind::MaxPool2d, params)
    }

    fn pool2d(kind: OpKind, params: Pool2dParams) -> Result<OpDescription, OpError> {
        let Pool2dParams {
            input,
            output,
            window,
        } = params;
        if window.dilation_height != 1 || window.dilation_width != 1 {
            return invalid(kind, "pools have no dilation (must be 1)");
        }
        let resolved = resolve_window(kind, &input, &output, window)?;
        if input.dims()[3] != output.dims()[3] {
            return invalid(
                kind,
                format!(
                    "output channels {} differ from input channels {}",
                    output.dims()[3],
                    input.dims()[3]
                ),
            );
        }
        same_element_type(kind, &input, &output)?;
        checked(OpDescription {
            kind,
            inputs: vec![input],
            output,
            params: OpParams::Pool2d { window: resolved },
        })
    }

    pub fn add(params: ElementwiseBinaryParams) -> Result<OpDescription, OpError> {
        OpDescription::elementwise_binary(OpKind::Add, params)
    }

    pub fn mul(params: ElementwiseBinaryParams) -> Result<OpDescription, OpError> {
        OpDescription::elementwise_binary(OpKind::Mul, params)
    }

    fn elementwise_binary(
        kind: OpKind,
        params: ElementwiseBinaryParams,
    ) -> Result<OpDescription, OpError> {
        let ElementwiseBinaryParams {
            input1,
            input2,
            output,
        } = params;
        let rank = input1.rank().max(input2.rank());
        if output.rank() != rank {
            return invalid(
                kind,
                format!(
                    "output rank {} is not the broadcast rank {rank}",
                    output.rank()
                ),
            );
        }
        for axis in 0..rank {
            let dim1 = broadcast_dim(&input1, rank, axis);
            let dim2 = broadcast_dim(&input2, rank, axis);
            let out = output.dims()[axis];
            let expected = if dim1 == 1 { dim2 } else { dim1 };
            if (dim1 != 1 && dim2 != 1 && dim1 != dim2) || out != expected {
                return invalid(
                    kind,
                    format!(
                        "dimension {axis}: inputs {dim1} and {dim2} do not broadcast to output {out}"
                    ),
                );
            }
        }
        checked(OpDescription {
            kind,
            inputs: vec![input1, input2],
            output,
            params: OpParams::Elementwise,
        })
    }

    /// QUANTIZE, DEQUANTIZE, LOGISTIC, TANH, RELU, RELU6: element `i` in,
    /// element `i` out (element types may differ for (DE)QUANTIZE).
    pub fn elementwise_unary(
        kind: OpKind,
        input: TensorShape,
        output: TensorShape,
    ) -> Result<OpDescription, OpError> {
        if !kind.is_elementwise_unary() {
            return invalid(kind, "is not an elementwise unary operator");
        }
        if input.elements() != output.elements() {
            return invalid(
                kind,
                format!(
                    "input has {} elements ({input}) but output has {} ({output})",
                    input.elements(),
                    output.elements()
                ),
            );
        }
        match kind {
            OpKind::Quantize if output.element() == ElementType::Float32 => {
                return invalid(kind, "output must be an integer type, not float32");
            }
            OpKind::Dequantize if input.element() == ElementType::Float32 => {
                return invalid(kind, "input must be an integer type, not float32");
            }
            OpKind::Logistic | OpKind::Tanh | OpKind::Relu | OpKind::Relu6 => {
                same_element_type(kind, &input, &output)?;
            }
            _ => {}
        }
        checked(OpDescription {
            kind,
            inputs: vec![input],
            output,
            params: OpParams::Elementwise,
        })
    }

    /// SOFTMAX over `axis` (TFLite only has the last axis; anything else is
    /// rejected rather than modelled wrongly).
    pub fn softmax(
        input: TensorShape,
        output: TensorShape,
        axis: usize,
    ) -> Result<OpDescription, OpError> {
        let kind = OpKind::Softmax;
        if input.rank() == 0 || input.dims() != output.dims() {
            return invalid(
                kind,
                format!("input {input} and output {output} must have one shape of rank >= 1"),
            );
        }
        if axis != input.rank() - 1 {
            return invalid(
                kind,
                format!(
                    "axis {axis} is not the last axis {} (TFLite softmax is over the last axis)",
                    input.rank() - 1
                ),
            );
        }
        checked(OpDescription {
            kind,
            inputs: vec![input],
            output,
            params: OpParams::Softmax { axis },
        })
    }

    /// SVDF: input `[batches, input_size]`, output `[batches, filters / rank]`
    /// (TFLM's `PrepareSvdf` checks). The state, weights and bias are not
    /// activations.
    pub fn svdf(
        input: TensorShape,
        output: TensorShape,
        filters: usize,
        rank: usize,
    ) -> Result<OpDescription, OpError> {
        let kind = OpKind::Svdf;
        if input.rank() != 2 || output.rank() != 2 {
            return invalid(
                kind,
                format!("input {input} and output {output} must both be 2-D"),
            );
        }
        if rank == 0 || filters == 0 || !filters.is_multiple_of(rank) {
            return invalid(
                kind,
                format!("rank {rank} must be positive and divide the {filters} filters"),
            );
        }
        let (batches, units) = (input.dims()[0], filters / rank);
        if output.dims() != [batches, units] {
            return invalid(
                kind,
                format!(
                    "output {output} must be [{batches}, {units}] ({filters} filters / rank {rank})"
                ),
            );
        }
        checked(OpDescription {
            kind,
            inputs: vec![input],
            output,
            params: OpParams::Svdf { filters, rank },
        })
    }

    /// UNIDIRECTIONAL_SEQUENCE_LSTM: input `[B, T, I]` (`[T, B, I]` when
    /// `time_major`), output `[B, T, C]` (`[T, B, C]`), TFLM's
    /// `ValidateTensorSize` checks. States, weights and biases are not
    /// activations.
    pub fn unidirectional_sequence_lstm(
        input: TensorShape,
        output: TensorShape,
        time_major: bool,
    ) -> Result<OpDescription, OpError> {
        let kind = OpKind::UnidirectionalSequenceLstm;
        if input.rank() != 3 || output.rank() != 3 {
            return invalid(
                kind,
                format!("input {input} and output {output} must both be 3-D"),
            );
        }
        if input.dims()[..2] != output.dims()[..2] {
            return invalid(
                kind,
                format!("input {input} and output {output} must share their first two dimensions"),
            );
        }
        checked(OpDescription {
            kind,
            inputs: vec![input],
            output,
            params: OpParams::UnidirectionalSequenceLstm { time_major },
        })
    }

    pub fn reshape(input: TensorShape, output: TensorShape) -> Result<OpDescription, OpError> {
        let kind = OpKind::Reshape;
        if input.elements() != output.elements() {
            return invalid(
                kind,
                format!("input {input} and output {output} have different element counts"),
            );
        }
        same_element_type(kind, &input, &output)?;
        checked(OpDescription {
            kind,
            inputs: vec![input],
            output,
            params: OpParams::Reshape,
        })
    }

    /// PAD with `(before, after)` per input dimension.
    pub fn pad(
        input: TensorShape,
        output: TensorShape,
        paddings: Vec<(usize, usize)>,
    ) -> Result<OpDescription, OpError> {
        let kind = OpKind::Pad;
        if paddings.len() != input.rank() || output.rank() != input.rank() {
            return invalid(
                kind,
                format!(
                    "{} paddings for input rank {} and output rank {}",
                    paddings.len(),
                    input.rank(),
                    output.rank()
                ),
            );
        }
        for (axis, (&(before, after), (&in_dim, &out_dim))) in paddings
            .iter()
            .zip(input.dims().iter().zip(output.dims()))
            .enumerate()
        {
            if in_dim + before + after != out_dim {
                return invalid(
                    kind,
                    format!(
                        "dimension {axis}: input {in_dim} + padding {before} + {after} != output {out_dim}"
                    ),
                );
            }
        }
        same_element_type(kind, &input, &output)?;
        checked(OpDescription {
            kind,
            inputs: vec![input],
            output,
            params: OpParams::Pad { paddings },
        })
    }

    /// TRANSPOSE by `perm` (output dimension `d` is input dimension `perm[d]`), at most
    /// TFLM's 6 dimensions.
    pub fn transpose(
        input: TensorShape,
        output: TensorShape,
        perm: Vec<usize>,
    ) -> Result<OpDescription, OpError> {
        let kind = OpKind::Transpose;
        let rank = input.rank();
        if perm.len() != rank || output.rank() != rank || rank > 6 {
            return invalid(
                kind,
                format!(
                    "perm {perm:?} for input rank {rank} and output rank {} (TFLM: at most 6)",
                    output.rank()
                ),
            );
        }
        let mut seen = vec![false; rank];
        for &axis in &perm {
            if axis >= rank || std::mem::replace(&mut seen[axis], true) {
                return invalid(
                    kind,
                    format!("perm {perm:?} is not a permutation of 0..{rank}"),
                );
            }
        }
        for (d, &axis) in perm.iter().enumerate() {
            if output.dims()[d] != input.dims()[axis] {
                return invalid(
                    kind,
                    format!(
                        "output dimension {d} is {}, input dimension {axis} is {}",
                        output.dims()[d],
                        input.dims()[axis]
                    ),
                );
            }
        }
        same_element_type(kind, &input, &output)?;
        checked(OpDescription {
            kind,
            inputs: vec![input],
            output,
            params: OpParams::Transpose { perm },
        })
    }

    /// STRIDED_SLICE of `input` as TFLM runs it (`spec` resolved by [`SliceSpec::axes`]);
    /// the output must have the non-shrunk axes' element counts, as TFLM's Prepare checks.
    pub fn strided_slice(
        input: TensorShape,
        output: TensorShape,
        spec: &SliceSpec,
    ) -> Result<OpDescription, OpError> {
        let kind = OpKind::StridedSlice;
        let axes = spec.axes(&input)?;
        let expected: Vec<usize> = axes.iter().filter(|a| !a.shrink).map(|a| a.count).collect();
        if output.dims() != expected.as_slice() {
            return invalid(
                kind,
                format!(
                    "output {output} is not what TFLM's Prepare computes from input {input}: \
                     {expected:?}"
                ),
            );
        }
        same_element_type(kind, &input, &output)?;
        checked(OpDescription {
            kind,
            inputs: vec![input],
            output,
            params: OpParams::StridedSlice { axes },
        })
    }

    /// CONCATENATION along `axis` (negative counts from the end, as in TFLite).
    pub fn concatenation(
        inputs: Vec<TensorShape>,
        output: TensorShape,
        axis: i64,
    ) -> Result<OpDescription, OpError> {
        let kind = OpKind::Concatenation;
        let rank = output.rank() as i64;
        let resolved = if axis < 0 { axis + rank } else { axis };
        if inputs.is_empty() || resolved < 0 || resolved >= rank {
            return invalid(
                kind,
                format!("axis {axis} is outside output rank {rank}, or no inputs"),
            );
        }
        let axis = resolved as usize;
        let mut axis_total = 0;
        for (index, input) in inputs.iter().enumerate() {
            if input.rank() != output.rank() {
                return invalid(
                    kind,
                    format!("input {index} has rank {}, output {rank}", input.rank()),
                );
            }
            for (dim, (&in_dim, &out_dim)) in input.dims().iter().zip(output.dims()).enumerate() {
                if dim != axis && in_dim != out_dim {
                    return invalid(
                        kind,
                        format!("input {index} dimension {dim} is {in_dim}, output has {out_dim}"),
                    );
                }
            }
            same_element_type(kind, input, &output)?;
            axis_total += input.dims()[axis];
        }
        if axis_total != output.dims()[axis] {
            return invalid(
                kind,
                format!(
                    "inputs add up to {axis_total} along axis {axis}, output has {}",
                    output.dims()[axis]
                ),
            );
        }
        checked(OpDescription {
            kind,
            inputs,
            output,
            params: OpParams::Concatenation { axis },
        })
    }

    /// MEAN over `axes` (negative counts from the end).
    pub fn mean(
        input: TensorShape,
        output: TensorShape,
        axes: &[i64],
        keep_dims: bool,
    ) -> Result<OpDescription, OpError> {
        let kind = OpKind::Mean;
        let rank = input.rank() as i64;
        let mut resolved = Vec::new();
        for &axis in axes {
            let axis_resolved = if axis < 0 { axis + rank } else { axis };
            if axis_resolved < 0 || axis_resolved >= rank {
                return invalid(kind, format!("axis {axis} is outside input rank {rank}"));
            }
            if !resolved.contains(&(axis_resolved as usize)) {
                resolved.push(axis_resolved as usize);
            }
        }
        let expected: Vec<usize> = input
            .dims()
            .iter()
            .enumerate()
            .filter_map(|(dim, &size)| match (resolved.contains(&dim), keep_dims) {
                (false, _) => Some(size),
                (true, true) => Some(1),
                (true, false) => None,
            })
            .collect();
        if output.dims() != expected.as_slice() {
            return invalid(
                kind,
                format!("output {output} is not input {input} reduced over axes {resolved:?} (expected {expected:?})"),
            );
        }
        checked(OpDescription {
            kind,
            inputs: vec![input],
            output,
            params: OpParams::Mean {
                axes: resolved,
                keep_dims,
            },
        })
    }
}

fn same_element_type(
    kind: OpKind,
    input: &TensorShape,
    output: &TensorShape,
) -> Result<(), OpError> {
    if input.element() != output.element() {
        return invalid(
            kind,
            format!(
                "input is {} but output is {}",
                input.element(),
                output.element()
            ),
        );
    }
    Ok(())
}

/// Dimension `axis` of `shape` right-aligned to `rank` (missing ones are 1).
pub(crate) fn broadcast_dim(shape: &TensorShape, rank: usize, axis: usize) -> usize {
    let missing = rank - shape.rank();
    if axis < missing {
        1
    } else {
        shape.dims()[axis - missing]
    }
}

/// Checks a 4-D window op's shapes against TFLite's padding arithmetic.
fn resolve_window(
    kind: OpKind,
    input: &TensorShape,
    output: &TensorShape,
    window: Window,
) -> Result<ResolvedWindow, OpError> {
    if input.rank() != 4 || output.rank() != 4 {
        return invalid(
            kind,
            format!("input {input} and output {output} must both be 4-D NHWC"),
        );
    }
    let parts = [
        ("filter height", window.filter_height),
        ("filter width", window.filter_width),
        ("stride height", window.stride_height),
        ("stride width", window.stride_width),
        ("dilation height", window.dilation_height),
        ("dilation width", window.dilation_width),
    ];
    check_shape(kind, "input", input)?;
    check_shape(kind, "output", output)?;
    for (name, value) in parts {
        if value == 0 {
            return invalid(kind, format!("{name} must be at least 1"));
        }
    }
    // TFLite computes the dilated extent `(filter - 1) * dilation + 1` and
    // the padding in 32-bit ints: an extent past 2^31 - 1 is refused (this
    // bounds every number the padding arithmetic below sees and refuses
    // `--dilation 4294967295`). A VALID window larger than the input has no
    // padding to fit in.
    for (name, in_size, filter, dilation) in [
        (
            "height",
            input.dims()[1],
            window.filter_height,
            window.dilation_height,
        ),
        (
            "width",
            input.dims()[2],
            window.filter_width,
            window.dilation_width,
        ),
    ] {
        let extent = (filter as u128 - 1) * dilation as u128 + 1;
        if extent > i32::MAX as u128 {
            return invalid(
                kind,
                format!(
                    "the window's {name}, filter {filter} with dilation {dilation}, spans \
                     {extent} elements, more than TFLite's 32-bit arithmetic allows"
                ),
            );
        }
        if window.padding == Padding::Valid && extent > in_size as u128 {
            return invalid(
                kind,
                format!(
                    "the window's {name} ({extent} elements: filter {filter}, dilation \
                     {dilation}) is larger than the input {name} {in_size}, and VALID padding \
                     adds none"
                ),
            );
        }
        if window.stride_height.max(window.stride_width) as u128 > MAX_TENSOR_BYTES as u128 {
            return invalid(kind, "stride larger than 2^31");
        }
    }
    if input.dims()[0] != output.dims()[0] {
        return invalid(
            kind,
            format!(
                "output batch {} differs from input batch {}",
                output.dims()[0],
                input.dims()[0]
            ),
        );
    }
    let height = tflite_axis_padding(
        window.padding,
        input.dims()[1],
        window.filter_height,
        window.stride_height,
        window.dilation_height,
    );
    let width = tflite_axis_padding(
        window.padding,
        input.dims()[2],
        window.filter_width,
        window.stride_width,
        window.dilation_width,
    );
    for (name, axis, in_size, out_size, filter, stride, dilation) in [
        (
            "height",
            height,
            input.dims()[1],
            output.dims()[1],
            window.filter_height,
            window.stride_height,
            window.dilation_height,
        ),
        (
            "width",
            width,
            input.dims()[2],
            output.dims()[2],
            window.filter_width,
            window.stride_width,
            window.dilation_width,
        ),
    ] {
        if axis.output_size != out_size as i64 {
            return invalid(
                kind,
                format!(
                    "output {name} {out_size} does not match {} that TFLite computes from input \
                     {name} {in_size}, filter {filter}, stride {stride}, dilation {dilation}, \
                     padding {}",
                    axis.output_size, window.padding
                ),
            );
        }
    }
    Ok(ResolvedWindow {
        window,
        pad_top: height.before,
        pad_left: width.before,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conv(input: &[usize], output: &[usize], window: Window) -> Result<OpDescription, OpError> {
        OpDescription::conv2d(Conv2dParams {
            input: TensorShape::int8(input),
            output: TensorShape::int8(output),
            window,
            filter_input_channels: None,
        })
    }

    #[test]
    fn hostile_shapes_are_errors_not_panics() {
        // Issue 12 cases 4 and 5, each a panic, abort or silent wrap before.
        // 0 input channels: 0 % 4 == 0 made 0 groups, then
        // `output_channels % 0` panicked ("remainder with a divisor of zero").
        let error = OpDescription::conv2d(Conv2dParams {
            input: TensorShape::int8(&[1, 8, 8, 0]),
            output: TensorShape::int8(&[1, 8, 8, 4]),
            window: Window::square(1, 1, Padding::Same),
            filter_input_channels: Some(4),
        })
        .unwrap_err();
        assert!(
            error.problem.contains("0 and the output 4 channels"),
            "{error}"
        );
        // 2^32 * 2^32 wrapped to 0 bytes ("(0 B)"); 2^64 - 1 elements made
        // the simulation's vec! panic with "capacity overflow".
        for dims in [[1 << 32, 1 << 32], [usize::MAX, 2]] {
            let error = OpDescription::elementwise_unary(
                OpKind::Relu,
                TensorShape::int8(&dims),
                TensorShape::int8(&dims),
            )
            .unwrap_err();
            assert!(error.problem.contains("64 bits"), "{error}");
        }
        // 1x100000x100000x1000 int8 = 10^13 bytes > 2^31 (TFLite's limit),
        // while 1x2x1024x1024 int8 = 2^31 bytes exactly is a valid tensor.
        let error = conv(
            &[1, 100_000, 100_000, 1000],
            &[1, 100_000, 100_000, 1000],
            Window::square(1, 1, Padding::Valid),
        )
        .unwrap_err();
        assert!(error.problem.contains("10000000000000 bytes"), "{error}");
        assert!(conv(
            &[1, 2, 1024, 1024],
            &[1, 2, 1024, 1024],
            Window::square(1, 1, Padding::Valid)
        )
        .is_ok());
        // Dilation 2^32 - 1: extent (3 - 1) * (2^32 - 1) + 1 = 8589934591
        // > 2^31 - 1; before, SAME padding printed pad_top 4294967295.
        let mut window = Window::square(3, 1, Padding::Same);
        window.dilation_height = u32::MAX as usize;
        let error = conv(&[1, 8, 8, 4], &[1, 8, 8, 4], window).unwrap_err();
        assert!(error.problem.contains("8589934591"), "{error}");
        // A VALID 9-wide window over an 8-wide input: nothing to pad it with.
        let error = conv(
            &[1, 8, 8, 4],
            &[1, 1, 1, 4],
            Window::square(9, 1, Padding::Valid),
        )
        .unwrap_err();
        assert!(error.problem.contains("VALID padding adds none"), "{error}");
    }

    #[test]
    fn names_round_trip() {
        for kind in OpKind::ALL {
            assert_eq!(OpKind::from_tflite_name(kind.as_tflite_name()), Some(kind));
        }
        assert_eq!(
            OpKind::from_tflite_name("BIDIRECTIONAL_SEQUENCE_LSTM"),
            None
        );
    }

    #[test]
    fn conv_resolves_tflite_padding() {
        // person_detect's first layer: 96x96x1 -> 48x48x8, 3x3 stride 2 SAME.
        // TFLite: total padding (48-1)*2+3-96 = 1 -> pad_top = pad_left = 0.
        let op = conv(
            &[1, 96, 96, 1],
            &[1, 48, 48, 8],
            Window::square(3, 2, Padding::Same),
        )
        .unwrap();
        match op.params() {
            OpParams::Conv2d {
                window,
                filter_input_channels,
            } => {
                assert_eq!((window.pad_top, window.pad_left), (0, 0));
                assert_eq!(*filter_input_channels, 1);
            }
            other => panic!("unexpected params {other:?}"),
        }
    }

    #[test]
    fn conv_rejects_wrong_output_size_and_says_which() {
        let error = conv(
            &[1, 96, 96, 1],
            &[1, 47, 48, 8],
            Window::square(3, 2, Padding::Same),
        )
        .unwrap_err();
        let message = error.to_string();
        assert!(
            message.starts_with("CONV_2D: output height 47 does not match 48"),
            "{message}"
        );
        let error = conv(
            &[1, 96, 96, 1],
            &[1, 47, 46, 8],
            Window::square(3, 2, Padding::Valid),
        )
        .unwrap_err();
        assert!(
            error
                .to_string()
                .contains("output width 46 does not match 47"),
            "{error}"
        );
        let error = conv(
            &[1, 9, 9],
            &[1, 9, 9, 8],
            Window::square(1, 1, Padding::Same),
        )
        .unwrap_err();
        assert!(
            error.to_string().contains("must both be 4-D NHWC"),
            "{error}"
        );
        let error = conv(
            &[1, 9, 9, 3],
            &[1, 9, 9, 8],
            Window::square(1, 0, Padding::Same),
        )
        .unwrap_err();
        assert!(
            error
                .to_string()
                .contains("stride height must be at least 1"),
            "{error}"
        );
    }

    #[test]
    fn depthwise_checks_multiplier() {
        let error = OpDescription::depthwise_conv2d(DepthwiseConv2dParams {
            input: TensorShape::int8(&[1, 8, 8, 4]),
            output: TensorShape::int8(&[1, 8, 8, 12]),
            window: Window::square(3, 1, Padding::Same),
            depth_multiplier: 2,
        })
        .unwrap_err();
        assert_eq!(
            error.to_string(),
            "DEPTHWISE_CONV_2D: output channels 12 must be input channels 4 x depth multiplier 2"
        );
    }

    #[test]
    fn fully_connected_checks_elements() {
        let error = OpDescription::fully_connected(FullyConnectedParams {
            input: TensorShape::int8(&[1, 250]),
            output: TensorShape::int8(&[1, 10]),
            accumulation_depth: 200,
        })
        .unwrap_err();
        assert!(
            error.to_string().contains("input has 250 elements"),
            "{error}"
        );
    }

    #[test]
    fn broadcast_and_concatenation_and_pad_checks() {
        let ok = OpDescription::add(ElementwiseBinaryParams {
            input1: TensorShape::int8(&[1, 4, 4, 8]),
            input2: TensorShape::int8(&[8]),
            output: TensorShape::int8(&[1, 4, 4, 8]),
        });
        assert!(ok.is_ok());
        let error = OpDescription::mul(ElementwiseBinaryParams {
            input1: TensorShape::int8(&[1, 4, 4, 8]),
            input2: TensorShape::int8(&[4, 1, 3]),
            output: TensorShape::int8(&[1, 4, 4, 8]),
        })
        .unwrap_err();
        assert!(
            error.to_string().contains("dimension 3: inputs 8 and 3"),
            "{error}"
        );
        let error = OpDescription::concatenation(
            vec![TensorShape::int8(&[1, 2, 3]), TensorShape::int8(&[1, 2, 4])],
            TensorShape::int8(&[1, 2, 8]),
            -1,
        )
        .unwrap_err();
        assert!(
            error.to_string().contains("add up to 7 along axis 2"),
            "{error}"
        );
        let error = OpDescription::pad(
            TensorShape::int8(&[1, 4, 4, 2]),
            TensorShape::int8(&[1, 6, 5, 2]),
            vec![(0, 0), (1, 1), (1, 1), (0, 0)],
        )
        .unwrap_err();
        assert!(
            error
                .to_string()
                .contains("dimension 2: input 4 + padding 1 + 1 != output 5"),
            "{error}"
        );
        let error =
            OpDescription::softmax(TensorShape::int8(&[1, 10]), TensorShape::int8(&[1, 10]), 0)
                .unwrap_err();
        assert!(error.to_string().contains("not the last axis"), "{error}");
        let error = OpDescription::mean(
            TensorShape::int8(&[1, 4, 4, 8]),
            TensorShape::int8(&[1, 8]),
            &[1, 2],
            true,
        )
        .unwrap_err();
        assert!(
            error.to_string().contains("expected [1, 1, 1, 8]"),
            "{error}"
        );
        let error = OpDescription::elementwise_unary(
            OpKind::Relu,
            TensorShape::int8(&[4]),
            TensorShape::new(vec![4], ElementType::Float32),
        )
        .unwrap_err();
        assert_eq!(
            error.to_string(),
            "RELU: input is int8 but output is float32"
        );
    }
}
