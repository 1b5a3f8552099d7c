//! Unmodified firmware end to end: `fixtures/cpp/tflm_like.cc` has TFLM's
//! shape (mangled C++ names, kernels called through registration structs,
//! a greedy-planned arena, per-channel data at the arena's top, a memcpy
//! RESHAPE) and no markers. Traced with nothing but the ELF, the known
//! runtime must be detected, the op kinds must be TFLite's, the buffers must
//! be where the fixture's planner put them (derived by hand below), and
//! every layer's offsets must equal the loop-nest simulation of the same
//! layer, as `dmo compare` checks them.

mod common;

use common::{dmo, fixture, text};
use dmo_ops::{
    simulate, Conv2dParams, DepthwiseConv2dParams, FullyConnectedParams, OpDescription,
    OverlapModel, Padding, Pool2dParams, TensorShape, Window,
};
use serde_json::Value;

fn int8(dims: &[usize]) -> TensorShape {
    TensorShape::int8(dims)
}

/// The fixture's seven layers as the simulation describes them.
fn layers() -> Vec<OpDescription> {
    vec![
        OpDescription::conv2d(Conv2dParams {
            input: int8(&[1, 16, 16, 1]),
            output: int8(&[1, 16, 16, 8]),
            window: Window::square(3, 1, Padding::Same),
            filter_input_channels: None,
        })
        .unwrap(),
        OpDescription::depthwise_conv2d(DepthwiseConv2dParams {
            input: int8(&[1, 16, 16, 8]),
            output: int8(&[1, 8, 8, 8]),
            window: Window::square(3, 2, Padding::Same),
            depth_multiplier: 1,
        })
        .unwrap(),
        OpDescription::conv2d(Conv2dParams {
            input: int8(&[1, 8, 8, 8]),
            output: int8(&[1, 8, 8, 16]),
            window: Window::square(1, 1, Padding::Same),
            filter_input_channels: None,
        })
        .unwrap(),
        OpDescription::average_pool2d(Pool2dParams {
            input: int8(&[1, 8, 8, 16]),
            output: int8(&[1, 4, 4, 16]),
            window: Window::square(2, 2, Padding::Valid),
        })
        .unwrap(),
        OpDescription::reshape(int8(&[1, 4, 4, 16]), int8(&[1, 256])).unwrap(),
        OpDescription::fully_connected(FullyConnectedParams {
            input: int8(&[1, 256]),
            output: int8(&[1, 10]),
            accumulation_depth: 256,
        })
        .unwrap(),
        OpDescription::softmax(int8(&[1, 10]), int8(&[1, 10]), 1).unwrap(),
    ]
}

/// `(in B, out B, s_min, s_mono, u_min, u_mono)` of a report row.
fn traced(row: &Value) -> [u64; 6] {
    [
        "input_bytes",
        "output_bytes",
        "s_min",
        "s_mono",
        "u_min",
        "u_mono",
    ]
    .map(|field| row[field].as_u64().unwrap())
}

fn simulated(op: &OpDescription) -> [u64; 6] {
    let results = simulate(op);
    assert_eq!(results.len(), 1, "{op:?}");
    match &results[0].result {
        OverlapModel::Modelled(pair) => [
            pair.input_len.0,
            pair.output_len.0,
            pair.s_min.0,
            pair.s_mono.0,
            pair.u_min.0,
            pair.u_mono.0,
        ],
        other => panic!("{op:?} not modelled: {other:?}"),
    }
}

/// The layers whose traced offsets differ from the simulation of `layers`.
fn mismatches(rows: &[Value], layers: &[OpDescription]) -> Vec<usize> {
    assert_eq!(rows.len(), layers.len());
    (0..rows.len())
        .filter(|&i| traced(&rows[i]) != simulated(&layers[i]))
        .collect()
}

