//! `dmo verify --all`, `--op INDEX`, verify on firmware without buffer
//! markers (`--ops`), and snapshot restore against full re-runs.

mod common;

use common::{dmo, fixture, text};
use serde_json::Value;

/// The kernels of `tiny_cnn`, for running it as if it had no markers.
const TINY_CNN_KERNELS: &str =
    "^dmo_(conv|depthwise_conv|average_pool|fully_connected|softmax)_int8$";

/// Runs `dmo verify` with `args` (after the ELF) and `--json`; the exit
/// code, stdout and the JSON result.
fn verify_json(name: &str, args: &[&str]) -> (Option<i32>, String, Value) {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("verify.json");
    let elf = fixture(name);
    let mut all = vec!["verify", elf.as_str()];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--json", json.to_str().unwrap()]);
    let run = dmo(&all);
    let stdout = text(&run.stdout);
    let result = std::fs::read_to_string(&json)
        .map(|json| serde_json::from_str(&json).unwrap())
        .unwrap_or_else(|_| panic!("{name} {args:?}: no JSON\n{stdout}{}", text(&run.stderr)));
    (run.status.code(), stdout, result)
}

/// (op index, checked offset, confirmed?) of every pair, from the JSON: the
/// verdict recomputed from the runs, not read from the text.
fn verdicts(result: &Value) -> Vec<(u64, u64, bool)> {
    result["pairs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|pair| {
            let at_clean = pair["at"]["runs"]
                .as_array()
                .unwrap()
                .iter()
                .all(|run| run["clobbered_reads"] == 0 && run["differing_output_bytes"] == 0);
            let below_unsafe = pair["below"].is_null()
                || pair["below"]["runs"].as_array().unwrap().iter().all(|run| {
                    run["clobbered_reads"].as_u64().unwrap() > 0 && run["witness_observed"] != false
                });
            (
                pair["op_index"].as_u64().unwrap(),
                pair["at"]["offset"].as_u64().unwrap(),
                at_clean && below_unsafe,
            )
        })
        .collect()
}

/// tiny_cnn's s_min per op, derived by hand in report.rs's tests (conv1
/// 1809, pointwise1 519, fully_connected 9; the rest in place at 0).
const TINY_CNN_S_MIN: [u64; 6] = [1809, 0, 519, 0, 9, 0];

#[test]
fn verify_all_confirms_every_op_of_tiny_cnn() {
    let (code, stdout, result) = verify_json("tiny_cnn", &["--all", "--seeds", "2"]);
    assert_eq!(code, Some(0), "{stdout}");
    let expected: Vec<(u64, u64, bool)> = TINY_CNN_S_MIN
        .iter()
        .enumerate()
        .map(|(index, s_min)| (index as u64, *s_min, true))
        .collect();
    assert_eq!(verdicts(&result), expected);
    // Below each positive s_min, every seed hit the miner's own witness.
    for pair in result["pairs"].as_array().unwrap() {
        for run in pair["below"]["runs"].as_array().into_iter().flatten() {
            assert_eq!(run["witness_observed"], true, "{pair}");
        }
    }
    // One line per op, then the tally.
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 7, "{stdout}");
    assert!(lines[2].starts_with("#2 ") && lines[2].contains("pointwise1"));
    assert!(lines[2].contains("mined s_min 519") && lines[2].ends_with("CONFIRMED"));
    assert_eq!(lines[6], "6 of 6 pairs confirmed");
}

#[test]
fn verify_all_fails_when_one_op_is_unsafe() {
    // The control: at s = 1000 only conv1 (s_min = s_mono = 1809) is unsafe;
    // every other op's s_mono is below 1000, so it is safe there.
    let (code, stdout, result) =
        verify_json("tiny_cnn", &["--all", "--offset", "1000", "--seeds", "1"]);
    assert_eq!(code, Some(1), "{stdout}");
    let verdicts = verdicts(&result);
    assert_eq!(verdicts.len(), 6);
    for (index, offset, safe) in verdicts {
        assert_eq!(offset, 1000);
        assert_eq!(safe, index != 0, "op {index}: {stdout}");
    }
    assert!(
        stdout.lines().next().unwrap().ends_with("NOT SAFE"),
        "{stdout}"
    );
    assert!(stdout.contains("5 of 6 pairs safe"), "{stdout}");
}

