//! Method 2 of the DMO paper: loop-nest simulation. Walks the loop nest of
//! TFLM's reference kernel in its order, without arithmetic, and records per
//! byte the last read of each activation input (`lr`) and the first access of
//! the output (`fa`).
//!
//! Time is counted in activation-buffer accesses: every read of an input
//! element, and every read or write of an output element, is one event
//! (weights, biases and scratch are not counted: they never share bytes with
//! the activations). Only the order of these events matters to the overlap
//! miner, so the times are comparable with nothing but each other.
//!
//! The walk skips what cannot change `lr` or `fa`: a convolution reads the
//! same window once per output channel, and only the reads of the last
//! output channel (of each group) can be last reads, so only those are
//! visited, with their times computed from the loop counts. The naive walk in
//! `reference_walk.rs` visits every access and is the oracle for this one.

use crate::description::{
    broadcast_dim, OpDescription, OpKind, OpParams, ResolvedWindow, SliceAxis,
};
pub use crate::recorder::AccessTimes;
use crate::recorder::Recorder;
use crate::shape::TensorShape;

/// Why an operator has no loop-nest model.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct NotModelled {
    pub reason: String,
}

/// The most activation bytes (all inputs plus the output) the loop-nest
/// simulation and the analytic formulas take on: 2^25 (32 MiB). The walk
/// keeps 8 bytes per byte and its result 16, so memory stays under 1 GiB.
/// Microcontroller tensors are kilobytes to a few megabytes.
pub const MAX_MODELLED_BYTES: u64 = 1 << 25;

/// The most loop iterations (window taps plus output elements, an upper
/// bound of what the walk visits) a simulation may cost: 2^28, a second or
/// two. MobileNetV2-224's largest layer needs under 2^23.
pub const MAX_MODELLED_STEPS: u64 = 1 << 28;

/// An upper bound of the loop iterations the walk of `op` makes.
fn steps(op: &OpDescription) -> u128 {
    let output = op.output();
    let activation: u128 = op
        .inputs()
        .iter()
        .chain([output])
        .map(|shape| shape.elements() as u128)
        .sum();
    let window_steps = |window: &ResolvedWindow| -> u128 {
        let [batch, height, width, channels] = nhwc(output);
        let input_channels = op.inputs()[0].dims()[3];
        (batch * height * width) as u128
            * window.window.filter_height as u128
            * window.window.filter_width as u128
            * input_channels.max(channels) as u128
    };
    let loops = match op.params() {
        OpParams::Conv2d { window, .. }
        | OpParams::DepthwiseConv2d { window, .. }
        | OpParams::Pool2d { window } => window_steps(window),
        OpParams::FullyConnected { accumulation_depth } => {
            output.elements() as u128 * *accumulation_depth as u128
        }
        OpParams::Svdf { filters, .. } => op.inputs()[0].elements() as u128 * *filters as u128,
        _ => 0,
    };
    loops + 4 * activation
}

/// Refuses an operator too large to model (see [`MAX_MODELLED_BYTES`] and
/// [`MAX_MODELLED_STEPS`]) before anything is allocated.
pub fn check_cost(op: &OpDescription) -> Result<(), NotModelled> {
    let bytes: u64 = op
        .inputs()
        .iter()
        .chain([op.output()])
        .map(|shape| shape.bytes() as u64)
        .sum();
    if bytes > MAX_MODELLED_BYTES {
        return Err(NotModelled {
            reason: format!(
                "its tensors hold {bytes} bytes, more than dmo models ({MAX_MODELLED_BYTES} bytes)"
            ),
        });
    }
    let steps = steps(op);
    if steps > MAX_MODELLED_STEPS as u128 {
        return Err(NotModelled {
            reason: format!(
                "its loops take about {steps} steps, more than dmo simulates ({MAX_MODELLED_STEPS})"
            ),
        });
    }
    Ok(())
}

