//! Operator models: typed descriptions of TFLite operators and the safe
//! input/output overlap of each, found without emulating firmware.
//!
//! - [`OpDescription`]: one operator as a `.tflite` describes it, validated on
//!   construction (shapes against stride, padding, dilation, ...).
//! - [`simulate`]: walks the loop nest of TFLM's reference kernel
//!   (`shared/DESIGN.md`, "Reference kernel loop orders") and hands the
//!   per-byte last reads / first accesses to the overlap miner
//!   (`dmo_overlap::mine_pair`), the same code that mines traces.
//! - [`analytic`]: closed forms (see `docs/methods.md`).
//!
//! Kinds without an exact model give [`OverlapModel::NotModelled`] with a
//! reason: a report shows "no overlap" for them, never a guess.

mod analytic;
#[cfg(test)]
mod arena_check;
mod broadcast;
#[cfg(test)]
mod cmsis_tests;
mod cmsis_walk;
mod description;
mod family;
mod lstm_walk;
mod padding;
mod recorder;
#[cfg(test)]
mod reference_walk;
mod registry;
mod shape;
mod simulate;
#[cfg(test)]
mod tests;
mod tflite;

pub use analytic::analytic;
pub use cmsis_walk::{
    cmsis_conv_1x1_fast_offsets, cmsis_path, cmsis_scratch_bytes, simulate_cmsis_access_times,
    CmsisPath,
};
pub use description::MAX_TENSOR_BYTES;
pub use description::{
    Conv2dParams, DepthwiseConv2dParams, ElementwiseBinaryParams, FullyConnectedParams,
    OpDescription, OpError, OpKind, OpParams, Pool2dParams, ResolvedWindow, SliceAxis, SliceSpec,
    Window, STRIDED_SLICE_MAX_RANK,
};
pub use family::{kernel_families, kernel_family, KernelFamily, KernelFamilyError, LoopOrders};
pub use padding::{
    compute_padding_height_width, tflite_axis_padding, AxisPadding, Padding, PaddingValues,
};
pub use registry::{ActivationInputs, OperatorSpec};
pub use shape::{ElementType, ShapeSyntaxError, TensorShape};
pub use simulate::{
    check_cost, simulate_access_times, AccessTimes, NotModelled, MAX_MODELLED_BYTES,
    MAX_MODELLED_STEPS,
};
pub use tflite::{
    describe_tflite_operator, kind_of, slice_spec, tensor_shape, DescribeError, TfliteOperator,
};

use dmo_core::ByteCount;
use dmo_overlap::{best_placement, PairOverlap, Placement, SafeOffset};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::fmt;

/// How the overlap of an operator is found.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub enum Method {
    /// Closed-form formulas ([`analytic`]).
    Analytic,
    /// Loop-nest simulation plus the miner ([`simulate`]).
    Simulate,
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Method::Analytic => "analytic",
            Method::Simulate => "simulate",
        })
    }
}

/// Monotone offsets from a closed form (no per-byte times, so no witnesses).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub struct AnalyticOverlap {
    pub input_len: ByteCount,
    pub output_len: ByteCount,
    pub s_mono: SafeOffset,
    pub u_mono: SafeOffset,
}

/// What is known about one (input, output) pair.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub enum OverlapModel {
    /// Full miner result from the simulated per-byte times.
    Modelled(PairOverlap),
    /// Result of a closed form.
    Analytic(AnalyticOverlap),
    /// No exact model: treat as "no overlap".
    NotModelled { reason: String },
}

impl OverlapModel {
    /// `s_mono` when modelled.
    pub fn s_mono(&self) -> Option<SafeOffset> {
        match self {
            OverlapModel::Modelled(pair) => Some(pair.s_mono),
            OverlapModel::Analytic(analytic) => Some(analytic.s_mono),
            OverlapModel::NotModelled { .. } => None,
        }
    }

    /// `u_mono` when modelled.
    pub fn u_mono(&self) -> Option<SafeOffset> {
        match self {
            OverlapModel::Modelled(pair) => Some(pair.u_mono),
            OverlapModel::Analytic(analytic) => Some(analytic.u_mono),
            OverlapModel::NotModelled { .. } => None,
        }
    }

    /// The better of down at `s_mono` and up at `u_mono` (what a planner that
    /// places the output at or beyond the offset may use), when modelled.
    pub fn best_monotone(&self) -> Option<Placement> {
        match self {
            OverlapModel::Modelled(pair) => Some(pair.best_monotone()),
            OverlapModel::Analytic(analytic) => Some(best_placement(
                analytic.input_len,
                analytic.output_len,
                analytic.s_mono,
                analytic.u_mono,
            )),
            OverlapModel::NotModelled { .. } => None,
        }
    }
}

