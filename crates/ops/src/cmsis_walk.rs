//! Loop-nest simulation of TFLM built with CMSIS-NN (`OPTIMIZED_KERNEL_DIR=cmsis_nn`), for the
//! paths its int8 kernels take on a Cortex-M4/M7 with the DSP extension, compiled with GCC
//! (`ARM_MATH_DSP`, no `ARM_MATH_MVEI`, no `__ARMCC_VERSION`). CMSIS-NN is the version TFLM pins
//! in `tensorflow/lite/micro/tools/make/ext_libs/cmsis_nn_download.sh`
//! (ARM-software/CMSIS-NN 4ab83cc3). `docs/methods.md` ("CMSIS-NN loop orders") gives, per
//! kernel, the source file and function, the selection conditions and the loop order walked
//! here.
//!
//! Time is counted in *steps*: every kernel here is a sequence of "read some activation input
//! bytes, then read or write some output bytes" (the inner arithmetic touches only weights,
//! registers and scratch). Reads of one step happen at time `2k`, its output accesses at
//! `2k + 1`. Only the order of reads against output accesses decides an overlap, so the order
//! of the reads within one step (or of the writes) does not matter.
//!
//! Kernels a CMSIS-NN build does not override (RESHAPE, QUANTIZE, CONCATENATION, ...), and the
//! float32 paths of the ones it does (TFLM's cmsis_nn kernels call `reference_ops` for float32),
//! are TFLM's reference kernels: they take the reference walk. Where CMSIS-NN's source has the
//! reference order (generic depthwise, softmax), the reference walk is used too, and
//! `docs/methods.md` says why. Everything else gives [`NotModelled`].

use crate::description::{OpDescription, OpKind, OpParams, ResolvedWindow};
use crate::recorder::{AccessTimes, Recorder};
use crate::shape::ElementType;
use crate::simulate::{
    for_each_window, for_each_window_of_batch, nhwc, simulate_access_times, NotModelled,
};

/// The CMSIS-NN function (or TFLM fallback) that runs an operator.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CmsisPath {
    /// `arm_convolve_1x1_s8_fast` -> `arm_nn_mat_mult_nt_t_s8` (DSP branch).
    Conv1x1Fast,
    /// `arm_convolve_1x1_s8`: `arm_nn_mat_mult_nt_t_s8` once per output row.
    Conv1x1Strided,
    /// `arm_convolve_1_x_n_s8`, which without MVE calls `arm_convolve_s8`: the generic walk.
    Conv1xN,
    /// `arm_convolve_s8`: im2col per pixel, `arm_nn_mat_mult_kernel_s8_s16` per pixel pair.
    ConvGeneric,
    /// `arm_depthwise_conv_3x3_s8`.
    Depthwise3x3,
    /// `arm_depthwise_conv_s8_opt` (DSP branch).
    DepthwiseOpt,
    /// `arm_depthwise_conv_s8` -> `depthwise_conv_s8_mult_4`.
    DepthwiseMult4,
    /// `arm_depthwise_conv_s8` -> `depthwise_conv_s8_generic` (the reference order).
    DepthwiseGeneric,
    /// TFLM's FULLY_CONNECTED as `arm_convolve_1x1_s8_fast` (output rank > 2, depth % 4 == 0).
    FullyConnectedAsConv1x1,
    /// `arm_fully_connected_s8` -> `arm_nn_vec_mat_mult_t_s8`, once per batch.
    FullyConnected,
    /// `arm_avgpool_s8` (DSP branch).
    AvgPool,
    /// `arm_elementwise_add_s8` / `arm_elementwise_mul_s8` (4 elements per iteration).
    Elementwise4,
    /// A TFLM reference kernel, or a CMSIS-NN one with the reference order (see the reason).
    Reference(&'static str),
    /// No exact model.
    NotModelled(String),
}

fn not_modelled(reason: impl Into<String>) -> CmsisPath {
    CmsisPath::NotModelled(reason.into())
}

