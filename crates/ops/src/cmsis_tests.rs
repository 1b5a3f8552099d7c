//! The CMSIS-NN walk (`cmsis_walk.rs`) against hand-derived offsets, its closed form, and a
//! naive per-access walk of `arm_nn_mat_mult_nt_t_s8` written separately (every read of every
//! pass, in the order of the C source's DSP branch, one event per access).

use crate::*;
use dmo_core::EventTime;
use dmo_overlap::PairOverlap;
use proptest::prelude::*;

fn int8(dims: &[usize]) -> TensorShape {
    TensorShape::int8(dims)
}

fn cmsis_pair(op: &OpDescription, index: usize) -> PairOverlap {
    match &simulate_for(op, LoopOrders::CmsisNn)[index].result {
        OverlapModel::Modelled(pair) => *pair,
        other => panic!("expected a modelled result, got {other:?}"),
    }
}

fn reference_pair(op: &OpDescription) -> PairOverlap {
    match &simulate_for(op, LoopOrders::Reference)[0].result {
        OverlapModel::Modelled(pair) => *pair,
        other => panic!("expected a modelled result, got {other:?}"),
    }
}

fn offsets(pair: &PairOverlap) -> [u64; 4] {
    [pair.s_min.0, pair.s_mono.0, pair.u_min.0, pair.u_mono.0]
}

fn conv(input: &[usize], output: &[usize], window: Window) -> OpDescription {
    OpDescription::conv2d(Conv2dParams {
        input: int8(input),
        output: int8(output),
        window,
        filter_input_channels: None,
    })
    .unwrap()
}

#[test]
fn pointwise_conv_of_design_md_under_cmsis_nn() {
    // 48x48x8 -> 48x48x16, arm_convolve_1x1_s8_fast. Channel pairs (0,1) .. (12,13) are all
    // written before pass (14,15) reads the input for the last time, so output byte
    // 16 * 2303 + 13 = 36861 is written before input byte 0 is last read: s >= 36862.
    // In the last pass, pixel pair (2q, 2q+1) is read before its channels 14, 15 are
    // written and no earlier pixel is read after: nothing larger. Every s < 36862 hits an
    // earlier-pass byte (input has 18432 >= 3 bytes, the gaps at channels 14, 15 are 2
    // wide), so s_min = s_mono = 36862 = output bytes - 2, the value the issue measured on
    // person_detect's op 2. Output byte 0 is written in the first pass, before every input
    // byte's last read: u_min = u_mono = 18432.
    let op = conv(
        &[1, 48, 48, 8],
        &[1, 48, 48, 16],
        Window::square(1, 1, Padding::Same),
    );
    assert_eq!(cmsis_path(&op), CmsisPath::Conv1x1Fast);
    assert_eq!(offsets(&cmsis_pair(&op, 0)), [36862, 36862, 18432, 18432]);
    assert_eq!(
        cmsis_conv_1x1_fast_offsets(2304, 8, 16),
        Some((36862, 36862, 18432, 18432))
    );
    // Control: the reference order gives DESIGN.md's 18439, so the families differ here.
    assert_eq!(reference_pair(&op).s_mono.0, 18439);
    assert_eq!(cmsis_scratch_bytes(&op), Vec::<u64>::new());
}

#[test]
fn depthwise_multiplier_8_of_person_detect_op_0() {
    // 96x96x1 -> 48x48x8, 3x3 stride 2 SAME (pads 0 top/left): depthwise_conv_s8_mult_4.
    // The reference reads the window once per output channel and writes channel m after its
    // reads, so input pixel q's last read precedes only output channel 7 of its last output
    // pixel P: s_mono(reference) = 8 P + 7 - q + 1 maximised = 9313 (tests.rs, trace-checked).
    // mult_4 reads the window once per tile of 4 channels and writes the tile after it: the
    // last read is in tile (4..7), which precedes the writes of channels 4..7 but follows
    // those of channels 0..3. Output byte 8P + 3 (instead of 8P + 6) is the last written
    // before the last read: s_mono = 9313 - 3 = 9310, the value the issue measured.
    let op = OpDescription::depthwise_conv2d(DepthwiseConv2dParams {
        input: int8(&[1, 96, 96, 1]),
        output: int8(&[1, 48, 48, 8]),
        window: Window::square(3, 2, Padding::Same),
        depth_multiplier: 8,
    })
    .unwrap();
    assert_eq!(cmsis_path(&op), CmsisPath::DepthwiseMult4);
    assert_eq!(reference_pair(&op).s_mono.0, 9313);
    assert_eq!(cmsis_pair(&op, 0).s_mono.0, 9310);
}

