//! End-to-end tests of `dmo analyse`, `dmo report` and `dmo verify` on the
//! fixtures: mined offsets against numbers derived by hand from the
//! reference loop orders (DESIGN.md), re-execution of every positive
//! `s_min`, and golden reports of `tiny_cnn`.

mod common;

use common::{dmo, fixture, text};
use serde_json::Value;
use std::path::{Path, PathBuf};

/// The JSON report of `dmo analyse` on a fixture.
fn analyse(name: &str) -> Value {
    let run = dmo(&["analyse", "-q", &fixture(name), "--format", "json"]);
    assert!(run.status.success(), "{name}: {}", text(&run.stderr));
    serde_json::from_slice(&run.stdout).expect("analyse prints JSON")
}

/// (s_min, s_mono, witness output byte, witness input byte) of a row.
fn offsets(row: &Value) -> (u64, u64, Option<(u64, u64)>) {
    let witness = row["witness"].as_object().map(|w| {
        (
            w["output_byte"].as_u64().unwrap(),
            w["input_byte"].as_u64().unwrap(),
        )
    });
    (
        row["s_min"].as_u64().unwrap(),
        row["s_mono"].as_u64().unwrap(),
        witness,
    )
}

fn single_row(report: &Value) -> &Value {
    let rows = report["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 1, "{report}");
    &rows[0]
}

#[test]
fn conv1x1_matches_the_design_worked_example() {
    // DESIGN.md: 1x1 conv 48x48x8 -> 48x48x16, reference order. Output pixel
    // p channel c < 15 is written while input pixel p is still needed for
    // channel c + 1; the largest hazard difference is output byte
    // 16*2303 + 14 = 36862 against input byte 8*2303 = 18424 (pixel 2303,
    // channel 14 written before channel 15 reads input channel 0), so
    // s_mono = s_min = 36862 - 18424 + 1 = 18439; footprint 18439 + 18432.
    let report = analyse("conv1x1");
    let row = single_row(&report);
    assert_eq!(offsets(row), (18439, 18439, Some((36862, 18424))));
    assert_eq!(row["footprint"], 36871);
    assert_eq!(row["naive"], 55296);
}

#[test]
fn conv_int8_stride_two_matches_hand_derivation() {
    // Input 1x9x11x3, 3x3 stride 2, SAME (pad top 1, left 1) -> 1x5x6x4.
    // Output pixel (oy, ox) reads input rows 2oy-1..2oy+1, cols 2ox-1..2ox+1,
    // for every output channel; so input pixel (y, x) is last read in output
    // pixel (floor((y+1)/2), floor((x+1)/2)) at channel 3, and output bytes
    // (q, c < 3) of that pixel are written before. Hazard difference
    // j - i = 4q + c - (3p + k) is largest for p = (0,1), k = 0, q = 1,
    // c = 2: 6 - 3 = 3. So s_min = s_mono = 4, witness output 6 / input 3.
    let report = analyse("conv_int8");
    assert_eq!(offsets(single_row(&report)), (4, 4, Some((6, 3))));
}

#[test]
fn depthwise_matches_hand_derivation() {
    // Input 1x8x7x3, multiplier 2, 3x3 stride 1 SAME -> 1x8x7x6 (168 -> 336
    // bytes). Loop: pixel q, then (ic, m), output channel 2ic + m written
    // after reading channel ic's window. Input pixel p = (y, x) is last read
    // at output pixel L(p) = (min(y+1, 7), min(x+1, 6)), iteration ic = k,
    // m = 1, after output channels c <= 2k of that pixel were written. For
    // interior p, L(p) = p + 8 and the largest difference is
    // 6(p + 8) + 2k - (3p + k) = 3p + 48 + k, with p = (6, 5) = 47 and
    // k = 2: 191 (output byte 6*55 + 4 = 334, input byte 3*47 + 2 = 143);
    // edge pixels give less (p = 48: 188, p = 54: 170). So s_min = s_mono = 192.
    let report = analyse("depthwise_int8");
    assert_eq!(offsets(single_row(&report)), (192, 192, Some((334, 143))));
}

#[test]
fn pools_overlap_fully() {
    // Input 1x9x10x4, 3x3 stride 2, SAME (TFLite: pad top 1, left 0) ->
    // 1x5x5x4 (360 -> 100 bytes). Output (oy, ox) reads input rows
    // 2oy-1..2oy+1, cols 2ox..2ox+2, so input pixel p = (y, x) is last read
    // by output pixel L(p) = 5 min(floor((y+1)/2), 4) + min(floor(x/2), 4),
    // and L(p) <= 10y + x = p (y = 0: floor(x/2) <= x), at its own
    // channel k, before output (L(p), k) is written. So a hazard
    // (output q, c written no later than input p, k is read) needs q < L(p),
    // or q = L(p) and c < k: either way 4q + c < 4p + k, i.e. j < i. No
    // down offset s >= 0 is unsafe: s_min = s_mono = 0.
    for name in ["avg_pool_int8", "max_pool_int8"] {
        let report = analyse(name);
        let row = single_row(&report);
        assert_eq!(offsets(row), (0, 0, None), "{name}");
        assert_eq!(row["footprint"], 360, "{name}");
    }
}

#[test]
fn add_and_softmax_overlap_in_place() {
    // ADD: element e of each input is read, then output e is written; output
    // byte j on input byte j is first accessed after that byte's last read,
    // and any s > 0 puts the output on earlier (already read) input bytes.
    // SOFTMAX: each row is read twice, then input c read and output c written:
    // the same argument. Both: s_min = s_mono = 0 for every pair.
    let add = analyse("add_int8");
    let rows = add["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 2, "one row per input of ADD");
    for row in rows {
        assert_eq!(offsets(row), (0, 0, None));
    }
    assert_eq!(offsets(single_row(&analyse("softmax_int8"))), (0, 0, None));
}

#[test]
fn fully_connected_overlaps_only_behind_each_batch() {
    // FULLY_CONNECTED, 2 batches x 40 -> 2 x 12 (80 -> 24 bytes): for batch
    // b, all of input[b, :] is read for each output channel, then
    // output[b, c] written. Input byte (b, d) is last read during channel 11
    // of batch b, after output channels 0..10 of batch b were written: the
    // largest hazard difference is output byte 10 over input byte 0 (10), so
    // s_min = s_mono = 11: only the last output channel of a batch may share
    // memory with that batch's input. No useful overlap.
    let report = analyse("fully_connected_int8");
    let row = single_row(&report);
    assert_eq!(offsets(row), (11, 11, Some((10, 0))));
    assert_eq!(row["input_bytes"], 80);
    assert_eq!(row["output_bytes"], 24);
}

/// Runs `dmo verify` and returns its JSON result.
fn verify(name: &str, op: &str, seeds: &str) -> Value {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("verify.json");
    let json = json.to_str().unwrap();
    let run = dmo(&[
        "verify",
        &fixture(name),
        "--op",
        op,
        "--seeds",
        seeds,
        "--json",
        json,
    ]);
    assert!(
        run.status.success(),
        "{name} {op}: {}{}",
        text(&run.stdout),
        text(&run.stderr)
    );
    serde_json::from_str(&std::fs::read_to_string(json).unwrap()).unwrap()
}

#[test]
fn verify_confirms_every_positive_s_min_of_the_fixtures() {
    // Each: clean at s_min for every seed; at s_min - 1 a clobbered read for
    // every seed, and it is the miner's witness. (`dmo verify` exits 1
    // otherwise, which `verify` above rejects.)
    for (name, op, s_min) in [
        ("conv1x1", "conv1x1", 18439),
        ("conv_int8", "conv", 4),
        ("depthwise_int8", "depthwise", 192),
        ("fully_connected_int8", "fully_connected", 11),
        ("tiny_cnn", "conv1", 1809),
        ("tiny_cnn", "pointwise1", 519),
        ("tiny_cnn", "fully_connected", 9),
    ] {
        let result = verify(name, op, "2");
        let pair = &result["pairs"][0];
        assert_eq!(pair["at"]["offset"], s_min, "{name} {op}");
        assert_eq!(pair["below"]["offset"], s_min - 1, "{name} {op}");
        for run in pair["below"]["runs"].as_array().unwrap() {
            assert_eq!(run["witness_observed"], true, "{name} {op}: {run}");
            assert!(run["clobbered_reads"].as_u64().unwrap() > 0);
        }
        for run in pair["at"]["runs"].as_array().unwrap() {
            assert_eq!(run["clobbered_reads"], 0, "{name} {op}");
            assert_eq!(run["differing_output_bytes"], 0, "{name} {op}");
        }
    }
}

#[test]
fn verify_rejects_an_unsafe_offset() {
    // conv1 of tiny_cnn at s = 1000, far below its s_min of 1809: the run
    // must see clobbered reads and the command must fail.
    let run = dmo(&[
        "verify",
        &fixture("tiny_cnn"),
        "--op",
        "conv1",
        "--offset",
        "1000",
        "--seeds",
        "1",
    ]);
    assert_eq!(run.status.code(), Some(1), "{}", text(&run.stdout));
    assert!(text(&run.stdout).contains("NOT SAFE"));
    let missing = dmo(&["verify", &fixture("tiny_cnn"), "--op", "nope"]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(text(&missing.stderr).contains("no op named `nope`"));
}

#[test]
fn an_explicit_offset_is_checked_on_its_own() {
    // conv1x1 (DESIGN.md): s_mono = 18439, so 18440 is safe too. Its
    // "one byte less" (18439) is also safe: checking it as a mined claim
    // would wrongly fail, so an explicit offset is checked alone.
    let run = dmo(&[
        "verify",
        &fixture("conv1x1"),
        "--op",
        "conv1x1",
        "--offset",
        "18440",
        "--seeds",
        "1",
    ]);
    let stdout = text(&run.stdout);
    assert_eq!(run.status.code(), Some(0), "{stdout}{}", text(&run.stderr));
    assert!(stdout.contains("checking offset 18440"), "{stdout}");
    assert!(stdout.trim_end().ends_with("SAFE"), "{stdout}");
    assert!(!stdout.contains("expected unsafe"), "{stdout}");
}

#[test]
fn verify_confirms_in_place_ops_at_zero() {
    for (name, op) in [
        ("add_int8", "add"),
        ("avg_pool_int8", "average_pool"),
        ("max_pool_int8", "max_pool"),
        ("softmax_int8", "softmax"),
        ("tiny_cnn", "depthwise1"),
        ("tiny_cnn", "pool"),
        ("tiny_cnn", "softmax"),
    ] {
        let result = verify(name, op, "2");
        for pair in result["pairs"].as_array().unwrap() {
            assert_eq!(pair["at"]["offset"], 0, "{name}");
            assert!(pair["below"].is_null());
        }
    }
}

#[test]
fn verify_confirms_the_up_offsets_of_the_pools() {
    // Pools 360 -> 100 bytes: u_mono = 360 (no overlap above). At u = 359
    // output byte 0 lands on input byte 359 (pixel (8, 9), channel 3), which
    // is still read by the last output pixel long after output byte 0 was
    // written: the re-run must see that read clobbered, as the miner's
    // witness. (u_min = 0 is the same placement as s_min = 0.)
    for (name, op) in [
        ("avg_pool_int8", "average_pool"),
        ("max_pool_int8", "max_pool"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let json = dir.path().join("verify.json");
        let json = json.to_str().unwrap();
        let run = dmo(&[
            "verify",
            &fixture(name),
            "--op",
            op,
            "--claim",
            "u_mono",
            "--seeds",
            "2",
            "--json",
            json,
        ]);
        assert!(run.status.success(), "{name}: {}", text(&run.stdout));
        let result: Value = serde_json::from_str(&std::fs::read_to_string(json).unwrap()).unwrap();
        let pair = &result["pairs"][0];
        assert_eq!(pair["claim"], "u_mono");
        assert_eq!(pair["at"]["offset"], 360);
        for run in pair["below"]["runs"].as_array().unwrap() {
            assert_eq!(run["witness_observed"], true, "{name}: {run}");
            let read = &run["first_clobbered_read"];
            assert_eq!(
                (read["output_byte"].as_u64(), read["input_byte"].as_u64()),
                (Some(0), Some(359))
            );
        }
    }
}

fn golden_path(file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/golden/report")
        .join(file)
}

/// The report with the checkout-dependent ELF path made relative.
fn normalised(output: &[u8]) -> String {
    let absolute = std::fs::canonicalize(fixture("tiny_cnn")).unwrap();
    text(output).replace(
        absolute.to_str().unwrap(),
        "fixtures/build/cortex-m4/tiny_cnn.elf",
    )
}

#[test]
fn tiny_cnn_reports_match_golden_files() {
    // Regenerate with DMO_UPDATE_GOLDEN=1 after checking the change by hand.
    let dir = tempfile::tempdir().unwrap();
    let trace = dir.path().join("tiny.dmotrace");
    let trace = trace.to_str().unwrap();
    let analysed = dmo(&[
        "analyse",
        "-q",
        &fixture("tiny_cnn"),
        "--format",
        "json",
        "--keep-trace",
        trace,
    ]);
    assert!(analysed.status.success(), "{}", text(&analysed.stderr));
    for (format, file) in [
        ("table", "tiny_cnn.txt"),
        ("markdown", "tiny_cnn.md"),
        ("json", "tiny_cnn.json"),
        ("csv", "tiny_cnn.csv"),
    ] {
        let run = dmo(&["report", trace, "--format", format]);
        assert!(run.status.success(), "{}", text(&run.stderr));
        let actual = normalised(&run.stdout);
        let path = golden_path(file);
        if std::env::var_os("DMO_UPDATE_GOLDEN").is_some() {
            std::fs::write(&path, &actual).unwrap();
        }
        let expected =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert_eq!(actual, expected, "{format} differs from {}", path.display());
        if format == "json" {
            // Online mining (analyse) and mining the trace file agree.
            assert_eq!(normalised(&analysed.stdout), actual);
        }
    }
}

#[test]
fn report_output_file_is_not_overwritten_and_bad_traces_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("report.csv");
    std::fs::write(&out, "keep").unwrap();
    let out = out.to_str().unwrap();
    let run = dmo(&[
        "analyse",
        "-q",
        &fixture("softmax_int8"),
        "--format",
        "csv",
        "-o",
        out,
    ]);
    assert_eq!(run.status.code(), Some(2));
    assert!(text(&run.stderr).contains("--force"));
    assert_eq!(std::fs::read_to_string(out).unwrap(), "keep");
    let run = dmo(&[
        "analyse",
        "-q",
        &fixture("softmax_int8"),
        "--format",
        "csv",
        "-o",
        out,
        "--force",
    ]);
    assert!(run.status.success(), "{}", text(&run.stderr));
    let csv = std::fs::read_to_string(out).unwrap();
    assert!(csv.starts_with(dmo_report_csv_header()));

    let bogus = dir.path().join("bogus.dmotrace");
    std::fs::write(&bogus, b"not a trace at all").unwrap();
    let run = dmo(&["report", bogus.to_str().unwrap()]);
    assert_eq!(run.status.code(), Some(2));
    let message = text(&run.stderr);
    assert!(message.contains("bogus.dmotrace"), "{message}");
    assert!(!message.contains("panicked"), "{message}");
}

/// The first CSV column names (docs/report-format.md).
fn dmo_report_csv_header() -> &'static str {
    "schema_version,op_index,op_name,op_kind,input_name"
}

#[test]
fn report_without_the_elf_names_witnesses_from_the_trace_symbols() {
    // Trace a copy of the firmware, then delete the copy: the report still
    // has every number, and witness locations come from the trace's own
    // symbols, without disassembly.
    let dir = tempfile::tempdir().unwrap();
    let elf = dir.path().join("copy.elf");
    std::fs::copy(fixture("tiny_cnn"), &elf).unwrap();
    let trace = dir.path().join("copy.dmotrace");
    let trace = trace.to_str().unwrap();
    let run = dmo(&["trace", "-q", elf.to_str().unwrap(), "-o", trace]);
    assert!(run.status.success(), "{}", text(&run.stderr));
    std::fs::remove_file(&elf).unwrap();
    let run = dmo(&["report", trace, "--format", "json"]);
    assert!(run.status.success(), "{}", text(&run.stderr));
    assert!(text(&run.stderr).contains("missing or changed"));
    let report: Value = serde_json::from_slice(&run.stdout).unwrap();
    let witness = &report["rows"][0]["witness"];
    assert_eq!(
        witness["output_instruction"]["location"],
        "dmo_conv_int8+0x2d2"
    );
    assert_eq!(witness["output_instruction"]["disassembly"], "");
    assert_eq!(report["rows"][0]["s_min"], 1809);
}