#[test]
fn op_accepts_an_index() {
    let (code, stdout, result) = verify_json("tiny_cnn", &["--op", "2", "--seeds", "1"]);
    assert_eq!(code, Some(0), "{stdout}");
    assert_eq!(result["pairs"][0]["op_name"], "pointwise1");
    assert_eq!(result["pairs"][0]["at"]["offset"], 519);
    let missing = dmo(&["verify", &fixture("tiny_cnn"), "--op", "6"]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(text(&missing.stderr).contains("no op named `6`"));
}

#[test]
fn unmarked_firmware_verifies_like_its_markers_say() {
    // The same firmware with its markers ignored: ops from --ops, buffers
    // discovered from the run. Every op's mined s_min and verdict must equal
    // the marker-based ones, and the discovered buffers must be the
    // declared ones (same sizes).
    let (code, stdout, marked) = verify_json("tiny_cnn", &["--all", "--seeds", "1"]);
    assert_eq!(code, Some(0), "{stdout}");
    let (code, stdout, unmarked) = verify_json(
        "tiny_cnn",
        &["--ops", TINY_CNN_KERNELS, "--all", "--seeds", "1"],
    );
    assert_eq!(code, Some(0), "{stdout}");
    assert_eq!(verdicts(&unmarked), verdicts(&marked));
    let pairs = |result: &Value| -> Vec<(Value, Value, Value)> {
        result["pairs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|pair| {
                (
                    pair["mined_s_min"].clone(),
                    pair["mined_s_mono"].clone(),
                    pair["below"]["runs"][0]["first_clobbered_read"].clone(),
                )
            })
            .collect()
    };
    // Same witnesses too: the unmarked run has the same events at the same
    // times (the marker functions still run, unhooked).
    assert_eq!(pairs(&unmarked), pairs(&marked));
    assert!(unmarked["pairs"][0]["op_name"]
        .as_str()
        .unwrap()
        .starts_with("dmo_conv_int8"));
    // --op takes the function's name for --ops segments (its first call).
    let (code, _, _) = verify_json(
        "tiny_cnn",
        &[
            "--ops",
            TINY_CNN_KERNELS,
            "--op",
            "dmo_conv_int8",
            "--seeds",
            "1",
        ],
    );
    assert_eq!(code, Some(0));
}

/// `dmo verify`'s stderr summary: (op runs with the block clock, fully
/// hooked op runs, reference runs not needed).
fn run_counts(name: &str, args: &[&str]) -> (usize, usize, usize) {
    let elf = fixture(name);
    let mut all = vec!["verify", elf.as_str()];
    all.extend_from_slice(args);
    let run = dmo(&all);
    let stderr = text(&run.stderr);
    let line = stderr
        .lines()
        .find(|line| line.contains(" op runs: "))
        .unwrap_or_else(|| panic!("{name} {args:?}: no run summary in\n{stderr}"));
    let numbers: Vec<usize> = line
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|word| word.parse().ok())
        .collect();
    assert_eq!(numbers[0], numbers[1] + numbers[2], "{line}");
    (numbers[1], numbers[2], numbers[3])
}

#[test]
fn snapshot_restore_gives_the_same_results_as_full_reruns() {
    // Every field of the result (outputs compared, clobbered reads with
    // their times and instructions, witnesses) from restoring op-start
    // snapshots, with only the checked bytes hooked (the block clock) or
    // with every access hooked (--hook-all), equals the result of
    // re-running the firmware from reset in a fresh engine for every check,
    // with markers and with --ops, and at an unsafe offset (where the
    // clobbered reads carry times).
    for args in [
        vec!["--all", "--seeds", "2"],
        vec!["--all", "--offset", "1000", "--seeds", "1"],
        vec!["--ops", TINY_CNN_KERNELS, "--all", "--seeds", "1"],
        vec!["--all", "--claim", "u_min", "--seeds", "1"],
    ] {
        let (code, _, restored) = verify_json("tiny_cnn", &args);
        for other in ["--full-reruns", "--hook-all"] {
            let mut slow = args.clone();
            slow.push(other);
            let (slow_code, _, slow_result) = verify_json("tiny_cnn", &slow);
            assert_eq!(code, slow_code, "{args:?} {other}");
            assert_eq!(restored, slow_result, "{args:?} {other}");
        }
        // A control that the comparison can fail: the results carry times.
        assert!(restored.to_string().contains("write_time"), "{args:?}");
        // And that the fast paths ran: tiny_cnn's checks all take the block
        // clock, and the run at the offset stands for some reference runs
        // (at s_min all of them; at the unsafe offset 1000 not conv1's, whose
        // reference runs are made); none with --hook-all or --full-reruns.
        let (clocked, fully_hooked, skipped) = run_counts("tiny_cnn", &args);
        assert!(
            clocked > 0 && fully_hooked == 0,
            "{args:?}: {clocked} {fully_hooked}"
        );
        let checks =
            restored["pairs"].as_array().unwrap().len() * (args.contains(&"2") as usize + 1);
        if args.contains(&"1000") {
            assert_eq!(skipped, checks - 1, "{args:?}");
        } else {
            assert_eq!(skipped, checks, "{args:?}");
        }
        for other in ["--full-reruns", "--hook-all"] {
            let mut slow = args.clone();
            slow.push(other);
            let (clocked, _, skipped) = run_counts("tiny_cnn", &slow);
            assert_eq!((clocked, skipped), (0, 0), "{args:?} {other}");
        }
    }
}

