//! How `dmo` touches the file system: the one place that reads untrusted
//! input files and writes output files.
//!
//! # Inputs
//! [`read_input`] and [`open_input`] accept only regular files. The type is
//! checked with `stat` *before* the file is opened, so a FIFO, a device
//! (`/dev/zero`), a socket or a directory is refused with one line and never
//! blocks; the file is then opened non-blocking and checked again, in case it
//! was swapped between the two. Whole-file reads are capped: ELF files,
//! `.tflite` models and `--poke` files at [`MAX_INPUT_BYTES`] (256 MiB), so
//! memory stays bounded by the cap whatever the file claims.
//!
//! # Outputs
//! [`AtomicFile`] writes to a temporary file with a random name beside the
//! target, then renames it into place:
//! - without `--force` with `persist_noclobber` (`renameat2(RENAME_NOREPLACE)`
//!   on Linux), so the no-clobber check *is* the rename: of two runs writing
//!   the same file, one wins and the other gets "already exists";
//! - with `--force` with `persist` (a plain rename, atomic for readers).
//!
//! Something that is not a regular file (a device such as `/dev/null`, a
//! FIFO, a directory) is never replaced, even with `--force`: it is refused.
//! An existing symlink, dangling or not, counts as an existing file.
//! The temporary file is removed when the writer is dropped (an error on the
//! way) and when the process gets SIGINT or SIGTERM (a `signal-hook` thread
//! removes every pending temporary file, then lets the signal kill the
//! process as it would have). A SIGKILL or an abort still leaves it behind;
//! its name starts with `.` and ends with `.partial` (or a suffix the caller
//! chose, such as `.partial.png`).

use std::fs::{File, Metadata};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, Once};

/// The largest input file read whole: 256 MiB. Cortex-M firmware and
/// `.tflite` models for microcontrollers are a few MB at most.
pub const MAX_INPUT_BYTES: u64 = 256 << 20;

/// Why a file could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum FsioError {
    #[error("{}: is {kind}, not a regular file; dmo reads only regular files", path.display())]
    NotRegularInput { path: PathBuf, kind: &'static str },

    #[error("{}: {size} bytes, more than dmo reads ({limit} bytes)", path.display())]
    TooLarge {
        path: PathBuf,
        size: u64,
        limit: u64,
    },

    #[error("{}: already exists; pass --force to overwrite it", path.display())]
    Exists { path: PathBuf },

    #[error("{}: is {kind}, not a regular file; dmo never replaces it (not even with --force)", path.display())]
    NotRegularOutput { path: PathBuf, kind: &'static str },

    /// The OS error is a leaf: it is part of the message and deliberately
    /// not a `source()`, so a caller that chains causes (`{:#}`) and one
    /// that flattens the message both print it exactly once.
    #[error("{}: {action}: {cause}", path.display())]
    Io {
        path: PathBuf,
        action: &'static str,
        cause: std::io::Error,
    },
}

impl FsioError {
    fn io(path: &Path, action: &'static str, cause: std::io::Error) -> FsioError {
        FsioError::Io {
            path: path.to_path_buf(),
            action,
            cause,
        }
    }

    /// The underlying I/O error, if this is one.
    pub fn io_error(&self) -> Option<&std::io::Error> {
        match self {
            FsioError::Io { cause, .. } => Some(cause),
            _ => None,
        }
    }
}

/// What kind of non-regular file `metadata` describes, for messages.
fn kind_of(metadata: &Metadata) -> &'static str {
    let file_type = metadata.file_type();
    if file_type.is_dir() {
        return "a directory";
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if file_type.is_fifo() {
            return "a FIFO (named pipe)";
        }
        if file_type.is_char_device() {
            return "a character device";
        }
        if file_type.is_block_device() {
            return "a block device";
        }
        if file_type.is_socket() {
            return "a socket";
        }
    }
    if file_type.is_symlink() {
        return "a symbolic link";
    }
    "a special file"
}

/// Checks that `path` is a regular file (following symlinks) without opening
/// it, and returns its size.
pub fn check_input(path: &Path) -> Result<u64, FsioError> {
    let metadata =
        std::fs::metadata(path).map_err(|source| FsioError::io(path, "cannot read", source))?;
    if !metadata.is_file() {
        return Err(FsioError::NotRegularInput {
            path: path.to_path_buf(),
            kind: kind_of(&metadata),
        });
    }
    Ok(metadata.len())
}

/// Opens a regular file for reading, refusing anything else before opening
/// it (see the crate docs). Returns the file and its size.
pub fn open_input(path: &Path) -> Result<(File, u64), FsioError> {
    check_input(path)?;
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    // Non-blocking, so a FIFO swapped in after the check cannot hang the
    // open; for a regular file the flag changes nothing.
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::custom_flags(&mut options, libc::O_NONBLOCK);
    let file = options
        .open(path)
        .map_err(|source| FsioError::io(path, "cannot open", source))?;
    let metadata = file
        .metadata()
        .map_err(|source| FsioError::io(path, "cannot read", source))?;
    if !metadata.is_file() {
        return Err(FsioError::NotRegularInput {
            path: path.to_path_buf(),
            kind: kind_of(&metadata),
        });
    }
    Ok((file, metadata.len()))
}