/// Which CMSIS-NN path TFLM's cmsis_nn kernel of `op` takes (Cortex-M4/M7, DSP, GCC).
/// Whether two shapes are equal once the shorter is padded on the left with
/// 1s (`RuntimeShape::ExtendedShape` in TFLM's `ProcessBroadcastShapes`).
fn same_after_extension(a: &[usize], b: &[usize]) -> bool {
    let rank = a.len().max(b.len());
    let extended = |dims: &[usize]| -> Vec<usize> {
        std::iter::repeat_n(1, rank - dims.len())
            .chain(dims.iter().copied())
            .collect()
    };
    extended(a) == extended(b)
}

pub fn cmsis_path(op: &OpDescription) -> CmsisPath {
    let input = op.inputs()[0].element();
    let int8 = input == ElementType::Int8;
    let float32 = input == ElementType::Float32;
    let overridden = |kind: &str| -> Option<CmsisPath> {
        if float32 {
            Some(CmsisPath::Reference(
                "TFLM's cmsis_nn kernel calls reference_ops for float32",
            ))
        } else if !int8 {
            Some(not_modelled(format!(
                "CMSIS-NN's {kind} for {input:?} input is not modelled"
            )))
        } else {
            None
        }
    };
    match op.params() {
        OpParams::Conv2d {
            window,
            filter_input_channels,
        } => {
            if let Some(path) = overridden("convolution") {
                return path;
            }
            let channels = op.inputs()[0].dims()[3];
            let w = &window.window;
            let same_channels = *filter_input_channels == channels;
            if window.pad_top == 0
                && window.pad_left == 0
                && w.filter_height == 1
                && w.filter_width == 1
                && w.dilation_height == 1
                && w.dilation_width == 1
                && same_channels
            {
                if w.stride_height == 1 && w.stride_width == 1 {
                    CmsisPath::Conv1x1Fast
                } else {
                    CmsisPath::Conv1x1Strided
                }
            } else if op.inputs()[0].dims()[1] == 1
                && w.dilation_width == 1
                && w.filter_height == 1
                && (w.stride_width * channels).is_multiple_of(4)
                && same_channels
            {
                CmsisPath::Conv1xN
            } else {
                CmsisPath::ConvGeneric
            }
        }
        OpParams::DepthwiseConv2d {
            window,
            depth_multiplier,
        } => {
            if let Some(path) = overridden("depthwise convolution") {
                return path;
            }
            let batches = op.inputs()[0].dims()[0];
            let w = &window.window;
            let undilated = w.dilation_height == 1 && w.dilation_width == 1;
            if *depth_multiplier == 1 && batches == 1 && undilated {
                if w.filter_height == 3
                    && w.filter_width == 3
                    && window.pad_top <= 1
                    && window.pad_left <= 1
                {
                    CmsisPath::Depthwise3x3
                } else {
                    CmsisPath::DepthwiseOpt
                }
            } else if depth_multiplier.is_multiple_of(4) && batches == 1 && undilated {
                CmsisPath::DepthwiseMult4
            } else {
                CmsisPath::DepthwiseGeneric
            }
        }
        OpParams::FullyConnected { accumulation_depth } => {
            if let Some(path) = overridden("fully connected") {
                return path;
            }
            if op.output().rank() > 2 && accumulation_depth.is_multiple_of(4) {
                CmsisPath::FullyConnectedAsConv1x1
            } else {
                CmsisPath::FullyConnected
            }
        }
        OpParams::Pool2d { .. } => {
            if let Some(path) = overridden("pooling") {
                return path;
            }
            if op.kind() == OpKind::AveragePool2d {
                CmsisPath::AvgPool
            } else {
                not_modelled(
                    "arm_max_pool_s8 copies each window's first pixel into the output with the C \
                     library's memcpy, whose byte order depends on the libc build; not modelled",
                )
            }
        }
        OpParams::Elementwise if op.inputs().len() == 2 => {
            if let Some(path) = overridden("elementwise ADD/MUL") {
                return path;
            }
            // TFLM's cmsis_nn ADD/MUL ask `ProcessBroadcastShapes`, which
            // compares the two inputs padded to one rank with leading 1s:
            // [4] and [1,4] take the element-wise kernel.
            if same_after_extension(op.inputs()[0].dims(), op.inputs()[1].dims()) {
                CmsisPath::Elementwise4
            } else {
                CmsisPath::Reference(
                    "TFLM's cmsis_nn ADD/MUL broadcast with reference_integer_ops::Broadcast*4DSlow",
                )
            }
        }
        OpParams::Softmax { .. } => match input {
            ElementType::Int8 => CmsisPath::Reference(
                "arm_softmax_s8 (arm_nn_softmax_common_s8) has the reference order: per row a max \
                 pass, a sum pass, then read input c, write output c",
            ),
            ElementType::Float32 => {
                CmsisPath::Reference("TFLM's cmsis_nn SOFTMAX calls reference_ops for float32")
            }
            other => not_modelled(format!("CMSIS-NN's softmax for {other:?} is not modelled")),
        },
        OpParams::Transpose { .. } => match input {
            ElementType::Int8 => not_modelled("arm_transpose_s8 is not modelled"),
            _ => CmsisPath::Reference(
                "TFLM's cmsis_nn TRANSPOSE calls reference_ops::Transpose except for int8",
            ),
        },
        OpParams::Pad { .. } => match input {
            ElementType::Int8 => not_modelled("arm_pad_s8 is not modelled"),
            _ => CmsisPath::Reference("TFLM's cmsis_nn PAD calls reference_ops except for int8"),
        },
        OpParams::Svdf { .. } => match input {
            ElementType::Float32 => {
                CmsisPath::Reference("TFLM's cmsis_nn SVDF calls the reference kernel for float32")
            }
            ElementType::Int8 => CmsisPath::Reference(
                "arm_svdf_s8 / arm_svdf_state_s16_s8 (DSP) read the input only in the feature \
                 matmul (into the state) and write the output last, after the time and reduce \
                 steps on state and scratch: every input read precedes every output write, as in \
                 the reference kernel; their scratch requests (batch x filters and batch x units \
                 int32, none for the kernel sums with DSP) are the reference kernel's",
            ),
            other => not_modelled(format!("CMSIS-NN's SVDF for {other:?} input is not modelled")),
        },
        OpParams::UnidirectionalSequenceLstm { .. } => match input {
            ElementType::Float32 => CmsisPath::Reference(
                "TFLM's cmsis_nn UNIDIRECTIONAL_SEQUENCE_LSTM runs EvalLstm for float32",
            ),
            _ => not_modelled(
                "arm_lstm_unidirectional_s8 / _s16 (CMSIS-NN's LSTM) and its buffers are not modelled",
            ),
        },
        OpParams::Mean { .. } => {
            not_modelled("MEAN runs TFLM's reference kernel, which has no single exact loop order")
        }
        OpParams::Elementwise
        | OpParams::Reshape
        | OpParams::Concatenation { .. }
        | OpParams::StridedSlice { .. } => {
            CmsisPath::Reference("a CMSIS-NN build of TFLM runs the reference kernel of this kind")
        }
    }
}

