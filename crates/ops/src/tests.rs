//! Simulation results against hand-derived numbers (derivations in the
//! comments) and against the naive access log of `reference_walk.rs`.

use crate::arena_check::assert_offsets_hold_in_arena;
use crate::reference_walk::{access_log, derive_times};
use crate::*;
use dmo_core::ByteCount;
use dmo_overlap::{Direction, PairOverlap, SafeOffset};
use proptest::prelude::*;

fn int8(dims: &[usize]) -> TensorShape {
    TensorShape::int8(dims)
}

fn float32(dims: &[usize]) -> TensorShape {
    TensorShape::new(dims.to_vec(), ElementType::Float32)
}

/// The miner's result for input `index`, which must be modelled.
fn pair(op: &OpDescription, index: usize) -> PairOverlap {
    let results = simulate(op);
    assert_eq!(results.len(), op.inputs().len());
    assert_eq!(results[index].input_index, index);
    match &results[index].result {
        OverlapModel::Modelled(pair) => *pair,
        other => panic!("expected a modelled result, got {other:?}"),
    }
}

fn offsets(pair: &PairOverlap) -> [u64; 4] {
    [pair.s_min.0, pair.s_mono.0, pair.u_min.0, pair.u_mono.0]
}

fn conv(input: TensorShape, output: TensorShape, window: Window) -> OpDescription {
    OpDescription::conv2d(Conv2dParams {
        input,
        output,
        window,
        filter_input_channels: None,
    })
    .unwrap()
}

#[test]
fn pointwise_conv_of_design_md_gives_18439() {
    // DESIGN.md's worked example, checked against TFLM: 1x1 conv 48x48x8 ->
    // 48x48x16 int8. Output pixel p channel c < 15 is written while input
    // pixel p (bytes 8p..8p+7) is still needed for channel c + 1, and every
    // later input pixel too. So output byte j = 16p + c may not land on input
    // bytes >= 8p: s > 16p + c - 8p, worst at p = 2303, c = 14:
    // s_mono = 8*2303 + 15 = 18439. Every s <= 18438 has such a hazard inside
    // the input (for s < 18432 take c = 14, p = ceil((s-14)/8); for
    // 18432..18438 take p = 2303, c = 14), so s_min = 18439 too.
    // Up: output byte 0 is written before every input byte's last read, so
    // every u < 18432 is unsafe: u_min = u_mono = 18432.
    let op = conv(
        int8(&[1, 48, 48, 8]),
        int8(&[1, 48, 48, 16]),
        Window::square(1, 1, Padding::Same),
    );
    let result = pair(&op, 0);
    assert_eq!(offsets(&result), [18439, 18439, 18432, 18432]);
    // Footprint max(36864, 18439 + 18432) = 36871 instead of 55296.
    assert_eq!(result.best.direction, Direction::Down);
    assert_eq!(result.best.footprint, ByteCount(36871));
    assert_eq!(result.saving(), ByteCount(55296 - 36871));
}

#[test]
fn strided_conv_of_person_detect_layer_one() {
    // 96x96x1 -> 48x48x8, 3x3 stride 2 SAME: TFLite pads 0 at top/left (1 at
    // bottom/right, never read). Input pixel (y, x) is last read by output
    // pixel (y/2, x/2) (integer division), channel 7. After output (oy, ox)
    // channel c < 7 is written, the lowest live input byte is pixel
    // (2oy, 2ox) = 192oy + 2ox; output byte j = 8(48oy + ox) + c, so
    // j - minLive + 1 = 192oy + 6ox + c + 1, largest at oy = ox = 47, c = 6:
    // 9024 + 282 + 7 = 9313. (c = 7 frees pixel (2oy, 2ox+1) too: smaller.)
    let op = conv(
        int8(&[1, 96, 96, 1]),
        int8(&[1, 48, 48, 8]),
        Window::square(3, 2, Padding::Same),
    );
    let result = pair(&op, 0);
    assert_eq!(result.s_mono, SafeOffset(9313));
    assert!(result.s_min <= result.s_mono);
    // max(18432, 9313 + 9216) = 18529.
    assert_eq!(result.best_monotone().footprint, ByteCount(18529));
}

#[test]
fn depthwise_3x3_same_lags_one_row_and_one_pixel() {
    // Depthwise 3x3 stride 1 SAME, multiplier 1, H x W x C. Input pixel
    // (y, x) is last read by output pixel (min(y+1, H-1), min(x+1, W-1)) in
    // its own channel. After output (y, x, c) with y, x >= 1 is written, the
    // lowest live input byte is pixel (y-1, x-1) channel c+1 (or pixel
    // (y-1, x) channel 0 when c = C-1): j - minLive + 1 = (W + 1) * C either
    // way; the edges (x = 0, x = W-1, row 0, clipped last row) give at most
    // that. So s_mono = (W + 1) * C.
    for (height, width, channels) in [(48, 48, 8), (6, 5, 3), (4, 7, 1)] {
        let op = OpDescription::depthwise_conv2d(DepthwiseConv2dParams {
            input: int8(&[1, height, width, channels]),
            output: int8(&[1, height, width, channels]),
            window: Window::square(3, 1, Padding::Same),
            depth_multiplier: 1,
        })
        .unwrap();
        assert_eq!(
            pair(&op, 0).s_mono,
            SafeOffset(((width + 1) * channels) as u64),
            "{height}x{width}x{channels}"
        );
    }
}

