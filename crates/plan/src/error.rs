//! Errors of the planners.

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
}
