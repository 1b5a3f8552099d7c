//! int8 MEAN end to end: a one-operator model built into firmware, run under the emulator, its
//! output checked against numbers derived by hand from TFLM's arithmetic (and confirmed by
//! TFLM's own interpreter when the fixture was made; tests/tflm/mean_check.py checks many more
//! shapes against TFLM on every run of scripts/test.sh).

use dmo_core::{BufferRole, CountingSink, CpuModel};
use dmo_emu::{Firmware, Poke, RunConfig, RunStatus};
use dmo_firmware::{build_firmware, BuildOptions, INPUT_SYMBOL};
use std::path::PathBuf;

/// `mean_check.build_model(Case("fixture", [2, 3, 4], [1], False, (0.5, 1), (0.25, -3)))`:
/// input int8 [2, 3, 4] (scale 0.5, zero point 1), MEAN over axis 1 without keep_dims,
/// output int8 [2, 4] (scale 0.25, zero point -3).
fn fixture() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/mean_2x3x4_axis1.tflite")
}

/// The bytes after the `output N bytes` line, up to the `crc32` line.
fn printed_output(stdout: &str) -> Vec<i8> {
    let hex: String = stdout
        .lines()
        .skip_while(|line| !line.starts_with("output "))
        .skip(1)
        .take_while(|line| !line.starts_with("crc32"))
        .collect();
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap() as i8)
        .collect()
}

#[test]
fn mean_over_one_axis_matches_hand_derived_output() {
    let folder = tempfile::tempdir().unwrap();
    let elf = folder.path().join("mean.elf");
    let built = build_firmware(
        &fixture(),
        &BuildOptions::new(CpuModel::CortexM4, elf.clone()),
    )
    .unwrap_or_else(|error| panic!("{error}"));
    assert_eq!(built.generated.input_bytes, 24);

    #[rustfmt::skip]
    let input: [i8; 24] = [
        1, 2, 3, 4,         5, 6, 7, 8,     9, 10, 11, 13,
        -10, -20, -30, -40, 0, 0, 0, 0,     7, -7, 100, -100,
    ];
    let config = RunConfig {
        pokes: vec![Poke {
            symbol: INPUT_SYMBOL.to_owned(),
            bytes: input.iter().map(|&v| v as u8).collect(),
            source: PathBuf::from("test input"),
        }],
        ..RunConfig::default()
    };
    let firmware = Firmware::load(&elf).unwrap();
    let outcome = dmo_emu::run(&firmware, &config, &mut CountingSink::default()).unwrap();
    assert_eq!(outcome.status, RunStatus::Exited { status: 0 });

    // Sums over axis 1: batch 0 -> 15, 18, 21, 25; batch 1 -> -3, -27, 70, -140.
    // Minus input zero point x 3 elements: 12, 15, 18, 22, -6, -30, 67, -143.
    // QuantizeMultiplier(0.5 / 0.25 = 2) = (2^30, shift 2); folding 1/3: shift' = floor(log2 3)
    // = 1, multiplier (2^30 << 1) / 3 = 715827882, shift 1: x * 0.6666666664 rounded:
    // 8, 10, 12, 15, -4, -20, 45, -95; plus output zero point -3:
    let expected: [i8; 8] = [5, 7, 9, 12, -7, -23, 42, -98];
    let stdout = String::from_utf8_lossy(&outcome.stdout);
    assert_eq!(
        printed_output(&stdout),
        expected,
        "firmware printed:\n{stdout}"
    );

    // One op segment with the kernel's three buffers: 24 input bytes, 8 output bytes and TFLM's
    // temp-sum scratch of one int32 per output element.
    let [segment] = &outcome.ops[..] else {
        panic!("expected one op segment, got {:?}", outcome.ops);
    };
    assert_eq!(
        (segment.name.as_str(), segment.kind.as_str()),
        ("op0_mean", "MEAN")
    );
    let lengths: Vec<(BufferRole, u32)> = segment.buffers.iter().map(|b| (b.role, b.len)).collect();
    assert_eq!(
        lengths,
        [
            (BufferRole::Input, 24),
            (BufferRole::Output, 8),
            (BufferRole::Scratch, 32)
        ]
    );
}