#[test]
fn max_pool_3x3_same_reads_like_depthwise() {
    // A 3x3 stride 1 SAME pool clips its window exactly where the depthwise
    // conv skips padding, and walks pixels then channels: same order of
    // last reads and writes, so the same s_mono = (W + 1) * C = 6 * 3 = 18.
    let op = OpDescription::max_pool2d(Pool2dParams {
        input: int8(&[1, 6, 5, 3]),
        output: int8(&[1, 6, 5, 3]),
        window: Window::square(3, 1, Padding::Same),
    })
    .unwrap();
    assert_eq!(pair(&op, 0).s_mono, SafeOffset(18));
}

#[test]
fn average_pool_2x2_stride_2_fits_in_place() {
    // 4x4xC -> 2x2xC, 2x2 stride 2 VALID: output k = 2oy + ox, channel c
    // lands (s = 0) on input pixel k of row 0, channel c, whose block
    // (0, k/2, c) is never after (oy, ox, c): every byte is read before the
    // output byte on it is written, and larger s only move to earlier
    // pixels. s_min = s_mono = 0.
    let op = OpDescription::average_pool2d(Pool2dParams {
        input: int8(&[1, 4, 4, 3]),
        output: int8(&[1, 2, 2, 3]),
        window: Window::square(2, 2, Padding::Valid),
    })
    .unwrap();
    let result = pair(&op, 0);
    assert_eq!(
        (result.s_min, result.s_mono),
        (SafeOffset(0), SafeOffset(0))
    );
    assert_eq!(result.best.footprint, ByteCount(48));
}

#[test]
fn elementwise_add_overlaps_completely() {
    // Output element i is written at 3i + 2, after input1[i] (3i) and
    // input2[i] (3i + 1): s = 0 is safe and every s > 0 lands on earlier,
    // already read bytes: s_min = s_mono = 0. Up by u >= 1 lands on input
    // byte i + u, read at 3(i + u) > 3i + 2: unsafe up to u = nI - 1, so
    // u_min = 0 (same as s = 0) but u_mono = nI = 128.
    let shape = int8(&[1, 4, 4, 8]);
    let op = OpDescription::add(ElementwiseBinaryParams {
        input1: shape.clone(),
        input2: shape.clone(),
        output: shape,
    })
    .unwrap();
    for index in 0..2 {
        assert_eq!(offsets(&pair(&op, index)), [0, 0, 0, 128]);
    }
}

#[test]
fn broadcast_mul_keeps_the_broadcast_input_live() {
    // [2, 3] * [3] -> [2, 3]: input2 (3 bytes) is read again for the second
    // row, last at times 3*3+1, 3*4+1, 3*5+1 = 10, 13, 16, while output byte j
    // is written at 3j + 2. Down by s: output j lands on input2 byte j - s
    // (0 <= j - s < 3). s = 0: j = 0 written at 2, input2[0] last read at 10:
    // unsafe. s = 1: j = 1 (5) on byte 0 (10): unsafe. s = 2: j = 2 (8) on 0:
    // unsafe. s = 3: j = 3 (11) on 0 (10) ok, j = 4 (14) on 1 (13) ok,
    // j = 5 (17) on 2 (16) ok. So s_min = s_mono = 3.
    let op = OpDescription::mul(ElementwiseBinaryParams {
        input1: int8(&[2, 3]),
        input2: int8(&[3]),
        output: int8(&[2, 3]),
    })
    .unwrap();
    assert_eq!(offsets(&pair(&op, 0))[..2], [0, 0]);
    let broadcast = pair(&op, 1);
    assert_eq!((broadcast.s_min.0, broadcast.s_mono.0), (3, 3));
}

#[test]
fn fully_connected_has_no_useful_overlap() {
    // Batch 1, D outputs, A inputs: every input byte is read again for every
    // output, last in the pass of output D-1, so output bytes 0..D-2 are
    // written before every last read. Down: output j <= D-2 may not land on
    // any input byte: s > j, so s_min = s_mono = D - 1 (int8) and only the
    // last output byte overlaps the first input byte: saving 1 byte. Up:
    // output 0 hazards with every input byte: u_min = u_mono = A.
    let op = OpDescription::fully_connected(FullyConnectedParams {
        input: int8(&[1, 250]),
        output: int8(&[1, 10]),
        accumulation_depth: 250,
    })
    .unwrap();
    let result = pair(&op, 0);
    assert_eq!(offsets(&result), [9, 9, 250, 250]);
    assert_eq!(result.saving(), ByteCount(1));
    // float32, A = 4, D = 3: output bytes 0..7 (elements 0, 1) hazard with
    // all 16 input bytes: s_mono = 8 = 4 (D - 1); saving one element, 4 bytes.
    let op = OpDescription::fully_connected(FullyConnectedParams {
        input: float32(&[1, 4]),
        output: float32(&[1, 3]),
        accumulation_depth: 4,
    })
    .unwrap();
    let result = pair(&op, 0);
    assert_eq!(offsets(&result), [8, 8, 16, 16]);
    assert_eq!(result.saving(), ByteCount(4));
}

