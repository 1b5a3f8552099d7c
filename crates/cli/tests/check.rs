//! `dmo check`, the memcheck of arena plans, on firmware that really runs a
//! planned arena (`dmo firmware --plan`): a plan made for the firmware's
//! kernels runs clean; one op placed too close to its input is named, with
//! the number of input bytes it clobbers derived by hand.

mod common;

use common::{dmo, model, text};
use std::path::Path;

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Builds firmware of kws_ref_model whose arena follows `planned`.
fn firmware_with_plan(folder: &Path, planned: &Path, name: &str) -> std::path::PathBuf {
    let elf = folder.join(format!("{name}.elf"));
    let built = dmo(&[
        "firmware",
        &model("kws_ref_model.tflite"),
        "--plan",
        path(planned),
        "-o",
        path(&elf),
    ]);
    assert!(built.status.success(), "{}", text(&built.stderr));
    elf
}

#[test]
fn a_plan_for_the_firmwares_kernels_runs_clean_and_a_broken_one_is_named() {
    let folder = tempfile::tempdir().unwrap();
    let planned = folder.path().join("kws.dmo.tflite");
    let run = dmo(&[
        "plan",
        &model("kws_ref_model.tflite"),
        "--kernels",
        "reference",
        "--emit-tflite",
        path(&planned),
    ]);
    assert!(run.status.success(), "{}", text(&run.stderr));

    // The reference plan in the reference-kernel firmware: 9792 B arena
    // (shared/models/README.md), and no op reads a byte it overwrote.
    let elf = firmware_with_plan(folder.path(), &planned, "kws_planned");
    let checked = dmo(&["check", path(&elf), "-q"]);
    assert_eq!(checked.status.code(), Some(0), "{}", text(&checked.stderr));
    assert!(text(&checked.stderr).contains("none of the 13 ops"));

    // Control: op 2 is a 1x1 CONV_2D on 25x5 pixels of 64 channels
    // (8000 -> 8000 B, tensors 23 -> 24); its reference s_mono is 63. Put
    // its output only 48 bytes below its input. Output byte (p, c) then
    // lands on input byte (p, c - 48) for c >= 48, which pixel p still
    // reads for output channels c + 1 .. 63 when c <= 62: input channels
    // 0..=14 of every pixel are read after being overwritten, 15 x 125 =
    // 1875 bytes. Op 3 (depthwise, s_mono 384) stays 400 B below: safe.
    let bytes = std::fs::read(&planned).unwrap();
    let parsed = dmo_tflite::Model::parse(&bytes).unwrap();
    let mut offsets = parsed.offline_plan.clone().unwrap();
    assert_eq!(model_op_tensors(&parsed, 2), (23, 24));
    offsets[24] = offsets[23] - 48;
    assert!(offsets[24] >= 0 && offsets[25] <= offsets[24] - 384);
    let broken = folder.path().join("kws.broken.tflite");
    std::fs::write(
        &broken,
        dmo_tflite::with_offline_plan_and_metadata(&bytes, &offsets, &[]).unwrap(),
    )
    .unwrap();
    let elf = firmware_with_plan(folder.path(), &broken, "kws_broken");
    let checked = dmo(&["check", path(&elf), "-q"]);
    let stderr = text(&checked.stderr);
    assert_eq!(checked.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("error: op 2 `op2_conv_2d` (CONV_2D) read 1875 bytes of its input `input`"),
        "{stderr}"
    );
    assert!(stderr.contains("1 of 13 ops read input bytes"), "{stderr}");
    // Both instructions are named: a store in the conv kernel, then a load.
    let first = stderr.lines().find(|l| l.contains("first:")).unwrap();
    assert!(first.matches("dmo_conv_int8").count() == 2, "{first}");
}

fn model_op_tensors(model: &dmo_tflite::Model, op: usize) -> (usize, usize) {
    let operator = &model.operators[op];
    (operator.inputs[0].unwrap(), operator.outputs[0])
}
