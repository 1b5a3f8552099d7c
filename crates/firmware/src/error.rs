//! Errors of firmware generation and compilation.

use std::path::PathBuf;
use thiserror::Error;

/// Why a model cannot become firmware (no file name: see [`FirmwareError`]).
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum GenerateError {
    #[error("operator {operator} ({kind}) has no kernel in dmo's firmware generator yet")]
    NoKernel { operator: usize, kind: String },
    #[error("operator {operator} ({kind}): {problem}")]
    Unsupported {
        operator: usize,
        kind: String,
        problem: String,
    },
    #[error("tensor {tensor} ({name}): {problem}")]
    Tensor {
        tensor: usize,
        name: String,
        problem: String,
    },
    #[error("{0}")]
    Model(String),
}

/// A failed `dmo firmware` step, naming the file involved.
#[derive(Debug, Error)]
pub enum FirmwareError {
    #[error(transparent)]
    Read(#[from] dmo_tflite::ModelError),
    /// An input or output file refused or failed by `dmo_fsio`.
    #[error(transparent)]
    File(#[from] dmo_fsio::FsioError),
    // Fields are not named `source`: the message already includes the cause, and a source
    // would make anyhow print it twice.
    #[error("{path}: {problem}")]
    Generate {
        path: PathBuf,
        problem: GenerateError,
    },
    #[error("{path}: {problem}")]
    Io {
        path: PathBuf,
        problem: std::io::Error,
    },
    #[error(
        "{compiler} not found: install Debian's gcc-arm-none-eabi and libnewlib-arm-none-eabi \
         (scripts/install-deps.sh) or pass the compiler's path"
    )]
    CompilerMissing { compiler: String },
    #[error("{compiler} failed to build {output} (exit status {status}):\n{stderr}")]
    CompilerFailed {
        compiler: String,
        output: PathBuf,
        status: String,
        stderr: String,
    },
}