#[test]
fn element_sizes_count_per_byte() {
    // DEQUANTIZE int8[4] -> float32[4]: element i is read (byte i) at 2i and
    // written (bytes 4i..4i+3) at 2i + 1. Output byte j on input byte j - s
    // is unsafe iff 2(j - s) >= 2(j/4) + 1, i.e. s < j - j/4 with
    // 0 <= j - s < 4. Unsafe s: j = 1..3 -> 0..2, j = 4 -> 1..2, 5 -> 2..3,
    // 6 -> 3..4, 7 -> 4..5, 8 -> 5, 9 -> 6, 10 -> 7, 11 -> 8, j >= 12 none.
    // So s_min = s_mono = 9 and the pair fits in the output's 16 bytes.
    let op =
        OpDescription::elementwise_unary(OpKind::Dequantize, int8(&[4]), float32(&[4])).unwrap();
    let result = pair(&op, 0);
    assert_eq!((result.s_min.0, result.s_mono.0), (9, 9));
    assert_eq!(result.best.footprint, ByteCount(16));
    // QUANTIZE float32[4] -> int8[4]: output byte j (time 2j + 1) on input
    // byte j + u (element (j + u)/4, read at 2((j + u)/4)): safe iff
    // (j + u)/4 <= j. j = 0 allows u <= 3 only, and u = 4..15 break at
    // j = 0: u_min = 0, u_mono = 16. Down is always safe: s_mono = 0.
    let op = OpDescription::elementwise_unary(OpKind::Quantize, float32(&[4]), int8(&[4])).unwrap();
    assert_eq!(offsets(&pair(&op, 0)), [0, 0, 0, 16]);
}

#[test]
fn concatenation_gives_one_result_per_input() {
    // [1,2,3] ++ [1,2,2] along the last axis, int8. Copies in time order:
    // in0[0..3] -> out[0..3], in1[0..2] -> out[3..5], in0[3..6] -> out[5..8],
    // in1[2..4] -> out[8..10], each byte read at 2k and written at 2k + 1.
    // lr(in0) = [0,2,4,10,12,14], lr(in1) = [6,8,16,18],
    // fa = [1,3,5,7,9,11,13,15,17,19].
    // in0: s = 0 fails at j = 3 (7 <= 10), s = 1 at j = 4 (9 <= 10), s >= 2
    // passes every j: s_min = s_mono = 2. Up: u = 0 fails at j = 3, u >= 1
    // fails at j = 0: u_min = u_mono = 6.
    // in1: s = 0..2 fail at j = s (fa 1, 3, 5 <= 6), s = 3 at j = 5
    // (11 <= 16), s = 4 at j = 6 (13 <= 16), s = 5 at j = 7 (15 <= 16);
    // s >= 6 passes: s_min = s_mono = 6 (footprint max(10, 6 + 4) = 10).
    let op = OpDescription::concatenation(
        vec![int8(&[1, 2, 3]), int8(&[1, 2, 2])],
        int8(&[1, 2, 5]),
        -1,
    )
    .unwrap();
    let first = pair(&op, 0);
    assert_eq!(offsets(&first), [2, 2, 6, 6]);
    let second = pair(&op, 1);
    assert_eq!((second.s_min.0, second.s_mono.0), (6, 6));
    assert_eq!(second.best.footprint, ByteCount(10));
}

#[test]
fn reshape_copies_in_order() {
    // memcpy: byte k read at 2k, written at 2k + 1. Any s >= 0 lands on a
    // byte read earlier: s_min = s_mono = 0. u >= 1 lands on a later byte,
    // unsafe up to nI - 1: u_min = 0, u_mono = nI = 40.
    let op = OpDescription::reshape(int8(&[1, 5, 8]), int8(&[40])).unwrap();
    assert_eq!(offsets(&pair(&op, 0)), [0, 0, 0, 40]);
}

#[test]
fn softmax_int8_writes_after_the_final_read() {
    // Per row: two read-only passes, then read c / write c. Output byte c
    // of the last row is written after the last read of every byte <= c:
    // s_mono = 0. Up by u >= 1: output 0 of row 0 is written before the last
    // read of every byte of every later row and of row 0's byte u: u_mono = nI.
    let op = OpDescription::softmax(int8(&[3, 10]), int8(&[3, 10]), 1).unwrap();
    assert_eq!(offsets(&pair(&op, 0)), [0, 0, 0, 30]);
}