#[test]
fn tflm_shaped_firmware_without_markers_or_ops_matches_the_simulation() {
    let dir = tempfile::tempdir().unwrap();
    let trace = dir.path().join("tflm_like.dmotrace");
    let run = dmo(&[
        "trace",
        "-q",
        &fixture("tflm_like"),
        "-o",
        trace.to_str().unwrap(),
    ]);
    assert!(run.status.success(), "{}", text(&run.stderr));
    assert!(
        text(&run.stderr).contains("found runtime tflm-reference"),
        "{}",
        text(&run.stderr)
    );
    let run = dmo(&["report", trace.to_str().unwrap(), "--format", "json"]);
    assert!(run.status.success(), "{}", text(&run.stderr));
    let report: Value = serde_json::from_slice(&run.stdout).unwrap();
    let rows = report["rows"].as_array().unwrap();

    let kinds: Vec<&str> = rows
        .iter()
        .map(|r| r["op_kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "CONV_2D",
            "DEPTHWISE_CONV_2D",
            "CONV_2D",
            "AVERAGE_POOL_2D",
            "RESHAPE",
            "FULLY_CONNECTED",
            "SOFTMAX"
        ]
    );
    assert_eq!(rows[0]["op_name"], "tflite::ConvEval");
    assert_eq!(
        rows[0]["op_symbol"],
        "_ZN6tflite12_GLOBAL__N_18ConvEvalEP13TfLiteContextP10TfLiteNode"
    );

    // The fixture's greedy planner by hand (sizes rounded to 16, largest
    // first, ties higher index first; tensor t lives in scopes t..t+1):
    // t1 2048 @0; t3 1024 @0 (t1 is not alive with it); t2 512 clears t1
    // and t3 -> @0x800; t5 256 @0; t4 clears t3 and t5 -> @0x400; t0 clears
    // t1 -> @0x800; t7 16 @0; t6 clears t5 and t7 -> @0x100.
    let offsets = [0x800, 0, 0x800, 0, 0x400, 0, 0x100, 0];
    let name = |offset: u32| match offset {
        0 => "tensor_arena".to_string(),
        o => format!("tensor_arena+0x{o:x}"),
    };
    for (i, row) in rows.iter().enumerate() {
        assert_eq!(row["input_name"], name(offsets[i]).as_str(), "op {i}");
        assert_eq!(row["output_name"], name(offsets[i + 1]).as_str(), "op {i}");
    }

    // `analyse` (no trace file) gives the same rows.
    let run = dmo(&["analyse", "-q", &fixture("tflm_like"), "--format", "json"]);
    assert!(run.status.success(), "{}", text(&run.stderr));
    let analysed: Value = serde_json::from_slice(&run.stdout).unwrap();
    assert_eq!(analysed["rows"], report["rows"]);

    // Every layer's offsets equal the simulation's...
    assert_eq!(mismatches(rows, &layers()), Vec::<usize>::new());
    // ...and the check can fail: describe the 1x1 conv as 3x3 and that
    // layer differs.
    let mut wrong = layers();
    wrong[2] = OpDescription::conv2d(Conv2dParams {
        input: int8(&[1, 8, 8, 8]),
        output: int8(&[1, 8, 8, 16]),
        window: Window::square(3, 1, Padding::Same),
        filter_input_channels: None,
    })
    .unwrap();
    assert_eq!(mismatches(rows, &wrong), vec![2]);
}

#[test]
fn memcpy_reshape_is_noted_and_runtime_is_chosen_or_refused() {
    let dir = tempfile::tempdir().unwrap();
    let trace = dir.path().join("t.dmotrace");
    let trace = trace.to_str().unwrap();
    // --runtime names it explicitly: no detection message.
    let run = dmo(&[
        "trace",
        "-q",
        &fixture("tflm_like"),
        "--runtime",
        "tflm-reference",
        "-o",
        trace,
    ]);
    assert!(run.status.success(), "{}", text(&run.stderr));
    assert!(!text(&run.stderr).contains("found runtime"));
    let info = dmo(&["info", trace]);
    let info = text(&info.stdout);
    // `info` lists the buffers discovery stored in the trace, demangled.
    assert!(
        info.contains("tflite::EvalReshapeReference") && info.contains("RESHAPE"),
        "{info}"
    );
    assert!(
        info.contains("input    tensor_arena+0x400"),
        "discovered buffers listed: {info}"
    );
    let run = dmo(&["report", trace, "--format", "json"]);
    let report: Value = serde_json::from_slice(&run.stdout).unwrap();
    for row in report["rows"].as_array().unwrap() {
        let notes = row["notes"].as_array().map(Vec::len).unwrap_or(0);
        // Only the RESHAPE is a plain memcpy.
        assert_eq!(notes, usize::from(row["op_kind"] == "RESHAPE"), "{row}");
    }
    let other = dir.path().join("other.dmotrace");
    let other = other.to_str().unwrap();
    let run = dmo(&[
        "trace",
        &fixture("tflm_like"),
        "--runtime",
        "tvm",
        "-o",
        other,
    ]);
    assert_eq!(run.status.code(), Some(2));
    assert!(
        text(&run.stderr).contains("unknown runtime `tvm`; known: tflm-cmsis-nn, tflm-reference"),
        "{}",
        text(&run.stderr)
    );
}