/// The reason MEAN is not modelled, shared with the reports.
const MEAN_REASON: &str = "TFLM's MEAN takes different code paths by version, axes and \
     quantisation (the general ones initialise the whole output before reading the input, \
     others accumulate in a scratch buffer); no single loop order is exact, so no overlap is claimed";

/// Simulates TFLM's reference kernel of `op` and returns the per-byte times,
/// or why the kind has no exact model.
pub fn simulate_access_times(op: &OpDescription) -> Result<AccessTimes, NotModelled> {
    check_cost(op)?;
    let mut recorder = Recorder::new(op);
    let events = match op.params() {
        OpParams::Conv2d {
            window,
            filter_input_channels,
        } => walk_conv2d(op, window, *filter_input_channels, &mut recorder),
        OpParams::DepthwiseConv2d {
            window,
            depth_multiplier,
        } => walk_depthwise_conv2d(op, window, *depth_multiplier, &mut recorder),
        OpParams::FullyConnected { accumulation_depth } => {
            walk_fully_connected(op, *accumulation_depth, &mut recorder)
        }
        OpParams::Pool2d { window } => walk_pool2d(op, window, &mut recorder),
        OpParams::Elementwise if crate::broadcast::runs_broadcast_loop(op) => {
            walk_broadcast_loops(op, &mut recorder)
        }
        OpParams::Elementwise if op.inputs().len() == 2 => walk_broadcast_binary(op, &mut recorder),
        OpParams::Elementwise => walk_elementwise_unary(op, &mut recorder),
        OpParams::Softmax { .. } => walk_softmax(op, &mut recorder),
        OpParams::Reshape => walk_memcpy(op.output().bytes(), &mut recorder),
        OpParams::Pad { paddings } => walk_pad(op, paddings, &mut recorder),
        OpParams::Transpose { perm } => walk_transpose(op, perm, &mut recorder),
        OpParams::StridedSlice { axes } => walk_strided_slice(op, axes, &mut recorder),
        OpParams::Concatenation { axis } => walk_concatenation(op, *axis, &mut recorder),
        OpParams::Svdf { filters, .. } => walk_svdf(op, *filters, &mut recorder),
        OpParams::UnidirectionalSequenceLstm { time_major } => {
            crate::lstm_walk::walk_lstm(op, *time_major, &mut recorder)
        }
        OpParams::Mean { .. } => {
            debug_assert_eq!(op.kind(), OpKind::Mean);
            return Err(NotModelled {
                reason: MEAN_REASON.to_string(),
            });
        }
    };
    Ok(recorder.finish(events))
}

pub(crate) fn nhwc(shape: &TensorShape) -> [usize; 4] {
    let dims = shape.dims();
    [dims[0], dims[1], dims[2], dims[3]]
}

/// Input pixels `(batch * height + y) * width + x` a window at output
/// `(out_y, out_x)` covers, in filter_y, filter_x order, skipping those in the
/// padding (TFLM's `is_point_inside_image` / clipped pool windows).
#[allow(clippy::too_many_arguments)]
pub(crate) fn window_pixels(
    window: &ResolvedWindow,
    batch: usize,
    input_height: usize,
    input_width: usize,
    out_y: usize,
    out_x: usize,
    pixels: &mut Vec<usize>,
) {
    pixels.clear();
    let geometry = window.window;
    let origin_y = (out_y * geometry.stride_height) as i64 - window.pad_top as i64;
    let origin_x = (out_x * geometry.stride_width) as i64 - window.pad_left as i64;
    for filter_y in 0..geometry.filter_height {
        let in_y = origin_y + (geometry.dilation_height * filter_y) as i64;
        if in_y < 0 || in_y >= input_height as i64 {
            continue;
        }
        for filter_x in 0..geometry.filter_width {
            let in_x = origin_x + (geometry.dilation_width * filter_x) as i64;
            if in_x < 0 || in_x >= input_width as i64 {
                continue;
            }
            pixels.push((batch * input_height + in_y as usize) * input_width + in_x as usize);
        }
    }
}