#[test]
fn paths_follow_cmsis_nn_selection() {
    let strided = conv(
        &[1, 9, 9, 4],
        &[1, 5, 5, 6],
        Window::square(1, 2, Padding::Valid),
    );
    assert_eq!(cmsis_path(&strided), CmsisPath::Conv1x1Strided);
    // 3x3 SAME pads 1: arm_convolve_s8, scratch 2 columns of 3*3*4 = 36 int16 = 144 bytes.
    let generic = conv(
        &[1, 9, 9, 4],
        &[1, 9, 9, 6],
        Window::square(3, 1, Padding::Same),
    );
    assert_eq!(cmsis_path(&generic), CmsisPath::ConvGeneric);
    assert_eq!(cmsis_scratch_bytes(&generic), vec![144]);
    // 1xN on a single-row input with stride*C % 4 == 0: arm_convolve_1_x_n_s8, which without
    // MVE calls arm_convolve_s8: the generic walk and scratch (2 columns of 3*4 = 12 int16).
    let one_by_n = OpDescription::conv2d(Conv2dParams {
        input: int8(&[1, 1, 10, 4]),
        output: int8(&[1, 1, 8, 4]),
        window: Window {
            filter_height: 1,
            filter_width: 3,
            ..Window::square(1, 1, Padding::Valid)
        },
        filter_input_channels: None,
    })
    .unwrap();
    assert_eq!(cmsis_path(&one_by_n), CmsisPath::Conv1xN);
    assert_eq!(cmsis_scratch_bytes(&one_by_n), vec![48]);
    // Step k reads input pixels 2k..2k+3 (the windows of output pixels 2k, 2k+1), then writes
    // output bytes 8k..8k+7. Input byte i is last read in step min(3, i / 8), output byte j
    // first written in step j / 8: down, input byte j - s is never read after step j / 8, so
    // s_min = s_mono = 0; up, output byte 0 (step 0) over input byte 39 (step 3) is a hazard
    // for every u < 40 reaching it, u = 0 is safe: u_min = 0, u_mono = 40.
    assert_eq!(offsets(&cmsis_pair(&one_by_n, 0)), [0, 0, 0, 40]);
    // Control: the reference order writes channel 0 of a pixel before reading channel 3 of it.
    assert_ne!(offsets(&reference_pair(&one_by_n))[1], 0);
    let depthwise = |filter: usize, multiplier: usize| {
        OpDescription::depthwise_conv2d(DepthwiseConv2dParams {
            input: int8(&[1, 8, 8, 3]),
            output: int8(&[1, 8, 8, 3 * multiplier]),
            window: Window::square(filter, 1, Padding::Same),
            depth_multiplier: multiplier,
        })
        .unwrap()
    };
    assert_eq!(cmsis_path(&depthwise(3, 1)), CmsisPath::Depthwise3x3);
    assert_eq!(cmsis_scratch_bytes(&depthwise(3, 1)), Vec::<u64>::new());
    assert_eq!(cmsis_path(&depthwise(5, 1)), CmsisPath::DepthwiseOpt);
    assert_eq!(cmsis_scratch_bytes(&depthwise(5, 1)), vec![3 * 25 * 2]);
    assert_eq!(cmsis_path(&depthwise(3, 4)), CmsisPath::DepthwiseMult4);
    assert_eq!(cmsis_path(&depthwise(3, 2)), CmsisPath::DepthwiseGeneric);
    // The generic depthwise kernel has the reference order: the same offsets.
    assert_eq!(
        offsets(&cmsis_pair(&depthwise(3, 2), 0)),
        offsets(&reference_pair(&depthwise(3, 2)))
    );
    let pool = Pool2dParams {
        input: int8(&[1, 6, 6, 5]),
        output: int8(&[1, 3, 3, 5]),
        window: Window::square(2, 2, Padding::Valid),
    };
    let average = OpDescription::average_pool2d(pool.clone()).unwrap();
    assert_eq!(cmsis_scratch_bytes(&average), vec![20]);
    let max = OpDescription::max_pool2d(pool).unwrap();
    assert!(matches!(
        simulate_for(&max, LoopOrders::CmsisNn)[0].result,
        OverlapModel::NotModelled { .. }
    ));
}

