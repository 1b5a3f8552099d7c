//! Errors that stop `dmo` from starting a run. Faults *during* a run are not
//! errors but a [`crate::RunStatus`], so a partial trace can still be kept.

use dmo_core::Address;
use goblin::elf::header;
use std::path::PathBuf;

/// Why a file is not a firmware ELF the emulator can run.
#[derive(Debug, thiserror::Error)]
pub enum ElfError {
    /// Not a readable regular file of bounded size; the cause names the
    /// file and says why.
    #[error(transparent)]
    Read(#[from] dmo_fsio::FsioError),
    /// `what` guesses what the file is instead (a trace, a .tflite, text).
    #[error("{}: not an ELF file ({what})", path.display())]
    NotElf { path: PathBuf, what: String },
    #[error(
        "{}: {}-bit {}-endian ELF for {} (machine {machine}); dmo runs 32-bit little-endian ARM (Cortex-M) firmware",
        path.display(),
        if *is_64_bit { 64 } else { 32 },
        if *big_endian { "big" } else { "little" },
        header::machine_to_str(*machine)
    )]
    WrongKind {
        path: PathBuf,
        is_64_bit: bool,
        big_endian: bool,
        /// `e_machine`.
        machine: u16,
    },
    #[error("{}: malformed or truncated ELF: only {len} bytes, shorter than an ELF header", path.display())]
    TooShort { path: PathBuf, len: usize },
    #[error("{}: malformed or truncated ELF", path.display())]
    Unparsable {
        path: PathBuf,
        #[source]
        source: goblin::error::Error,
    },
    #[error(
        "{}: malformed or truncated ELF: segment at 0x{virtual_address:08x} claims {file_size} bytes at file offset {file_offset}, past the end of the {file_len}-byte file (truncated?)",
        path.display()
    )]
    SegmentPastFileEnd {
        path: PathBuf,
        virtual_address: u64,
        file_size: u64,
        file_offset: u64,
        file_len: usize,
    },
    #[error(
        "{}: malformed or truncated ELF: segment at 0x{virtual_address:x} of {memory_size} bytes runs past 4 GiB",
        path.display()
    )]
    SegmentPast4GiB {
        path: PathBuf,
        virtual_address: u64,
        memory_size: u64,
    },
    #[error(
        "{}: malformed or truncated ELF: no loadable segments (is this an object file, not a linked firmware?)",
        path.display()
    )]
    NoLoadableSegments { path: PathBuf },
    #[error(
        "{}: malformed ELF: segment {index} (PT_LOAD at 0x{virtual_address:08x}) has {file_size} bytes in the file but only {memory_size} in memory (p_filesz > p_memsz)",
        path.display()
    )]
    FileSizeOverMemorySize {
        path: PathBuf,
        index: usize,
        virtual_address: u64,
        file_size: u64,
        memory_size: u64,
    },
}

/// Why a run cannot start: the ELF, the options or unicorn said no.
#[derive(Debug, thiserror::Error)]
pub enum EmuError {
    #[error(transparent)]
    Elf(#[from] ElfError),
    #[error("{}: no symbol `{name}` (--entry needs a function symbol)", firmware.display())]
    UnknownEntry { firmware: PathBuf, name: String },
    #[error("--poke {symbol}={}: {} has no symbol `{symbol}`", file.display(), firmware.display())]
    PokeUnknownSymbol {
        symbol: String,
        file: PathBuf,
        firmware: PathBuf,
    },
    #[error("--poke {symbol}={}: `{symbol}` is a function, not a data object", file.display())]
    PokeNotAnObject { symbol: String, file: PathBuf },
    #[error("--poke {symbol}={}: {bytes} bytes do not fit: `{symbol}` holds {capacity} bytes", file.display())]
    PokeTooLong {
        symbol: String,
        file: PathBuf,
        bytes: usize,
        capacity: u32,
    },
    #[error("{}: a segment at {segment} lies in the {stub} range, which dmo stubs out", firmware.display())]
    SegmentInStub {
        firmware: PathBuf,
        segment: Address,
        stub: &'static str,
    },
    #[error("--ram {start}:{len}: the region must be non-empty and end below 4 GiB")]
    RamOutOfRange { start: Address, len: u32 },
    #[error("--ram {start}:{len} overlaps the {stub} range (0x40000000-0x5fffffff and 0xe0000000+ are stubs)")]
    RamOverlapsStub {
        start: Address,
        len: u32,
        stub: &'static str,
    },
    #[error("unicorn refused to {action}")]
    Unicorn {
        action: String,
        #[source]
        source: unicorn_engine::uc_error,
    },
}

impl EmuError {
    pub(crate) fn unicorn(action: impl Into<String>, source: unicorn_engine::uc_error) -> EmuError {
        EmuError::Unicorn {
            action: action.into(),
            source,
        }
    }
}