/// The thread count of `dmo verify`'s stderr summary.
fn threads(name: &str, args: &[&str]) -> usize {
    let elf = fixture(name);
    let mut all = vec!["verify", elf.as_str()];
    all.extend_from_slice(args);
    let stderr = text(&dmo(&all).stderr);
    let line = stderr
        .lines()
        .find(|line| line.contains(" op runs: "))
        .unwrap();
    let tail = line.rsplit("; on ").next().unwrap();
    tail.split(' ').next().unwrap().parse().unwrap()
}

#[test]
fn parallel_checks_give_the_results_of_checks_in_order() {
    // With --jobs 2 and 3, each thread restores the first run's snapshots
    // in an engine of its own (registers written one by one); with --jobs 1
    // every check runs in the first run's engine (unicorn's own context
    // restore). The JSON must be the same, field for field and pair for
    // pair, and so must the exit code and the run counts; --full-reruns
    // (from reset, in fresh engines) is the independent oracle. (FPU state
    // in replicas: crates/emu/tests/replica.rs; conv_float has one pair
    // only, so its checks never go parallel.)
    for (name, args) in [
        ("tiny_cnn", vec!["--all", "--seeds", "2"]),
        (
            "tiny_cnn",
            vec!["--all", "--offset", "1000", "--seeds", "1"],
        ),
        (
            "tiny_cnn",
            vec!["--ops", TINY_CNN_KERNELS, "--all", "--seeds", "1"],
        ),
        (
            "tiny_cnn",
            vec!["--all", "--claim", "u_min", "--seeds", "1"],
        ),
    ] {
        let with = |extra: &[&'static str]| {
            let mut all = args.clone();
            all.extend_from_slice(extra);
            all
        };
        let (code, _, in_order) = verify_json(name, &with(&["--jobs", "1"]));
        let counts = run_counts(name, &with(&["--jobs", "1"]));
        let (rerun_code, _, rerun) = verify_json(name, &with(&["--full-reruns"]));
        assert_eq!((code, &in_order), (rerun_code, &rerun), "{name} {args:?}");
        for jobs in ["2", "3"] {
            let (parallel_code, _, parallel) = verify_json(name, &with(&["--jobs", jobs]));
            assert_eq!(parallel_code, code, "{name} {args:?} --jobs {jobs}");
            assert_eq!(parallel, in_order, "{name} {args:?} --jobs {jobs}");
            assert_eq!(run_counts(name, &with(&["--jobs", jobs])), counts);
        }
        // Controls: the runs did go on as many threads as asked for (no
        // more than there are pairs), and the results carry times.
        let pairs = in_order["pairs"].as_array().unwrap().len();
        assert!(pairs >= 2, "{name}");
        assert_eq!(threads(name, &with(&["--jobs", "1"])), 1);
        assert_eq!(threads(name, &with(&["--jobs", "2"])), 2);
        assert_eq!(threads(name, &with(&["--jobs", "3"])), 3.min(pairs));
        assert!(
            in_order.to_string().contains("write_time"),
            "{name} {args:?}"
        );
    }
}

#[test]
fn checks_the_block_clock_cannot_place_run_fully_hooked() {
    // conv_float (Cortex-M4) moves floats with VLDR/VSTR, which the block
    // clock does not count: every check falls back to a fully hooked run
    // and gives the same results as full re-runs, below the offset too.
    let args = ["--all", "--seeds", "2"];
    let (clocked, _, skipped) = run_counts("conv_float", &args);
    assert_eq!(clocked, 0);
    // The other fast path does not need the clock: one reference run per
    // seed is not needed.
    assert_eq!(skipped, 2);
    let (code, stdout, clocked) = verify_json("conv_float", &args);
    assert_eq!(code, Some(0), "{stdout}");
    let (_, _, rerun) = verify_json("conv_float", &["--all", "--seeds", "2", "--full-reruns"]);
    assert_eq!(clocked, rerun);
    assert!(clocked.to_string().contains("write_time"));
}

#[test]
fn all_and_op_do_not_go_together() {
    let run = dmo(&["verify", &fixture("tiny_cnn"), "--all", "--op", "conv1"]);
    assert_eq!(run.status.code(), Some(2));
    let run = dmo(&["verify", &fixture("tiny_cnn")]);
    assert_eq!(run.status.code(), Some(2));
}