#[test]
fn pad_interleaves_pad_writes_and_copies() {
    // [3] padded (2, 1) -> [6]: writes out[0] (t0), out[1] (t1), then
    // in[0] (t2) -> out[2] (t3), in[1] (t4) -> out[3] (t5), in[2] (t6) ->
    // out[4] (t7), out[5] (t8). lr = [2, 4, 6], fa = [0, 1, 3, 5, 7, 8].
    // Down s: output j on input j - s. s = 0: j = 0 (0 <= 2) unsafe.
    // s = 1: j = 1 (1 <= 2) unsafe. s = 2: j = 2..4 on 0..2: 3 > 2, 5 > 4,
    // 7 > 6, safe; s >= 3 lands later outputs on earlier inputs: safe.
    let op = OpDescription::pad(int8(&[3]), int8(&[6]), vec![(2, 1)]).unwrap();
    let result = pair(&op, 0);
    assert_eq!((result.s_min.0, result.s_mono.0), (2, 2));
}

#[test]
fn mean_is_reported_as_not_modelled() {
    let op = OpDescription::mean(int8(&[1, 4, 4, 8]), int8(&[1, 1, 1, 8]), &[1, 2], true).unwrap();
    let results = simulate(&op);
    assert_eq!(results.len(), 1);
    match &results[0].result {
        OverlapModel::NotModelled { reason } => assert!(reason.contains("MEAN"), "{reason}"),
        other => panic!("MEAN must not be modelled, got {other:?}"),
    }
    assert_eq!(results[0].result.s_mono(), None);
}

#[test]
fn evaluate_all_keeps_op_order() {
    let ops = vec![
        OpDescription::reshape(int8(&[8]), int8(&[2, 4])).unwrap(),
        conv(
            int8(&[1, 48, 48, 8]),
            int8(&[1, 48, 48, 16]),
            Window::square(1, 1, Padding::Same),
        ),
    ];
    let results = evaluate_all(&ops, Method::Simulate);
    assert_eq!(results[0][0].result.s_mono(), Some(SafeOffset(0)));
    assert_eq!(results[1][0].result.s_mono(), Some(SafeOffset(18439)));
}

#[test]
fn hand_derived_offsets_hold_when_the_kernel_runs_overlapped() {
    // Each op of the tests above, executed in one arena at its offsets.
    let ops = vec![
        conv(
            int8(&[1, 48, 48, 8]),
            int8(&[1, 48, 48, 16]),
            Window::square(1, 1, Padding::Same),
        ),
        conv(
            int8(&[1, 24, 24, 1]),
            int8(&[1, 12, 12, 8]),
            Window::square(3, 2, Padding::Same),
        ),
        OpDescription::depthwise_conv2d(DepthwiseConv2dParams {
            input: int8(&[1, 6, 5, 3]),
            output: int8(&[1, 6, 5, 3]),
            window: Window::square(3, 1, Padding::Same),
            depth_multiplier: 1,
        })
        .unwrap(),
        OpDescription::fully_connected(FullyConnectedParams {
            input: float32(&[1, 4]),
            output: float32(&[1, 3]),
            accumulation_depth: 4,
        })
        .unwrap(),
        OpDescription::elementwise_unary(OpKind::Dequantize, int8(&[4]), float32(&[4])).unwrap(),
        OpDescription::concatenation(
            vec![int8(&[1, 2, 3]), int8(&[1, 2, 2])],
            int8(&[1, 2, 5]),
            -1,
        )
        .unwrap(),
        OpDescription::mul(ElementwiseBinaryParams {
            input1: int8(&[2, 3]),
            input2: int8(&[3]),
            output: int8(&[2, 3]),
        })
        .unwrap(),
        OpDescription::softmax(float32(&[3, 10]), float32(&[3, 10]), 1).unwrap(),
    ];
    for op in &ops {
        assert_offsets_hold_in_arena(op);
    }
}

// ---- brute force: optimised walk == naive full access log ----

/// Compares the simulation's per-byte times and event count with the naive
/// log's.
fn assert_matches_naive_log(op: &OpDescription) {
    let simulated = simulate_access_times(op).expect("modelled kind");
    let (log, events) = access_log(op).expect("modelled kind");
    let (last_read, first_access) = derive_times(op, &log);
    assert_eq!(simulated.events, events, "event count of {op:?}");
    assert_eq!(simulated.input_last_read, last_read, "lr of {op:?}");
    assert_eq!(simulated.output_first_access, first_access, "fa of {op:?}");
}

fn element_type() -> impl Strategy<Value = ElementType> {
    prop_oneof![
        Just(ElementType::Int8),
        Just(ElementType::Int16),
        Just(ElementType::Int32),
        Just(ElementType::Float32),
    ]
}