/// Visits the output pixels of `batch` of a windowed op in TFLM's
/// (out_y, out_x) order, each with its index among all output pixels and
/// the in-image input pixels of its window (the one loop every windowed
/// walk, of any family, shares).
pub(crate) fn for_each_window_of_batch(
    op: &OpDescription,
    window: &ResolvedWindow,
    batch: usize,
    mut visit: impl FnMut(usize, &[usize]),
) {
    let [_, input_height, input_width, _] = nhwc(&op.inputs()[0]);
    let [_, output_height, output_width, _] = nhwc(op.output());
    let mut pixels = Vec::new();
    for out_y in 0..output_height {
        for out_x in 0..output_width {
            window_pixels(
                window,
                batch,
                input_height,
                input_width,
                out_y,
                out_x,
                &mut pixels,
            );
            visit(
                (batch * output_height + out_y) * output_width + out_x,
                &pixels,
            );
        }
    }
}

/// [`for_each_window_of_batch`] over every batch in order.
pub(crate) fn for_each_window(
    op: &OpDescription,
    window: &ResolvedWindow,
    mut visit: impl FnMut(usize, &[usize]),
) {
    for batch in 0..nhwc(&op.inputs()[0])[0] {
        for_each_window_of_batch(op, window, batch, &mut visit);
    }
}

/// `reference_integer_ops::ConvPerChannel` (and the float/int16 versions):
/// for batch, out_y, out_x, out_channel { for filter_y, filter_x (inside the
/// image), in_channel of the group: read; write }.
fn walk_conv2d(
    op: &OpDescription,
    window: &ResolvedWindow,
    filter_input_channels: usize,
    recorder: &mut Recorder,
) -> u64 {
    let [_, _, _, input_channels] = nhwc(&op.inputs()[0]);
    let output_channels = nhwc(op.output())[3];
    let groups = input_channels / filter_input_channels;
    let filters_per_group = output_channels / groups;
    let mut time = 0u64;
    for_each_window(op, window, |output_pixel, pixels| {
        let per_channel = (pixels.len() * filter_input_channels + 1) as u64;
        if filters_per_group > 0 {
            for group in 0..groups {
                let last_channel = (group + 1) * filters_per_group - 1;
                let start = time + last_channel as u64 * per_channel;
                for (tap, &pixel) in pixels.iter().enumerate() {
                    let tap_start = start + (tap * filter_input_channels) as u64;
                    let first_element = pixel * input_channels + group * filter_input_channels;
                    for channel in 0..filter_input_channels {
                        recorder.read(0, first_element + channel, tap_start + channel as u64);
                    }
                }
            }
        }
        for out_channel in 0..output_channels {
            let write_time = time + (out_channel as u64 + 1) * per_channel - 1;
            recorder.access_output(output_pixel * output_channels + out_channel, write_time);
        }
        time += output_channels as u64 * per_channel;
    });
    time
}

/// `reference_integer_ops::DepthwiseConvPerChannel`: for batch, out_y,
/// out_x, in_channel, m { for filter_y, filter_x (inside): read input channel
/// `in_channel`; write output channel `in_channel * multiplier + m` }.
fn walk_depthwise_conv2d(
    op: &OpDescription,
    window: &ResolvedWindow,
    depth_multiplier: usize,
    recorder: &mut Recorder,
) -> u64 {
    let input_channels = nhwc(&op.inputs()[0])[3];
    let output_channels = nhwc(op.output())[3];
    let mut time = 0u64;
    for_each_window(op, window, |output_pixel, pixels| {
        let per_channel = pixels.len() as u64 + 1;
        for in_channel in 0..input_channels {
            // Only the last multiplier's reads can be last reads.
            let last_output_channel = (in_channel + 1) * depth_multiplier - 1;
            let start = time + last_output_channel as u64 * per_channel;
            for (tap, &pixel) in pixels.iter().enumerate() {
                recorder.read(0, pixel * input_channels + in_channel, start + tap as u64);
            }
        }
        for out_channel in 0..output_channels {
            let write_time = time + (out_channel as u64 + 1) * per_channel - 1;
            recorder.access_output(output_pixel * output_channels + out_channel, write_time);
        }
        time += output_channels as u64 * per_channel;
    });
    time
}

