//! Per-op instruction counts (issue 11, part 7): stored in the trace, shown
//! by `dmo info`, and set beside each layer's offsets by
//! `dmo plan --kernels all --offsets-from TRACE`.

mod common;

use common::{dmo, model, text};
use dmo_trace::TraceReader;
use std::path::Path;

/// `fixtures/programs/countdown.c`: `countdown(n)` is `subs; bne` run n times,
/// then `bx lr`, so it runs exactly 2n + 1 instructions; main calls it with
/// n = 100 and n = 300, which gives 201 and 601. The two calls differ only in
/// n, so a count that is off by a constant (a block at either end, the block
/// the call returns to) or by a per-iteration factor fails on one of them.
/// On every CPU: the loop is the same Thumb code on all three.
#[test]
fn an_ops_function_counts_exactly_its_own_instructions() {
    let folder = tempfile::tempdir().unwrap();
    for cpu in ["cortex-m0", "cortex-m4", "cortex-m7"] {
        let elf = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../fixtures/build")
            .join(cpu)
            .join("countdown.elf");
        assert!(
            elf.exists(),
            "{} missing: run `make -C fixtures`",
            elf.display()
        );
        let trace = folder.path().join(format!("{cpu}.dmotrace"));
        let run = dmo(&[
            "trace",
            elf.to_str().unwrap(),
            "--cpu",
            cpu,
            "--ops",
            "countdown",
            "-o",
            trace.to_str().unwrap(),
            "-q",
        ]);
        assert!(run.status.success(), "{}", text(&run.stderr));
        let reader = TraceReader::open(&trace).unwrap();
        let counts: Vec<Option<u64>> = reader.segments().iter().map(|s| s.instructions).collect();
        assert_eq!(counts, [Some(201), Some(601)], "{cpu}");
        // The whole run is more than the two calls (start-up, printf, exit).
        assert!(reader.metadata().stats.instructions > 802, "{cpu}");

        let info = text(&dmo(&["info", trace.to_str().unwrap()]).stdout);
        assert!(info.contains("(0 events, 201 instructions)"), "{info}");
        assert!(info.contains("(0 events, 601 instructions)"), "{info}");
    }
}

/// `--kernels all --offsets-from`: every matched layer shows the instructions
/// its traced op ran, as the trace recorded them, and the table has the column.
#[test]
fn plan_kernels_all_shows_the_traced_instructions_per_layer() {
    let folder = tempfile::tempdir().unwrap();
    let elf = folder.path().join("kws.elf");
    let trace = folder.path().join("kws.dmotrace");
    let kws = model("kws_ref_model.tflite");
    let built = dmo(&["firmware", &kws, "-o", elf.to_str().unwrap()]);
    assert!(built.status.success(), "{}", text(&built.stderr));
    let traced = dmo(&[
        "trace",
        elf.to_str().unwrap(),
        "-o",
        trace.to_str().unwrap(),
        "-q",
    ]);
    assert!(traced.status.success(), "{}", text(&traced.stderr));
    let segments = TraceReader::open(&trace).unwrap().segments().to_vec();
    // kws has 13 operators, each one op of the firmware, in order.
    assert_eq!(segments.len(), 13);

    let run = dmo(&[
        "plan",
        &kws,
        "--kernels",
        "all",
        "--offsets-from",
        trace.to_str().unwrap(),
        "--format",
        "json",
    ]);
    assert!(run.status.success(), "{}", text(&run.stderr));
    let report: serde_json::Value = serde_json::from_slice(&run.stdout).unwrap();
    let rows = report["rows"].as_array().unwrap();
    for row in rows {
        let operator = row["operator"].as_u64().unwrap() as usize;
        let recorded = segments[operator].instructions.unwrap();
        assert!(recorded > 0);
        assert_eq!(row["instructions"].as_u64(), Some(recorded), "{row}");
    }
    // Control: the ops differ, so a column filled from one op (or the run's
    // total) would fail above.
    let distinct: std::collections::BTreeSet<u64> = segments
        .iter()
        .map(|segment| segment.instructions.unwrap())
        .collect();
    assert!(distinct.len() > 5, "{distinct:?}");

    let table = dmo(&[
        "plan",
        &kws,
        "--kernels",
        "all",
        "--offsets-from",
        trace.to_str().unwrap(),
    ]);
    let table = text(&table.stdout);
    assert!(table.contains("traced instructions"), "{table}");
    // Without a trace there is no traced column.
    let without = text(&dmo(&["plan", &kws, "--kernels", "all"]).stdout);
    assert!(!without.contains("traced instructions"), "{without}");
}
