//! End-to-end tests of `dmo trace`, `dmo info` and `dmo dump` as a user runs
//! them: exit codes, messages, and files left (or not left) behind.

mod common;

use common::{dmo, fixture, text};
use std::path::PathBuf;

fn temp_path(dir: &tempfile::TempDir, name: &str) -> PathBuf {
    dir.path().join(name)
}

#[test]
fn trace_info_and_dump_tiny_cnn() {
    let dir = tempfile::tempdir().unwrap();
    let trace = temp_path(&dir, "tiny.dmotrace");
    let trace = trace.to_str().unwrap();
    let run = dmo(&["trace", &fixture("tiny_cnn"), "-o", trace]);
    assert!(run.status.success(), "{}", text(&run.stderr));
    // The firmware's own output comes through semihosting.
    assert!(text(&run.stdout).contains("crc32"), "{}", text(&run.stdout));
    assert!(text(&run.stderr).contains("wrote"), "{}", text(&run.stderr));

    let info = dmo(&["info", trace]);
    assert!(info.status.success(), "{}", text(&info.stderr));
    let info = text(&info.stdout);
    // tiny_cnn's six marked ops (fixtures/programs/tiny_cnn.c).
    for op in [
        "conv1",
        "depthwise1",
        "pointwise1",
        "pool",
        "fully_connected",
        "softmax",
    ] {
        assert!(info.contains(op), "{op} missing from:\n{info}");
    }
    assert!(info.contains("complete (firmware exit status 0)"), "{info}");

    let dump = dmo(&["dump", trace, "--op", "pool", "--limit", "5"]);
    assert!(dump.status.success(), "{}", text(&dump.stderr));
    let dump = text(&dump.stdout);
    let event_lines: Vec<&str> = dump.lines().filter(|l| l.starts_with("t=")).collect();
    assert_eq!(event_lines.len(), 5, "{dump}");
    // Every event names the instruction that made it.
    assert!(event_lines.iter().all(|l| l.contains("pc ")), "{dump}");
}

#[test]
fn info_says_where_the_buffers_come_from() {
    // tiny_cnn declares its buffers with markers; traced with --ops on its
    // kernels, the markers are ignored and buffer discovery finds them.
    let dir = tempfile::tempdir().unwrap();
    let info_of = |name: &str, extra: &[&str]| {
        let trace = temp_path(&dir, name);
        let trace = trace.to_str().unwrap();
        let elf = fixture("tiny_cnn");
        let mut args = vec!["trace", "-q", elf.as_str(), "-o", trace];
        args.extend_from_slice(extra);
        let run = dmo(&args);
        assert!(run.status.success(), "{}", text(&run.stderr));
        let info = dmo(&["info", trace]);
        assert!(info.status.success(), "{}", text(&info.stderr));
        text(&info.stdout)
    };
    let marked = info_of("marked.dmotrace", &[]);
    let unmarked = info_of(
        "unmarked.dmotrace",
        &[
            "--ops",
            "^dmo_(conv|depthwise_conv|average_pool|fully_connected|softmax)_int8$",
        ],
    );
    let origin = |info: &str| {
        info.lines()
            .find(|line| line.starts_with("buffers "))
            .map(|line| line["buffers".len()..].trim().to_owned())
            .unwrap_or_else(|| panic!("no buffers line in:\n{info}"))
    };
    assert_eq!(origin(&marked), "from the firmware's markers (dmo_buffer)");
    assert_eq!(
        origin(&unmarked),
        "found by buffer discovery when traced (no markers; stored in the trace)"
    );
    // Both list buffers for their ops: the line is about where they come
    // from, not whether there are any.
    for info in [&marked, &unmarked] {
        assert!(info.contains("input "), "{info}");
        assert!(info.contains("output "), "{info}");
    }
}