/// `reference_integer_ops::FullyConnected`: for batch, out_c { for d: read
/// input[batch, d]; write output[batch, out_c] }.
fn walk_fully_connected(
    op: &OpDescription,
    accumulation_depth: usize,
    recorder: &mut Recorder,
) -> u64 {
    let output = op.output();
    let output_depth = output.dims()[output.rank() - 1];
    let batches = output.elements().checked_div(output_depth).unwrap_or(0);
    let per_output = accumulation_depth as u64 + 1;
    let mut time = 0u64;
    for batch in 0..batches {
        if output_depth > 0 {
            let start = time + (output_depth as u64 - 1) * per_output;
            for depth in 0..accumulation_depth {
                recorder.read(0, batch * accumulation_depth + depth, start + depth as u64);
            }
        }
        for out_channel in 0..output_depth {
            let write_time = time + (out_channel as u64 + 1) * per_output - 1;
            recorder.access_output(batch * output_depth + out_channel, write_time);
        }
        time += output_depth as u64 * per_output;
    }
    time
}

/// `reference_integer_ops::AveragePool` / `MaxPool`: for batch, out_y,
/// out_x, channel { read the window clipped to the input; write }.
fn walk_pool2d(op: &OpDescription, window: &ResolvedWindow, recorder: &mut Recorder) -> u64 {
    let channels = nhwc(&op.inputs()[0])[3];
    let mut time = 0u64;
    for_each_window(op, window, |output_pixel, pixels| {
        for channel in 0..channels {
            for &pixel in pixels {
                recorder.read(0, pixel * channels + channel, time);
                time += 1;
            }
            recorder.access_output(output_pixel * channels + channel, time);
            time += 1;
        }
    });
    time
}

/// ADD / MUL of equal shapes (`AddElementwise`, `MulElementwise`): in output order,
/// read input1's and input2's (broadcast) element, write the output element.
fn walk_broadcast_binary(op: &OpDescription, recorder: &mut Recorder) -> u64 {
    let output = op.output();
    let rank = output.rank();
    // Row-major strides of each input, 0 along broadcast dimensions.
    let strides: Vec<Vec<usize>> = op
        .inputs()
        .iter()
        .map(|input| {
            let mut strides = vec![0; rank];
            let mut stride = 1;
            for axis in (0..rank).rev() {
                let dim = broadcast_dim(input, rank, axis);
                strides[axis] = if dim == 1 { 0 } else { stride };
                stride *= dim;
            }
            strides
        })
        .collect();
    let mut index = vec![0usize; rank];
    let mut time = 0u64;
    for element in 0..output.elements() {
        for (input, input_strides) in strides.iter().enumerate() {
            let offset: usize = index.iter().zip(input_strides).map(|(i, s)| i * s).sum();
            recorder.read(input, offset, time);
            time += 1;
        }
        recorder.access_output(element, time);
        time += 1;
        // Advance the output index, innermost dimension fastest.
        for axis in (0..rank).rev() {
            index[axis] += 1;
            if index[axis] < output.dims()[axis] {
                break;
            }
            index[axis] = 0;
        }
    }
    time
}