#[test]
fn fully_connected_reads_the_input_once_per_output_pair() {
    // arm_nn_vec_mat_mult_t_s8: 1 batch, depth 64, 10 outputs: passes (0,1) .. (8,9), each
    // reading the whole input; outputs 0..7 are written before the last pass reads input
    // byte 0: s_mono = 7 + 1 = 8 (the reference: 9). Output 8 and 9 are written after the
    // last reads: no hazard above 7.
    let op = OpDescription::fully_connected(FullyConnectedParams {
        input: int8(&[1, 64]),
        output: int8(&[1, 10]),
        accumulation_depth: 64,
    })
    .unwrap();
    assert_eq!(cmsis_path(&op), CmsisPath::FullyConnected);
    assert_eq!(cmsis_pair(&op, 0).s_mono.0, 8);
    assert_eq!(reference_pair(&op).s_mono.0, 9);
}

/// `arm_nn_mat_mult_nt_t_s8`'s DSP branch access by access, every pass's reads included, in
/// the source's order (per 4 columns: a word of row 0, a word of row 1; then the leftover
/// columns byte by byte, row 0 then row 1; then the 2x2 stores), mined directly.
fn naive_gemm(pixels: usize, columns: usize, channels: usize) -> PairOverlap {
    let mut last_read = vec![None; pixels * columns];
    let mut first_access: Vec<Option<EventTime>> = vec![None; pixels * channels];
    let mut time = 0u64;
    let read = |last_read: &mut Vec<Option<EventTime>>, byte: usize, time: &mut u64| {
        last_read[byte] = Some(EventTime(*time));
        *time += 1;
    };
    let write = |first_access: &mut Vec<Option<EventTime>>, byte: usize, time: &mut u64| {
        first_access[byte].get_or_insert(EventTime(*time));
        *time += 1;
    };
    let mut channel = 0;
    while channel + 2 <= channels {
        let mut row = 0;
        while row < pixels {
            let rows: Vec<usize> = (row..(row + 2).min(pixels)).collect();
            let mut column = 0;
            while column + 4 <= columns {
                for &r in &rows {
                    for b in 0..4 {
                        read(&mut last_read, r * columns + column + b, &mut time);
                    }
                }
                column += 4;
            }
            while column < columns {
                for &r in &rows {
                    read(&mut last_read, r * columns + column, &mut time);
                }
                column += 1;
            }
            for &r in &rows {
                write(&mut first_access, r * channels + channel, &mut time);
                write(&mut first_access, r * channels + channel + 1, &mut time);
            }
            row += rows.len();
        }
        channel += 2;
    }
    if channel < channels {
        for r in 0..pixels {
            for column in 0..columns {
                read(&mut last_read, r * columns + column, &mut time);
            }
            write(&mut first_access, r * channels + channel, &mut time);
        }
    }
    dmo_overlap::mine_pair(&last_read, &first_access)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn conv_1x1_fast_walk_equals_naive_gemm_and_formula(
        batches in 1usize..3,
        height in 1usize..6,
        width in 1usize..6,
        in_channels in 1usize..10,
        out_channels in 1usize..10,
    ) {
        let op = conv(
            &[batches, height, width, in_channels],
            &[batches, height, width, out_channels],
            Window::square(1, 1, Padding::Valid),
        );
        let pixels = batches * height * width;
        let walked = cmsis_pair(&op, 0);
        prop_assert_eq!(offsets(&walked), offsets(&naive_gemm(pixels, in_channels, out_channels)));
        if let Some((s_min, s_mono, u_min, u_mono)) =
            cmsis_conv_1x1_fast_offsets(pixels, in_channels, out_channels)
        {
            prop_assert_eq!(offsets(&walked), [s_min, s_mono, u_min, u_mono].map(|v| v as u64));
        }
    }

    #[test]
    fn fully_connected_as_conv_1x1_follows_the_same_formula(
        batches in 1usize..5,
        depth_quarters in 1usize..6,
        outputs in 3usize..12,
    ) {
        // TFLM takes arm_convolve_1x1_s8_fast for an output of rank > 2 and depth % 4 == 0.
        let depth = 4 * depth_quarters;
        let op = OpDescription::fully_connected(FullyConnectedParams {
            input: int8(&[1, batches, depth]),
            output: int8(&[1, batches, outputs]),
            accumulation_depth: depth,
        })
        .unwrap();
        prop_assert_eq!(cmsis_path(&op), CmsisPath::FullyConnectedAsConv1x1);
        prop_assert_eq!(cmsis_scratch_bytes(&op), vec![8 * outputs as u64]);
        let (s_min, s_mono, u_min, u_mono) =
            cmsis_conv_1x1_fast_offsets(batches, depth, outputs).unwrap();
        prop_assert_eq!(
            offsets(&cmsis_pair(&op, 0)),
            [s_min, s_mono, u_min, u_mono].map(|v| v as u64)
        );
    }

    #[test]
    fn fully_connected_is_one_gemm_row_per_batch(
        batches in 1usize..4,
        depth in 1usize..20,
        outputs in 1usize..12,
    ) {
        let op = OpDescription::fully_connected(FullyConnectedParams {
            input: int8(&[batches, depth]),
            output: int8(&[batches, outputs]),
            accumulation_depth: depth,
        })
        .unwrap();
        prop_assert_eq!(cmsis_path(&op), CmsisPath::FullyConnected);
        if batches == 1 {
            prop_assert_eq!(offsets(&cmsis_pair(&op, 0)), offsets(&naive_gemm(1, depth, outputs)));
        }
        // Every walk stays inside the buffers and mines.
        let _ = cmsis_pair(&op, 0);
    }
}