/// Bytes of the scratch buffers TFLM's cmsis_nn kernel of `op` requests, in request order
/// (`RequestScratchBufferInArena` in its Prepare; GCC, DSP, no MVE). FULLY_CONNECTED is assumed
/// per-tensor quantised with int8 weights (TFLite's default).
pub fn cmsis_scratch_bytes(op: &OpDescription) -> Vec<u64> {
    let path = cmsis_path(op);
    let channels = op.inputs()[0].dims().last().copied().unwrap_or(0) as u64;
    match (path, op.params()) {
        // arm_convolve_s8_get_buffer_size: 2 columns of kx*ky*C_in rounded up to 4, int16.
        (CmsisPath::ConvGeneric | CmsisPath::Conv1xN, OpParams::Conv2d { window, .. }) => {
            let columns =
                (window.window.filter_height * window.window.filter_width) as u64 * channels;
            let aligned = columns.div_ceil(4) * 4;
            vec![2 * aligned * 2]
        }
        // arm_depthwise_conv_s8_opt_get_buffer_size_dsp: C * kx * ky int16.
        (CmsisPath::DepthwiseOpt, OpParams::DepthwiseConv2d { window, .. }) => {
            vec![channels * (window.window.filter_height * window.window.filter_width) as u64 * 2]
        }
        // Per-tensor quantisation faked per channel: multipliers and shifts, int32 each.
        (CmsisPath::FullyConnectedAsConv1x1, _) => {
            let depth = op.output().dims().last().copied().unwrap_or(0) as u64;
            vec![depth * 4 * 2]
        }
        // arm_avgpool_s8_get_buffer_size_dsp: one int32 sum per channel.
        (CmsisPath::AvgPool, _) => vec![4 * channels],
        _ => Vec::new(),
    }
}

