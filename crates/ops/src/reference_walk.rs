//! Test oracle: a naive, literal transcription of TFLM's reference kernel
//! loops that logs *every* activation access as `(time, buffer, byte, kind)`,
//! then derives `lr` / `fa` from the full log. It shares no code with
//! `simulate.rs` (no skipping of redundant reads, no computed times, its own
//! index arithmetic), so agreement between the two is evidence, not an echo.

use crate::description::{OpDescription, OpParams};
use crate::shape::ElementType;
use dmo_core::{AccessKind, EventTime};

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Target {
    Input(usize),
    Output,
}

/// One byte access of the log.
#[derive(Clone, Copy, Debug)]
pub struct ByteAccess {
    pub time: u64,
    pub target: Target,
    pub byte: usize,
    pub kind: AccessKind,
}

/// Where the naive walk sends each access: a log ([`access_log`]) or an
/// arena that executes the kernel (`arena_check.rs`).
pub trait Accesses {
    /// One access to a whole element (all its bytes at once).
    fn element(&mut self, target: Target, element: usize, kind: AccessKind);
    /// One access to a single byte (`memcpy`).
    fn byte(&mut self, target: Target, byte: usize, kind: AccessKind);

    fn read(&mut self, input: usize, element: usize) {
        self.element(Target::Input(input), element, AccessKind::Read);
    }

    fn write(&mut self, element: usize) {
        self.element(Target::Output, element, AccessKind::Write);
    }

    fn read_output(&mut self, element: usize) {
        self.element(Target::Output, element, AccessKind::Read);
    }
}

struct Log<'a> {
    op: &'a OpDescription,
    time: u64,
    accesses: Vec<ByteAccess>,
}

impl Accesses for Log<'_> {
    fn element(&mut self, target: Target, element: usize, kind: AccessKind) {
        let size = match target {
            Target::Input(index) => self.op.inputs()[index].element().size_bytes(),
            Target::Output => self.op.output().element().size_bytes(),
        };
        for byte in element * size..(element + 1) * size {
            self.accesses.push(ByteAccess {
                time: self.time,
                target,
                byte,
                kind,
            });
        }
        self.time += 1;
    }

    fn byte(&mut self, target: Target, byte: usize, kind: AccessKind) {
        self.accesses.push(ByteAccess {
            time: self.time,
            target,
            byte,
            kind,
        });
        self.time += 1;
    }
}

/// TFLM's `Offset(shape, b, y, x, c)` for NHWC.
fn offset(dims: &[usize], b: i64, y: i64, x: i64, c: i64) -> usize {
    (((b * dims[1] as i64 + y) * dims[2] as i64 + x) * dims[3] as i64 + c) as usize
}

/// Every access of `op`'s reference kernel, in execution order, and the
/// number of element accesses; `None` for kinds the simulation does not
/// model either.
pub fn access_log(op: &OpDescription) -> Option<(Vec<ByteAccess>, u64)> {
    let mut log = Log {
        op,
        time: 0,
        accesses: Vec::new(),
    };
    walk(op, &mut log).then_some((log.accesses, log.time))
}