#[test]
fn person_detect_under_cmsis_nn() {
    // The measurements on person_detect (TFLM + CMSIS-NN, GCC, Cortex-M4): every 1x1
    // conv has s_min = output bytes - 2 and u_min = input bytes; op 0 (depthwise, multiplier
    // 8) gives 9310; the whole model simulates quickly.
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/models/person_detect.tflite");
    let Ok(bytes) = std::fs::read(&path) else {
        eprintln!("skipped: {} not found", path.display());
        return;
    };
    let model = dmo_tflite::Model::parse(&bytes).unwrap();
    let started = std::time::Instant::now();
    let mut pointwise = 0;
    for index in 0..model.operators.len() {
        let Ok(described) = describe_tflite_operator(&model, index) else {
            continue;
        };
        let op = &described.description;
        let results = simulate_for(op, LoopOrders::CmsisNn);
        if cmsis_path(op) == CmsisPath::Conv1x1Fast {
            let pair = cmsis_pair(op, 0);
            assert_eq!(pair.s_min.0, op.output().bytes() as u64 - 2, "op {index}");
            // Op 28 (1x1x256 -> 2 channels) is one pass that reads its only pixel before
            // writing: s = 0 = output bytes - 2 and no hazard upwards either.
            let channels = op.output().dims()[3];
            let u_min = if channels >= 3 {
                op.inputs()[0].bytes() as u64
            } else {
                0
            };
            assert_eq!(pair.u_min.0, u_min, "op {index}");
            pointwise += 1;
        }
        if index == 0 {
            assert_eq!(cmsis_pair(op, 0).s_mono.0, 9310);
        }
        assert_eq!(results.len(), op.inputs().len());
    }
    assert!(pointwise >= 9, "{pointwise} 1x1 convs");
    assert!(
        started.elapsed().as_secs_f64() < 2.0,
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn int8_svdf_shares_the_reference_order_and_lstm_is_not_modelled() {
    // keyword_scrambled's op 1: [1, 96] int8 -> [1, 64], 64 filters of rank 1.
    // arm_svdf_state_s16_s8 reads the input only in the feature matmul and writes the output
    // last: every read precedes every write, so any placement is safe (all four 0), and the
    // scratch requests are the reference kernel's (dmo-plan places those).
    let svdf = OpDescription::svdf(int8(&[1, 96]), int8(&[1, 64]), 64, 1).unwrap();
    assert!(matches!(cmsis_path(&svdf), CmsisPath::Reference(_)));
    assert_eq!(offsets(&cmsis_pair(&svdf, 0)), [0, 0, 0, 0]);
    assert!(cmsis_scratch_bytes(&svdf).is_empty());
    // Control: arm_lstm_unidirectional_s8 has no model, so no offsets.
    let lstm =
        OpDescription::unidirectional_sequence_lstm(int8(&[1, 5, 6]), int8(&[1, 5, 9]), false)
            .unwrap();
    assert!(matches!(cmsis_path(&lstm), CmsisPath::NotModelled(_)));
    assert!(matches!(
        simulate_for(&lstm, LoopOrders::CmsisNn)[0].result,
        OverlapModel::NotModelled { .. }
    ));
}