/// Reads a whole regular file of at most `limit` bytes.
pub fn read_input(path: &Path, limit: u64) -> Result<Vec<u8>, FsioError> {
    let (file, len) = open_input(path)?;
    let too_large = |size| FsioError::TooLarge {
        path: path.to_path_buf(),
        size,
        limit,
    };
    if len > limit {
        return Err(too_large(len));
    }
    let mut bytes = Vec::with_capacity(len as usize);
    // The file may grow while it is read; never past the limit.
    file.take(limit.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|source| FsioError::io(path, "cannot read", source))?;
    if bytes.len() as u64 > limit {
        return Err(too_large(bytes.len() as u64));
    }
    Ok(bytes)
}

/// Fails if writing `target` would replace something: an existing file or
/// symlink (dangling or not) unless `force`, and anything that is not a
/// regular file or a symlink even with `force`. An early, friendly check; the
/// rename in [`AtomicFile::commit`] is the one that counts.
pub fn check_output(target: &Path, force: bool) -> Result<(), FsioError> {
    let link = match std::fs::symlink_metadata(target) {
        Ok(metadata) => metadata,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(source) => return Err(FsioError::io(target, "cannot check the output", source)),
    };
    // What the rename would replace is the link itself, but a link to a
    // device usually means "write to the device": refuse that too.
    let pointed = if link.file_type().is_symlink() {
        std::fs::metadata(target).ok()
    } else {
        Some(link.clone())
    };
    if let Some(metadata) = &pointed {
        if !metadata.is_file() {
            return Err(FsioError::NotRegularOutput {
                path: target.to_path_buf(),
                kind: kind_of(metadata),
            });
        }
    }
    if !force {
        return Err(FsioError::Exists {
            path: target.to_path_buf(),
        });
    }
    Ok(())
}

/// Temporary files to remove on SIGINT/SIGTERM.
static PENDING: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());
static INSTALL: Once = Once::new();

fn lock_pending() -> std::sync::MutexGuard<'static, Vec<PathBuf>> {
    PENDING
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Starts (once per process) the thread that removes pending temporary files
/// on SIGINT or SIGTERM and then ends the process as the signal would have.
fn install_signal_cleanup() {
    INSTALL.call_once(|| {
        #[cfg(unix)]
        {
            use signal_hook::consts::{SIGINT, SIGTERM};
            let Ok(mut signals) = signal_hook::iterator::Signals::new([SIGINT, SIGTERM]) else {
                return;
            };
            let _ = std::thread::Builder::new()
                .name("dmo-fsio-signals".into())
                .spawn(move || {
                    if let Some(signal) = signals.forever().next() {
                        let pending = lock_pending();
                        // Newest first: files inside a pending folder go
                        // before the folder.
                        for path in pending.iter().rev() {
                            if path.is_dir() {
                                let _ = std::fs::remove_dir_all(path);
                            } else {
                                let _ = std::fs::remove_file(path);
                            }
                        }
                        // Dies of the signal with the lock held, so no new
                        // file is committed in between.
                        let _ = signal_hook::low_level::emulate_default_handler(signal);
                        std::process::exit(128 + signal);
                    }
                });
        }
    });
}

/// A private scratch folder (e.g. for a trace a command needs only while it
/// runs), removed with everything in it when dropped and on SIGINT/SIGTERM.
pub struct ScratchFolder {
    folder: tempfile::TempDir,
}

impl ScratchFolder {
    pub fn new() -> Result<ScratchFolder, FsioError> {
        install_signal_cleanup();
        let folder = tempfile::Builder::new()
            .prefix("dmo-scratch-")
            .tempdir()
            .map_err(|cause| {
                FsioError::io(
                    &std::env::temp_dir(),
                    "cannot create a scratch folder in",
                    cause,
                )
            })?;
        lock_pending().push(folder.path().to_path_buf());
        Ok(ScratchFolder { folder })
    }

    pub fn path(&self) -> &Path {
        self.folder.path()
    }
}

impl Drop for ScratchFolder {
    fn drop(&mut self) {
        let mut pending = lock_pending();
        if let Some(index) = pending.iter().position(|p| p == self.folder.path()) {
            pending.swap_remove(index);
        }
        // `TempDir` removes the folder itself right after.
    }
}

/// An output file being written: a temporary file beside the target until
/// [`commit`](Self::commit) renames it into place. Dropped without a commit,
/// it removes the temporary file.
#[derive(Debug)]
pub struct AtomicFile {
    temporary: Option<tempfile::NamedTempFile>,
    /// The temporary file's path, as registered for signal cleanup.
    temporary_path: PathBuf,
    target: PathBuf,
    force: bool,
}

