//! Errors of the planners.

use crate::record::PLAN_RECORD_METADATA as PLAN_RECORD;
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
    InvalidPlan(String),
    #[error("MCU catalogue: {0}")]
    Catalogue(String),
    #[error(transparent)]
    Kernels(#[from] dmo_ops::KernelFamilyError),
    #[error("{PLAN_RECORD}: {problem}")]
    Record { problem: String },
}
