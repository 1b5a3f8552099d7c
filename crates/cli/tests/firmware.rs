//! `dmo firmware` and `dmo compare` end to end on the small real models of `../shared/models/`
//! (needs arm-none-eabi-gcc, installed by scripts/install-deps.sh).

mod common;

use common::{dmo, model, text};

#[test]
fn micro_speech_firmware_runs_and_the_three_methods_agree() {
    let folder = tempfile::tempdir().unwrap();
    let elf = folder.path().join("micro_speech.elf");
    let elf = elf.to_str().unwrap();
    let built = dmo(&[
        "firmware",
        &model("micro_speech_quantized.tflite"),
        "--cpu",
        "cortex-m7",
        "-o",
        elf,
    ]);
    assert!(built.status.success(), "{}", text(&built.stderr));
    // micro_speech: 4 operators; input 49x40 int8 = 1960 bytes; TFLM's head 5968 (models README).
    let stdout = text(&built.stdout);
    assert!(
        stdout.contains("4 operators, arena 5968 bytes (TFLM greedy), input 1960 bytes"),
        "{stdout}"
    );
    assert!(folder.path().join("micro_speech.src/model.c").exists());

    let compared = dmo(&[
        "compare",
        elf,
        &model("micro_speech_quantized.tflite"),
        "--cpu",
        "cortex-m7",
    ]);
    let stdout = text(&compared.stdout);
    assert!(
        compared.status.success(),
        "{stdout}{}",
        text(&compared.stderr)
    );
    assert!(stdout.contains("4 layers agree, 0 disagree"), "{stdout}");
    assert!(stdout.contains("op1_depthwise_conv_2d"), "{stdout}");
}

#[test]
fn unsupported_operator_fails_with_its_name_and_no_elf() {
    let folder = tempfile::tempdir().unwrap();
    let elf = folder.path().join("lstm.elf");
    let output = dmo(&[
        "firmware",
        &model("trained_lstm_int8.tflite"),
        "-o",
        elf.to_str().unwrap(),
        "--kernels",
        "cmsis-nn",
    ]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains(
            "trained_lstm_int8.tflite: operator 0 (UNIDIRECTIONAL_SEQUENCE_LSTM): its CMSIS-NN \
             loop order is not modelled (arm_lstm_unidirectional_s8"
        ),
        "{stderr}"
    );
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(!elf.exists());
}

#[test]
fn compare_refuses_firmware_that_dmo_did_not_generate() {
    let folder = tempfile::tempdir().unwrap();
    let elf = folder.path().join("hello.elf");
    let built = dmo(&[
        "firmware",
        &model("hello_world_int8.tflite"),
        "-o",
        elf.to_str().unwrap(),
    ]);
    assert!(built.status.success(), "{}", text(&built.stderr));
    // hello_world's firmware (FULLY_CONNECTED first) against person_detect (DEPTHWISE_CONV_2D
    // first): a clear error, not a comparison.
    let output = dmo(&[
        "compare",
        elf.to_str().unwrap(),
        &model("person_detect.tflite"),
    ]);
    assert_eq!(output.status.code(), Some(2), "{}", text(&output.stdout));
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains("op0_fully_connected is a FULLY_CONNECTED"),
        "{stderr}"
    );
}
