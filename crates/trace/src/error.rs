//! Errors of writing and reading traces. Every variant names the file, and
//! those about the event stream name the block where reading failed.

use std::path::PathBuf;

/// Where in a trace file a problem was found.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct BlockPosition {
    /// Index of the event block, counting from 0.
    pub index: u64,
    /// Byte offset of the block's header in the file.
    pub byte_offset: u64,
}

impl std::fmt::Display for BlockPosition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "block {} at byte {}", self.index, self.byte_offset)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TraceError {
    /// The cause is the `source`, not repeated in the message.
    #[error("{path}: {action}")]
    Io {
        path: PathBuf,
        action: &'static str,
        #[source]
        source: std::io::Error,
    },

    #[error("{path}: not a dmo trace (the file does not start with the trace magic)")]
    NotATrace { path: PathBuf },

    #[error("{path}: trace format version {found}, this dmo reads versions 2 to {supported}; re-record the trace with this dmo")]
    WrongVersion {
        path: PathBuf,
        found: u32,
        supported: u32,
    },

    #[error("{path}: truncated trace: {detail}")]
    Truncated { path: PathBuf, detail: String },

    #[error("{path}: corrupt trace, {position}: {detail}")]
    CorruptBlock {
        path: PathBuf,
        position: BlockPosition,
        detail: String,
    },

    #[error("{path}: corrupt trace metadata at byte {byte_offset}: {detail}")]
    CorruptMetadata {
        path: PathBuf,
        byte_offset: u64,
        detail: String,
    },

    /// Refused or failed by the file helper (not a regular file, exists, ...).
    #[error(transparent)]
    File(#[from] dmo_fsio::FsioError),

    #[error("{path}: cannot encode trace metadata: {detail}")]
    Encode { path: PathBuf, detail: String },
}

impl TraceError {
    pub(crate) fn io(path: &std::path::Path, action: &'static str, source: std::io::Error) -> Self {
        TraceError::Io {
            path: path.to_path_buf(),
            action,
            source,
        }
    }
}