/// A STRIDED_SLICE of rank 1 to 5: begins and ends anywhere in and around each axis (negative
/// ones count from the end), strides -3 to 3 but 0, any masks; what TFLM refuses is skipped.
pub(crate) fn strided_slice_op() -> impl Strategy<Value = OpDescription> {
    (
        prop::collection::vec(
            (1usize..6, -7i64..7, -7i64..7, 1i64..4, any::<bool>()),
            1..6,
        ),
        any::<[u32; 3]>(),
        element_type(),
    )
        .prop_filter_map("a slice TFLM runs", |(axes, masks, element)| {
            let input = TensorShape::new(axes.iter().map(|a| a.0).collect(), element);
            let spec = crate::SliceSpec {
                begin: axes.iter().map(|a| a.1).collect(),
                end: axes.iter().map(|a| a.2).collect(),
                strides: axes.iter().map(|a| if a.4 { -a.3 } else { a.3 }).collect(),
                begin_mask: masks[0] & 31,
                end_mask: masks[1] & 31,
                // Shrink rarely: most random shrinks select nothing.
                shrink_axis_mask: masks[2] & masks[0] & masks[1] & 31,
            };
            let resolved = spec.axes(&input).ok()?;
            let output = resolved
                .iter()
                .filter(|a| !a.shrink)
                .map(|a| a.count)
                .collect();
            OpDescription::strided_slice(input, TensorShape::new(output, element), &spec).ok()
        })
}

fn padding() -> impl Strategy<Value = Padding> {
    prop_oneof![Just(Padding::Same), Just(Padding::Valid)]
}

/// A window that gives at least one output pixel on `height x width`.
fn window_output(height: usize, width: usize, window: &Window) -> Option<(usize, usize)> {
    let rows = tflite_axis_padding(
        window.padding,
        height,
        window.filter_height,
        window.stride_height,
        window.dilation_height,
    )
    .output_size;
    let columns = tflite_axis_padding(
        window.padding,
        width,
        window.filter_width,
        window.stride_width,
        window.dilation_width,
    )
    .output_size;
    (rows > 0 && columns > 0).then_some((rows as usize, columns as usize))
}

