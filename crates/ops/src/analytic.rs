//! Method 3 of the DMO paper: closed-form safe offsets from a kernel's loop
//! structure, without walking its loops. Kinds without a formula are
//! reported as not modelled (never guessed). Derivations: `docs/methods.md`.
//!
//! Every formula rests on one fact about the reference loop orders: output
//! *elements* are written in index order, each after the reads it needs, so
//! output element `m` hazards with input element `x` (its first access comes
//! no later than `x`'s last read) iff `m < M(x)`, where `M(x)` is the index
//! of the output element during whose computation `x` is read for the last
//! time. In bytes (element sizes `e_in`, `e_out`), the largest unsafe
//! differences are then
//!
//! - `s_mono = max(0, max_x (M(x) * e_out - x * e_in))` over read `x`
//!   (`j` = last byte of element `M(x) - 1`, `i` = first byte of `x`),
//! - `u_mono = (x_last + 1) * e_in` for the last read input element `x_last`,
//!   if `M(x_last) >= 1` (else there is no hazard at all and `u_mono = 0`)
//!   (`i` = last byte of `x_last`, `j` = byte 0).
//!
//! `M(x) * e_out - x * e_in` separates into independent terms per loop
//! (batch, row, column, channel), each maximised on its own. Windowed ops
//! need the last output row covering each input row, so they cost
//! O(height + width + output size x filter size) per axis pair, not O(1);
//! every other kind is O(rank).

use crate::description::{
    broadcast_dim, OpDescription, OpKind, OpParams, ResolvedWindow, SliceAxis,
};
use crate::shape::TensorShape;
use crate::{AnalyticOverlap, InputOverlap, OverlapModel};
use dmo_core::ByteCount;
use dmo_overlap::SafeOffset;

/// The analytic result of each activation input of `op`.
pub fn analytic(op: &OpDescription) -> Vec<InputOverlap> {
    // The formulas walk each axis's windows and allocate per input row:
    // the same bound as the simulation.
    if let Err(crate::NotModelled { reason }) = crate::simulate::check_cost(op) {
        return (0..op.inputs().len())
            .map(|input_index| InputOverlap {
                input_index,
                result: OverlapModel::NotModelled {
                    reason: reason.clone(),
                },
            })
            .collect();
    }
    (0..op.inputs().len())
        .map(|input_index| InputOverlap {
            input_index,
            result: match monotone_offsets(op, input_index) {
                Some((s_mono, u_mono)) => OverlapModel::Analytic(AnalyticOverlap {
                    input_len: ByteCount(op.inputs()[input_index].bytes() as u64),
                    output_len: ByteCount(op.output().bytes() as u64),
                    s_mono: SafeOffset(s_mono),
                    u_mono: SafeOffset(u_mono),
                }),
                None => OverlapModel::NotModelled {
                    reason: format!("no analytic formula for {}", op.kind()),
                },
            },
        })
        .collect()
}

/// `(s_mono, u_mono)` in bytes for input `input_index`, if the kind has a
/// closed form.
pub fn monotone_offsets(op: &OpDescription, input_index: usize) -> Option<(u64, u64)> {
    let input = &op.inputs()[input_index];
    let output = op.output();
    let e_in = input.element().size_bytes() as i128;
    let e_out = output.element().size_bytes() as i128;
    match op.params() {
        OpParams::Conv2d {
            window,
            filter_input_channels,
        } => {
            let input_channels = input.dims()[3];
            let groups = input_channels / filter_input_channels;
            let channels = ChannelMap {
                groups,
                inputs_per_group: *filter_input_channels,
                outputs_per_group: output.dims()[3] / groups,
            };
            Some(windowed(input, output, window, channels))
        }
        OpParams::DepthwiseConv2d {
            window,
            depth_multiplier,
        } => {
            // A grouped convolution with one input channel per group.
            let channels = ChannelMap {
                groups: input.dims()[3],
                inputs_per_group: 1,
                outputs_per_group: *depth_multiplier,
            };
            Some(windowed(input, output, window, channels))
        }
        OpParams::Pool2d { window } => {
            // Per channel: one input channel, one output channel.
            let channels = ChannelMap {
                groups: input.dims()[3],
                inputs_per_group: 1,
                outputs_per_group: 1,
            };
            Some(windowed(input, output, window, channels))
        }
        OpParams::FullyConnected { accumulation_depth } => Some(fully_connected(
            output,
            *accumulation_depth as i128,
            e_in,
            e_out,
        )),
        OpParams::Elementwise if crate::broadcast::runs_broadcast_loop(op) => {
            Some(broadcast_loops(op, input_index))
        }
        OpParams::Elementwise if op.inputs().len() == 2 => Some(broadcast(input, output)),
        OpParams::Elementwise | OpParams::Softmax { .. } => {
            // Unary ops and both softmax variants: element k is read for the
            // last time right before output element k is first written.
            Some(in_order(input.elements() as i128, e_in, e_out))
        }
        OpParams::Reshape => Some(in_order(input.bytes() as i128, 1, 1)),
        // Every input read precedes every output access: `M(x) = 0` for all
        // `x`, so there is no hazard at all and the output may sit anywhere.
        OpParams::Svdf { .. } => Some((0, 0)),
        OpParams::UnidirectionalSequenceLstm { time_major } => {
            Some(crate::lstm_walk::lstm_offsets(op, *time_major))
        }
        OpParams::Concatenation { axis } => Some(concatenation(op, *axis, input_index)),
        OpParams::Transpose { perm } => Some(transpose(input, perm)),
        OpParams::StridedSlice { axes } => Some(strided_slice(input, axes)),
        OpParams::Pad { .. } | OpParams::Mean { .. } => {
            debug_assert!(matches!(op.kind(), OpKind::Pad | OpKind::Mean));
            None
        }
    }
}

