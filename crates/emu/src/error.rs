//! Errors that stop `dmo` from starting a run. Faults *during* a run are not
//! errors but a [`crate::RunStatus`], so a partial trace can still be kept.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum FirmwareError {
    /// The cause is the `source`, not repeated in the message.
    #[error("{}: cannot read", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: not an ELF file ({what})", path.display())]
    NotElf { path: PathBuf, what: String },
    #[error("{}: {what}; dmo runs 32-bit little-endian ARM (Cortex-M) firmware", path.display())]
    WrongKind { path: PathBuf, what: String },
    #[error("{}: malformed or truncated ELF: {detail}", path.display())]
    Malformed { path: PathBuf, detail: String },
}

#[derive(Debug, thiserror::Error)]
pub enum EmuError {
    #[error(transparent)]
    Firmware(#[from] FirmwareError),
    #[error("{}: no symbol `{name}` ({hint})", firmware.display())]
    UnknownSymbol {
        firmware: PathBuf,
        name: String,
        hint: String,
    },
    #[error("--poke {symbol}={}: {problem}", file.display())]
    Poke {
        symbol: String,
        file: PathBuf,
        problem: String,
    },
    #[error("{}: {problem}", firmware.display())]
    Layout { firmware: PathBuf, problem: String },
    #[error("unicorn refused to {action}: {error}")]
    Unicorn { action: String, error: String },
    #[error("{0}")]
    Config(String),
}

impl EmuError {
    pub(crate) fn unicorn(action: impl Into<String>, error: unicorn_engine::uc_error) -> EmuError {
        EmuError::Unicorn {
            action: action.into(),
            error: format!("{error:?}"),
        }
    }
}
