//! Issue 12, end to end: hostile inputs never crash or hang `dmo`, and `dmo`
//! never clobbers a file. Each test is a case of the issue; before the fix
//! each one hung (killed by the timeout here), panicked, aborted or left or
//! replaced a file.

mod common;

use common::{fixture, model, text};
use std::os::unix::fs::FileTypeExt;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Runs `dmo` and kills it after `limit`: a hang fails the test instead of
/// blocking the suite.
fn dmo_within(limit: Duration, args: &[&str]) -> Output {
    let child = spawn(args);
    wait_within(child, limit)
}

fn spawn(args: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_dmo"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run dmo")
}

fn wait_within(mut child: Child, limit: Duration) -> Output {
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > limit {
            child.kill().unwrap();
            let output = child.wait_with_output().unwrap();
            panic!(
                "dmo still running after {limit:?} (killed); stderr: {}",
                text(&output.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

const SHORT: Duration = Duration::from_secs(20);

/// Exit code 2, one line of error naming `needle`, and no panic.
fn assert_clean_error(output: &Output, needle: &str) {
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains(needle), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(
        stderr.lines().filter(|l| l.starts_with("error")).count(),
        1,
        "{stderr}"
    );
}

fn mkfifo(path: &Path) {
    let status = Command::new("mkfifo").arg(path).status().unwrap();
    assert!(status.success());
}

fn is_fifo(path: &Path) -> bool {
    std::fs::symlink_metadata(path)
        .map(|m| m.file_type().is_fifo())
        .unwrap_or(false)
}

fn names_in(directory: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(directory)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn devices_and_fifos_as_inputs_are_refused_at_once() {
    // Case 6: `dmo trace /dev/zero`, `dmo plan /dev/zero` and
    // `--poke SYMBOL=/dev/zero` read past 4 GB; a FIFO blocked forever.
    let directory = tempfile::tempdir().unwrap();
    let out = directory.path().join("x.dmotrace");
    let out = out.to_str().unwrap();
    let fifo = directory.path().join("pipe");
    mkfifo(&fifo);
    let fifo = fifo.to_str().unwrap();
    let png = directory.path().join("x.png");
    let png = png.to_str().unwrap();
    let refusal = "not a regular file; dmo reads only regular files";
    for args in [
        vec!["trace", "/dev/zero", "-o", out],
        vec!["plan", "/dev/zero"],
        vec!["info", "/dev/zero"],
        vec!["trace", fifo, "-o", out],
        vec!["plan", fifo],
        vec!["report", fifo],
        vec!["dump", fifo],
        vec!["plot", fifo, "--kind", "access", "-o", png],
    ] {
        let output = dmo_within(SHORT, &args);
        assert_clean_error(&output, refusal);
    }
    let forever = fixture("forever");
    for poke in [
        "dmo_counter=/dev/zero".to_string(),
        format!("dmo_counter={fifo}"),
    ] {
        let output = dmo_within(SHORT, &["trace", &forever, "-o", out, "--poke", &poke]);
        assert_clean_error(&output, refusal);
    }
    assert_eq!(names_in(directory.path()), ["pipe"]);
}

#[test]
fn the_elf_path_stored_in_a_trace_is_read_only_if_it_is_a_regular_file() {
    // Case 6: `report` and `dump` opened the trace's ELF path with no check:
    // a FIFO there hung them.
    let directory = tempfile::tempdir().unwrap();
    let elf = directory.path().join("tiny_cnn.elf");
    std::fs::copy(fixture("tiny_cnn"), &elf).unwrap();
    let trace = directory.path().join("tiny.dmotrace");
    let output = dmo_within(
        Duration::from_secs(120),
        &[
            "trace",
            elf.to_str().unwrap(),
            "-o",
            trace.to_str().unwrap(),
            "-q",
        ],
    );
    assert!(output.status.success(), "{}", text(&output.stderr));
    std::fs::remove_file(&elf).unwrap();
    mkfifo(&elf);
    let trace = trace.to_str().unwrap();
    let output = dmo_within(SHORT, &["report", trace]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert!(text(&output.stderr).contains("missing or changed"));
    let output = dmo_within(SHORT, &["dump", trace, "--limit", "3"]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert!(
        text(&output.stderr).contains("not a regular file"),
        "{}",
        text(&output.stderr)
    );
}

#[test]
fn a_device_or_fifo_output_is_never_replaced_and_a_dangling_symlink_needs_force() {
    // Case 7: `dmo trace --force -o /dev/full` replaced the device node with
    // a regular file (as root). A FIFO stands in for the device: the same
    // rule, and a regression cannot destroy /dev. Case 8: a dangling
    // symlink was replaced without --force.
    let directory = tempfile::tempdir().unwrap();
    let hello = fixture("hello");
    let fifo = directory.path().join("out.dmotrace");
    mkfifo(&fifo);
    let output = dmo_within(
        SHORT,
        &[
            "trace",
            &hello,
            "--force",
            "-o",
            fifo.to_str().unwrap(),
            "-q",
        ],
    );
    assert_clean_error(&output, "not a regular file; dmo never replaces it");
    assert!(is_fifo(&fifo));
    let output = dmo_within(
        SHORT,
        &["trace", &hello, "--force", "-o", "/dev/full", "-q"],
    );
    assert_clean_error(&output, "/dev/full: is a character device");
    assert!(std::fs::metadata("/dev/full")
        .unwrap()
        .file_type()
        .is_char_device());

    let link = directory.path().join("link.dmotrace");
    std::os::unix::fs::symlink(directory.path().join("nowhere"), &link).unwrap();
    let output = dmo_within(
        SHORT,
        &["trace", &hello, "-o", link.to_str().unwrap(), "-q"],
    );
    assert_clean_error(&output, "already exists; pass --force");
    assert!(std::fs::symlink_metadata(&link)
        .unwrap()
        .file_type()
        .is_symlink());
    assert_eq!(
        names_in(directory.path()),
        ["link.dmotrace", "out.dmotrace"]
    );
}

#[test]
fn two_runs_writing_one_file_without_force_cannot_both_win() {
    // Case 9: both runs passed the check at start and both renamed; the last
    // one silently replaced the first. Now the rename itself refuses to
    // clobber, so exactly one run writes the file.
    let directory = tempfile::tempdir().unwrap();
    let out = directory.path().join("same.dmotrace");
    let tiny = fixture("tiny_cnn");
    let args = ["trace", tiny.as_str(), "-o", out.to_str().unwrap(), "-q"];
    let first = spawn(&args);
    let second = spawn(&args);
    let outputs = [
        wait_within(first, Duration::from_secs(120)),
        wait_within(second, Duration::from_secs(120)),
    ];
    let winners = outputs.iter().filter(|o| o.status.success()).count();
    assert_eq!(
        winners,
        1,
        "{:?}",
        outputs.iter().map(|o| text(&o.stderr)).collect::<Vec<_>>()
    );
    let loser = outputs.iter().find(|o| !o.status.success()).unwrap();
    assert_clean_error(loser, "already exists; pass --force");
    assert_eq!(names_in(directory.path()), ["same.dmotrace"]);
}

#[test]
fn sigint_and_sigterm_leave_no_partial_file() {
    // Case 10: a signal during `dmo trace` left `.NAME.XXXXXX.partial`,
    // with or without --keep-partial. `forever` never ends, so the run is
    // still going when the signal comes (a generous --max-insns).
    for (signal, keep) in [("-INT", false), ("-TERM", true)] {
        let directory = tempfile::tempdir().unwrap();
        let out = directory.path().join("run.dmotrace");
        let forever = fixture("forever");
        let mut args = vec![
            "trace",
            forever.as_str(),
            "-o",
            out.to_str().unwrap(),
            "-q",
            "--max-insns",
            "100000000000",
        ];
        if keep {
            args.push("--keep-partial");
        }
        let child = spawn(&args);
        // Wait until the temporary file exists, so the signal comes mid-run.
        let start = Instant::now();
        while names_in(directory.path()).is_empty() {
            assert!(start.elapsed() < SHORT, "no temporary file appeared");
            std::thread::sleep(Duration::from_millis(20));
        }
        std::thread::sleep(Duration::from_millis(300));
        let status = Command::new("kill")
            .args([signal, &child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let output = wait_within(child, SHORT);
        assert!(!output.status.success());
        assert_eq!(names_in(directory.path()), Vec::<String>::new(), "{signal}");
    }
}

#[test]
fn error_messages_name_the_file_and_state_the_cause_once() {
    // Case 11: "No such file or directory (os error 2): No such file or
    // directory (os error 2)".
    let output = dmo_within(SHORT, &["trace", "/nonexistent/x.elf"]);
    assert_clean_error(
        &output,
        "/nonexistent/x.elf: cannot read: No such file or directory",
    );
    assert_eq!(text(&output.stderr).matches("No such file").count(), 1);
    let output = dmo_within(SHORT, &["report", "/nonexistent/x.dmotrace"]);
    assert_eq!(text(&output.stderr).matches("No such file").count(), 1);
    // `plan` flattens its errors ("{error}"), the others chain them ("{:#}").
    let output = dmo_within(SHORT, &["plan", "/nonexistent/x.tflite"]);
    assert_clean_error(&output, "/nonexistent/x.tflite: cannot read: No such file");
    assert_eq!(text(&output.stderr).matches("No such file").count(), 1);

    // Case 11: a PT_LOAD with p_memsz < p_filesz made unicorn fail with
    // "WRITE_UNMAPPED", naming neither the file nor the segment. ELF32
    // layout: e_phoff at 0x1c, e_phentsize at 0x2a, e_phnum at 0x2c; in a
    // program header p_type at 0, p_filesz at 16, p_memsz at 20.
    let mut elf = std::fs::read(fixture("hello")).unwrap();
    let u32_at =
        |bytes: &[u8], at: usize| u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap());
    let u16_at =
        |bytes: &[u8], at: usize| u16::from_le_bytes(bytes[at..at + 2].try_into().unwrap());
    let (phoff, entry_size, count) = (
        u32_at(&elf, 0x1c) as usize,
        u16_at(&elf, 0x2a) as usize,
        u16_at(&elf, 0x2c) as usize,
    );
    let index = (0..count)
        .find(|i| {
            let at = phoff + i * entry_size;
            u32_at(&elf, at) == 1 && u32_at(&elf, at + 16) > 1
        })
        .expect("a PT_LOAD with file bytes");
    let at = phoff + index * entry_size;
    let filesz = u32_at(&elf, at + 16);
    elf[at + 20..at + 24].copy_from_slice(&(filesz - 1).to_le_bytes());
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("short_memsz.elf");
    std::fs::write(&path, &elf).unwrap();
    let output = dmo_within(
        SHORT,
        &["trace", path.to_str().unwrap(), "-o", "/nonexistent/t"],
    );
    assert_clean_error(&output, "short_memsz.elf");
    assert!(
        text(&output.stderr).contains(&format!("segment {index} ")),
        "{}",
        text(&output.stderr)
    );
    assert!(text(&output.stderr).contains("p_filesz > p_memsz"));
}

#[test]
fn zero_channel_convolutions_are_refused_by_op_and_plan() {
    // Case 4: "remainder with a divisor of zero" from `dmo op` and from
    // `dmo plan` on kws_ref_model with input_1 set to [1, 49, 10, 0]. The
    // shape vector is the flatbuffer int32 vector [len 4; 1, 49, 10, 1]
    // (found once in the file); its last element becomes 0.
    let output = dmo_within(
        SHORT,
        &[
            "op",
            "conv2d",
            "--input",
            "1x8x8x0",
            "--output",
            "1x8x8x4",
            "--filter-input-channels",
            "4",
        ],
    );
    assert_clean_error(&output, "needs at least one of each");

    let mut bytes = std::fs::read(model("kws_ref_model.tflite")).unwrap();
    let pattern: Vec<u8> = [4u32, 1, 49, 10, 1]
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    let at = bytes
        .windows(pattern.len())
        .position(|w| w == pattern)
        .expect("input_1's shape");
    bytes[at + 16..at + 20].copy_from_slice(&0u32.to_le_bytes());
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("kws_zero.tflite");
    std::fs::write(&path, &bytes).unwrap();
    let output = dmo_within(SHORT, &["plan", path.to_str().unwrap()]);
    let stderr = text(&output.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_ne!(output.status.code(), Some(101), "{stderr}");
}

#[test]
fn op_shape_arithmetic_is_checked_and_its_cost_bounded() {
    // Case 5, every line of it.
    for (args, needle) in [
        (
            vec![
                "relu",
                "--input",
                "18446744073709551615x2",
                "--output",
                "18446744073709551615x2",
            ],
            "64 bits",
        ),
        (
            vec![
                "conv2d",
                "--input",
                "1x100000x100000x1000",
                "--output",
                "1x100000x100000x1000",
            ],
            "2^31",
        ),
        (
            vec![
                "relu",
                "--input",
                "4294967296x4294967296",
                "--output",
                "4294967296x4294967296",
            ],
            "64 bits",
        ),
        (
            vec![
                "conv2d",
                "--input",
                "1x1000x1000x64",
                "--output",
                "1x1000x1000x64",
                "--filter",
                "3",
                "--padding",
                "same",
            ],
            "too large to model",
        ),
        (
            vec![
                "conv2d",
                "--input",
                "1x1x1x1",
                "--output",
                "1x1x1x1",
                "--filter",
                "1x1073741824",
                "--padding",
                "same",
            ],
            "too large to model",
        ),
        (
            vec![
                "conv2d",
                "--input",
                "1x8x8x4",
                "--output",
                "1x8x8x4",
                "--filter",
                "3",
                "--padding",
                "same",
                "--dilation",
                "4294967295",
            ],
            "32-bit",
        ),
    ] {
        let mut line = vec!["op"];
        line.extend(args);
        let start = Instant::now();
        let output = dmo_within(SHORT, &line);
        assert_clean_error(&output, needle);
        assert!(start.elapsed() < Duration::from_secs(5), "{line:?}");
    }
}