/// TRANSPOSE (docs/methods.md): output element `m` is written right after its one read, so
/// `M(x)` is the output index of input element `x`, and `M(x) - x` is a sum of one term per
/// input axis `a` (output position `d`, `perm[d] = a`): `x_a (out_stride_d - in_stride_a)`,
/// maximised at `x_a = 0` or `dim_a - 1`. `u_mono = n e` for `n >= 2`.
fn transpose(input: &TensorShape, perm: &[usize]) -> (u64, u64) {
    let dims = input.dims();
    let rank = dims.len();
    let elements = input.elements() as i128;
    let e = input.element().size_bytes() as i128;
    if elements < 2 {
        return (0, 0);
    }
    let strides = |shape: &[usize]| {
        let mut strides = vec![1i128; rank];
        for axis in (0..rank.saturating_sub(1)).rev() {
            strides[axis] = strides[axis + 1] * shape[axis + 1] as i128;
        }
        strides
    };
    let output_dims: Vec<usize> = perm.iter().map(|&axis| dims[axis]).collect();
    let (input_strides, output_strides) = (strides(dims), strides(&output_dims));
    let largest: i128 = perm
        .iter()
        .enumerate()
        .map(|(d, &axis)| {
            ((output_strides[d] - input_strides[axis]) * (dims[axis] as i128 - 1)).max(0)
        })
        .sum();
    (clamp(largest * e), clamp(elements * e))
}

/// STRIDED_SLICE (docs/methods.md): output element `m` is written right after its one read of
/// input element `f(m) = base + sum_a o_a step_a` (`o_a` the output coordinate along input axis
/// `a`, `step_a = stride_a in_stride_a`), so `M(f(m)) = m` and `m - f(m) = -base + sum_a o_a
/// (out_stride_a - step_a)`, each term maximised at `o_a = 0` or `count_a - 1`. `u_mono` takes
/// the largest input element read after output element 0 is written, `max_{m >= 1} f(m)`;
/// with an innermost stride of 1 the rows are byte copies, so element 0's own later bytes count
/// too (`f(0)`) when elements are wider than a byte.
fn strided_slice(input: &TensorShape, axes: &[SliceAxis]) -> (u64, u64) {
    let dims = input.dims();
    let rank = dims.len();
    let e = input.element().size_bytes() as i128;
    let elements: i128 = axes.iter().map(|a| a.count as i128).product();
    if elements == 0 {
        return (0, 0);
    }
    let (mut in_stride, mut out_stride) = (1i128, 1i128);
    let (mut base, mut s_terms, mut f_max) = (0i128, 0i128, 0i128);
    let (mut any_rising, mut largest_falling) = (false, i128::MIN);
    for axis in (0..rank).rev() {
        let SliceAxis {
            start,
            stride,
            count,
            ..
        } = axes[axis];
        let (count, step) = (count as i128, stride as i128 * in_stride);
        base += start as i128 * in_stride;
        s_terms += ((out_stride - step) * (count - 1)).max(0);
        f_max += (step * (count - 1)).max(0);
        if count >= 2 {
            if step > 0 {
                any_rising = true;
            } else {
                largest_falling = largest_falling.max(step);
            }
        }
        in_stride *= dims[axis] as i128;
        out_stride *= count;
    }
    let s_mono = e * (s_terms - base);
    let byte_rows = axes[rank - 1].stride == 1 && e >= 2;
    let last_read_after_first_write = match (elements >= 2, any_rising) {
        (true, true) => Some(base + f_max),
        (true, false) => Some(base + largest_falling),
        (false, _) => None,
    };
    let x_last = match (last_read_after_first_write, byte_rows) {
        (Some(x), true) => Some(x.max(base)),
        (Some(x), false) => Some(x),
        (None, true) => Some(base),
        (None, false) => None,
    };
    (clamp(s_mono), x_last.map_or(0, |x| clamp((x + 1) * e)))
}

