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
/// Given twice, each trace is a column of its own.
#[test]
fn plan_kernels_all_shows_the_traced_instructions_per_layer() {
    let folder = tempfile::tempdir().unwrap();
    let elf = folder.path().join("kws.elf");
    let kws = model("kws_ref_model.tflite");
    let built = dmo(&["firmware", &kws, "-o", elf.to_str().unwrap()]);
    assert!(built.status.success(), "{}", text(&built.stderr));
    let trace = |name: &str, extra: &[&str]| {
        let path = folder.path().join(format!("{name}.dmotrace"));
        let mut args = vec![
            "trace",
            elf.to_str().unwrap(),
            "-o",
            path.to_str().unwrap(),
            "-q",
        ];
        args.extend_from_slice(extra);
        let traced = dmo(&args);
        assert!(traced.status.success(), "{}", text(&traced.stderr));
        path.to_str().unwrap().to_owned()
    };
    let plain = trace("kws_plain", &[]);
    // The same program traced again (as a Cortex-M7): a second file.
    let m7 = trace("kws_m7", &["--cpu", "cortex-m7"]);
    let segments = TraceReader::open(&plain).unwrap().segments().to_vec();
    // kws has 13 operators, each one op of the firmware, in order.
    assert_eq!(segments.len(), 13);

    let json = |traces: &[&str]| {
        let mut args = vec!["plan", kws.as_str(), "--kernels", "all", "--format", "json"];
        for trace in traces {
            args.extend_from_slice(&["--offsets-from", trace]);
        }
        let run = dmo(&args);
        assert!(run.status.success(), "{}", text(&run.stderr));
        serde_json::from_slice::<serde_json::Value>(&run.stdout).unwrap()
    };
    let report = json(&[&plain]);
    for row in report["rows"].as_array().unwrap() {
        let operator = row["operator"].as_u64().unwrap() as usize;
        let recorded = segments[operator].instructions.unwrap();
        assert!(recorded > 0);
        assert_eq!(row["traced"][0]["name"], "traced");
        assert_eq!(
            row["traced"][0]["instructions"].as_u64(),
            Some(recorded),
            "{row}"
        );
        assert_eq!(
            row["traced"][0]["memory_accesses"].as_u64(),
            Some(segments[operator].time.len()),
            "{row}"
        );
    }
    // Control: the ops differ, so a column filled from one op (or the run's
    // total) would fail above.
    let distinct: std::collections::BTreeSet<u64> = segments
        .iter()
        .map(|segment| segment.instructions.unwrap())
        .collect();
    assert!(distinct.len() > 5, "{distinct:?}");

    // Two traces: two columns, named after their files, each its own counts.
    let m7_segments = TraceReader::open(&m7).unwrap().segments().to_vec();
    let both = json(&[&plain, &m7]);
    let families: Vec<&str> = both["families"]
        .as_array()
        .unwrap()
        .iter()
        .map(|family| family["name"].as_str().unwrap())
        .collect();
    assert!(
        families.ends_with(&["traced:kws_plain", "traced:kws_m7"]),
        "{families:?}"
    );
    // Each traced column's total is its 13 ops' counts summed; the modelled
    // families have none.
    let total: u64 = segments.iter().map(|s| s.instructions.unwrap()).sum();
    let column = |index: usize| both["families"][index]["op_instructions"].as_u64();
    assert_eq!(column(families.len() - 2), Some(total));
    assert_eq!(column(0), None);
    for row in both["rows"].as_array().unwrap() {
        let operator = row["operator"].as_u64().unwrap() as usize;
        assert_eq!(
            row["traced"][1]["instructions"].as_u64(),
            m7_segments[operator].instructions,
            "{row}"
        );
    }

    let table = dmo(&["plan", &kws, "--kernels", "all", "--offsets-from", &plain]);
    let table = text(&table.stdout);
    assert!(table.contains("traced instructions"), "{table}");
    // Without a trace there is no traced column.
    let without = text(&dmo(&["plan", &kws, "--kernels", "all"]).stdout);
    assert!(!without.contains("traced instructions"), "{without}");
    // A plan (not a comparison) holds for one firmware: two traces are refused.
    let refused = dmo(&[
        "plan",
        &kws,
        "--offsets-from",
        &plain,
        "--offsets-from",
        &m7,
    ]);
    assert_eq!(refused.status.code(), Some(2));
    assert!(text(&refused.stderr).contains("--offsets-from is given 2 times"));
}
