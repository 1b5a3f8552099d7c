//! TFLM's broadcasting loop for MUL and ADD (`reference_ops::BroadcastBinaryOpSimple`, which
//! `BroadcastMul4DSlow` / `6DSlow` and `BroadcastAdd4DSlow` / `6DSlow` call when
//! `ProcessBroadcastShapes` finds the shapes differ): the dimensions, extended to one rank, are fused from the innermost outwards
//! into loops in which each input either steps contiguously or stays put (stride 0); the
//! innermost loop reads an input of stride 0 once, before its row, the other per element.
//! The one model of those loops, shared by the walk and the closed form.

use crate::description::{broadcast_dim, OpDescription, OpKind};

/// One fused loop: `shape` iterations; per iteration the inputs advance by `strides` elements
/// and the output by `output_stride`. It covers the axes `first_axis..` up to the next inner
/// loop's first axis.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct BroadcastLoop {
    pub shape: usize,
    pub strides: [usize; 2],
    pub output_stride: usize,
    pub first_axis: usize,
}

/// Whether TFLM runs `op` through the broadcasting loop: a MUL or ADD whose inputs, extended to
/// the output's rank, differ (`ProcessBroadcastShapes`; equal shapes run the flat loop).
pub(crate) fn runs_broadcast_loop(op: &OpDescription) -> bool {
    if !matches!(op.kind(), OpKind::Mul | OpKind::Add) {
        return false;
    }
    let rank = op.output().rank();
    let [first, second] = [&op.inputs()[0], &op.inputs()[1]];
    (0..rank).any(|axis| broadcast_dim(first, rank, axis) != broadcast_dim(second, rank, axis))
}

/// The fused loops, innermost first (`BroadcastBinaryOpSimple`'s `CanFuseLoops`: an axis of
/// output size 1 always joins the loop below; another joins it when each input's stride there
/// continues the loop's, or is 0 where the loop's is 0).
pub(crate) fn broadcast_loops(op: &OpDescription) -> Vec<BroadcastLoop> {
    let output = op.output();
    let rank = output.rank();
    let mut loops: Vec<BroadcastLoop> = Vec::new();
    let mut accumulated = [1usize; 2];
    let mut output_accumulated = 1usize;
    for axis in (0..rank).rev() {
        let output_dim = output.dims()[axis];
        let dims = [0, 1].map(|input| broadcast_dim(&op.inputs()[input], rank, axis));
        let strides = [0, 1].map(|input| {
            if dims[input] == 1 && output_dim != 1 {
                0
            } else {
                accumulated[input]
            }
        });
        let fuses = |stride: usize, expected: usize, inner: usize| {
            output_dim == 1
                || if inner == 0 {
                    stride == 0
                } else {
                    stride == expected
                }
        };
        match loops.last_mut() {
            Some(inner)
                if (0..2).all(|i| fuses(strides[i], accumulated[i], inner.strides[i]))
                    && fuses(output_accumulated, output_accumulated, inner.output_stride) =>
            {
                inner.shape *= output_dim;
                inner.first_axis = axis;
            }
            _ => loops.push(BroadcastLoop {
                shape: output_dim,
                strides,
                output_stride: output_accumulated,
                first_axis: axis,
            }),
        }
        for input in 0..2 {
            accumulated[input] *= dims[input];
        }
        output_accumulated *= output_dim;
    }
    loops
}
