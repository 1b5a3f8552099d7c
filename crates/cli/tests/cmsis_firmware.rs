//! Issue 11: a plan holds only for the kernels it was made for. person_detect as firmware
//! whose kernels follow CMSIS-NN's loop orders (`dmo firmware --kernels cmsis-nn`), run with
//! plans made for each family, checked by `dmo check` (the clobber sanitizer). The TFLM side
//! (every op's output against TFLM's intermediate tensors) is tests/tflm/cmsis_plan_check.py.

mod common;

use common::{dmo, model, text};
use std::path::{Path, PathBuf};

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// `dmo plan person_detect --kernels FAMILY --emit-tflite`.
fn plan(folder: &Path, family: &str) -> PathBuf {
    let planned = folder.join(format!("pd.{family}.tflite"));
    let run = dmo(&[
        "plan",
        &model("person_detect.tflite"),
        "--kernels",
        family,
        "--emit-tflite",
        path(&planned),
    ]);
    assert!(run.status.success(), "{}", text(&run.stderr));
    planned
}

/// `dmo firmware person_detect --kernels KERNELS [--plan PLANNED]`: the ELF and stderr.
fn firmware(folder: &Path, name: &str, kernels: &str, planned: Option<&Path>) -> (PathBuf, String) {
    let elf = folder.join(format!("{name}.elf"));
    let person_detect = model("person_detect.tflite");
    let mut args = vec![
        "firmware",
        &person_detect,
        "--kernels",
        kernels,
        "-o",
        path(&elf),
    ];
    if let Some(planned) = planned {
        args.extend(["--plan", path(planned)]);
    }
    let built = dmo(&args);
    assert!(built.status.success(), "{}", text(&built.stderr));
    assert!(
        text(&built.stdout).contains(&format!("{kernels} kernels")),
        "{}",
        text(&built.stdout)
    );
    (elf, text(&built.stderr))
}

/// `dmo check ELF -q`: exit code and stderr.
fn check(elf: &Path) -> (Option<i32>, String) {
    let checked = dmo(&["check", path(elf), "-q"]);
    (checked.status.code(), text(&checked.stderr))
}

/// The ops `dmo check` names as reading clobbered input bytes.
fn clobbering_ops(stderr: &str) -> Vec<usize> {
    stderr
        .lines()
        .filter_map(|line| line.strip_prefix("error: op "))
        .map(|rest| rest.split(' ').next().unwrap().parse().unwrap())
        .collect()
}

#[test]
fn a_reference_plan_in_the_cmsis_nn_firmware_is_caught_on_its_1x1_convs() {
    let folder = tempfile::tempdir().unwrap();
    let reference = plan(folder.path(), "reference");
    let (elf, stderr) = firmware(folder.path(), "refplan", "cmsis-nn", Some(&reference));
    assert!(
        stderr.contains("warning: the plan was made for reference kernels")
            && stderr.contains("runs the cmsis-nn kernels"),
        "{stderr}"
    );
    let (code, stderr) = check(&elf);
    assert_eq!(code, Some(1), "{stderr}");
    // The measurement on TFLM + CMSIS-NN: every 1x1 CONV_2D whose planned input
    // overlaps its output, and nothing else.
    assert_eq!(
        clobbering_ops(&stderr),
        [2, 8, 10, 12, 16, 18, 20, 22, 24],
        "{stderr}"
    );
    assert_eq!(
        stderr
            .lines()
            .filter(|l| l.starts_with("error: op ") && l.contains("_conv_2d` (CONV_2D)"))
            .count(),
        9,
        "{stderr}"
    );
    assert!(stderr.contains("9 of 31 ops read input bytes"), "{stderr}");

    // Control: the same plan in the reference-order firmware it was made for is clean.
    let (elf, stderr) = firmware(folder.path(), "refplan_ref", "reference", Some(&reference));
    assert!(!stderr.contains("warning"), "{stderr}");
    let (code, stderr) = check(&elf);
    assert_eq!(code, Some(0), "{stderr}");
}