/// Broadcasting MUL and ADD (`BroadcastBinaryOpSimple`'s `RunBinaryOp`): the fused loops of
/// `broadcast::broadcast_loops`, outermost first; in the innermost, an input of stride 0 is read
/// once before the row, then per element the other input(s) are read and the output written.
fn walk_broadcast_loops(op: &OpDescription, recorder: &mut Recorder) -> u64 {
    let loops = crate::broadcast::broadcast_loops(op);
    let inner = loops[0];
    let outer = &loops[1..];
    let rows: usize = outer.iter().map(|l| l.shape).product();
    let mut index = vec![0usize; outer.len()];
    let mut time = 0u64;
    for _ in 0..rows {
        let base = |stride: &dyn Fn(&crate::broadcast::BroadcastLoop) -> usize| -> usize {
            outer.iter().zip(&index).map(|(l, &i)| i * stride(l)).sum()
        };
        let starts = [base(&|l| l.strides[0]), base(&|l| l.strides[1])];
        let output_start = base(&|l| l.output_stride);
        for (input, &start) in starts.iter().enumerate() {
            if inner.strides[input] == 0 {
                recorder.read(input, start, time);
                time += 1;
            }
        }
        for i in 0..inner.shape {
            for (input, &start) in starts.iter().enumerate() {
                if inner.strides[input] != 0 {
                    recorder.read(input, start + i * inner.strides[input], time);
                    time += 1;
                }
            }
            recorder.access_output(output_start + i * inner.output_stride, time);
            time += 1;
        }
        // Next row: the innermost of the outer loops fastest.
        for (i, l) in index.iter_mut().zip(outer) {
            *i += 1;
            if *i < l.shape {
                break;
            }
            *i = 0;
        }
    }
    time
}

/// QUANTIZE, DEQUANTIZE, LOGISTIC, TANH, RELU, RELU6: for i { read input[i];
/// write output[i] }.
fn walk_elementwise_unary(op: &OpDescription, recorder: &mut Recorder) -> u64 {
    let mut time = 0u64;
    for element in 0..op.output().elements() {
        recorder.read(0, element, time);
        recorder.access_output(element, time + 1);
        time += 2;
    }
    time
}

/// SOFTMAX per row of `depth`. int8 input (`reference_ops::Softmax`
/// quantised): read the row (max), read it again (sum of exponentials), then
/// for each c read input c and write output c. float32 / int16 input
/// (`reference_ops::Softmax` float, `SoftmaxInt16`): read the row (max), for
/// each c read input c and write the exponential to output c, then for each c
/// read output c and write it scaled.
fn walk_softmax(op: &OpDescription, recorder: &mut Recorder) -> u64 {
    let input = &op.inputs()[0];
    let depth = input.dims()[input.rank() - 1];
    let rows = input.elements().checked_div(depth).unwrap_or(0);
    let int8_input = input.element() == crate::shape::ElementType::Int8;
    let depth_time = depth as u64;
    let mut time = 0u64;
    for row in 0..rows {
        let first = row * depth;
        if int8_input {
            // Two read-only passes; only the final pass's reads are last reads.
            let final_pass = time + 2 * depth_time;
            for c in 0..depth {
                let read_time = final_pass + 2 * c as u64;
                recorder.read(0, first + c, read_time);
                recorder.access_output(first + c, read_time + 1);
            }
            time += 4 * depth_time;
        } else {
            let exp_pass = time + depth_time;
            for c in 0..depth {
                let read_time = exp_pass + 2 * c as u64;
                recorder.read(0, first + c, read_time);
                recorder.access_output(first + c, read_time + 1);
            }
            // The scaling pass reads and writes only the output, which has
            // been accessed already: it cannot change `fa`.
            time += 5 * depth_time;
        }
    }
    time
}

/// RESHAPE: `memcpy(output, input, bytes)`, byte by byte in order: read byte
/// i, write byte i. (When input and output share an address TFLM skips the
/// copy; that placement is the planner's business.)
fn walk_memcpy(bytes: usize, recorder: &mut Recorder) -> u64 {
    for byte in 0..bytes {
        recorder.read_bytes(0, byte, 1, 2 * byte as u64);
        recorder.access_output_bytes(byte, 1, 2 * byte as u64 + 1);
    }
    2 * bytes as u64
}

