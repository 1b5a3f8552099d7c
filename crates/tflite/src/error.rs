//! Errors of the model reader and writer.

use std::path::PathBuf;
use thiserror::Error;

/// What is wrong with the bytes of a model (no file name: see [`ModelError`]).
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum FormatError {
    #[error("file is too short to be a flatbuffer ({len} bytes)")]
    TooShort { len: usize },
    #[error("file identifier is {found:?}, expected \"TFL3\"")]
    WrongIdentifier { found: String },
    #[error("read of {len} bytes at offset {position} runs past the end of the file")]
    OutOfBounds { position: usize, len: usize },
    #[error("table at offset {position} is not 4-byte aligned")]
    Misaligned { position: usize },
    #[error("malformed vtable at offset {position}")]
    BadVtable { position: usize },
    #[error("model has no subgraphs")]
    NoSubgraph,
    #[error("{what}: index {index} out of range (only {count})")]
    BadIndex {
        what: &'static str,
        index: i64,
        count: usize,
    },
    #[error("tensor {tensor} ({name}): {problem}")]
    BadTensor {
        tensor: usize,
        name: String,
        problem: String,
    },
    #[error("operator {operator}: {problem}")]
    BadOperator { operator: usize, problem: String },
    #[error("{0}")]
    Unsupported(String),
}

/// A model file that could not be read, written or understood, naming the file.
#[derive(Debug, Error)]
pub enum ModelError {
    /// Not a regular file, too large, or unreadable (the cause is the
    /// helper error's source).
    #[error(transparent)]
    File(#[from] dmo_fsio::FsioError),
    /// The format error is a leaf: part of the message, not a `source()`,
    /// so chaining and flattening callers both print it once.
    #[error("{path}: not a valid .tflite model: {problem}")]
    Format { path: PathBuf, problem: FormatError },
}