fn window_strategy(max_dilation: usize) -> impl Strategy<Value = Window> {
    (
        1..4usize,
        1..4usize,
        1..4usize,
        1..4usize,
        1..=max_dilation,
        1..=max_dilation,
        padding(),
    )
        .prop_map(
            |(
                filter_height,
                filter_width,
                stride_height,
                stride_width,
                dilation_height,
                dilation_width,
                padding,
            )| {
                Window {
                    filter_height,
                    filter_width,
                    stride_height,
                    stride_width,
                    dilation_height,
                    dilation_width,
                    padding,
                }
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn conv_matches_naive_log(
        batches in 1..3usize, height in 1..8usize, width in 1..8usize,
        groups in 1..3usize, per_group in 1..4usize, filters_per_group in 1..4usize,
        window in window_strategy(2), element in element_type(),
    ) {
        if let Some((rows, columns)) = window_output(height, width, &window) {
            let op = OpDescription::conv2d(Conv2dParams {
                input: TensorShape::new(vec![batches, height, width, groups * per_group], element),
                output: TensorShape::new(vec![batches, rows, columns, groups * filters_per_group], element),
                window,
                filter_input_channels: Some(per_group),
            }).unwrap();
            assert_matches_naive_log(&op);
        assert_offsets_hold_in_arena(&op);
        }
    }

    #[test]
    fn depthwise_matches_naive_log(
        batches in 1..3usize, height in 1..8usize, width in 1..8usize, channels in 1..4usize,
        multiplier in 1..4usize, window in window_strategy(2), element in element_type(),
    ) {
        if let Some((rows, columns)) = window_output(height, width, &window) {
            let op = OpDescription::depthwise_conv2d(DepthwiseConv2dParams {
                input: TensorShape::new(vec![batches, height, width, channels], element),
                output: TensorShape::new(vec![batches, rows, columns, channels * multiplier], element),
                window,
                depth_multiplier: multiplier,
            }).unwrap();
            assert_matches_naive_log(&op);
        assert_offsets_hold_in_arena(&op);
        }
    }

    #[test]
    fn pools_match_naive_log(
        batches in 1..3usize, height in 1..8usize, width in 1..8usize, channels in 1..4usize,
        window in window_strategy(1), element in element_type(), average in any::<bool>(),
    ) {
        if let Some((rows, columns)) = window_output(height, width, &window) {
            let params = Pool2dParams {
                input: TensorShape::new(vec![batches, height, width, channels], element),
                output: TensorShape::new(vec![batches, rows, columns, channels], element),
                window,
            };
            let op = if average {
                OpDescription::average_pool2d(params)
            } else {
                OpDescription::max_pool2d(params)
            }.unwrap();
            assert_matches_naive_log(&op);
        assert_offsets_hold_in_arena(&op);
        }
    }

    #[test]
    fn fully_connected_matches_naive_log(
        batches in 1..4usize, depth in 1..12usize, outputs in 1..6usize,
        input_type in element_type(), output_type in element_type(),
    ) {
        let op = OpDescription::fully_connected(FullyConnectedParams {
            input: TensorShape::new(vec![batches, depth], input_type),
            output: TensorShape::new(vec![batches, outputs], output_type),
            accumulation_depth: depth,
        }).unwrap();
        assert_matches_naive_log(&op);
        assert_offsets_hold_in_arena(&op);
    }

    #[test]
    fn broadcast_binary_matches_naive_log(
        dims in prop::collection::vec(1..4usize, 1..5),
        mask1 in prop::collection::vec(any::<bool>(), 4),
        mask2 in prop::collection::vec(any::<bool>(), 4),
        drop_leading in 0..3usize, element in element_type(), multiply in any::<bool>(),
    ) {
        // Each input keeps a dimension or broadcasts it (1); input2 may also
        // have fewer leading dimensions.
        let input1: Vec<usize> = dims.iter().zip(&mask1).map(|(&d, &keep)| if keep { d } else { 1 }).collect();
        let mut input2: Vec<usize> = dims.iter().zip(&mask2).map(|(&d, &keep)| if keep { d } else { 1 }).collect();
        input2.drain(..drop_leading.min(input2.len() - 1));
        let output: Vec<usize> = (0..dims.len()).map(|axis| {
            let second = if axis + input2.len() >= dims.len() { input2[axis + input2.len() - dims.len()] } else { 1 };
            input1[axis].max(second)
        }).collect();
        let params = ElementwiseBinaryParams {
            input1: TensorShape::new(input1, element),
            input2: TensorShape::new(input2, element),
            output: TensorShape::new(output, element),
        };
        let op = if multiply { OpDescription::mul(params) } else { OpDescription::add(params) }.unwrap();
        assert_matches_naive_log(&op);
        assert_offsets_hold_in_arena(&op);
    }

    #[test]
    fn svdf_matches_naive_log(
        batches in 1..4usize, input_size in 1..20usize, units in 1..8usize, rank in 1..4usize,
        element in element_type(),
    ) {
        let op = OpDescription::svdf(
            TensorShape::new(vec![batches, input_size], element),
            TensorShape::new(vec![batches, units], element),
            units * rank,
            rank,
        ).unwrap();
        assert_matches_naive_log(&op);
        assert_offsets_hold_in_arena(&op);
    }

    #[test]
    fn lstm_matches_naive_log(
        d0 in 1..4usize, d1 in 1..5usize, input_size in 1..9usize, cells in 1..10usize,
        time_major in any::<bool>(), element in element_type(),
    ) {
        let op = OpDescription::unidirectional_sequence_lstm(
            TensorShape::new(vec![d0, d1, input_size], element),
            TensorShape::new(vec![d0, d1, cells], element),
            time_major,
        ).unwrap();
        assert_matches_naive_log(&op);
        assert_offsets_hold_in_arena(&op);
    }

    #[test]
    fn unary_softmax_reshape_pad_concatenation_match_naive_log(
        dims in prop::collection::vec(1..5usize, 1..4),
        paddings in prop::collection::vec((0..3usize, 0..3usize), 3),
        second_axis_len in 1..4usize,
        input_type in element_type(), output_type in element_type(),
    ) {
        let input = TensorShape::new(dims.clone(), input_type);
        let output_type = if output_type == ElementType::Float32 { ElementType::Int8 } else { output_type };
        let quantize = OpDescription::elementwise_unary(OpKind::Quantize, input.clone(), TensorShape::new(dims.clone(), output_type)).unwrap();
        assert_matches_naive_log(&quantize);
        assert_offsets_hold_in_arena(&quantize);
        let tanh = OpDescription::elementwise_unary(OpKind::Tanh, input.clone(), input.clone()).unwrap();
        assert_matches_naive_log(&tanh);
        assert_offsets_hold_in_arena(&tanh);
        let softmax = OpDescription::softmax(input.clone(), input.clone(), dims.len() - 1).unwrap();
        assert_matches_naive_log(&softmax);
        assert_offsets_hold_in_arena(&softmax);
        let reshape = OpDescription::reshape(input.clone(), TensorShape::new(vec![input.elements()], input_type)).unwrap();
        assert_matches_naive_log(&reshape);
        assert_offsets_hold_in_arena(&reshape);
        let paddings: Vec<(usize, usize)> = paddings[..dims.len()].to_vec();
        let padded: Vec<usize> = dims.iter().zip(&paddings).map(|(d, (before, after))| d + before + after).collect();
        let pad = OpDescription::pad(input.clone(), TensorShape::new(padded, input_type), paddings).unwrap();
        assert_matches_naive_log(&pad);
        assert_offsets_hold_in_arena(&pad);
        let axis = dims.len() / 2;
        let mut second = dims.clone();
        second[axis] = second_axis_len;
        let mut joined = dims.clone();
        joined[axis] += second_axis_len;
        let concatenation = OpDescription::concatenation(
            vec![input.clone(), TensorShape::new(second, input_type), input.clone()],
            TensorShape::new({ let mut three = joined; three[axis] += dims[axis]; three }, input_type),
            axis as i64,
        ).unwrap();
        assert_matches_naive_log(&concatenation);
        assert_offsets_hold_in_arena(&concatenation);
        // TRANSPOSE by the rotation and the reversal of the axes.
        let rank = dims.len();
        for perm in [(0..rank).map(|d| (d + 1) % rank).collect::<Vec<_>>(), (0..rank).rev().collect()] {
            let permuted = perm.iter().map(|&axis| dims[axis]).collect();
            let transpose = OpDescription::transpose(input.clone(), TensorShape::new(permuted, input_type), perm).unwrap();
            assert_matches_naive_log(&transpose);
            assert_offsets_hold_in_arena(&transpose);
        }
    }

    #[test]
    fn strided_slice_matches_naive_log(op in strided_slice_op()) {
        assert_matches_naive_log(&op);
        assert_offsets_hold_in_arena(&op);
    }
}

fn slice_spec(begin: &[i64], end: &[i64], strides: &[i64], masks: [u32; 3]) -> SliceSpec {
    SliceSpec {
        begin: begin.to_vec(),
        end: end.to_vec(),
        strides: strides.to_vec(),
        begin_mask: masks[0],
        end_mask: masks[1],
        shrink_axis_mask: masks[2],
    }
}

#[test]
fn strided_slice_reversed_and_byte_copied_rows() {
    // int8 [5] reversed (stride -1, begin and end masked): output m reads input 4 - m, then is
    // written. Output byte j is written before input bytes i < 4 - j are read: the largest
    // unsafe s = j - i is 3 (j = 3, i = 0), so s_mono = 4; output byte 0 is written before
    // input byte 3 is read, so u_mono = 4 too (input byte 4 is read before it: nI = 5 unused).
    let reverse = OpDescription::strided_slice(
        int8(&[5]),
        int8(&[5]),
        &slice_spec(&[0], &[0], &[-1], [1, 1, 0]),
    )
    .unwrap();
    assert_eq!(offsets(&pair(&reverse, 0))[1..], [4, 4, 4]);
    assert_eq!(
        analytic(&reverse)[0].result,
        OverlapModel::Analytic(AnalyticOverlap {
            input_len: ByteCount(5),
            output_len: ByteCount(5),
            s_mono: SafeOffset(4),
            u_mono: SafeOffset(4),
        })
    );
    // int16 [3, 2], rows reversed, column 0 (innermost stride 1: one memcpy of 2 bytes per
    // row): output elements 0, 1, 2 read input elements 4, 2, 0. Output byte 0 is written
    // between the reads of input bytes 8 and 9: u = 9 is unsafe, u_mono = 10 (an element
    // copy would give 6: element 2 is the largest read after output element 0). s: output
    // element 2 (bytes 4, 5) comes after input element 0's read; the largest unsafe pair is
    // output byte 3 (element 1) against input byte 0: s_mono = 4.
    let int16 = |dims: &[usize]| TensorShape::new(dims.to_vec(), ElementType::Int16);
    let rows = OpDescription::strided_slice(
        int16(&[3, 2]),
        int16(&[3, 1]),
        &slice_spec(&[0, 0], &[0, 1], &[-1, 1], [1, 1, 0]),
    )
    .unwrap();
    assert_eq!(pair(&rows, 0).s_mono.0, 4);
    assert_eq!(pair(&rows, 0).u_mono.0, 10);
    // Control: the same slice with an innermost stride of 2 copies elements: u_mono = 6.
    let elements = OpDescription::strided_slice(
        int16(&[3, 2]),
        int16(&[3, 1]),
        &slice_spec(&[0, 0], &[0, 1], &[-1, 2], [1, 1, 0]),
    )
    .unwrap();
    assert_eq!(pair(&elements, 0).u_mono.0, 6);
}

#[test]
fn strided_slice_refuses_what_tflm_refuses_or_cannot_run() {
    let refuse = |input: &[usize], output: &[usize], spec: SliceSpec| {
        OpDescription::strided_slice(int8(input), int8(output), &spec)
            .unwrap_err()
            .to_string()
    };
    let error = refuse(&[4], &[2], slice_spec(&[0], &[4], &[0], [0, 0, 0]));
    assert!(
        error.starts_with("STRIDED_SLICE: stride of axis 0 is 0"),
        "{error}"
    );
    // [1:4:2] of 4 elements is 2 elements, not 3.
    let error = refuse(&[4], &[3], slice_spec(&[1], &[4], &[2], [0, 0, 0]));
    assert!(error.contains("[2]"), "{error}");
    // A shrunk axis with a negative stride: Eval's loop `i > start + 1` never runs.
    let error = refuse(
        &[4, 3],
        &[3],
        slice_spec(&[1, 0], &[2, 3], &[-1, 1], [0, 0, 1]),
    );
    assert!(error.contains("shrunk axis 0"), "{error}");
    // A shrunk axis starting past the end (begin 7 clamps to 4): no element either.
    let error = refuse(
        &[4, 3],
        &[3],
        slice_spec(&[7, 0], &[8, 3], &[1, 1], [0, 0, 1]),
    );
    assert!(error.contains("shrunk axis 0"), "{error}");
    let error = refuse(
        &[1, 1, 1, 1, 1, 2],
        &[1, 1, 1, 1, 1, 2],
        slice_spec(&[0; 6], &[1, 1, 1, 1, 1, 2], &[1; 6], [0, 0, 0]),
    );
    assert!(error.contains("rank 6"), "{error}");
    let error = refuse(&[4], &[2], slice_spec(&[0, 0], &[2], &[1], [0, 0, 0]));
    assert!(error.contains("begin has 2 values"), "{error}");
    // Control: the same shrink with stride 1 and begin 1 selects row 1.
    let op = OpDescription::strided_slice(
        int8(&[4, 3]),
        int8(&[3]),
        &slice_spec(&[1, 0], &[2, 3], &[1, 1], [0, 0, 1]),
    )
    .unwrap();
    assert_eq!(
        op.params(),
        &OpParams::StridedSlice {
            axes: vec![
                SliceAxis {
                    start: 1,
                    stride: 1,
                    count: 1,
                    shrink: true
                },
                SliceAxis {
                    start: 0,
                    stride: 1,
                    count: 3,
                    shrink: false
                },
            ]
        }
    );
}

#[test]
fn a_tensor_concatenated_with_itself_is_one_buffer_read_twice() {
    // int8 [2, 3] ++ itself on axis 0: output bytes 0..5 copy the buffer, then 6..11 copy it
    // again, byte i read right before output byte 6 + i is written. So every output byte below
    // 6 + i is written before byte i's last read: differences -i..5 for every i, contiguous
    // -5..5: s_min = s_mono = u_min = u_mono = 6. Slot 0 alone (the first copy) would allow
    // s = 0: the buffer's result is the union of both slots'.
    let x = int8(&[2, 3]);
    let op = OpDescription::concatenation(vec![x.clone(), x], int8(&[4, 3]), 0).unwrap();
    let OverlapModel::Modelled(pair) = simulate_shared_input(&op, &[0, 1]) else {
        panic!("not modelled");
    };
    assert_eq!(offsets(&pair), [6, 6, 6, 6]);
    let OverlapModel::Analytic(closed) = analytic_shared_input(&op, &[0, 1]) else {
        panic!("no closed form");
    };
    assert_eq!((closed.s_mono.0, closed.u_mono.0), (6, 6));
    // Control: slot 0 alone.
    assert_eq!(self::pair(&op, 0).s_mono.0, 0);
}

#[test]
fn broadcasting_mul_and_add_read_a_row_broadcast_operand_once_per_row() {
    // MUL int8 [3, 4] x [3, 1]: TFLM's BroadcastBinaryOpSimple fuses nothing (input2 steps
    // along axis 0, stays put along axis 1), so for each row r it reads input2[r] once, then
    // input1[4r + i] and writes output[4r + i]. input2[r] is last read before output 4r is
    // written: output bytes below 4r hazard with input byte r, worst j - i = 4*2 - 1 - 2 = 5,
    // so s_mono = 6; input2[2] is read after output 0 is written: u_mono = 3.
    let mul = |first: &[usize], second: &[usize], add: bool| {
        let params = ElementwiseBinaryParams {
            input1: int8(first),
            input2: int8(second),
            output: int8(&[3, 4]),
        };
        if add {
            OpDescription::add(params)
        } else {
            OpDescription::mul(params)
        }
        .unwrap()
    };
    let op = mul(&[3, 4], &[3, 1], false);
    assert_eq!((pair(&op, 1).s_mono.0, pair(&op, 1).u_mono.0), (6, 3));
    let OverlapModel::Analytic(closed) = &analytic(&op)[1].result else {
        panic!("no closed form");
    };
    assert_eq!((closed.s_mono.0, closed.u_mono.0), (6, 3));
    // Control: run in a byte arena, s = 6 keeps every read intact and s = 5 clobbers one (a
    // per-element read of input2[r], as dmo's ADD kernel did before, would need s = 9:
    // M = 4r + 3). Broadcasting ADD runs the same loops in TFLM, and here too.
    assert_offsets_hold_in_arena(&op);
    assert_eq!(pair(&mul(&[3, 4], &[3, 1], true), 1).s_mono.0, 6);
    // A scalar input2 ([1]): all axes fuse into one row, read once before any write: no
    // hazard at all; input1 (read per element) keeps the elementwise offsets (0, 12).
    let scalar = mul(&[3, 4], &[1], false);
    assert_eq!(offsets(&pair(&scalar, 1)), [0, 0, 0, 0]);
    assert_eq!(
        (pair(&scalar, 0).s_mono.0, pair(&scalar, 0).u_mono.0),
        (0, 12)
    );
}