/// CONCATENATION, input `k` (docs/methods.md): bytes are copied in output order, so input
/// byte `i = o c_k + q` is read right before output byte `P(i) = o C + A_k + q` is written
/// (`C` bytes per outer index in the output, `c_k` from input `k`, `A_k` from the inputs before
/// it). `P(i) - i = o (C - c_k) + A_k` is largest at the last outer index; the hazard
/// differences are contiguous, so `s_mono = (outer - 1)(C - c_k) + A_k`, and `u_mono = n_k`
/// unless no output byte precedes any read (`n_k <= 1` and `A_k = 0`).
fn concatenation(op: &OpDescription, axis: usize, input_index: usize) -> (u64, u64) {
    let output = op.output();
    let outer: u64 = output.dims()[..axis].iter().map(|&d| d as u64).product();
    let inner: u64 = output.dims()[axis + 1..]
        .iter()
        .map(|&d| d as u64)
        .product::<u64>()
        * output.element().size_bytes() as u64;
    let copy = |input: &TensorShape| input.dims()[axis] as u64 * inner;
    let total: u64 = op.inputs().iter().map(copy).sum();
    let before: u64 = op.inputs()[..input_index].iter().map(copy).sum();
    let own = copy(&op.inputs()[input_index]);
    let input_bytes = outer * own;
    if input_bytes == 0 {
        return (0, 0);
    }
    let s_mono = outer.saturating_sub(1) * (total - own) + before;
    let u_mono = if input_bytes >= 2 || before >= 1 {
        input_bytes
    } else {
        0
    };
    (s_mono, u_mono)
}

fn clamp(value: i128) -> u64 {
    value.max(0) as u64
}

/// `n` elements, input element `k` last read just before output element `k`
/// is first accessed: `M(x) = x`. `s_mono = (n - 1) * max(0, e_out - e_in)`;
/// `u_mono = n * e_in` once there are two elements.
fn in_order(elements: i128, e_in: i128, e_out: i128) -> (u64, u64) {
    if elements < 2 {
        return (0, 0);
    }
    (
        clamp((elements - 1) * (e_out - e_in)),
        clamp(elements * e_in),
    )
}

/// ADD / MUL: output element `m` reads the input element its index projects
/// to. `M(x)` is the last output element projecting to `x`: the last index
/// along broadcast axes, `x`'s own index elsewhere. `M(x) e_out - x e_in` is
/// linear in `x`'s index per axis, so each axis takes its first or last index.
fn broadcast(input: &TensorShape, output: &TensorShape) -> (u64, u64) {
    let output_elements = output.elements() as i128;
    if output_elements < 2 {
        return (0, 0);
    }
    let e_in = input.element().size_bytes() as i128;
    let e_out = output.element().size_bytes() as i128;
    let rank = output.rank();
    let (mut output_stride, mut input_stride) = (1i128, 1i128);
    let mut best = 0i128;
    for axis in (0..rank).rev() {
        let output_dim = output.dims()[axis] as i128;
        let input_dim = broadcast_dim(input, rank, axis) as i128;
        if input_dim == 1 {
            // Broadcast: the last output index along this axis.
            best += (output_dim - 1) * output_stride * e_out;
        } else {
            let per_step = output_stride * e_out - input_stride * e_in;
            best += (input_dim - 1) * per_step.max(0);
        }
        output_stride *= output_dim;
        input_stride *= input_dim;
    }
    (clamp(best), clamp(input.elements() as i128 * e_in))
}

/// Broadcasting MUL and ADD in TFLM's fused loops (`broadcast::broadcast_loops`): as [`broadcast`],
/// except for an input the innermost loop does not step (stride 0): it is read once before
/// each row, so its `M(x)` is the row's first output element, and the axes of that loop (all
/// broadcast for it) add nothing. With a single row it is read before any write: no hazard.
fn broadcast_loops(op: &OpDescription, input_index: usize) -> (u64, u64) {
    let (input, output) = (&op.inputs()[input_index], op.output());
    let loops = crate::broadcast::broadcast_loops(op);
    let inner = loops[0];
    if inner.strides[input_index] != 0 {
        return broadcast(input, output);
    }
    if inner.shape == output.elements() {
        return (0, 0);
    }
    let e_in = input.element().size_bytes() as i128;
    let e_out = output.element().size_bytes() as i128;
    let rank = output.rank();
    let (mut output_stride, mut input_stride) = (1i128, 1i128);
    let mut best = 0i128;
    for axis in (0..rank).rev() {
        let output_dim = output.dims()[axis] as i128;
        let input_dim = broadcast_dim(input, rank, axis) as i128;
        if axis >= inner.first_axis {
            // The innermost loop: output index 0 along it, input dimension 1.
        } else if input_dim == 1 {
            best += (output_dim - 1) * output_stride * e_out;
        } else {
            best += (input_dim - 1) * (output_stride * e_out - input_stride * e_in).max(0);
        }
        output_stride *= output_dim;
        input_stride *= input_dim;
    }
    (clamp(best), clamp(input.elements() as i128 * e_in))
}