/// `reference_ops::PadImpl`: in output order, a padding element is written
/// with the pad value, an interior one is copied from the next input element.
fn walk_pad(op: &OpDescription, paddings: &[(usize, usize)], recorder: &mut Recorder) -> u64 {
    let output = op.output();
    let input_dims = op.inputs()[0].dims();
    let rank = output.rank();
    let mut index = vec![0usize; rank];
    let mut next_input = 0;
    let mut time = 0u64;
    for element in 0..output.elements() {
        let interior = (0..rank).all(|axis| {
            let before = paddings[axis].0;
            index[axis] >= before && index[axis] < before + input_dims[axis]
        });
        if interior {
            recorder.read(0, next_input, time);
            next_input += 1;
            time += 1;
        }
        recorder.access_output(element, time);
        time += 1;
        for axis in (0..rank).rev() {
            index[axis] += 1;
            if index[axis] < output.dims()[axis] {
                break;
            }
            index[axis] = 0;
        }
    }
    time
}

/// `reference_ops::Transpose` (`TransposeImpl`): the output in row-major order, each element
/// copied from the input element whose coordinate along `perm[d]` is the output's along `d`.
fn walk_transpose(op: &OpDescription, perm: &[usize], recorder: &mut Recorder) -> u64 {
    let input_dims = op.inputs()[0].dims();
    let output_dims = op.output().dims();
    let rank = output_dims.len();
    let mut input_strides = vec![1usize; rank];
    for axis in (0..rank.saturating_sub(1)).rev() {
        input_strides[axis] = input_strides[axis + 1] * input_dims[axis + 1];
    }
    let mut index = vec![0usize; rank];
    let mut time = 0u64;
    for element in 0..op.output().elements() {
        let source: usize = (0..rank).map(|d| index[d] * input_strides[perm[d]]).sum();
        recorder.read(0, source, time);
        recorder.access_output(element, time + 1);
        time += 2;
        for d in (0..rank).rev() {
            index[d] += 1;
            if index[d] < output_dims[d] {
                break;
            }
            index[d] = 0;
        }
    }
    time
}

/// `reference_ops::StridedSlice` (5-D): the output sequentially (`SequentialTensorWriter`),
/// from the input elements of the nested axis loops. When the innermost stride is 1 each
/// innermost row is one `memcpy` (`WriteN`), walked byte by byte in address order as for
/// CONCATENATION (word copies only remove hazards inside a word); otherwise each element is
/// read, then written.
fn walk_strided_slice(op: &OpDescription, axes: &[SliceAxis], recorder: &mut Recorder) -> u64 {
    let dims = op.inputs()[0].dims();
    let rank = dims.len();
    let element_bytes = op.output().element().size_bytes();
    let mut input_strides = vec![1i64; rank];
    for axis in (0..rank.saturating_sub(1)).rev() {
        input_strides[axis] = input_strides[axis + 1] * dims[axis + 1] as i64;
    }
    let rows: usize = axes[..rank - 1].iter().map(|a| a.count).product();
    let inner = axes[rank - 1];
    let memcpy = inner.stride == 1;
    let mut index = vec![0usize; rank - 1];
    let mut output_element = 0;
    let mut time = 0u64;
    for _ in 0..rows {
        let row_start: i64 = (0..rank - 1)
            .map(|axis| {
                (axes[axis].start + index[axis] as i64 * axes[axis].stride) * input_strides[axis]
            })
            .sum();
        for k in 0..inner.count {
            let source = (row_start + inner.start + k as i64 * inner.stride) as usize;
            if memcpy {
                for byte in 0..element_bytes {
                    recorder.read_bytes(0, source * element_bytes + byte, 1, time);
                    recorder.access_output_bytes(
                        output_element * element_bytes + byte,
                        1,
                        time + 1,
                    );
                    time += 2;
                }
            } else {
                recorder.read(0, source, time);
                recorder.access_output(output_element, time + 1);
                time += 2;
            }
            output_element += 1;
        }
        for axis in (0..rank - 1).rev() {
            index[axis] += 1;
            if index[axis] < axes[axis].count {
                break;
            }
            index[axis] = 0;
        }
    }
    time
}