impl AtomicFile {
    /// Starts writing `target`; fails at once if the target exists (unless
    /// `force`) or is not a regular file. The file gets mode 0644 less the
    /// umask, like any file a command creates.
    pub fn create(target: &Path, force: bool) -> Result<AtomicFile, FsioError> {
        AtomicFile::create_with_suffix(target, force, ".partial")
    }

    /// Like [`create`](Self::create), with the temporary name ending in
    /// `suffix` instead of `.partial` (for writers that pick a format by
    /// extension: `.partial.png`).
    pub fn create_with_suffix(
        target: &Path,
        force: bool,
        suffix: &str,
    ) -> Result<AtomicFile, FsioError> {
        check_output(target, force)?;
        let directory = match target.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent,
            _ => Path::new("."),
        };
        let file_name = target
            .file_name()
            .ok_or_else(|| {
                FsioError::io(
                    target,
                    "cannot write",
                    std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a file name"),
                )
            })?
            .to_string_lossy()
            .into_owned();
        install_signal_cleanup();
        let mut builder = tempfile::Builder::new();
        let prefix = format!(".{file_name}.");
        builder.prefix(&prefix).suffix(suffix);
        #[cfg(unix)]
        builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o644));
        // Registered under the lock, so a signal never misses a file that
        // exists.
        let mut pending = lock_pending();
        let temporary = builder.tempfile_in(directory).map_err(|source| {
            FsioError::io(target, "cannot create a temporary file beside it", source)
        })?;
        let temporary_path = temporary.path().to_path_buf();
        pending.push(temporary_path.clone());
        drop(pending);
        Ok(AtomicFile {
            temporary: Some(temporary),
            temporary_path,
            target: target.to_path_buf(),
            force,
        })
    }

    /// The final path.
    pub fn target(&self) -> &Path {
        &self.target
    }

    /// The temporary file's path, for writers that want a path (an image
    /// encoder, a compiler's `-o`); they may replace the file at this path.
    pub fn temporary_path(&self) -> &Path {
        &self.temporary_path
    }

    /// The open temporary file.
    pub fn file(&mut self) -> &mut File {
        self.temporary
            .as_mut()
            .expect("present until commit")
            .as_file_mut()
    }

    /// Syncs the file and renames it over the target: with `persist_noclobber`
    /// unless `force`, so an existing target is never replaced; with `force`,
    /// only a regular file (or a symlink) is replaced.
    pub fn commit(mut self) -> Result<(), FsioError> {
        let temporary = self.temporary.take().expect("present until commit");
        let target = self.target.clone();
        // The writer may have replaced the file at the path (a compiler's
        // `-o`); sync what is at the path now.
        if let Ok(file) = File::open(temporary.path()) {
            file.sync_all()
                .map_err(|source| FsioError::io(&target, "cannot sync to disk", source))?;
        }
        let result = if self.force {
            check_output(&target, true).and_then(|()| {
                temporary.persist(&target).map_err(|error| {
                    FsioError::io(
                        &target,
                        "cannot move the finished file into place",
                        error.error,
                    )
                })
            })
        } else {
            temporary
                .persist_noclobber(&target)
                .map_err(|error| match error.error.kind() {
                    std::io::ErrorKind::AlreadyExists => FsioError::Exists {
                        path: target.clone(),
                    },
                    _ => FsioError::io(
                        &target,
                        "cannot move the finished file into place",
                        error.error,
                    ),
                })
        };
        // On failure `temporary` has been dropped (and deleted) by now.
        self.unregister();
        result?;
        if let Some(parent) = target.parent().filter(|p| !p.as_os_str().is_empty()) {
            // Makes the rename durable; not all platforms can open directories.
            if let Ok(directory) = File::open(parent) {
                let _ = directory.sync_all();
            }
        }
        Ok(())
    }

    fn unregister(&mut self) {
        let mut pending = lock_pending();
        if let Some(index) = pending.iter().position(|p| *p == self.temporary_path) {
            pending.swap_remove(index);
        }
    }
}

impl Write for AtomicFile {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.file().write(bytes)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.file().flush()
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if let Some(temporary) = self.temporary.take() {
            // Removes the file (by path) before it leaves the signal list.
            let _ = temporary.close();
            self.unregister();
        }
    }
}

/// Writes `bytes` to `target` through an [`AtomicFile`].
pub fn write_atomically(target: &Path, bytes: &[u8], force: bool) -> Result<(), FsioError> {
    let mut file = AtomicFile::create(target, force)?;
    file.write_all(bytes)
        .map_err(|source| FsioError::io(target, "cannot write", source))?;
    file.commit()
}

#[cfg(test)]
// The tests make FIFOs and read the umask through libc.
#[allow(unsafe_code)]
mod tests;
