//! Errors of the planners.

use crate::checker::Conflict;
use thiserror::Error;

#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum PlanError {
    #[error("tensor {tensor} ({name}): {problem}")]
    Tensor {
        tensor: usize,
        name: String,
        problem: String,
    },
    #[error("operator {operator}: {problem}")]
    Operator { operator: usize, problem: String },
    #[error("internal error, plan rejected by the checker: {0}")]
    InvalidPlan(#[source] InvalidPlan),
    #[error("MCU catalogue: {0}")]
    Catalogue(String),
    #[error(transparent)]
    Kernels(#[from] dmo_ops::KernelFamilyError),
}

/// Which of the two plans of [`plan_buffers`](crate::plan_buffers) a
/// problem is in.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum PlanSide {
    /// TFLM's greedy plan without overlaps.
    Baseline,
    /// The DMO plan as TFLM places it.
    Dmo,
}

impl std::fmt::Display for PlanSide {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            PlanSide::Baseline => "baseline",
            PlanSide::Dmo => "DMO",
        })
    }
}

/// Why a plan the planner made was rejected (a planner bug, never bad
/// input): the independent checker found a conflict, or TFLM's placement of
/// the DMO tensors reaches another head than the search computed.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum InvalidPlan {
    #[error("{side} plan: {conflict}")]
    Conflict { side: PlanSide, conflict: Conflict },
    #[error("DMO head {searched} differs from TFLM's placement of it, {placed}")]
    HeadMismatch { searched: u64, placed: u64 },
}