/// Steps of "reads, then output accesses" (see the module comment).
struct Walk {
    recorder: Recorder,
    step: u64,
}

impl Walk {
    fn read(&mut self, input: usize, first_byte: usize, count: usize) {
        self.recorder
            .read_bytes(input, first_byte, count, 2 * self.step);
    }

    fn write(&mut self, first_byte: usize, count: usize) {
        self.recorder
            .access_output_bytes(first_byte, count, 2 * self.step + 1);
    }

    fn next(&mut self) {
        self.step += 1;
    }
}

/// Per-byte times of `op` under TFLM with CMSIS-NN (Cortex-M4/M7, DSP, GCC), or why there is
/// no exact model.
pub fn simulate_cmsis_access_times(op: &OpDescription) -> Result<AccessTimes, NotModelled> {
    let path = cmsis_path(op);
    let mut walk = Walk {
        recorder: Recorder::new(op),
        step: 0,
    };
    match (&path, op.params()) {
        (CmsisPath::NotModelled(reason), _) => {
            return Err(NotModelled {
                reason: reason.clone(),
            })
        }
        (CmsisPath::Reference(_) | CmsisPath::DepthwiseGeneric, _) => {
            return simulate_access_times(op)
        }
        (CmsisPath::Conv1x1Fast, _) => {
            let [batches, height, width, in_channels] = nhwc(&op.inputs()[0]);
            let out_channels = op.output().dims()[3];
            let rows: Vec<(usize, usize)> = (0..batches * height * width)
                .map(|pixel| (pixel * in_channels, pixel * out_channels))
                .collect();
            gemm_nt_t(&mut walk, &rows, in_channels, out_channels);
        }
        (CmsisPath::Conv1x1Strided, OpParams::Conv2d { window, .. }) => {
            conv_1x1_strided(op, window, &mut walk)
        }
        // arm_convolve_1_x_n_s8 without MVE is arm_convolve_s8 (no upscaling).
        (
            CmsisPath::ConvGeneric | CmsisPath::Conv1xN,
            OpParams::Conv2d {
                window,
                filter_input_channels,
            },
        ) => conv_generic(op, window, *filter_input_channels, &mut walk),
        (CmsisPath::Depthwise3x3, OpParams::DepthwiseConv2d { window, .. }) => {
            depthwise_3x3(op, window, &mut walk)
        }
        (
            CmsisPath::DepthwiseOpt | CmsisPath::AvgPool,
            OpParams::DepthwiseConv2d { window, .. },
        )
        | (CmsisPath::DepthwiseOpt | CmsisPath::AvgPool, OpParams::Pool2d { window }) => {
            whole_window_per_pixel(op, window, &mut walk)
        }
        (
            CmsisPath::DepthwiseMult4,
            OpParams::DepthwiseConv2d {
                window,
                depth_multiplier,
            },
        ) => depthwise_mult_4(op, window, *depth_multiplier, &mut walk),
        (CmsisPath::FullyConnectedAsConv1x1, OpParams::FullyConnected { accumulation_depth }) => {
            let depth = op.output().dims()[op.output().rank() - 1];
            let batches = op.output().elements().checked_div(depth).unwrap_or(0);
            let rows: Vec<(usize, usize)> = (0..batches)
                .map(|batch| (batch * accumulation_depth, batch * depth))
                .collect();
            gemm_nt_t(&mut walk, &rows, *accumulation_depth, depth);
        }
        (CmsisPath::FullyConnected, OpParams::FullyConnected { accumulation_depth }) => {
            let depth = op.output().dims()[op.output().rank() - 1];
            let batches = op.output().elements().checked_div(depth).unwrap_or(0);
            for batch in 0..batches {
                let row = [(batch * accumulation_depth, batch * depth)];
                gemm_nt_t(&mut walk, &row, *accumulation_depth, depth);
            }
        }
        (CmsisPath::Elementwise4, _) => elementwise_4(op, &mut walk),
        (path, _) => unreachable!("{path:?} does not match {:?}", op.kind()),
    }
    let events = 2 * walk.step;
    Ok(walk.recorder.finish(events))
}