/// The result for one activation input of an operator (paired with its output).
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct InputOverlap {
    /// Index among the operator's activation inputs.
    pub input_index: usize,
    pub result: OverlapModel,
}

/// Loop-nest simulation of `op`: one result per activation input.
pub fn simulate(op: &OpDescription) -> Vec<InputOverlap> {
    mine_times(op, simulate_access_times(op))
}

/// Mines each (input, output) pair of simulated times.
fn mine_times(op: &OpDescription, times: Result<AccessTimes, NotModelled>) -> Vec<InputOverlap> {
    match times {
        Ok(times) => (0..op.inputs().len())
            .map(|input_index| {
                let (last_read, first_access) = times.pair(input_index);
                InputOverlap {
                    input_index,
                    result: OverlapModel::Modelled(dmo_overlap::mine_pair(last_read, first_access)),
                }
            })
            .collect(),
        Err(NotModelled { reason }) => (0..op.inputs().len())
            .map(|input_index| InputOverlap {
                input_index,
                result: OverlapModel::NotModelled {
                    reason: reason.clone(),
                },
            })
            .collect(),
    }
}

/// The pair of one buffer that several activation inputs of `op` are (CONCATENATION of a tensor
/// with itself): a hazard of any of them is a hazard of the buffer, so each byte's last read is
/// the latest over `inputs`, and that is mined. `inputs` are activation input indices of tensors
/// of one shape.
pub fn simulate_shared_input(op: &OpDescription, inputs: &[usize]) -> OverlapModel {
    match simulate_access_times(op) {
        Ok(times) => {
            let first_access = &times.output_first_access;
            let mut last_read = times.input_last_read[inputs[0]].clone();
            for &input in &inputs[1..] {
                for (merged, &time) in last_read.iter_mut().zip(&times.input_last_read[input]) {
                    *merged = (*merged).max(time);
                }
            }
            OverlapModel::Modelled(dmo_overlap::mine_pair(&last_read, first_access))
        }
        Err(NotModelled { reason }) => OverlapModel::NotModelled { reason },
    }
}

/// The closed form of [`simulate_shared_input`]: the hazard differences of the buffer are the
/// union of its inputs', so `s_mono` and `u_mono` are the largest of theirs.
pub fn analytic_shared_input(op: &OpDescription, inputs: &[usize]) -> OverlapModel {
    let results = analytic(op);
    let mut combined: Option<AnalyticOverlap> = None;
    for &input in inputs {
        match &results[input].result {
            OverlapModel::Analytic(found) => {
                combined = Some(match combined {
                    None => *found,
                    Some(so_far) => AnalyticOverlap {
                        s_mono: so_far.s_mono.max(found.s_mono),
                        u_mono: so_far.u_mono.max(found.u_mono),
                        ..so_far
                    },
                })
            }
            other => return other.clone(),
        }
    }
    combined.map_or_else(
        || OverlapModel::NotModelled {
            reason: "no input".into(),
        },
        OverlapModel::Analytic,
    )
}

/// Loop-nest simulation of `op` in the loop orders of one kernel family.
pub fn simulate_for(op: &OpDescription, orders: LoopOrders) -> Vec<InputOverlap> {
    match orders {
        LoopOrders::Reference => simulate(op),
        LoopOrders::CmsisNn => mine_times(op, simulate_cmsis_access_times(op)),
    }
}

/// One op by the chosen method, in the loop orders of one kernel family.
/// The closed forms are the reference family's; other families answer by
/// simulation only (their formulas, where they exist, are checked against it
/// in the tests).
pub fn evaluate_for(op: &OpDescription, method: Method, orders: LoopOrders) -> Vec<InputOverlap> {
    match (method, orders) {
        (Method::Simulate, orders) => simulate_for(op, orders),
        (Method::Analytic, LoopOrders::Reference) => analytic(op),
        (Method::Analytic, other) => (0..op.inputs().len())
            .map(|input_index| InputOverlap {
                input_index,
                result: OverlapModel::NotModelled {
                    reason: format!(
                        "no closed form for the {} loop orders here; use the simulation",
                        other.name()
                    ),
                },
            })
            .collect(),
    }
}

/// One op by the chosen method.
pub fn evaluate(op: &OpDescription, method: Method) -> Vec<InputOverlap> {
    match method {
        Method::Analytic => analytic(op),
        Method::Simulate => simulate(op),
    }
}

/// Every op of a model by the chosen method, in parallel over ops (rayon);
/// results in the order of `ops`.
pub fn evaluate_all(ops: &[OpDescription], method: Method) -> Vec<Vec<InputOverlap>> {
    ops.par_iter().map(|op| evaluate(op, method)).collect()
}