#[test]
fn existing_output_is_not_overwritten() {
    let dir = tempfile::tempdir().unwrap();
    let trace = temp_path(&dir, "keep.dmotrace");
    std::fs::write(&trace, b"precious").unwrap();
    let run = dmo(&["trace", &fixture("tiny_cnn"), "-o", trace.to_str().unwrap()]);
    assert_eq!(run.status.code(), Some(2));
    assert!(
        text(&run.stderr).contains("--force"),
        "{}",
        text(&run.stderr)
    );
    assert_eq!(std::fs::read(&trace).unwrap(), b"precious");
}

#[test]
fn firmware_exit_status_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let trace = temp_path(&dir, "hello.dmotrace");
    let run = dmo(&["trace", &fixture("hello"), "-o", trace.to_str().unwrap()]);
    // hello.c exits with 3: the trace is complete, dmo says so and exits 1.
    assert_eq!(run.status.code(), Some(1), "{}", text(&run.stderr));
    assert!(text(&run.stdout).starts_with("hello from dmo\n"));
    assert!(text(&run.stderr).contains("status 3"));
    assert!(trace.exists());
}

#[test]
fn a_run_out_of_budget_leaves_no_file_unless_asked() {
    let dir = tempfile::tempdir().unwrap();
    let trace = temp_path(&dir, "forever.dmotrace");
    let path = trace.to_str().unwrap();
    let run = dmo(&[
        "trace",
        &fixture("forever"),
        "-o",
        path,
        "--max-insns",
        "100000",
    ]);
    assert_eq!(run.status.code(), Some(2));
    assert!(
        text(&run.stderr).contains("budget exhausted"),
        "{}",
        text(&run.stderr)
    );
    assert!(!trace.exists(), "a failed run must leave no trace file");
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        0,
        "no temporary files either"
    );

    let run = dmo(&[
        "trace",
        &fixture("forever"),
        "-o",
        path,
        "--max-insns",
        "100000",
        "--keep-partial",
    ]);
    assert_eq!(run.status.code(), Some(2));
    let info = dmo(&["info", path]);
    assert!(info.status.success());
    assert!(
        text(&info.stdout).contains("partial"),
        "{}",
        text(&info.stdout)
    );
}

#[test]
fn a_fault_names_pc_symbol_and_instruction() {
    let dir = tempfile::tempdir().unwrap();
    let trace = temp_path(&dir, "bad.dmotrace");
    let run = dmo(&[
        "trace",
        &fixture("bad_access"),
        "-o",
        trace.to_str().unwrap(),
    ]);
    assert_eq!(run.status.code(), Some(2));
    let stderr = text(&run.stderr);
    assert!(
        stderr.contains("0x90000000") && stderr.contains("unmapped"),
        "{stderr}"
    );
    assert!(stderr.contains("at pc 0x"), "{stderr}");
    assert!(stderr.contains(": ldr"), "{stderr}");
    assert!(!trace.exists());
}

