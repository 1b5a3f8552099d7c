//! Bad models give errors, never panics: truncations and byte mutations of
//! the real models (proptest), plus a few hand-made cases.

use dmo_tflite::{with_offline_plan, FormatError, Model, ModelError};
use proptest::prelude::*;
use std::path::PathBuf;
use std::sync::OnceLock;

fn models_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/models")
}

fn small_models() -> &'static Vec<Vec<u8>> {
    static MODELS: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    MODELS.get_or_init(|| {
        [
            "hello_world_int8.tflite",
            "keyword_scrambled.tflite",
            "micro_speech_quantized.tflite",
        ]
        .iter()
        .map(|name| std::fs::read(models_dir().join(name)).unwrap())
        .collect()
    })
}

/// Parsing must return (Ok or Err) without panicking; so must writing a plan.
fn exercise(bytes: &[u8]) {
    if let Ok(model) = Model::parse(bytes) {
        for tensor in &model.tensors {
            let _ = tensor.byte_size();
        }
        let offsets = vec![-1; model.total_tensor_count()];
        let _ = with_offline_plan(bytes, &offsets);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn truncated_models_never_panic(model in 0usize..3, fraction in 0.0f64..1.0) {
        let bytes = &small_models()[model];
        let len = (bytes.len() as f64 * fraction) as usize;
        exercise(&bytes[..len]);
    }

    #[test]
    fn mutated_models_never_panic(
        model in 0usize..3,
        mutations in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..16),
    ) {
        let mut bytes = small_models()[model].clone();
        for (index, value) in mutations {
            let at = index.index(bytes.len());
            bytes[at] = value;
        }
        exercise(&bytes);
    }

    #[test]
    fn mutations_near_the_root_never_panic(
        model in 0usize..3,
        mutations in prop::collection::vec((0usize..256, any::<u8>()), 1..8),
    ) {
        // The root table, vtables and vectors headers sit near the start.
        let mut bytes = small_models()[model].clone();
        for (at, value) in mutations {
            let len = bytes.len();
            bytes[at % len] = value;
        }
        exercise(&bytes);
    }
}

#[test]
fn empty_and_foreign_files_are_clear_errors() {
    assert_eq!(Model::parse(&[]), Err(FormatError::TooShort { len: 0 }));
    let elf = b"\x7fELF\x01\x01\x01\0\0\0\0\0\0\0\0\0";
    assert!(matches!(
        Model::parse(elf),
        Err(FormatError::WrongIdentifier { .. })
    ));
}

#[test]
fn read_errors_name_the_file() {
    let missing = models_dir().join("no_such_model.tflite");
    let err = Model::read(&missing).unwrap_err();
    assert!(matches!(err, ModelError::File(_)));
    assert!(err.to_string().contains("no_such_model.tflite"), "{err}");

    let directory = tempdir();
    let truncated = directory.join("truncated.tflite");
    let bytes = std::fs::read(models_dir().join("person_detect.tflite")).unwrap();
    std::fs::write(&truncated, &bytes[..bytes.len() / 3]).unwrap();
    let err = Model::read(&truncated).unwrap_err();
    assert!(err.to_string().contains("truncated.tflite"), "{err}");
    assert!(
        err.to_string().contains("not a valid .tflite model"),
        "{err}"
    );
}

fn tempdir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("dmo-tflite-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn person_detect_reads_as_published() {
    // Facts of MobileNetV1-0.25 person detection, checked by hand against
    // the model: 96x96x1 int8 input, 31 operators, 2-class int8 output.
    let model = Model::read(&models_dir().join("person_detect.tflite")).unwrap();
    assert_eq!(model.operators.len(), 31);
    assert_eq!(model.subgraph_count(), 1);
    let input = &model.tensors[model.inputs[0]];
    assert_eq!(input.shape, vec![1, 96, 96, 1]);
    assert_eq!(input.byte_size(), Ok(9216));
    let output = &model.tensors[model.outputs[0]];
    assert_eq!(output.shape, vec![1, 2]);
    assert_eq!(model.operators[0].code.to_string(), "DEPTHWISE_CONV_2D");
    assert_eq!(model.operators[2].code.to_string(), "CONV_2D");
    match &model.operators[2].options {
        dmo_tflite::OperatorOptions::Conv2D {
            stride_w,
            stride_h,
            padding,
            ..
        } => {
            assert_eq!(
                (*stride_w, *stride_h, *padding),
                (1, 1, dmo_tflite::Padding::Same)
            );
        }
        other => panic!("unexpected options {other:?}"),
    }
}