/// `arm_nn_mat_mult_nt_t_s8`, `ARM_MATH_DSP` branch: `rows[r]` = (first input byte of lhs row
/// `r`, first output byte of dst row `r`), `columns` bytes per row, `channels` rhs rows.
/// For each pair of channels: for each pair of rows, read both rows, write the 2x2 results;
/// an odd last row alone. An odd last channel: for each row, read it, write one result.
/// Every pass reads every row, so only the last pass's reads can be last reads: the others
/// are skipped (their steps are still counted).
/// `arm_nn_vec_mat_mult_t_s8` (DSP) is this with one row: two output rows per pass.
fn gemm_nt_t(walk: &mut Walk, rows: &[(usize, usize)], columns: usize, channels: usize) {
    let pairs = channels / 2;
    let odd = channels % 2 == 1;
    for pair in 0..pairs {
        let last_pass = !odd && pair + 1 == pairs;
        for row_pair in rows.chunks(2) {
            if last_pass {
                for &(input, _) in row_pair {
                    walk.read(0, input, columns);
                }
            }
            for &(_, output) in row_pair {
                walk.write(output + 2 * pair, 2);
            }
            walk.next();
        }
    }
    if odd {
        for &(input, output) in rows {
            walk.read(0, input, columns);
            walk.write(output + channels - 1, 1);
            walk.next();
        }
    }
}

/// `arm_convolve_1x1_s8`: per batch and output row, the GEMM over that row's pixels (input
/// pixel `(y * stride_h, x * stride_w)`).
fn conv_1x1_strided(op: &OpDescription, window: &ResolvedWindow, walk: &mut Walk) {
    let [batches, input_height, input_width, in_channels] = nhwc(&op.inputs()[0]);
    let [_, output_height, output_width, out_channels] = nhwc(op.output());
    let w = &window.window;
    let mut rows = Vec::with_capacity(output_width);
    for batch in 0..batches {
        for out_y in 0..output_height {
            rows.clear();
            for out_x in 0..output_width {
                let in_pixel = (batch * input_height + out_y * w.stride_height) * input_width
                    + out_x * w.stride_width;
                let out_pixel = (batch * output_height + out_y) * output_width + out_x;
                rows.push((in_pixel * in_channels, out_pixel * out_channels));
            }
            gemm_nt_t(walk, &rows, in_channels, out_channels);
        }
    }
}

