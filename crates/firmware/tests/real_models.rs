//! Generated firmware for the real models in `../shared/models/`: built with arm-none-eabi-gcc,
//! run under the emulator, and the three overlap methods compared layer by layer.
//! (That the firmware's outputs equal TFLM's is checked by tests/tflm/firmware_check.py, which
//! needs TFLM's Python interpreter.)

use dmo_core::CpuModel;
use dmo_emu::RunConfig;
use dmo_firmware::{
    build_firmware, compare_methods, BuildOptions, Comparison, FirmwareError, MethodResult,
};
use dmo_ops::LoopOrders;
use std::path::PathBuf;

fn model(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/models")
        .join(name)
}

/// Builds `name` with the kernels of `built_for`, runs it and compares its trace with the
/// simulation of `compared_with`'s loop orders (and the reference formula).
fn comparison(name: &str, built_for: LoopOrders, compared_with: LoopOrders) -> (Comparison, usize) {
    let folder = tempfile::tempdir().unwrap();
    let elf = folder.path().join("model.elf");
    let mut options = BuildOptions::new(CpuModel::CortexM4, elf.clone());
    options.kernels = built_for;
    let built =
        build_firmware(&model(name), &options).unwrap_or_else(|error| panic!("{name}: {error}"));
    let comparison = compare_methods(&elf, &model(name), &RunConfig::default(), compared_with)
        .unwrap_or_else(|error| panic!("{name}: {error}"));
    (comparison, built.generated.operators.len())
}

/// The layers where a method disagrees with the trace: `op input: problem`.
fn failures(comparison: &Comparison) -> Vec<String> {
    comparison
        .layers
        .iter()
        .filter_map(|layer| {
            layer
                .disagreement
                .as_ref()
                .map(|problem| format!("{} {}: {problem}", layer.op_name, layer.input_name))
        })
        .collect()
}

/// Builds, runs and compares (reference kernels); returns (layers, layers all three methods
/// model).
fn compare(name: &str) -> (usize, usize) {
    let (comparison, operators) = comparison(name, LoopOrders::Reference, LoopOrders::Reference);
    let failures = failures(&comparison);
    assert!(failures.is_empty(), "{name}:\n{}", failures.join("\n"));
    let built_operators = operators;
    // Every operator of the model ran as one op segment with one pair (none of these models
    // has an operator with two activation inputs).
    assert_eq!(comparison.layers.len(), built_operators);
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

#[test]
fn cmsis_nn_firmware_traces_equal_the_cmsis_nn_walk_on_every_layer() {
    // The trace oracle of dmo-ops' CMSIS-NN walks on real geometries: every shared model that
    // builds with `--kernels cmsis-nn` (the C kernels in CMSIS-NN's order: 1x1, generic,
    // 3x3 and mult-4 depthwise convs, average pool, FULLY_CONNECTED, ADD; the reference
    // kernels for SOFTMAX, RESHAPE, QUANTIZE and SVDF, whose CMSIS-NN order is the
    // reference's): every (input, output) pair modelled by the CmsisNn
    // simulation, its traced s_min and s_mono equal to the simulation's. Pairs: one per op,
    // two for ResNet-8's 3 ADDs.
    for (name, pairs) in [
        ("person_detect.tflite", 31),
        ("kws_ref_model.tflite", 13),
        ("pretrainedResnet_quant.tflite", 19),
        ("micro_speech_quantized.tflite", 4),
        ("ad01_int8.tflite", 10),
        ("hello_world_int8.tflite", 3),
        ("keyword_scrambled.tflite", 15),
    ] {
        let (comparison, _) = comparison(name, LoopOrders::CmsisNn, LoopOrders::CmsisNn);
        let failures = failures(&comparison);
        assert!(failures.is_empty(), "{name}:\n{}", failures.join("\n"));
        assert_eq!(comparison.layers.len(), pairs, "{name}");
        for layer in &comparison.layers {
            assert!(
                matches!(layer.simulation, MethodResult::Offsets { .. }),
                "{name} {}: {:?}",
                layer.op_name,
                layer.simulation
            );
        }
    }
    // Control: the same kws_ref_model firmware against the reference walk disagrees on the
    // generic conv (op 0), the 4 pointwise convs and FULLY_CONNECTED (op 11).
    let (comparison, _) = comparison(
        "kws_ref_model.tflite",
        LoopOrders::CmsisNn,
        LoopOrders::Reference,
    );
    let disagreeing: Vec<usize> = comparison
        .layers
        .iter()
        .filter(|layer| layer.disagreement.is_some())
        .map(|layer| layer.operator)
        .collect();
    assert_eq!(disagreeing, [0, 2, 4, 6, 8, 11]);
}
