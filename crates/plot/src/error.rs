//! Why a figure could not be drawn.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum PlotError {
    #[error(transparent)]
    Trace(#[from] dmo_trace::TraceError),
    #[error("{path}: unsupported figure file type (use .png or .svg)")]
    UnsupportedFormat { path: PathBuf },
    /// Refused or failed by `dmo_fsio` (exists without --force, not a
    /// regular file, rename failed).
    #[error(transparent)]
    File(#[from] dmo_fsio::FsioError),
    /// The cause is the `source`, not repeated in the message.
    #[error("{path}: {action}")]
    Io {
        path: PathBuf,
        action: &'static str,
        source: std::io::Error,
    },
    #[error("figure size {width}x{height} is too small or too large (200..=8000 pixels each way)")]
    BadSize { width: u32, height: u32 },
    #[error("{trace}: no op named or numbered {wanted:?} (the trace has {count} ops)")]
    NoSuchOp {
        trace: PathBuf,
        wanted: String,
        count: usize,
    },
    #[error("{trace}: {problem}")]
    NothingToPlot { trace: PathBuf, problem: String },
    #[error("{what}: cannot plan its buffers")]
    Plan {
        what: String,
        #[source]
        source: dmo_plan::PlanError,
    },
    #[error("{path}: drawing failed: {message}")]
    Draw { path: PathBuf, message: String },
}