#[test]
fn model_matching_names_tensors_and_says_where_it_fails() {
    let models = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/models");
    let hello = models.join("hello_world_int8.tflite");
    if !hello.exists() {
        eprintln!("skipped: {} not found", hello.display());
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let elf = dir.path().join("hello.elf");
    let run = dmo(&[
        "firmware",
        hello.to_str().unwrap(),
        "-o",
        elf.to_str().unwrap(),
    ]);
    assert!(run.status.success(), "{}", text(&run.stderr));
    let analyse = |model: &std::path::Path| -> Value {
        let run = dmo(&[
            "analyse",
            "-q",
            elf.to_str().unwrap(),
            "--model",
            model.to_str().unwrap(),
            "--format",
            "json",
        ]);
        assert!(run.status.success(), "{}", text(&run.stderr));
        serde_json::from_slice(&run.stdout).unwrap()
    };
    // Oracle: the model's own operators and tensor names.
    let model = dmo_tflite::Model::read(&hello).unwrap();
    let report = analyse(&hello);
    assert_eq!(report["model_match"]["matched"], 3);
    for (index, row) in report["rows"].as_array().unwrap().iter().enumerate() {
        let operator = &model.operators[index];
        assert_eq!(row["model_operator"], index);
        let output = &model.tensors[operator.outputs[0]].name;
        assert_eq!(row["model_output"], output.as_str());
        let input = &model.tensors[operator.inputs[0].unwrap()].name;
        assert_eq!(row["model_input"], input.as_str());
    }
    // Control: the wrong model matches nothing and says why.
    let person = models.join("person_detect.tflite");
    let report = analyse(&person);
    let matching = &report["model_match"];
    assert_eq!(matching["matched"], 0, "{matching}");
    let missing = matching["missing"].as_array().unwrap();
    assert_eq!(missing.len(), 31);
    assert!(
        missing[0].as_str().unwrap().contains("CONV_2D: missing"),
        "{missing:?}"
    );
    assert_eq!(matching["extra"].as_array().unwrap().len(), 3);
    assert!(report["rows"][0].get("model_operator").is_none());
}

#[test]
fn verify_all_needs_nothing_but_the_elf() {
    // The C++ fixture has no markers: verify detects tflm-reference, as
    // trace does, and re-runs every op overlapped. The mined s_min are the
    // tiny_cnn network's, derived by hand in crates/cli/tests/report.rs
    // (conv1 1809, pointwise1 519, fully_connected 9, the rest 0).
    let elf = fixture("tflm_like");
    let run = dmo(&["verify", &elf, "--all", "--seeds", "1"]);
    let stdout = text(&run.stdout);
    assert_eq!(run.status.code(), Some(0), "{stdout}{}", text(&run.stderr));
    assert!(text(&run.stderr).contains("found runtime tflm-reference"));
    assert!(stdout.contains("7 of 7 pairs confirmed"), "{stdout}");
    let mined: Vec<&str> = stdout
        .lines()
        .filter_map(|line| line.split("mined s_min ").nth(1))
        .map(|rest| rest.split(',').next().unwrap())
        .collect();
    assert_eq!(mined, ["1809", "0", "519", "0", "0", "9", "0"]);
    assert!(stdout.contains("tflite::ConvEval (CONV_2D)"), "{stdout}");
    // Control: an unsafe explicit offset fails the command.
    let run = dmo(&["verify", &elf, "--all", "--seeds", "1", "--offset", "1000"]);
    assert_eq!(run.status.code(), Some(1), "{}", text(&run.stdout));
}