/// FULLY_CONNECTED, per batch `b` of `D` inputs and `C` outputs: input row
/// `b` is last read while output `(b, C - 1)` is computed, so `M(b, d) =
/// b C + C - 1`.
fn fully_connected(output: &TensorShape, depth: i128, e_in: i128, e_out: i128) -> (u64, u64) {
    let outputs_per_batch = output.dims()[output.rank() - 1] as i128;
    if outputs_per_batch == 0 {
        return (0, 0);
    }
    let batches = output.elements() as i128 / outputs_per_batch;
    let per_batch = outputs_per_batch * e_out - depth * e_in;
    let last_batch = batches - 1;
    // s: i = first byte of row b, M(b, 0) = bC + C - 1.
    let s_mono = last_batch.max(0) * per_batch.max(0) + (outputs_per_batch - 1) * e_out;
    // Hazards exist iff M(last input) = batches C - 1 >= 1.
    let u_mono = if batches * outputs_per_batch >= 2 {
        batches * depth * e_in
    } else {
        0
    };
    (clamp(s_mono), clamp(u_mono))
}

/// How the channels of a windowed op map: `groups` groups of
/// `inputs_per_group` input channels, each producing `outputs_per_group`
/// consecutive output channels. CONV_2D: its groups; DEPTHWISE_CONV_2D: one
/// group per input channel, `depth multiplier` outputs each; pools: one
/// input and one output per group.
struct ChannelMap {
    groups: usize,
    inputs_per_group: usize,
    outputs_per_group: usize,
}

/// For each input coordinate along one axis, the last output coordinate
/// whose window reads it (`None`: never read).
fn last_reader(
    input_size: usize,
    output_size: usize,
    filter: usize,
    stride: usize,
    dilation: usize,
    pad_before: usize,
) -> Vec<Option<usize>> {
    let mut last = vec![None; input_size];
    for out in 0..output_size {
        for tap in 0..filter {
            let position = (out * stride + tap * dilation) as i64 - pad_before as i64;
            if (0..input_size as i64).contains(&position) {
                last[position as usize] = Some(out);
            }
        }
    }
    last
}

/// `max over read coordinates c of last_reader(c) * out_weight - c * in_weight`,
/// and the largest read coordinate with its last reader.
fn axis_terms(
    last: &[Option<usize>],
    out_weight: i128,
    in_weight: i128,
) -> Option<(i128, usize, usize)> {
    let best = last
        .iter()
        .enumerate()
        .filter_map(|(c, reader)| reader.map(|o| o as i128 * out_weight - c as i128 * in_weight))
        .max()?;
    let (largest, reader) = last
        .iter()
        .enumerate()
        .rev()
        .find_map(|(c, reader)| reader.map(|o| (c, o)))?;
    Some((best, largest, reader))
}

/// The largest coordinate whose last reader is not output coordinate 0.
fn largest_read_after_first(last: &[Option<usize>]) -> Option<usize> {
    last.iter()
        .rposition(|reader| reader.is_some_and(|o| o > 0))
}

/// CONV_2D, DEPTHWISE_CONV_2D and pools. Output element `(P, oc)` (pixel
/// `P` = `(b, oy, ox)` in row-major order) is written after the reads of its
/// window; input element `(q, ic)`, `ic` in group `g`, is last read while
/// `(Plast(q), (g + 1) K - 1)` is computed (`K` outputs per group), so
/// `M(q, ic) = Plast(q) OC + (g + 1) K - 1`. `M e_out - (q IC + ic) e_in`
/// splits into batch, row, column and channel terms.
fn windowed(
    input: &TensorShape,
    output: &TensorShape,
    window: &ResolvedWindow,
    channels: ChannelMap,
) -> (u64, u64) {
    let [batches, input_height, input_width, input_channels] = nhwc(input);
    let [_, output_height, output_width, output_channels] = nhwc(output);
    if batches == 0 || output_channels == 0 || input_channels == 0 {
        return (0, 0);
    }
    let e_in = input.element().size_bytes() as i128;
    let e_out = output.element().size_bytes() as i128;
    let geometry = window.window;
    let rows = last_reader(
        input_height,
        output_height,
        geometry.filter_height,
        geometry.stride_height,
        geometry.dilation_height,
        window.pad_top,
    );
    let columns = last_reader(
        input_width,
        output_width,
        geometry.filter_width,
        geometry.stride_width,
        geometry.dilation_width,
        window.pad_left,
    );
    let (ic, oc) = (input_channels as i128, output_channels as i128);
    let (ih, iw) = (input_height as i128, input_width as i128);
    let (oh, ow) = (output_height as i128, output_width as i128);
    let row_term = axis_terms(&rows, ow * oc * e_out, iw * ic * e_in);
    let column_term = axis_terms(&columns, oc * e_out, ic * e_in);
    let (Some((row_best, last_row, row_reader)), Some((column_best, last_column, column_reader))) =
        (row_term, column_term)
    else {
        return (0, 0); // nothing is ever read
    };
    let last_batch = batches as i128 - 1;
    let batch_best = last_batch * (oh * ow * oc * e_out - ih * iw * ic * e_in).max(0);
    let k = channels.outputs_per_group as i128;
    let per_group = k * e_out - channels.inputs_per_group as i128 * e_in;
    let channel_best = (channels.groups as i128 - 1) * per_group.max(0) + (k - 1) * e_out;
    let s_mono = batch_best + row_best + column_best + channel_best;

    // u: the largest read input pixel q whose last channel has M(q, IC - 1)
    // = Plast(q) OC + OC - 1 >= 1. With two output channels or two batches
    // that is the largest read pixel; otherwise (OC = 1, one batch) q must not
    // be read by output pixel 0 alone (the last readers need not grow with
    // the coordinate when the window is dilated).
    let single = output_channels == 1 && batches == 1;
    let u_pixel = if !single || row_reader > 0 || column_reader > 0 {
        Some((last_batch * ih + last_row as i128) * iw + last_column as i128)
    } else if let Some(column) = largest_read_after_first(&columns) {
        Some(last_row as i128 * iw + column as i128)
    } else {
        largest_read_after_first(&rows).map(|row| row as i128 * iw + last_column as i128)
    };
    let u_mono = u_pixel.map_or(0, |pixel| (pixel + 1) * ic * e_in);
    (clamp(s_mono), clamp(u_mono))
}