#[test]
fn cmsis_nn_and_measured_plans_run_clean_in_the_cmsis_nn_firmware() {
    let folder = tempfile::tempdir().unwrap();
    let cmsis = plan(folder.path(), "cmsis-nn");
    let (elf, stderr) = firmware(folder.path(), "cmsisplan", "cmsis-nn", Some(&cmsis));
    assert!(!stderr.contains("warning"), "{stderr}");
    let (code, stderr) = check(&elf);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stderr.contains("none of the 31 ops"), "{stderr}");

    // The firmware's own trace (TFLM's greedy arena) -> --offsets-from -> its plan.
    let (greedy, _) = firmware(folder.path(), "greedy", "cmsis-nn", None);
    let trace = folder.path().join("greedy.dmotrace");
    let traced = dmo(&["trace", path(&greedy), "-o", path(&trace)]);
    assert!(traced.status.success(), "{}", text(&traced.stderr));
    let stdout = text(&traced.stdout);
    // It says which kernels it runs, and prints a checksum of every op's output.
    assert!(stdout.lines().any(|l| l == "kernels cmsis-nn"), "{stdout}");
    for (op, kind, bytes) in [(0, "depthwise_conv_2d", 18432), (2, "conv_2d", 36864)] {
        let prefix = format!("op{op}_{kind} output0 {bytes} bytes crc32 ");
        assert!(stdout.lines().any(|l| l.starts_with(&prefix)), "{stdout}");
    }
    assert_eq!(
        stdout.lines().filter(|l| l.contains(" crc32 ")).count(),
        31,
        "{stdout}"
    );
    let measured = folder.path().join("pd.measured.tflite");
    let planned = dmo(&[
        "plan",
        &model("person_detect.tflite"),
        "--offsets-from",
        path(&trace),
        "--emit-tflite",
        path(&measured),
    ]);
    assert!(planned.status.success(), "{}", text(&planned.stderr));
    let (elf, stderr) = firmware(folder.path(), "measured", "cmsis-nn", Some(&measured));
    assert!(
        stderr.contains("note: the plan's offsets were measured"),
        "{stderr}"
    );
    let (code, stderr) = check(&elf);
    assert_eq!(code, Some(0), "{stderr}");
}

/// person_detect's cmsis-nn plan overlaps no pair (nothing pays off under CMSIS-NN), so this
/// places one pair at the CMSIS-NN offset itself: op 0 (depthwise, multiplier 8, CMSIS-NN's
/// mult-4 path: s_mono 9310, reference 9313) with its input 9312 bytes above its output.
#[test]
fn the_cmsis_nn_offset_of_the_mult_4_depthwise_is_safe_only_in_its_order() {
    let folder = tempfile::tempdir().unwrap();
    let cmsis = plan(folder.path(), "cmsis-nn");
    let bytes = std::fs::read(&cmsis).unwrap();
    let parsed = dmo_tflite::Model::parse(&bytes).unwrap();
    let (input, output) = (
        parsed.operators[0].inputs[0].unwrap(),
        parsed.operators[0].outputs[0],
    );
    assert_eq!((input, output), (88, 34));
    let tight = |below: i32, name: &str| {
        let mut offsets = parsed.offline_plan.clone().unwrap();
        offsets[input] = offsets[output] + below;
        let planned = folder.path().join(name);
        std::fs::write(
            &planned,
            dmo_tflite::with_offline_plan_and_metadata(&bytes, &offsets, &[]).unwrap(),
        )
        .unwrap();
        planned
    };
    let at_cmsis = tight(9312, "tight.tflite");
    let (elf, _) = firmware(folder.path(), "tight", "cmsis-nn", Some(&at_cmsis));
    let (code, stderr) = check(&elf);
    assert_eq!(code, Some(0), "{stderr}");

    // Controls: the reference order needs 9313; 16 bytes closer breaks CMSIS-NN's too.
    let (elf, _) = firmware(folder.path(), "tight_ref", "reference", Some(&at_cmsis));
    let (code, stderr) = check(&elf);
    assert_eq!(code, Some(1), "{stderr}");
    assert_eq!(clobbering_ops(&stderr), [0], "{stderr}");
    let closer = tight(9296, "tighter.tflite");
    let (elf, _) = firmware(folder.path(), "tighter", "cmsis-nn", Some(&closer));
    let (code, stderr) = check(&elf);
    assert_eq!(code, Some(1), "{stderr}");
    assert_eq!(clobbering_ops(&stderr), [0], "{stderr}");
}

#[test]
fn an_op_whose_cmsis_nn_order_is_not_modelled_is_refused_by_name() {
    // trained_lstm_int8's op 0 is an UNIDIRECTIONAL_SEQUENCE_LSTM: CMSIS-NN's
    // arm_lstm_unidirectional_s8 is not modelled, so the cmsis-nn firmware refuses it rather
    // than run another order. (Every other shared model builds:
    // tests/tflm/firmware_check.py --kernels cmsis-nn.)
    let folder = tempfile::tempdir().unwrap();
    let elf = folder.path().join("lstm.elf");
    let built = dmo(&[
        "firmware",
        &model("trained_lstm_int8.tflite"),
        "--kernels",
        "cmsis-nn",
        "-o",
        path(&elf),
    ]);
    let stderr = text(&built.stderr);
    assert_eq!(built.status.code(), Some(2), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains(
            "operator 0 (UNIDIRECTIONAL_SEQUENCE_LSTM): its CMSIS-NN loop order is not modelled"
        ),
        "{stderr}"
    );
    assert!(!elf.exists());

    let unknown = dmo(&[
        "firmware",
        &model("kws_ref_model.tflite"),
        "--kernels",
        "armclang",
        "-o",
        path(&elf),
    ]);
    assert_eq!(unknown.status.code(), Some(2));
    assert!(text(&unknown.stderr).contains("unknown kernel family \"armclang\""));
}