/// SVDF (`EvalIntegerSvdfReference`, and the float kernel alike): the
/// feature matmul reads, for each batch `b` and filter, all of input row `b`
/// (writing the state, not an activation); the time and reduce steps touch
/// only state, weights and scratch; the output is written last, element by
/// element. So every input read precedes every output access.
fn walk_svdf(op: &OpDescription, filters: usize, recorder: &mut Recorder) -> u64 {
    let input = &op.inputs()[0];
    let [batches, input_size] = [input.dims()[0], input.dims()[1]];
    let mut time = 0u64;
    for batch in 0..batches {
        // Only the last filter's pass holds last reads; the earlier passes
        // are counted, not visited.
        time += (filters as u64 - 1) * input_size as u64;
        for c in 0..input_size {
            recorder.read(0, batch * input_size + c, time);
            time += 1;
        }
    }
    for element in 0..op.output().elements() {
        recorder.access_output(element, time);
        time += 1;
    }
    time
}

/// `reference_ops::Concatenation`: for each outer index, for each input,
/// `memcpy` its slice (byte by byte) to the next output bytes.
fn walk_concatenation(op: &OpDescription, axis: usize, recorder: &mut Recorder) -> u64 {
    let output = op.output();
    let outer: usize = output.dims()[..axis].iter().product();
    let inner: usize = output.dims()[axis + 1..].iter().product();
    let element_bytes = output.element().size_bytes();
    let mut output_byte = 0;
    let mut time = 0u64;
    for outer_index in 0..outer {
        for (input_index, input) in op.inputs().iter().enumerate() {
            let copy_bytes = input.dims()[axis] * inner * element_bytes;
            let first = outer_index * copy_bytes;
            for byte in 0..copy_bytes {
                recorder.read_bytes(input_index, first + byte, 1, time);
                recorder.access_output_bytes(output_byte, 1, time + 1);
                output_byte += 1;
                time += 2;
            }
        }
    }
    time
}

#[cfg(test)]
mod cost_tests {
    use super::*;
    use crate::{Conv2dParams, Padding, Window};

    fn conv(side: usize, channels: usize, filter: (usize, usize)) -> OpDescription {
        let mut window = Window::square(1, 1, Padding::Same);
        (window.filter_height, window.filter_width) = filter;
        OpDescription::conv2d(Conv2dParams {
            input: TensorShape::int8(&[1, side, side, channels]),
            output: TensorShape::int8(&[1, side, side, channels]),
            window,
            filter_input_channels: None,
        })
        .unwrap()
    }

    #[test]
    fn cost_is_bounded_before_allocating() {
        // Issue 12 case 5: 1x1000x1000x64 in and out = 128,000,000 bytes >
        // MAX_MODELLED_BYTES = 2^25 (it used 4 GB); a 1x2^30 filter over a
        // 1x1 input: 2^30 taps > MAX_MODELLED_STEPS = 2^28 (ran for minutes).
        let reason = simulate_access_times(&conv(1000, 64, (3, 3)))
            .unwrap_err()
            .reason;
        assert!(reason.contains("128000000 bytes"), "{reason}");
        let reason = simulate_access_times(&conv(1, 1, (1, 1 << 30)))
            .unwrap_err()
            .reason;
        assert!(reason.contains("steps"), "{reason}");
        // person_detect's largest conv (48x48x8 -> 48x48x16 class) is far inside.
        assert!(check_cost(&conv(48, 16, (3, 3))).is_ok());
        match &crate::analytic(&conv(1000, 64, (3, 3)))[0].result {
            crate::OverlapModel::NotModelled { reason } => assert!(reason.contains("bytes")),
            other => panic!("{other:?}"),
        }
    }
}