fn nhwc(shape: &TensorShape) -> [usize; 4] {
    let dims = shape.dims();
    [dims[0], dims[1], dims[2], dims[3]]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::description::{
        Conv2dParams, DepthwiseConv2dParams, ElementwiseBinaryParams, FullyConnectedParams,
        Pool2dParams, Window,
    };
    use crate::padding::{tflite_axis_padding, Padding};
    use crate::shape::ElementType;
    use crate::simulate;
    use proptest::prelude::*;

    /// The loop-nest simulation mined by `dmo_overlap` is the oracle.
    fn simulated(op: &OpDescription) -> Vec<(u64, u64)> {
        simulate(op)
            .into_iter()
            .map(|result| match result.result {
                OverlapModel::Modelled(pair) => (pair.s_mono.0, pair.u_mono.0),
                other => panic!("simulation did not model {op:?}: {other:?}"),
            })
            .collect()
    }

    fn analysed(op: &OpDescription) -> Vec<(u64, u64)> {
        analytic(op)
            .into_iter()
            .map(|result| match result.result {
                OverlapModel::Analytic(found) => {
                    assert_eq!(
                        found.input_len.0,
                        op.inputs()[result.input_index].bytes() as u64
                    );
                    assert_eq!(found.output_len.0, op.output().bytes() as u64);
                    (found.s_mono.0, found.u_mono.0)
                }
                other => panic!("no analytic result for {op:?}: {other:?}"),
            })
            .collect()
    }

    fn element() -> impl Strategy<Value = ElementType> {
        prop_oneof![
            4 => Just(ElementType::Int8),
            1 => Just(ElementType::Int16),
            1 => Just(ElementType::Int32),
            1 => Just(ElementType::Float32),
        ]
    }

    fn padding() -> impl Strategy<Value = Padding> {
        prop_oneof![Just(Padding::Same), Just(Padding::Valid)]
    }

    /// A window that yields at least one output pixel for a `height x width`
    /// input, and the output size TFLite computes.
    fn window(dilated: bool) -> impl Strategy<Value = (usize, usize, Window, usize, usize)> {
        let dilation = if dilated { 1usize..4 } else { 1usize..2 };
        (
            1usize..9,
            1usize..9,
            1usize..5,
            1usize..5,
            1usize..4,
            1usize..4,
            dilation.clone(),
            dilation,
            padding(),
        )
            .prop_filter_map(
                "window must fit",
                |(height, width, fh, fw, sh, sw, dh, dw, padding)| {
                    let out_h = tflite_axis_padding(padding, height, fh, sh, dh).output_size;
                    let out_w = tflite_axis_padding(padding, width, fw, sw, dw).output_size;
                    (out_h > 0 && out_w > 0).then_some((
                        height,
                        width,
                        Window {
                            filter_height: fh,
                            filter_width: fw,
                            stride_height: sh,
                            stride_width: sw,
                            dilation_height: dh,
                            dilation_width: dw,
                            padding,
                        },
                        out_h as usize,
                        out_w as usize,
                    ))
                },
            )
    }

    fn conv2d() -> impl Strategy<Value = OpDescription> {
        (
            window(true),
            1usize..3,
            1usize..4,
            1usize..4,
            1usize..4,
            element(),
            element(),
        )
            .prop_map(
                |((h, w, window, oh, ow), batches, groups, per_group, filters, ei, eo)| {
                    OpDescription::conv2d(Conv2dParams {
                        input: TensorShape::new(vec![batches, h, w, groups * per_group], ei),
                        output: TensorShape::new(vec![batches, oh, ow, groups * filters], eo),
                        window,
                        filter_input_channels: Some(per_group),
                    })
                    .unwrap()
                },
            )
    }

    fn depthwise_conv2d() -> impl Strategy<Value = OpDescription> {
        (
            window(true),
            1usize..3,
            1usize..5,
            1usize..4,
            element(),
            element(),
        )
            .prop_map(
                |((h, w, window, oh, ow), batches, channels, multiplier, ei, eo)| {
                    OpDescription::depthwise_conv2d(DepthwiseConv2dParams {
                        input: TensorShape::new(vec![batches, h, w, channels], ei),
                        output: TensorShape::new(vec![batches, oh, ow, channels * multiplier], eo),
                        window,
                        depth_multiplier: multiplier,
                    })
                    .unwrap()
                },
            )
    }

    fn pool2d() -> impl Strategy<Value = OpDescription> {
        (
            window(false),
            1usize..3,
            1usize..5,
            element(),
            any::<bool>(),
        )
            .prop_map(
                |((h, w, window, oh, ow), batches, channels, element, average)| {
                    let params = Pool2dParams {
                        input: TensorShape::new(vec![batches, h, w, channels], element),
                        output: TensorShape::new(vec![batches, oh, ow, channels], element),
                        window,
                    };
                    if average {
                        OpDescription::average_pool2d(params).unwrap()
                    } else {
                        OpDescription::max_pool2d(params).unwrap()
                    }
                },
            )
    }

    fn fully_connected_op() -> impl Strategy<Value = OpDescription> {
        (1usize..4, 1usize..20, 1usize..20, element(), element()).prop_map(
            |(batches, depth, outputs, ei, eo)| {
                OpDescription::fully_connected(FullyConnectedParams {
                    input: TensorShape::new(vec![batches, depth], ei),
                    output: TensorShape::new(vec![batches, outputs], eo),
                    accumulation_depth: depth,
                })
                .unwrap()
            },
        )
    }

    /// ADD / MUL with random broadcasting (each input dim is the output's
    /// or 1; input ranks may be lower).
    fn broadcast_op() -> impl Strategy<Value = OpDescription> {
        (
            prop::collection::vec(1usize..5, 1..5),
            prop::collection::vec(any::<bool>(), 4),
            prop::collection::vec(any::<bool>(), 4),
            0usize..3,
            element(),
            any::<bool>(),
        )
            .prop_map(|(dims, keep1, keep2, drop, element, add)| {
                let rank = dims.len();
                let shape = |keep: &[bool], drop: usize| {
                    let kept: Vec<usize> = dims
                        .iter()
                        .zip(keep)
                        .map(|(&d, &k)| if k { d } else { 1 })
                        .collect();
                    TensorShape::new(kept[drop.min(rank - 1)..].to_vec(), element)
                };
                let (input1, input2) = (shape(&keep1, 0), shape(&keep2, drop));
                // The output is the broadcast of the two inputs.
                let output_dims = (0..rank)
                    .map(|axis| {
                        broadcast_dim(&input1, rank, axis).max(broadcast_dim(&input2, rank, axis))
                    })
                    .collect();
                let params = ElementwiseBinaryParams {
                    input1,
                    input2,
                    output: TensorShape::new(output_dims, element),
                };
                if add {
                    OpDescription::add(params).unwrap()
                } else {
                    OpDescription::mul(params).unwrap()
                }
            })
    }

    fn unary_op() -> impl Strategy<Value = OpDescription> {
        let kinds = prop_oneof![
            Just(OpKind::Quantize),
            Just(OpKind::Dequantize),
            Just(OpKind::Logistic),
            Just(OpKind::Tanh),
            Just(OpKind::Relu),
            Just(OpKind::Relu6),
        ];
        (
            kinds,
            prop::collection::vec(1usize..6, 1..4),
            element(),
            element(),
        )
            .prop_filter_map("element types the kind accepts", |(kind, dims, ei, eo)| {
                let input = TensorShape::new(dims.clone(), ei);
                let output = TensorShape::new(dims, eo);
                OpDescription::elementwise_unary(kind, input, output).ok()
            })
    }

    fn softmax_op() -> impl Strategy<Value = OpDescription> {
        (prop::collection::vec(1usize..7, 1..4), element(), element()).prop_map(|(dims, ei, eo)| {
            let axis = dims.len() - 1;
            let input = TensorShape::new(dims.clone(), ei);
            OpDescription::softmax(input, TensorShape::new(dims, eo), axis).unwrap()
        })
    }

    fn reshape_op() -> impl Strategy<Value = OpDescription> {
        (prop::collection::vec(1usize..6, 1..4), element()).prop_map(|(dims, element)| {
            let elements: usize = dims.iter().product();
            OpDescription::reshape(
                TensorShape::new(dims, element),
                TensorShape::new(vec![elements], element),
            )
            .unwrap()
        })
    }

    fn svdf_op() -> impl Strategy<Value = OpDescription> {
        (1usize..4, 1usize..30, 1usize..9, 1usize..4, element()).prop_map(
            |(batches, input_size, units, rank, element)| {
                OpDescription::svdf(
                    TensorShape::new(vec![batches, input_size], element),
                    TensorShape::new(vec![batches, units], element),
                    units * rank,
                    rank,
                )
                .unwrap()
            },
        )
    }

    fn lstm_op() -> impl Strategy<Value = OpDescription> {
        (
            1usize..4,
            1usize..7,
            1usize..12,
            1usize..12,
            any::<bool>(),
            element(),
            element(),
        )
            .prop_map(|(d0, d1, input_size, cells, time_major, e_in, e_out)| {
                OpDescription::unidirectional_sequence_lstm(
                    TensorShape::new(vec![d0, d1, input_size], e_in),
                    TensorShape::new(vec![d0, d1, cells], e_out),
                    time_major,
                )
                .unwrap()
            })
    }

    fn transpose_op() -> impl Strategy<Value = OpDescription> {
        (
            prop::collection::vec(1usize..6, 0..6),
            any::<u64>(),
            element(),
        )
            .prop_map(|(dims, seed, element)| {
                // A permutation from the seed (Fisher-Yates).
                let mut perm: Vec<usize> = (0..dims.len()).collect();
                let mut state = seed;
                for i in (1..perm.len()).rev() {
                    state = state
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    perm.swap(i, (state >> 33) as usize % (i + 1));
                }
                let output = perm.iter().map(|&axis| dims[axis]).collect();
                OpDescription::transpose(
                    TensorShape::new(dims, element),
                    TensorShape::new(output, element),
                    perm,
                )
                .unwrap()
            })
    }

    fn concatenation_op() -> impl Strategy<Value = OpDescription> {
        (
            prop::collection::vec(1usize..5, 1..4),
            prop::collection::vec(0usize..4, 1..5),
            any::<prop::sample::Index>(),
            element(),
        )
            .prop_filter_map("a non-empty output", |(dims, axis_dims, axis, element)| {
                let axis = axis.index(dims.len());
                let shape = |axis_dim: usize| {
                    let mut d = dims.clone();
                    d[axis] = axis_dim;
                    TensorShape::new(d, element)
                };
                let total: usize = axis_dims.iter().sum();
                let inputs = axis_dims.iter().map(|&a| shape(a)).collect();
                let negative = axis as i64 - dims.len() as i64;
                OpDescription::concatenation(inputs, shape(total), negative).ok()
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig {
            cases: 3000,
            max_global_rejects: 100_000,
            max_local_rejects: 1_000_000,
            ..ProptestConfig::default()
        })]

        #[test]
        fn conv2d_matches_simulation(op in conv2d()) {
            prop_assert_eq!(analysed(&op), simulated(&op), "{:?}", op);
        }

        #[test]
        fn depthwise_conv2d_matches_simulation(op in depthwise_conv2d()) {
            prop_assert_eq!(analysed(&op), simulated(&op), "{:?}", op);
        }

        #[test]
        fn pools_match_simulation(op in pool2d()) {
            prop_assert_eq!(analysed(&op), simulated(&op), "{:?}", op);
        }

        #[test]
        fn fully_connected_matches_simulation(op in fully_connected_op()) {
            prop_assert_eq!(analysed(&op), simulated(&op), "{:?}", op);
        }

        #[test]
        fn add_and_mul_match_simulation(op in broadcast_op()) {
            prop_assert_eq!(analysed(&op), simulated(&op), "{:?}", op);
        }

        #[test]
        fn elementwise_unary_matches_simulation(op in unary_op()) {
            prop_assert_eq!(analysed(&op), simulated(&op), "{:?}", op);
        }

        #[test]
        fn softmax_matches_simulation(op in softmax_op()) {
            prop_assert_eq!(analysed(&op), simulated(&op), "{:?}", op);
        }

        #[test]
        fn reshape_matches_simulation(op in reshape_op()) {
            prop_assert_eq!(analysed(&op), simulated(&op), "{:?}", op);
        }

        #[test]
        fn transpose_matches_simulation(op in transpose_op()) {
            prop_assert_eq!(analysed(&op), simulated(&op), "{:?}", op);
        }

        #[test]
        fn strided_slice_matches_simulation(op in crate::tests::strided_slice_op()) {
            prop_assert_eq!(analysed(&op), simulated(&op), "{:?}", op);
        }

        #[test]
        fn concatenation_matches_simulation(op in concatenation_op()) {
            prop_assert_eq!(analysed(&op), simulated(&op), "{:?}", op);
            // The hazard differences are contiguous: s_min = s_mono, and u_min is 0 when
            // nothing lands below an input byte still to be read, else u_mono.
            for result in simulate(&op) {
                let OverlapModel::Modelled(pair) = result.result else {
                    panic!("not modelled: {op:?}");
                };
                prop_assert_eq!(pair.s_min, pair.s_mono, "{:?}", op);
                let u_min = if pair.s_mono.0 == 0 { 0 } else { pair.u_mono.0 };
                prop_assert_eq!(pair.u_min.0, u_min, "{:?}", op);
            }
        }

        #[test]
        fn svdf_matches_simulation(op in svdf_op()) {
            prop_assert_eq!(analysed(&op), simulated(&op), "{:?}", op);
        }

        #[test]
        fn lstm_matches_simulation(op in lstm_op()) {
            prop_assert_eq!(analysed(&op), simulated(&op), "{:?}", op);
        }
    }

    #[test]
    fn lstm_of_trained_lstm_int8_and_of_the_fixture() {
        // trained_lstm_int8 op 0: [1, 28, 28] -> [1, 28, 20], batch-major: 28
        // steps, output row m (20 B) is written after input row m (28 B) was
        // last read and lands inside input rows <= m: s_mono = 0; output row 0
        // is written before input rows 1.. are read: u_mono = 784.
        let lstm = |input: &[usize], cells: usize, time_major: bool| {
            let output = [input[0], input[1], cells];
            OpDescription::unidirectional_sequence_lstm(
                TensorShape::int8(input),
                TensorShape::int8(&output),
                time_major,
            )
            .unwrap()
        };
        let model = lstm(&[1, 28, 28], 20, false);
        assert_eq!(analysed(&model), vec![(0, 784)]);
        assert_eq!(simulated(&model), vec![(0, 784)]);
        // Below u_mono: u in [0, 28 - 20] is safe (output row m stays within input
        // rows <= m), u = 16 is not (the control of tests/tflm/lstm_overlap_check.py).
        let OverlapModel::Modelled(pair) = simulate(&model).remove(0).result else {
            panic!("not modelled");
        };
        assert_eq!((pair.s_min.0, pair.u_min.0), (0, 0));
        // fixtures/programs/lstm_int8.c: [2, 5, 6] -> 9 cells: 10 steps, each
        // output row 3 B longer than its input row: s_mono = 9 x 3 = 27.
        let fixture = lstm(&[2, 5, 6], 9, false);
        assert_eq!(analysed(&fixture), vec![(27, 60)]);
        assert_eq!(simulated(&fixture), vec![(27, 60)]);
        // Time-major, the same shapes are 2 steps of 5 rows: s_mono = 15.
        assert_eq!(simulated(&lstm(&[2, 5, 6], 9, true)), vec![(15, 60)]);
        // One step: no hazard at all.
        assert_eq!(simulated(&lstm(&[1, 5, 6], 9, true)), vec![(0, 0)]);
        // Control: a fully connected layer over the flattened sequence is not
        // the same.
        let fc = OpDescription::fully_connected(crate::FullyConnectedParams {
            input: TensorShape::int8(&[10, 6]),
            output: TensorShape::int8(&[10, 9]),
            accumulation_depth: 6,
        })
        .unwrap();
        assert_ne!(simulated(&fc), vec![(27, 60)]);
    }

    #[test]
    fn svdf_of_keyword_scrambled_has_no_hazard() {
        // keyword_scrambled op 1: [1, 96] int8 -> [1, 64], 64 filters of rank 1.
        // Input is read 64 times in the feature matmul, the output written only
        // after the time and reduce steps: no output byte is touched before the
        // last input read, so every placement is safe (s_mono = u_mono = 0).
        let op = OpDescription::svdf(
            TensorShape::int8(&[1, 96]),
            TensorShape::int8(&[1, 64]),
            64,
            1,
        )
        .unwrap();
        assert_eq!(analysed(&op), vec![(0, 0)]);
        assert_eq!(simulated(&op), vec![(0, 0)]);
        // Control: a fully connected layer of the same shape is not hazard-free.
        let fc = OpDescription::fully_connected(crate::FullyConnectedParams {
            input: TensorShape::int8(&[1, 96]),
            output: TensorShape::int8(&[1, 64]),
            accumulation_depth: 96,
        })
        .unwrap();
        assert_ne!(simulated(&fc), vec![(0, 0)]);
    }

    #[test]
    fn one_by_one_conv_of_design_md() {
        // DESIGN.md: 48x48, 8 -> 16 channels: s_mono = 8*2303 + 15 = 18439.
        // Rows: last reader of row y is y: max_y 48*16 y - 48*8 y = 384*47;
        // columns: 16x - 8x = 8*47; channel: K - 1 = 15. Sum 18439.
        let op = OpDescription::conv2d(Conv2dParams {
            input: TensorShape::int8(&[1, 48, 48, 8]),
            output: TensorShape::int8(&[1, 48, 48, 16]),
            window: Window::square(1, 1, Padding::Valid),
            filter_input_channels: None,
        })
        .unwrap();
        assert_eq!(analysed(&op), vec![(18439, 18432)]);
    }

    #[test]
    fn unmodelled_kinds_say_so() {
        let op = OpDescription::pad(
            TensorShape::int8(&[1, 2]),
            TensorShape::int8(&[1, 4]),
            vec![(0, 0), (1, 1)],
        )
        .unwrap();
        assert!(matches!(
            analytic(&op)[0].result,
            OverlapModel::NotModelled { .. }
        ));
    }
}