/// Walks TFLM's reference loops of `op`, sending every activation access to
/// `log`; false for kinds without a model (MEAN).
pub fn walk(op: &OpDescription, log: &mut impl Accesses) -> bool {
    let in_dims = op.inputs()[0].dims().to_vec();
    let out_dims = op.output().dims().to_vec();
    match op.params() {
        OpParams::Conv2d {
            window,
            filter_input_channels,
        } => {
            let w = window.window;
            let filters_per_group = out_dims[3] / (in_dims[3] / filter_input_channels);
            for batch in 0..out_dims[0] as i64 {
                for out_y in 0..out_dims[1] as i64 {
                    let in_y_origin = out_y * w.stride_height as i64 - window.pad_top as i64;
                    for out_x in 0..out_dims[2] as i64 {
                        let in_x_origin = out_x * w.stride_width as i64 - window.pad_left as i64;
                        for out_channel in 0..out_dims[3] as i64 {
                            let group = out_channel / filters_per_group as i64;
                            for filter_y in 0..w.filter_height as i64 {
                                let in_y = in_y_origin + w.dilation_height as i64 * filter_y;
                                for filter_x in 0..w.filter_width as i64 {
                                    let in_x = in_x_origin + w.dilation_width as i64 * filter_x;
                                    let inside = in_x >= 0
                                        && in_x < in_dims[2] as i64
                                        && in_y >= 0
                                        && in_y < in_dims[1] as i64;
                                    if !inside {
                                        continue;
                                    }
                                    for in_channel in 0..*filter_input_channels as i64 {
                                        let channel =
                                            in_channel + group * *filter_input_channels as i64;
                                        log.read(0, offset(&in_dims, batch, in_y, in_x, channel));
                                    }
                                }
                            }
                            log.write(offset(&out_dims, batch, out_y, out_x, out_channel));
                        }
                    }
                }
            }
        }
        OpParams::DepthwiseConv2d {
            window,
            depth_multiplier,
        } => {
            let w = window.window;
            for batch in 0..out_dims[0] as i64 {
                for out_y in 0..out_dims[1] as i64 {
                    for out_x in 0..out_dims[2] as i64 {
                        for in_channel in 0..in_dims[3] as i64 {
                            for m in 0..*depth_multiplier as i64 {
                                let output_channel = m + in_channel * *depth_multiplier as i64;
                                let in_x_origin =
                                    out_x * w.stride_width as i64 - window.pad_left as i64;
                                let in_y_origin =
                                    out_y * w.stride_height as i64 - window.pad_top as i64;
                                for filter_y in 0..w.filter_height as i64 {
                                    for filter_x in 0..w.filter_width as i64 {
                                        let in_x = in_x_origin + w.dilation_width as i64 * filter_x;
                                        let in_y =
                                            in_y_origin + w.dilation_height as i64 * filter_y;
                                        if in_x >= 0
                                            && in_x < in_dims[2] as i64
                                            && in_y >= 0
                                            && in_y < in_dims[1] as i64
                                        {
                                            log.read(
                                                0,
                                                offset(&in_dims, batch, in_y, in_x, in_channel),
                                            );
                                        }
                                    }
                                }
                                log.write(offset(&out_dims, batch, out_y, out_x, output_channel));
                            }
                        }
                    }
                }
            }
        }
        OpParams::FullyConnected { accumulation_depth } => {
            let output_depth = out_dims[out_dims.len() - 1];
            let batches = op.output().elements() / output_depth;
            for b in 0..batches {
                for out_c in 0..output_depth {
                    for d in 0..*accumulation_depth {
                        log.read(0, b * accumulation_depth + d);
                    }
                    log.write(out_c + output_depth * b);
                }
            }
        }
        OpParams::Pool2d { window } => {
            let w = window.window;
            for batch in 0..out_dims[0] as i64 {
                for out_y in 0..out_dims[1] as i64 {
                    for out_x in 0..out_dims[2] as i64 {
                        for channel in 0..out_dims[3] as i64 {
                            let in_x_origin =
                                out_x * w.stride_width as i64 - window.pad_left as i64;
                            let in_y_origin =
                                out_y * w.stride_height as i64 - window.pad_top as i64;
                            let filter_x_start = 0.max(-in_x_origin);
                            let filter_x_end =
                                (w.filter_width as i64).min(in_dims[2] as i64 - in_x_origin);
                            let filter_y_start = 0.max(-in_y_origin);
                            let filter_y_end =
                                (w.filter_height as i64).min(in_dims[1] as i64 - in_y_origin);
                            for filter_y in filter_y_start..filter_y_end {
                                for filter_x in filter_x_start..filter_x_end {
                                    let in_x = in_x_origin + filter_x;
                                    let in_y = in_y_origin + filter_y;
                                    log.read(0, offset(&in_dims, batch, in_y, in_x, channel));
                                }
                            }
                            log.write(offset(&out_dims, batch, out_y, out_x, channel));
                        }
                    }
                }
            }
        }
        OpParams::Elementwise
            if matches!(op.kind(), crate::OpKind::Mul | crate::OpKind::Add) && {
                let rank = out_dims.len();
                let extend = |dims: &[usize]| {
                    let mut extended = vec![1; rank - dims.len()];
                    extended.extend_from_slice(dims);
                    extended
                };
                extend(op.inputs()[0].dims()) != extend(op.inputs()[1].dims())
            } =>
        {
            // BroadcastBinaryOpSimple, transcribed: extend the shapes, build the fused loops
            // from the innermost dimension out, then RunBinaryOp's recursion.
            let rank = out_dims.len();
            let extend = |dims: &[usize]| {
                let mut extended = vec![1; rank - dims.len()];
                extended.extend_from_slice(dims);
                extended
            };
            let (a_dims, b_dims) = (extend(op.inputs()[0].dims()), extend(op.inputs()[1].dims()));
            let can_fuse = |output_dim: usize, stride: usize, expected: usize, next: usize| {
                if output_dim == 1 {
                    true
                } else if next == 0 {
                    stride == 0
                } else {
                    stride == expected
                }
            };
            let (mut a_strides, mut b_strides, mut o_strides, mut o_shape) =
                (Vec::new(), Vec::new(), Vec::new(), Vec::new());
            let (mut a_accum, mut b_accum, mut o_accum) = (1, 1, 1);
            for i in (0..rank).rev() {
                let (a_dim, b_dim, o_dim) = (a_dims[i], b_dims[i], out_dims[i]);
                let a_stride = if a_dim == 1 && o_dim != 1 { 0 } else { a_accum };
                let b_stride = if b_dim == 1 && o_dim != 1 { 0 } else { b_accum };
                let last = o_shape.len().wrapping_sub(1);
                if !o_shape.is_empty()
                    && can_fuse(o_dim, a_stride, a_accum, a_strides[last])
                    && can_fuse(o_dim, b_stride, b_accum, b_strides[last])
                    && can_fuse(o_dim, o_accum, o_accum, o_strides[last])
                {
                    o_shape[last] *= o_dim;
                } else {
                    a_strides.push(a_stride);
                    b_strides.push(b_stride);
                    o_strides.push(o_accum);
                    o_shape.push(o_dim);
                }
                a_accum *= a_dim;
                b_accum *= b_dim;
                o_accum *= o_dim;
            }
            struct Loops<'a> {
                a: &'a [usize],
                b: &'a [usize],
                o: &'a [usize],
                shape: &'a [usize],
            }
            fn run(
                loops: &Loops<'_>,
                a: usize,
                b: usize,
                o: usize,
                dim: usize,
                log: &mut impl Accesses,
            ) {
                if dim == 0 {
                    if loops.a[0] == 0 {
                        log.read(0, a);
                        for i in 0..loops.shape[0] {
                            log.read(1, b + i);
                            log.write(o + i);
                        }
                    } else if loops.b[0] == 0 {
                        log.read(1, b);
                        for i in 0..loops.shape[0] {
                            log.read(0, a + i);
                            log.write(o + i);
                        }
                    } else {
                        for i in 0..loops.shape[0] {
                            log.read(0, a + i);
                            log.read(1, b + i);
                            log.write(o + i);
                        }
                    }
                } else {
                    let (mut a, mut b, mut o) = (a, b, o);
                    for _ in 0..loops.shape[dim] {
                        run(loops, a, b, o, dim - 1, log);
                        a += loops.a[dim];
                        b += loops.b[dim];
                        o += loops.o[dim];
                    }
                }
            }
            let loops = Loops {
                a: &a_strides,
                b: &b_strides,
                o: &o_strides,
                shape: &o_shape,
            };
            run(&loops, 0, 0, 0, o_shape.len() - 1, log);
        }
        OpParams::Elementwise if op.inputs().len() == 2 => {
            // Same shapes (TFLM's flat loop), visited as a broadcast by index: extend every shape to the output rank,
            // index each input with its own dims clamped where they are 1.
            let rank = out_dims.len();
            let extended: Vec<Vec<usize>> = op
                .inputs()
                .iter()
                .map(|input| {
                    let mut dims = vec![1; rank - input.rank()];
                    dims.extend_from_slice(input.dims());
                    dims
                })
                .collect();
            for flat in 0..op.output().elements() {
                // Unravel the output index.
                let mut subscript = vec![0; rank];
                let mut rest = flat;
                for axis in (0..rank).rev() {
                    subscript[axis] = rest % out_dims[axis];
                    rest /= out_dims[axis];
                }
                for (input, dims) in extended.iter().enumerate() {
                    let mut index = 0;
                    for axis in 0..rank {
                        let coordinate = if dims[axis] == 1 { 0 } else { subscript[axis] };
                        index = index * dims[axis] + coordinate;
                    }
                    log.read(input, index);
                }
                log.write(flat);
            }
        }
        OpParams::Elementwise => {
            for i in 0..op.inputs()[0].elements() {
                log.read(0, i);
                log.write(i);
            }
        }
        OpParams::Softmax { .. } => {
            let depth = in_dims[in_dims.len() - 1];
            let outer = op.inputs()[0].elements() / depth;
            let int8 = op.inputs()[0].element() == ElementType::Int8;
            for i in 0..outer {
                for c in 0..depth {
                    log.read(0, i * depth + c);
                }
                if int8 {
                    for c in 0..depth {
                        log.read(0, i * depth + c);
                    }
                    for c in 0..depth {
                        log.read(0, i * depth + c);
                        log.write(i * depth + c);
                    }
                } else {
                    for c in 0..depth {
                        log.read(0, i * depth + c);
                        log.write(i * depth + c);
                    }
                    for c in 0..depth {
                        log.read_output(i * depth + c);
                        log.write(i * depth + c);
                    }
                }
            }
        }
        OpParams::Reshape => {
            for byte in 0..op.inputs()[0].bytes() {
                log.byte(Target::Input(0), byte, AccessKind::Read);
                log.byte(Target::Output, byte, AccessKind::Write);
            }
        }
        OpParams::Transpose { perm } => {
            // TransposeImpl: output in row-major order; decode each output coordinate, map it
            // back through perm, flatten it in the input.
            let in_dims = op.inputs()[0].dims();
            for flat in 0..op.output().elements() {
                let mut coordinate = vec![0; out_dims.len()];
                let mut rest = flat;
                for axis in (0..out_dims.len()).rev() {
                    coordinate[axis] = rest % out_dims[axis];
                    rest /= out_dims[axis];
                }
                let mut input_coordinate = vec![0; in_dims.len()];
                for (d, &axis) in perm.iter().enumerate() {
                    input_coordinate[axis] = coordinate[d];
                }
                let source = input_coordinate
                    .iter()
                    .zip(in_dims)
                    .fold(0, |acc, (&c, &dim)| acc * dim + c);
                log.read(0, source);
                log.write(flat);
            }
        }
        OpParams::StridedSlice { axes } => {
            // The recursion of reference_ops' dynamic StridedSlice (`write_slice`): for each
            // index of an axis, its slice of the next axis; at the last axis, the element. With
            // an innermost stride of 1 the 5-D kernel memcpys each row: bytes in address order.
            fn sources(
                axes: &[crate::SliceAxis],
                dims: &[usize],
                axis: usize,
                base: i64,
                out: &mut Vec<usize>,
            ) {
                let below: i64 = dims[axis + 1..].iter().map(|&d| d as i64).product();
                let mut index = axes[axis].start;
                let stop = axes[axis].start + axes[axis].count as i64 * axes[axis].stride;
                while index != stop {
                    let at = base + index * below;
                    if axis + 1 == axes.len() {
                        out.push(at as usize);
                    } else {
                        sources(axes, dims, axis + 1, at, out);
                    }
                    index += axes[axis].stride;
                }
            }
            let mut order = Vec::new();
            sources(axes, &in_dims, 0, 0, &mut order);
            let size = op.output().element().size_bytes();
            let memcpy = axes[axes.len() - 1].stride == 1;
            for (flat, &source) in order.iter().enumerate() {
                if memcpy {
                    for byte in 0..size {
                        log.byte(Target::Input(0), source * size + byte, AccessKind::Read);
                        log.byte(Target::Output, flat * size + byte, AccessKind::Write);
                    }
                } else {
                    log.read(0, source);
                    log.write(flat);
                }
            }
        }
        OpParams::Pad { paddings } => {
            // PadImpl: a running input pointer, output in row-major order.
            let mut input_pointer = 0;
            for flat in 0..op.output().elements() {
                let mut rest = flat;
                let mut in_padding = false;
                for axis in (0..out_dims.len()).rev() {
                    let coordinate = rest % out_dims[axis];
                    rest /= out_dims[axis];
                    let (left, right) = paddings[axis];
                    if coordinate < left || coordinate >= out_dims[axis] - right {
                        in_padding = true;
                    }
                }
                if in_padding {
                    log.write(flat);
                } else {
                    log.read(0, input_pointer);
                    input_pointer += 1;
                    log.write(flat);
                }
            }
        }
        OpParams::Concatenation { axis } => {
            let outer: usize = out_dims[..*axis].iter().product();
            let base_inner: usize = out_dims[*axis + 1..].iter().product();
            let element_bytes = op.output().element().size_bytes();
            let mut output_pointer = 0;
            for k in 0..outer {
                for (i, input) in op.inputs().iter().enumerate() {
                    let copy_size = input.dims()[*axis] * base_inner;
                    let input_pointer = k * copy_size * element_bytes;
                    for byte in 0..copy_size * element_bytes {
                        log.byte(Target::Input(i), input_pointer + byte, AccessKind::Read);
                        log.byte(Target::Output, output_pointer, AccessKind::Write);
                        output_pointer += 1;
                    }
                }
            }
        }
        OpParams::Svdf { filters, .. } => {
            // Feature matmul: for b, filter: read input row b; then the
            // output, element by element, after the time and reduce steps.
            let input = &op.inputs()[0];
            let [batches, input_size] = [input.dims()[0], input.dims()[1]];
            for b in 0..batches {
                for _filter in 0..*filters {
                    for c in 0..input_size {
                        log.element(Target::Input(0), b * input_size + c, AccessKind::Read);
                    }
                }
            }
            for element in 0..op.output().elements() {
                log.element(Target::Output, element, AccessKind::Write);
            }
        }
        OpParams::UnidirectionalSequenceLstm { time_major } => {
            // EvalLstm: per step, four gate passes (for row, for cell, for i)
            // over the step's input rows, then memcpy of the hidden state to
            // the step's output rows.
            let input = &op.inputs()[0];
            let [d0, d1, input_size] = [input.dims()[0], input.dims()[1], input.dims()[2]];
            let cells = op.output().dims()[2];
            let (steps, rows) = if *time_major { (d0, d1) } else { (d0 * d1, 1) };
            for step in 0..steps {
                for _gate in 0..4 {
                    for row in 0..rows {
                        for _cell in 0..cells {
                            for i in 0..input_size {
                                let element = (step * rows + row) * input_size + i;
                                log.element(Target::Input(0), element, AccessKind::Read);
                            }
                        }
                    }
                }
                for k in 0..rows * cells {
                    log.element(Target::Output, step * rows * cells + k, AccessKind::Write);
                }
            }
        }
        OpParams::Mean { .. } => return false,
    }
    true
}

/// `lr` per input and `fa` of the output, straight from the definitions.
pub fn derive_times(
    op: &OpDescription,
    accesses: &[ByteAccess],
) -> (Vec<Vec<Option<EventTime>>>, Vec<Option<EventTime>>) {
    let mut last_read: Vec<Vec<Option<EventTime>>> = op
        .inputs()
        .iter()
        .map(|input| vec![None; input.bytes()])
        .collect();
    let mut first_access = vec![None; op.output().bytes()];
    for access in accesses {
        match access.target {
            Target::Input(index) => {
                assert_eq!(access.kind, AccessKind::Read, "inputs are never written");
                let slot = &mut last_read[index][access.byte];
                if !matches!(slot, Some(t) if t.0 >= access.time) {
                    *slot = Some(EventTime(access.time));
                }
            }
            Target::Output => {
                let slot = &mut first_access[access.byte];
                if slot.is_none() {
                    *slot = Some(EventTime(access.time));
                }
            }
        }
    }
    (last_read, first_access)
}
