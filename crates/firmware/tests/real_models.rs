//! Generated firmware for the real models in `../shared/models/`: built with arm-none-eabi-gcc,
//! run under the emulator, and the three overlap methods compared layer by layer.
//! (That the firmware's outputs equal TFLM's is checked by tests/tflm/firmware_check.py, which
//! needs TFLM's Python interpreter.)

use dmo_core::CpuModel;
use dmo_emu::RunConfig;
use dmo_firmware::{build_firmware, compare_methods, BuildOptions, FirmwareError, MethodResult};
use std::path::PathBuf;

fn model(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/models")
        .join(name)
}

/// Builds, runs and compares; returns (layers, layers all three methods model).
fn compare(name: &str) -> (usize, usize) {
    let folder = tempfile::tempdir().unwrap();
    let elf = folder.path().join("model.elf");
    let built = build_firmware(
        &model(name),
        &BuildOptions::new(CpuModel::CortexM4, elf.clone()),
    )
    .unwrap_or_else(|error| panic!("{name}: {error}"));
    let comparison = compare_methods(&elf, &model(name), &RunConfig::default())
        .unwrap_or_else(|error| panic!("{name}: {error}"));
    let failures: Vec<String> = comparison
        .layers
        .iter()
        .filter_map(|layer| {
            layer
                .disagreement
                .as_ref()
                .map(|problem| format!("{} {}: {problem}", layer.op_name, layer.input_name))
        })
        .collect();
    assert!(failures.is_empty(), "{name}:\n{}", failures.join("\n"));
    // Every operator of the model ran as one op segment with one pair (none of these models
    // has an operator with two activation inputs).
    assert_eq!(comparison.layers.len(), built.generated.operators.len());
    let fully_modelled = comparison
        .layers
        .iter()
        .filter(|layer| {
            [&layer.trace, &layer.simulation, &layer.analytic]
                .iter()
                .all(|result| matches!(result, MethodResult::Offsets { .. }))
        })
        .count();
    (comparison.layers.len(), fully_modelled)
}

#[test]
fn person_detect_methods_agree_on_every_layer() {
    // 31 operators: 27 convolutions, 1 average pool, 1 softmax are modelled by all three
    // methods; RESHAPE (memcpy) is not modelled by simulation or formula.
    let (layers, fully_modelled) = compare("person_detect.tflite");
    assert_eq!(layers, 31);
    assert!(
        fully_modelled >= 29,
        "only {fully_modelled} layers modelled by all methods"
    );
}

#[test]
fn kws_ref_model_methods_agree_on_every_layer() {
    let (layers, fully_modelled) = compare("kws_ref_model.tflite");
    assert_eq!(layers, 13);
    assert!(
        fully_modelled >= 11,
        "only {fully_modelled} layers modelled by all methods"
    );
}

#[test]
fn an_operator_without_kernel_is_named() {
    // Every shared model builds with the reference kernels; the cmsis-nn family has no kernel
    // whose order it can name for UNIDIRECTIONAL_SEQUENCE_LSTM.
    let folder = tempfile::tempdir().unwrap();
    let elf = folder.path().join("model.elf");
    let mut options = BuildOptions::new(CpuModel::CortexM4, elf.clone());
    options.kernels = dmo_ops::LoopOrders::CmsisNn;
    let error = build_firmware(&model("trained_lstm_int8.tflite"), &options).unwrap_err();
    assert!(
        matches!(&error, FirmwareError::Generate { .. }),
        "unexpected error {error}"
    );
    let message = error.to_string();
    assert!(message.contains("trained_lstm_int8.tflite"), "{message}");
    assert!(
        message.contains("operator 0 (UNIDIRECTIONAL_SEQUENCE_LSTM)"),
        "{message}"
    );
    assert!(!elf.exists());
}

#[test]
fn trained_lstm_int8_methods_agree_on_every_layer() {
    let (layers, _) = compare("trained_lstm_int8.tflite");
    assert_eq!(layers, 4);
}

#[test]
fn a_missing_compiler_is_a_clear_error() {
    let folder = tempfile::tempdir().unwrap();
    let elf = folder.path().join("model.elf");
    let mut options = BuildOptions::new(CpuModel::CortexM0, elf.clone());
    options.compiler = "arm-none-eabi-gcc-that-does-not-exist".into();
    let error = build_firmware(&model("hello_world_int8.tflite"), &options).unwrap_err();
    assert!(
        matches!(error, FirmwareError::CompilerMissing { .. }),
        "{error}"
    );
    assert!(error.to_string().contains("scripts/install-deps.sh"));
    assert!(!elf.exists());
}
