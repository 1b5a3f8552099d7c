//! Each test names the failure it guards against (issue 12) and would fail
//! with the hand-written copies this crate replaced.

use super::*;
use std::ffi::CString;
use std::time::{Duration, Instant};

fn mkfifo(path: &Path) {
    let name = CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(name.as_ptr(), 0o644) }, 0);
}

fn files_in(directory: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(directory)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn a_device_is_refused_before_it_is_read() {
    // std::fs::read("/dev/zero") never returns; this must answer at once.
    let start = Instant::now();
    let error = read_input(Path::new("/dev/zero"), MAX_INPUT_BYTES).unwrap_err();
    assert!(start.elapsed() < Duration::from_secs(1));
    assert_eq!(
        error.to_string(),
        "/dev/zero: is a character device, not a regular file; dmo reads only regular files"
    );
}

#[test]
fn a_fifo_is_refused_without_blocking() {
    // Opening a FIFO for reading blocks until a writer appears: with no
    // writer, a plain File::open would hang this test forever.
    let directory = tempfile::tempdir().unwrap();
    let fifo = directory.path().join("pipe");
    mkfifo(&fifo);
    let error = read_input(&fifo, MAX_INPUT_BYTES).unwrap_err();
    assert!(
        matches!(error, FsioError::NotRegularInput { kind, .. } if kind.contains("FIFO")),
        "{error}"
    );
    let error = open_input(directory.path()).unwrap_err();
    assert!(error.to_string().contains("is a directory"), "{error}");
}

#[test]
fn reads_are_capped() {
    // A file of limit + 1 bytes is refused; one of exactly limit is read.
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("big");
    std::fs::write(&path, vec![7u8; 101]).unwrap();
    let error = read_input(&path, 100).unwrap_err();
    assert!(
        matches!(
            error,
            FsioError::TooLarge {
                size: 101,
                limit: 100,
                ..
            }
        ),
        "{error}"
    );
    assert_eq!(read_input(&path, 101).unwrap().len(), 101);
}

#[test]
fn a_missing_file_states_its_cause_once() {
    // Message + source, as anyhow prints them with {:#}: the OS error text
    // must appear exactly once.
    let error = read_input(Path::new("/nonexistent/x.elf"), 10).unwrap_err();
    let mut text = error.to_string();
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        text.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    assert_eq!(
        text,
        "/nonexistent/x.elf: cannot read: No such file or directory (os error 2)"
    );
}

#[test]
fn a_non_regular_output_is_never_replaced_even_with_force() {
    // `dmo trace --force -o /dev/full` replaced the device node with a
    // regular file. A FIFO stands in for the device here (same rule, and a
    // broken test cannot damage /dev).
    let directory = tempfile::tempdir().unwrap();
    let fifo = directory.path().join("out.dmotrace");
    mkfifo(&fifo);
    let error = write_atomically(&fifo, b"data", true).unwrap_err();
    assert!(
        matches!(error, FsioError::NotRegularOutput { .. }),
        "{error}"
    );
    use std::os::unix::fs::FileTypeExt;
    assert!(std::fs::symlink_metadata(&fifo)
        .unwrap()
        .file_type()
        .is_fifo());
    assert_eq!(files_in(directory.path()), ["out.dmotrace"]);
    // And /dev/full itself is refused, not written.
    let error = AtomicFile::create(Path::new("/dev/full"), true).unwrap_err();
    assert!(
        matches!(
            error,
            FsioError::NotRegularOutput {
                kind: "a character device",
                ..
            }
        ),
        "{error}"
    );
}

#[test]
fn a_dangling_symlink_is_not_replaced_without_force() {
    // Path::exists() follows the link and says false for a dangling one, so
    // the old check let the rename replace it.
    let directory = tempfile::tempdir().unwrap();
    let link = directory.path().join("out.json");
    std::os::unix::fs::symlink(directory.path().join("nowhere"), &link).unwrap();
    let error = write_atomically(&link, b"{}", false).unwrap_err();
    assert!(matches!(error, FsioError::Exists { .. }), "{error}");
    assert!(std::fs::symlink_metadata(&link)
        .unwrap()
        .file_type()
        .is_symlink());
    // With --force the link itself is replaced by the file.
    write_atomically(&link, b"{}", true).unwrap();
    assert_eq!(std::fs::read(&link).unwrap(), b"{}");
    assert_eq!(files_in(directory.path()), ["out.json"]);
}

#[test]
fn the_no_clobber_check_is_the_rename() {
    // Two writers that both passed the early check: the first commit wins,
    // the second gets "already exists" and leaves nothing behind. With a
    // check at start and a plain rename, both succeeded and the last won.
    let directory = tempfile::tempdir().unwrap();
    let target = directory.path().join("same.dmotrace");
    let mut first = AtomicFile::create(&target, false).unwrap();
    let mut second = AtomicFile::create(&target, false).unwrap();
    assert_ne!(first.temporary_path(), second.temporary_path());
    first.write_all(b"first").unwrap();
    second.write_all(b"second").unwrap();
    first.commit().unwrap();
    let error = second.commit().unwrap_err();
    assert!(matches!(error, FsioError::Exists { .. }), "{error}");
    assert_eq!(std::fs::read(&target).unwrap(), b"first");
    assert_eq!(files_in(directory.path()), ["same.dmotrace"]);
    assert!(
        lock_pending().is_empty()
            || !lock_pending()
                .iter()
                .any(|p| p.starts_with(directory.path()))
    );
}

#[test]
fn force_replaces_a_regular_file_and_dropping_leaves_nothing() {
    let directory = tempfile::tempdir().unwrap();
    let target = directory.path().join("report.md");
    std::fs::write(&target, "old").unwrap();
    assert!(matches!(
        write_atomically(&target, b"new", false),
        Err(FsioError::Exists { .. })
    ));
    write_atomically(&target, b"new", true).unwrap();
    assert_eq!(std::fs::read(&target).unwrap(), b"new");
    {
        let mut abandoned = AtomicFile::create(&directory.path().join("x.png"), false).unwrap();
        abandoned.write_all(b"half").unwrap();
        let temporary = abandoned.temporary_path().to_path_buf();
        assert!(temporary.exists());
        assert!(lock_pending().contains(&temporary));
    }
    assert_eq!(files_in(directory.path()), ["report.md"]);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        // Not the 0600 of a temporary file.
        let mode = std::fs::metadata(&target).unwrap().permissions().mode();
        assert_eq!(mode & 0o044, 0o044 & !umask_bits());
    }
}

#[cfg(unix)]
fn umask_bits() -> u32 {
    // SAFETY: umask only swaps a process-wide mask; put back at once.
    unsafe {
        let old = libc::umask(0o022);
        libc::umask(old);
        old as u32
    }
}