/// `arm_convolve_s8` (not MVE): per batch, per group, per output pixel copy the window's
/// in-image taps (the group's channels) to the im2col buffer; after every second pixel (and
/// after the group's last pixel) write both pixels' outputs of the group.
fn conv_generic(
    op: &OpDescription,
    window: &ResolvedWindow,
    filter_input_channels: usize,
    walk: &mut Walk,
) {
    let [batches, _, _, in_channels] = nhwc(&op.inputs()[0]);
    let out_channels = nhwc(op.output())[3];
    let groups = in_channels / filter_input_channels;
    let per_group = out_channels / groups;
    let mut pending = Vec::with_capacity(2);
    for batch in 0..batches {
        for group in 0..groups {
            let flush = |walk: &mut Walk, pending: &mut Vec<usize>| {
                for &out_pixel in pending.iter() {
                    walk.write(out_pixel * out_channels + group * per_group, per_group);
                }
                walk.next();
                pending.clear();
            };
            for_each_window_of_batch(op, window, batch, |out_pixel, pixels| {
                for &pixel in pixels {
                    walk.read(
                        0,
                        pixel * in_channels + group * filter_input_channels,
                        filter_input_channels,
                    );
                }
                pending.push(out_pixel);
                if pending.len() == 2 {
                    flush(walk, &mut pending);
                }
            });
            if !pending.is_empty() {
                flush(walk, &mut pending);
            }
        }
    }
}

/// `arm_depthwise_conv_3x3_s8` (batch 1, multiplier 1): per output pixel, per 4 channels (then
/// the leftover channels one by one) read the window's rows inside the image, of each row the
/// left column only if `in_x >= 0`, the middle one always, the right one if
/// `input_width - in_x >= 3`; then write those channels.
fn depthwise_3x3(op: &OpDescription, window: &ResolvedWindow, walk: &mut Walk) {
    let [_, input_height, input_width, channels] = nhwc(&op.inputs()[0]);
    let [_, output_height, output_width, _] = nhwc(op.output());
    let input_bytes = op.inputs()[0].bytes() as i64;
    let w = &window.window;
    for out_y in 0..output_height {
        let in_y = (out_y * w.stride_height) as i64 - window.pad_top as i64;
        let row_start = (-in_y).max(0);
        let row_end = (input_height as i64 - in_y).min(3);
        for out_x in 0..output_width {
            let in_x = (out_x * w.stride_width) as i64 - window.pad_left as i64;
            let mut columns = Vec::with_capacity(3);
            if in_x >= 0 {
                columns.push(in_x);
            }
            columns.push(in_x + 1);
            if input_width as i64 - in_x >= 3 {
                columns.push(in_x + 2);
            }
            let out_pixel = out_y * output_width + out_x;
            let mut channel = 0;
            while channel < channels {
                let width = if channel + 4 <= channels { 4 } else { 1 };
                for row in row_start..row_end {
                    for &column in &columns {
                        let byte = ((in_y + row) * input_width as i64 + column) * channels as i64
                            + channel as i64;
                        // Literal addresses: the middle column is read even when it lies
                        // past the row's end (it then reads the next row, still the input).
                        if byte >= 0 && byte + width as i64 <= input_bytes {
                            walk.read(0, byte as usize, width);
                        }
                    }
                }
                walk.write(out_pixel * channels + channel, width);
                walk.next();
                channel += width;
            }
        }
    }
}

/// `arm_depthwise_conv_s8_opt` (DSP) and `arm_avgpool_s8` (DSP): per output pixel, read every
/// channel of the window's in-image pixels (into the im2col / int32 sum buffer), then write all
/// channels of the output pixel.
fn whole_window_per_pixel(op: &OpDescription, window: &ResolvedWindow, walk: &mut Walk) {
    let channels = nhwc(&op.inputs()[0])[3];
    let out_channels = nhwc(op.output())[3];
    for_each_window(op, window, |out_pixel, pixels| {
        for &pixel in pixels {
            walk.read(0, pixel * channels, channels);
        }
        walk.write(out_pixel * out_channels, out_channels);
        walk.next();
    });
}