#[test]
fn bad_inputs_get_one_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let not_elf = temp_path(&dir, "notes.txt");
    std::fs::write(&not_elf, "just some text\n").unwrap();
    let run = dmo(&[
        "trace",
        not_elf.to_str().unwrap(),
        "-o",
        temp_path(&dir, "x").to_str().unwrap(),
    ]);
    assert_eq!(run.status.code(), Some(2));
    let stderr = text(&run.stderr);
    assert!(
        stderr.contains("notes.txt") && stderr.contains("not an ELF"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");

    // A host executable is an ELF of the wrong architecture.
    let host = std::env::current_exe().unwrap();
    let run = dmo(&[
        "trace",
        host.to_str().unwrap(),
        "-o",
        temp_path(&dir, "y").to_str().unwrap(),
    ]);
    assert_eq!(run.status.code(), Some(2));
    assert!(
        text(&run.stderr).contains("64-bit little-endian ELF"),
        "{}",
        text(&run.stderr)
    );

    // A corrupt trace.
    let corrupt = temp_path(&dir, "corrupt.dmotrace");
    std::fs::write(&corrupt, b"DMOTRACE but not really a trace at all").unwrap();
    let run = dmo(&["info", corrupt.to_str().unwrap()]);
    assert_eq!(run.status.code(), Some(2));
    assert!(
        text(&run.stderr).contains("corrupt.dmotrace"),
        "{}",
        text(&run.stderr)
    );
    assert!(!text(&run.stderr).contains("panicked"));
}

#[test]
fn entry_calls_one_function_and_ops_come_from_symbols() {
    let dir = tempfile::tempdir().unwrap();
    // --entry main: no reset handler; main returns to dmo's trap, so the run
    // is complete although the firmware never calls exit().
    let trace = temp_path(&dir, "entry.dmotrace");
    let run = dmo(&[
        "trace",
        &fixture("tiny_cnn"),
        "--entry",
        "main",
        "-o",
        trace.to_str().unwrap(),
    ]);
    assert!(run.status.success(), "{}", text(&run.stderr));
    // The C library's console is set up by the reset path, which --entry
    // skips; the ops still run, with their markers.
    let info = text(&dmo(&["info", trace.to_str().unwrap()]).stdout);
    assert!(info.contains("ops          6"), "{info}");

    // Without markers: --ops turns each top-level call of a matching function
    // into an op named after it. tiny_cnn calls its six kernels once each,
    // the conv kernel twice (conv1 and pointwise1).
    let trace = temp_path(&dir, "ops.dmotrace");
    let run = dmo(&[
        "trace",
        &fixture("tiny_cnn"),
        "--ops",
        "^dmo_(conv|depthwise_conv|average_pool|fully_connected|softmax)_int8$",
        "-o",
        trace.to_str().unwrap(),
    ]);
    assert!(run.status.success(), "{}", text(&run.stderr));
    let info = text(&dmo(&["info", trace.to_str().unwrap()]).stdout);
    let ops: Vec<&str> = info
        .lines()
        .filter(|l| l.trim_start().starts_with('#'))
        .map(|l| l.split_whitespace().nth(1).unwrap())
        .collect();
    assert_eq!(
        ops,
        [
            "dmo_conv_int8",
            "dmo_depthwise_conv_int8",
            "dmo_conv_int8",
            "dmo_average_pool_int8",
            "dmo_fully_connected_int8",
            "dmo_softmax_int8"
        ],
        "{info}"
    );

    let run = dmo(&[
        "trace",
        &fixture("tiny_cnn"),
        "--entry",
        "no_such_function",
        "-o",
        temp_path(&dir, "z").to_str().unwrap(),
    ]);
    assert_eq!(run.status.code(), Some(2));
    assert!(
        text(&run.stderr).contains("no symbol `no_such_function`"),
        "{}",
        text(&run.stderr)
    );
}

#[test]
fn a_closed_pipe_ends_dmo_quietly() {
    // `dmo dump T | head -2`: the reader goes away after a few bytes. dmo
    // must end without a panic message (before: "failed printing to
    // stdout" from println!). Control: with --limit 100000 the dump is some
    // 9 MB, far longer than a pipe buffer (64 KiB), so dmo does write after
    // the reader is gone (the default 40 lines fit in the pipe, and dmo then
    // ended before the reader went: the test was flaky).
    use std::io::Read;
    use std::process::{Command, Stdio};
    let dir = tempfile::tempdir().unwrap();
    let trace = dir.path().join("t.dmotrace");
    let traced = common::dmo(&[
        "trace",
        &common::fixture("tiny_cnn"),
        "-o",
        trace.to_str().unwrap(),
        "-q",
    ]);
    assert!(traced.status.success());
    let mut child = Command::new(env!("CARGO_BIN_EXE_dmo"))
        .args(["dump", trace.to_str().unwrap(), "--limit", "100000"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = [0u8; 64];
    child.stdout.take().unwrap().read_exact(&mut first).unwrap();
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(!output.status.success(), "the dump outlives a 64-byte read");
}