/// `depthwise_conv_s8_mult_4` (batch 1, multiplier 4k): per output pixel, per input channel,
/// per tile of 4 multipliers: read the channel's in-image window, write the 4 outputs.
fn depthwise_mult_4(
    op: &OpDescription,
    window: &ResolvedWindow,
    multiplier: usize,
    walk: &mut Walk,
) {
    let channels = nhwc(&op.inputs()[0])[3];
    let out_channels = nhwc(op.output())[3];
    for_each_window_of_batch(op, window, 0, |out_pixel, pixels| {
        for channel in 0..channels {
            for tile in (0..multiplier).step_by(4) {
                for &pixel in pixels {
                    walk.read(0, pixel * channels + channel, 1);
                }
                walk.write(out_pixel * out_channels + channel * multiplier + tile, 4);
                walk.next();
            }
        }
    });
}

/// `arm_elementwise_add_s8` / `arm_elementwise_mul_s8` (DSP): 4 elements of each input, then
/// the 4 outputs; the last `n % 4` one at a time.
fn elementwise_4(op: &OpDescription, walk: &mut Walk) {
    let elements = op.output().elements();
    let mut first = 0;
    while first < elements {
        let width = if first + 4 <= elements { 4 } else { 1 };
        walk.read(0, first, width);
        walk.read(1, first, width);
        walk.write(first, width);
        walk.next();
        first += width;
    }
}

/// Closed form of `arm_convolve_1x1_s8_fast` (DSP, GCC) and of TFLM's FULLY_CONNECTED as a
/// 1x1 convolution: `(s_min, s_mono, u_min, u_mono)` for `pixels` lhs rows of `in_channels`
/// bytes to `out_channels >= 3` int8 outputs, when the input has at least 3 bytes; `None`
/// otherwise (then only the simulation answers). Derivation in `docs/methods.md`.
pub fn cmsis_conv_1x1_fast_offsets(
    pixels: usize,
    in_channels: usize,
    out_channels: usize,
) -> Option<(usize, usize, usize, usize)> {
    let input_bytes = pixels * in_channels;
    let output_bytes = pixels * out_channels;
    if out_channels < 3 || input_bytes < 3 {
        return None;
    }
    let s = output_bytes - 2 + out_channels % 2;
    Some((s, s, input_bytes, input_bytes))
}

#[cfg(test)]
mod path_tests {
    use super::*;
    use crate::{ElementType, ElementwiseBinaryParams, TensorShape};

    fn add(input1: &[usize], input2: &[usize], output: &[usize]) -> OpDescription {
        let int8 = |dims: &[usize]| TensorShape::new(dims.to_vec(), ElementType::Int8);
        OpDescription::add(ElementwiseBinaryParams {
            input1: int8(input1),
            input2: int8(input2),
            output: int8(output),
        })
        .unwrap()
    }

    /// TFLM's cmsis_nn ADD runs `arm_elementwise_add_s8` when
    /// `ProcessBroadcastShapes` finds the inputs equal after padding them to
    /// one rank with leading 1s (process_broadcast_shapes.h), else
    /// `BroadcastAdd4DSlow`: [4] + [1,4] is element-wise although the raw
    /// dims differ (and differ from the output's [1,4] for the first input).
    #[test]
    fn elementwise_add_is_chosen_on_shapes_padded_to_one_rank() {
        assert_eq!(
            cmsis_path(&add(&[4], &[1, 4], &[1, 4])),
            CmsisPath::Elementwise4
        );
        assert_eq!(
            cmsis_path(&add(&[1, 6, 5, 4], &[1, 6, 5, 4], &[1, 6, 5, 4])),
            CmsisPath::Elementwise4
        );
        // Control: a real broadcast takes the reference kernel.
        assert!(matches!(
            cmsis_path(&add(&[3, 4], &[3, 1], &[3, 4])),
            CmsisPath::Reference(_)
        ));
    }
}
