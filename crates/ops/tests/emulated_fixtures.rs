//! Method 2 against method 1: the loop-nest simulation must give the same
//! s_min / s_mono / u_min / u_mono as the trace of the compiled C reference
//! kernels (`fixtures/`, built for Cortex-M4 by `make -C fixtures`, the test
//! script's first step) run under emulation and mined from their real loads
//! and stores. The op shapes are the fixtures' defaults
//! (`fixtures/programs/*.c`).

mod support;

use dmo_emu::Poke;
use dmo_ops::{
    simulate, Conv2dParams, DepthwiseConv2dParams, ElementType, ElementwiseBinaryParams,
    FullyConnectedParams, OpDescription, OverlapModel, Padding, Pool2dParams, TensorShape, Window,
};
use dmo_overlap::{PairOverlap, SafeOffset};
use support::fixtures::{
    add_poke, conv_poke, fully_connected_poke, load_fixture, mul_poke, pool_poke, traced_pairs,
};

fn simulated_pairs(op: &OpDescription) -> Vec<PairOverlap> {
    simulate(op)
        .into_iter()
        .map(|result| match result.result {
            OverlapModel::Modelled(pair) => pair,
            other => panic!("{op:?} not modelled: {other:?}"),
        })
        .collect()
}

fn assert_same_offsets(name: &str, op: &OpDescription) {
    assert_same_offsets_with(name, Vec::new(), op);
}

fn assert_same_offsets_with(name: &str, pokes: Vec<Poke>, op: &OpDescription) {
    let traced = traced_pairs(&load_fixture(name), pokes);
    let simulated = simulated_pairs(op);
    assert_eq!(traced.len(), simulated.len(), "{name}: pairs");
    for (index, (trace, simulation)) in traced.iter().zip(&simulated).enumerate() {
        let offsets = |pair: &PairOverlap| {
            (
                pair.input_len,
                pair.output_len,
                pair.s_min,
                pair.s_mono,
                pair.u_min,
                pair.u_mono,
            )
        };
        assert_eq!(
            offsets(simulation),
            offsets(trace),
            "{name} input {index}: simulation (left) vs emulated trace (right)"
        );
    }
}

fn int8(dims: &[usize]) -> TensorShape {
    TensorShape::int8(dims)
}

#[test]
fn conv1x1_of_design_md() {
    let op = OpDescription::conv2d(Conv2dParams {
        input: int8(&[1, 48, 48, 8]),
        output: int8(&[1, 48, 48, 16]),
        window: Window::square(1, 1, Padding::Same),
        filter_input_channels: None,
    })
    .unwrap();
    assert_same_offsets("conv1x1", &op);
}

#[test]
fn conv_int8_strided_and_padded() {
    // 9x11x3 -> 5x6x4, 3x3 stride 2: the fixture's pad 1/1 is TFLite's SAME.
    let op = OpDescription::conv2d(Conv2dParams {
        input: int8(&[1, 9, 11, 3]),
        output: int8(&[1, 5, 6, 4]),
        window: Window::square(3, 2, Padding::Same),
        filter_input_channels: None,
    })
    .unwrap();
    assert_same_offsets("conv_int8", &op);
}

#[test]
fn conv_float_dilated() {
    // 7x6x3 -> 7x6x5 float32, 3x3 dilation 2, pad 2/2 = SAME.
    let float32 = |dims: &[usize]| TensorShape::new(dims.to_vec(), ElementType::Float32);
    let op = OpDescription::conv2d(Conv2dParams {
        input: float32(&[1, 7, 6, 3]),
        output: float32(&[1, 7, 6, 5]),
        window: Window {
            dilation_height: 2,
            dilation_width: 2,
            ..Window::square(3, 1, Padding::Same)
        },
        filter_input_channels: None,
    })
    .unwrap();
    assert_same_offsets("conv_float", &op);
}

#[test]
fn depthwise_int8_with_multiplier() {
    let op = OpDescription::depthwise_conv2d(DepthwiseConv2dParams {
        input: int8(&[1, 8, 7, 3]),
        output: int8(&[1, 8, 7, 6]),
        window: Window::square(3, 1, Padding::Same),
        depth_multiplier: 2,
    })
    .unwrap();
    assert_same_offsets("depthwise_int8", &op);
}

#[test]
fn fully_connected_int8_two_batches() {
    let op = OpDescription::fully_connected(FullyConnectedParams {
        input: int8(&[2, 40]),
        output: int8(&[2, 12]),
        accumulation_depth: 40,
    })
    .unwrap();
    assert_same_offsets("fully_connected_int8", &op);
}

#[test]
fn add_int8_two_inputs() {
    let shape = int8(&[1, 6, 5, 4]);
    let op = OpDescription::add(ElementwiseBinaryParams {
        input1: shape.clone(),
        input2: shape.clone(),
        output: shape,
    })
    .unwrap();
    assert_same_offsets("add_int8", &op);
}

#[test]
fn mul_int8_same_shape() {
    // fixtures/programs/mul_int8.c: 120 elements, element i read from both inputs right
    // before output i is written (TFLM's MulElementwise).
    let shape = int8(&[1, 6, 5, 4]);
    let op = OpDescription::mul(ElementwiseBinaryParams {
        input1: shape.clone(),
        input2: shape.clone(),
        output: shape,
    })
    .unwrap();
    assert_same_offsets("mul_int8", &op);
    let traced = traced_pairs(&load_fixture("mul_int8"), Vec::new());
    for pair in &traced {
        assert_eq!(
            (pair.s_min.0, pair.s_mono.0, pair.u_min.0, pair.u_mono.0),
            (0, 0, 0, 120)
        );
    }
    // Control: a broadcast model of the same output (input2 one element) differs for input2.
    let broadcast = OpDescription::mul(ElementwiseBinaryParams {
        input1: int8(&[1, 6, 5, 4]),
        input2: int8(&[1, 1, 1, 1]),
        output: int8(&[1, 6, 5, 4]),
    })
    .unwrap();
    let simulated = &simulated_pairs(&broadcast)[1];
    assert_ne!(
        (simulated.s_mono, simulated.u_mono),
        (traced[1].s_mono, traced[1].u_mono)
    );
}

#[test]
fn logistic_and_tanh_int8_in_order() {
    // fixtures/programs/{logistic,tanh}_int8.c: 150 int8 elements; element k is read right
    // before output k is written, in both the saturating and the fixed-point branch:
    // s_mono = 0, u_mono = 150 (docs/methods.md, elementwise unary).
    for (fixture, kind) in [
        ("logistic_int8", dmo_ops::OpKind::Logistic),
        ("tanh_int8", dmo_ops::OpKind::Tanh),
    ] {
        let op = OpDescription::elementwise_unary(kind, int8(&[150]), int8(&[150])).unwrap();
        assert_same_offsets(fixture, &op);
        let traced = traced_pairs(&load_fixture(fixture), Vec::new());
        assert_eq!(
            (
                traced[0].s_min.0,
                traced[0].s_mono.0,
                traced[0].u_min.0,
                traced[0].u_mono.0
            ),
            (0, 0, 0, 150),
            "{fixture}"
        );
        // Control: the same trace against a widening model (int8 -> float32) differs.
        let widening = OpDescription::elementwise_unary(
            dmo_ops::OpKind::Dequantize,
            int8(&[150]),
            TensorShape::new(vec![150], ElementType::Float32),
        )
        .unwrap();
        assert_ne!(simulated_pairs(&widening)[0].s_mono, traced[0].s_mono);
    }
}

#[test]
fn dequantize_int8_widens_in_order() {
    // fixtures/programs/dequantize_int8.c: 64 int8 elements to float32. Element k is read
    // right before output k (4 bytes) is written: s_mono = 63 * (4 - 1) = 189, u_mono = 64.
    let op = OpDescription::elementwise_unary(
        dmo_ops::OpKind::Dequantize,
        int8(&[64]),
        TensorShape::new(vec![64], ElementType::Float32),
    )
    .unwrap();
    assert_same_offsets("dequantize_int8", &op);
    let traced = traced_pairs(&load_fixture("dequantize_int8"), Vec::new());
    assert_eq!((traced[0].s_mono.0, traced[0].u_mono.0), (189, 64));
    // Control: a same-width model of the trace (int8 -> int8) differs.
    let same_width =
        OpDescription::elementwise_unary(dmo_ops::OpKind::Quantize, int8(&[64]), int8(&[64]))
            .unwrap();
    assert_ne!(simulated_pairs(&same_width)[0].s_mono, traced[0].s_mono);
}

#[test]
fn concatenation_int8_three_inputs() {
    // fixtures/programs/concatenation_int8.c: [2,3,5] ++ [2,1,5] ++ [2,4,5] on axis 1, copied
    // with the C library's memcpy at odd addresses, as TFLM does.
    let op = OpDescription::concatenation(
        vec![int8(&[2, 3, 5]), int8(&[2, 1, 5]), int8(&[2, 4, 5])],
        int8(&[2, 8, 5]),
        1,
    )
    .unwrap();
    assert_same_offsets("concatenation_int8", &op);
    let traced = traced_pairs(&load_fixture("concatenation_int8"), Vec::new());
    let offsets: Vec<_> = traced
        .iter()
        .map(|pair| (pair.s_min.0, pair.s_mono.0, pair.u_min.0, pair.u_mono.0))
        .collect();
    // docs/methods.md: s = (outer - 1)(C - c_k) + A_k, u = n_k (C = 40, c = 15, 5, 20).
    assert_eq!(
        offsets,
        [(25, 25, 30, 30), (50, 50, 10, 10), (40, 40, 40, 40)]
    );
    // Aligned buffers and word-sized copies (memcpy moves words): the same offsets as the
    // byte-by-byte walk. [2,3,16] ++ [2,1,16] ++ [2,4,16] on axis 1.
    let aligned = OpDescription::concatenation(
        vec![int8(&[2, 3, 16]), int8(&[2, 1, 16]), int8(&[2, 4, 16])],
        int8(&[2, 8, 16]),
        1,
    )
    .unwrap();
    let fields: [u32; 18] = [1, 256, 512, 768, 0, 3, 2, 16, 3, 1, 4, 0, 0, 0, 0, 0, 0, 0];
    let bytes = fields
        .iter()
        .flat_map(|value| value.to_le_bytes())
        .collect();
    let poke = Poke {
        symbol: "dmo_params".into(),
        bytes,
        source: "concatenation test".into(),
    };
    assert_same_offsets_with("concatenation_int8", vec![poke], &aligned);
}

#[test]
fn transpose_in_output_order() {
    // fixtures/programs/transpose_int8.c: int8 [2,3,4,5] by [2,0,3,1].
    let op = OpDescription::transpose(int8(&[2, 3, 4, 5]), int8(&[4, 2, 5, 3]), vec![2, 0, 3, 1])
        .unwrap();
    assert_same_offsets("transpose_int8", &op);
    // int16 [3, 7] -> [7, 3] and int32 [2, 2, 3] by [1, 2, 0], poked.
    /// (element bytes, input dims, perm, output dims, element type)
    type Case<'a> = (u32, &'a [u32], &'a [u32], &'a [usize], ElementType);
    let cases: [Case; 2] = [
        (2, &[3, 7], &[1, 0], &[7, 3], ElementType::Int16),
        (4, &[2, 2, 3], &[1, 2, 0], &[2, 3, 2], ElementType::Int32),
    ];
    for (bytes, dims, perm, output, element) in cases {
        let mut fields = vec![1, 256, 0, dims.len() as u32, bytes];
        let mut padded_dims = dims.to_vec();
        padded_dims.resize(6, 1);
        let mut padded_perm = perm.to_vec();
        padded_perm.resize(6, 0);
        fields.extend(padded_dims);
        fields.extend(padded_perm);
        let poke = Poke {
            symbol: "dmo_params".into(),
            bytes: fields
                .iter()
                .flat_map(|value| value.to_le_bytes())
                .collect(),
            source: "transpose test".into(),
        };
        let dims: Vec<usize> = dims.iter().map(|&d| d as usize).collect();
        let op = OpDescription::transpose(
            TensorShape::new(dims, element),
            TensorShape::new(output.to_vec(), element),
            perm.iter().map(|&p| p as usize).collect(),
        )
        .unwrap();
        assert_same_offsets_with("transpose_int8", vec![poke], &op);
    }
    // Control: the identity permutation's model (a plain copy) differs from the trace.
    let traced = traced_pairs(&load_fixture("transpose_int8"), Vec::new());
    let copy = OpDescription::transpose(int8(&[120]), int8(&[120]), vec![0]).unwrap();
    assert_ne!(simulated_pairs(&copy)[0].s_mono, traced[0].s_mono);
}

#[test]
fn softmax_int8_rows() {
    let op = OpDescription::softmax(int8(&[3, 10]), int8(&[3, 10]), 1).unwrap();
    assert_same_offsets("softmax_int8", &op);
}

#[test]
fn pad_int8() {
    let op = OpDescription::pad(
        int8(&[1, 5, 6, 3]),
        int8(&[1, 8, 8, 4]),
        vec![(0, 0), (1, 2), (1, 1), (0, 1)],
    )
    .unwrap();
    assert_same_offsets("pad_int8", &op);
}

#[test]
fn quantize_int16_to_int32_widens_in_order() {
    // fixtures/programs/quantize_int16.c: 45 int16 elements requantised to int32.
    // Element k is read right before output k is written: s_mono = 44 * (4 - 2) = 88,
    // u_mono = 45 * 2 = 90 (docs/methods.md, elementwise unary).
    let op = OpDescription::elementwise_unary(
        dmo_ops::OpKind::Quantize,
        TensorShape::new(vec![45], ElementType::Int16),
        TensorShape::new(vec![45], ElementType::Int32),
    )
    .unwrap();
    assert_same_offsets("quantize_int16", &op);
    let traced = traced_pairs(&load_fixture("quantize_int16"), Vec::new());
    assert_eq!((traced[0].s_mono.0, traced[0].u_mono.0), (88, 90));
}

#[test]
fn svdf_int8_reads_all_input_before_any_output() {
    // fixtures/programs/svdf_int8.c: 2 batches of 24, 12 filters of rank 2 -> 2 x 6.
    let op = OpDescription::svdf(int8(&[2, 24]), int8(&[2, 6]), 12, 2).unwrap();
    assert_same_offsets("svdf_int8", &op);
    let traced = traced_pairs(&load_fixture("svdf_int8"), Vec::new());
    let pair = &traced[0];
    assert_eq!(
        (pair.s_min.0, pair.s_mono.0, pair.u_min.0, pair.u_mono.0),
        (0, 0, 0, 0)
    );
    // Control: the same trace mined against a FULLY_CONNECTED model of these
    // shapes (which writes each output right after its input row) differs.
    let fc = OpDescription::fully_connected(FullyConnectedParams {
        input: int8(&[2, 24]),
        output: int8(&[2, 6]),
        accumulation_depth: 24,
    })
    .unwrap();
    let fc_pair = &simulated_pairs(&fc)[0];
    assert_ne!((fc_pair.s_mono, fc_pair.u_mono), (pair.s_mono, pair.u_mono));
}

#[test]
fn lstm_int8_follows_tflms_step_order() {
    // fixtures/programs/lstm_int8.c: batch-major [2, 5, 6] int8, 9 cells -> [2, 5, 9]; the
    // kernel (fixtures/kernels/lstm.c) is the one `dmo firmware` links, bit-exact with TFLM.
    let op = OpDescription::unidirectional_sequence_lstm(int8(&[2, 5, 6]), int8(&[2, 5, 9]), false)
        .unwrap();
    assert_same_offsets("lstm_int8", &op);
    let traced = traced_pairs(&load_fixture("lstm_int8"), Vec::new());
    let pair = &traced[0];
    // 10 steps; output row m is written after input row m's last read: s_mono = 9 x (9 - 6);
    // output row 0 before input rows 1..9 are read: u_mono = 60 bytes, the whole input.
    assert_eq!((pair.s_mono.0, pair.u_mono.0), (27, 60));
    // Control: the same trace against the time-major reading of these shapes (2 steps of 5
    // rows) differs.
    let time_major =
        OpDescription::unidirectional_sequence_lstm(int8(&[2, 5, 6]), int8(&[2, 5, 9]), true)
            .unwrap();
    let other = &simulated_pairs(&time_major)[0];
    assert_ne!((other.s_mono, other.u_mono), (pair.s_mono, pair.u_mono));
}

#[test]
fn reshape_int8_memcpy() {
    let op = OpDescription::reshape(int8(&[100]), int8(&[100])).unwrap();
    assert_same_offsets("reshape_int8", &op);
}

#[test]
fn pools_with_tflite_padding() {
    // 3x3 stride 1 SAME on 6x5x3 (pad 1/1): the traced kernels must give
    // the hand-derived (W + 1) * C = 18 of the unit tests. 2x2 stride 1 SAME
    // on 5x6x3: TFLite pads 0 at top/left (the odd row/column goes to the
    // bottom/right), which the kernel must be given to match; with pad 1/1
    // the trace gives s_mono 21 instead of 0, so the padding rule matters.
    // (The fixtures' own default, 9x10 with pad_left 1, is not what TFLite
    // computes for SAME: (5-1)*2 + 3 - 10 = 1 -> pad_left 0.)
    for (height, width, filter) in [(6, 5, 3), (5, 6, 2)] {
        let params = Pool2dParams {
            input: int8(&[1, height, width, 3]),
            output: int8(&[1, height, width, 3]),
            window: Window::square(filter, 1, Padding::Same),
        };
        let average = OpDescription::average_pool2d(params.clone()).unwrap();
        assert_same_offsets_with("avg_pool_int8", vec![pool_poke(&average)], &average);
        let max = OpDescription::max_pool2d(params).unwrap();
        assert_same_offsets_with("max_pool_int8", vec![pool_poke(&max)], &max);
    }
}

#[test]
fn person_detect_first_layers_match_hand_derived_offsets() {
    // person_detect's first conv, 96x96x1 -> 48x48x8 3x3 stride 2 SAME
    // (TFLite pads 0 at top/left): s_mono = 9313, derived by hand in the
    // unit tests. Its first depthwise conv, 48x48x8 3x3 stride 1 SAME:
    // s_mono = (48 + 1) * 8 = 392. Both from the compiled kernels' trace.
    let conv = OpDescription::conv2d(Conv2dParams {
        input: int8(&[1, 96, 96, 1]),
        output: int8(&[1, 48, 48, 8]),
        window: Window::square(3, 2, Padding::Same),
        filter_input_channels: None,
    })
    .unwrap();
    let traced = traced_pairs(&load_fixture("conv_int8"), vec![conv_poke(&conv)]);
    assert_eq!(traced[0].s_mono, SafeOffset(9313));
    assert_same_offsets_with("conv_int8", vec![conv_poke(&conv)], &conv);
    let depthwise = OpDescription::depthwise_conv2d(DepthwiseConv2dParams {
        input: int8(&[1, 48, 48, 8]),
        output: int8(&[1, 48, 48, 8]),
        window: Window::square(3, 1, Padding::Same),
        depth_multiplier: 1,
    })
    .unwrap();
    let traced = traced_pairs(&load_fixture("depthwise_int8"), vec![conv_poke(&depthwise)]);
    assert_eq!(traced[0].s_mono, SafeOffset(392));
    assert_same_offsets_with("depthwise_int8", vec![conv_poke(&depthwise)], &depthwise);
}

// ---- CMSIS-NN loop orders: dmo-ops' CmsisNn simulation against traces of our own C kernels in
// CMSIS-NN's order (fixtures/kernels/cmsis_order.c), which `make -C fixtures check` shows give
// the reference kernels' results byte for byte.

fn cmsis_offsets(op: &OpDescription) -> Vec<[u64; 4]> {
    dmo_ops::simulate_for(op, dmo_ops::LoopOrders::CmsisNn)
        .into_iter()
        .map(|result| match result.result {
            OverlapModel::Modelled(pair) => four(&pair),
            other => panic!("{op:?} not modelled under CMSIS-NN: {other:?}"),
        })
        .collect()
}

fn four(pair: &PairOverlap) -> [u64; 4] {
    [pair.s_min.0, pair.s_mono.0, pair.u_min.0, pair.u_mono.0]
}

fn traced_offsets(name: &str, pokes: Vec<Poke>) -> Vec<[u64; 4]> {
    traced_pairs(&load_fixture(name), pokes)
        .iter()
        .map(four)
        .collect()
}

fn pointwise(input: &[usize], output: &[usize], stride_h: usize, stride_w: usize) -> OpDescription {
    OpDescription::conv2d(Conv2dParams {
        input: int8(input),
        output: int8(output),
        window: Window {
            stride_height: stride_h,
            stride_width: stride_w,
            ..Window::square(1, 1, Padding::Valid)
        },
        filter_input_channels: None,
    })
    .unwrap()
}

#[test]
fn conv1x1_cmsis_order_trace_matches_simulation_and_not_the_reference() {
    let op = pointwise(&[1, 48, 48, 8], &[1, 48, 48, 16], 1, 1);
    let traced = traced_offsets("conv1x1_cmsis", Vec::new());
    // Hand-derived (crates/ops/src/cmsis_tests.rs): output bytes - 2, input bytes.
    assert_eq!(traced, vec![[36862, 36862, 18432, 18432]]);
    assert_eq!(cmsis_offsets(&op), traced);
    // Control: the reference order's prediction is refuted by this trace.
    let reference = four(&simulated_pairs(&op)[0]);
    assert_eq!(reference[1], 18439);
    assert_ne!(vec![reference], traced);
}

#[test]
fn conv1x1_cmsis_order_odd_shapes_and_strides() {
    // Odd pixel counts (the lone last row of each pass), odd channel counts (the final
    // one-channel pass), 1 and 2 output channels (no earlier pass), two batches (one GEMM
    // over both), and strides (one GEMM per output row: arm_convolve_1x1_s8).
    let cases = [
        pointwise(&[1, 5, 7, 3], &[1, 5, 7, 5], 1, 1),
        pointwise(&[2, 3, 5, 4], &[2, 3, 5, 6], 1, 1),
        pointwise(&[1, 7, 7, 1], &[1, 7, 7, 2], 1, 1),
        pointwise(&[1, 4, 5, 6], &[1, 4, 5, 1], 1, 1),
        pointwise(&[1, 9, 11, 4], &[1, 5, 6, 6], 2, 2),
        pointwise(&[2, 6, 7, 3], &[2, 6, 3, 7], 1, 3),
        pointwise(&[1, 8, 8, 5], &[1, 4, 4, 2], 2, 2),
    ];
    for op in &cases {
        let traced = traced_offsets("conv1x1_cmsis", vec![conv_poke(op)]);
        assert_eq!(cmsis_offsets(op), traced, "{op:?}");
    }
}

fn depthwise(input: &[usize], multiplier: usize, filter: usize, stride: usize) -> OpDescription {
    let [batches, height, width, channels] = [input[0], input[1], input[2], input[3]];
    let out = |size: usize| size.div_ceil(stride);
    OpDescription::depthwise_conv2d(DepthwiseConv2dParams {
        input: int8(input),
        output: int8(&[batches, out(height), out(width), channels * multiplier]),
        window: Window::square(filter, stride, Padding::Same),
        depth_multiplier: multiplier,
    })
    .unwrap()
}

#[test]
fn depthwise_mult4_cmsis_order_of_person_detect_op_0() {
    // 96x96x1 -> 48x48x8, 3x3 stride 2 SAME: the issue measured 9310 under CMSIS-NN, 9313
    // under the reference kernels (derivation in crates/ops/src/cmsis_tests.rs).
    let op = depthwise(&[1, 96, 96, 1], 8, 3, 2);
    let traced = traced_offsets("depthwise_mult4_cmsis", Vec::new());
    assert_eq!(traced[0][1], 9310);
    assert_eq!(cmsis_offsets(&op), traced);
    // Control: the reference walk predicts 9313, which this trace refutes.
    let reference = four(&simulated_pairs(&op)[0]);
    assert_eq!(reference[1], 9313);
    assert_ne!(vec![reference], traced);
}

#[test]
fn depthwise_mult4_cmsis_order_other_shapes() {
    for op in [
        depthwise(&[1, 7, 6, 2], 4, 3, 1),
        depthwise(&[1, 8, 9, 3], 8, 5, 2),
        depthwise(&[1, 5, 5, 1], 12, 2, 1),
    ] {
        let traced = traced_offsets("depthwise_mult4_cmsis", vec![conv_poke(&op)]);
        assert_eq!(cmsis_offsets(&op), traced, "{op:?}");
    }
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

/// kws_ref_model's op 0: 49x10x1 -> 25x5x64, 10x4 filter, stride 2, SAME (the conv_cmsis
/// fixture's defaults).
fn kws_op_0() -> OpDescription {
    conv(
        &[1, 49, 10, 1],
        &[1, 25, 5, 64],
        Window {
            filter_height: 10,
            filter_width: 4,
            ..Window::square(1, 2, Padding::Same)
        },
    )
}

#[test]
fn conv_generic_cmsis_order_of_kws_op_0() {
    let op = kws_op_0();
    assert_eq!(dmo_ops::cmsis_path(&op), dmo_ops::CmsisPath::ConvGeneric);
    let traced = traced_offsets("conv_cmsis", Vec::new());
    // A pixel pair's windows are read before its outputs are written: 7489, below the
    // reference order's 7552 (docs/methods.md).
    assert_eq!(traced[0][1], 7489);
    assert_eq!(cmsis_offsets(&op), traced);
    // Control: the reference kernel traced on the same geometry gives the reference walk's
    // 7552, which this trace refutes.
    let reference = traced_offsets("conv_int8", vec![conv_poke(&op)]);
    assert_eq!(reference[0][1], 7552);
    assert_eq!(vec![four(&simulated_pairs(&op)[0])], reference);
    assert_ne!(reference, traced);
}

#[test]
fn conv_generic_cmsis_order_other_shapes() {
    // Even and odd pixel counts per batch (a leftover pixel takes the one-column tail), odd
    // channel counts (the pair kernel's last lone channel), 1 and 2 output channels, windows
    // of kh kw C not a multiple of 4 (the tails of the widening and of the GEMM), padding,
    // strides, dilation and two batches (the leftover pixel is flushed per batch).
    let dilated = Window {
        dilation_height: 2,
        dilation_width: 2,
        ..Window::square(3, 1, Padding::Same)
    };
    let cases = [
        conv(
            &[1, 9, 11, 3],
            &[1, 5, 6, 5],
            Window::square(3, 2, Padding::Same),
        ),
        conv(
            &[2, 5, 5, 3],
            &[2, 5, 5, 7],
            Window::square(3, 1, Padding::Same),
        ),
        conv(
            &[1, 7, 6, 2],
            &[1, 3, 2, 3],
            Window::square(3, 2, Padding::Valid),
        ),
        conv(&[1, 7, 6, 3], &[1, 7, 6, 4], dilated),
        conv(
            &[1, 6, 6, 2],
            &[1, 6, 6, 1],
            Window::square(3, 1, Padding::Same),
        ),
        conv(
            &[1, 4, 5, 3],
            &[1, 4, 5, 2],
            Window::square(3, 1, Padding::Same),
        ),
        conv(
            &[1, 5, 4, 4],
            &[1, 2, 2, 6],
            Window::square(2, 2, Padding::Valid),
        ),
    ];
    let mut differ = 0;
    for op in &cases {
        assert_eq!(
            dmo_ops::cmsis_path(op),
            dmo_ops::CmsisPath::ConvGeneric,
            "{op:?}"
        );
        let traced = traced_offsets("conv_cmsis", vec![conv_poke(op)]);
        assert_eq!(cmsis_offsets(op), traced, "{op:?}");
        differ += usize::from(vec![four(&simulated_pairs(op)[0])] != traced);
    }
    // Control: the reference walk is refuted on some of these geometries too.
    assert!(differ > 0);
}

fn fully_connected(batches: usize, depth: usize, rows: usize) -> OpDescription {
    OpDescription::fully_connected(FullyConnectedParams {
        input: int8(&[batches, depth]),
        output: int8(&[batches, rows]),
        accumulation_depth: depth,
    })
    .unwrap()
}

#[test]
fn fully_connected_cmsis_order_trace_matches_simulation() {
    // The fixture's default (2 x 40 -> 2 x 12), then odd row counts (the lone last row),
    // depths that are not a multiple of 4 (the byte tail), one row, and micro_speech's
    // 4000 -> 4.
    let default = fully_connected(2, 40, 12);
    assert_eq!(
        dmo_ops::cmsis_path(&default),
        dmo_ops::CmsisPath::FullyConnected
    );
    assert_eq!(
        cmsis_offsets(&default),
        traced_offsets("fully_connected_cmsis", Vec::new())
    );
    for op in [
        fully_connected(3, 13, 7),
        fully_connected(1, 5, 1),
        fully_connected(2, 3, 2),
        fully_connected(1, 4000, 4),
        fully_connected(2, 9, 5),
    ] {
        let traced = traced_offsets("fully_connected_cmsis", vec![fully_connected_poke(&op)]);
        assert_eq!(cmsis_offsets(&op), traced, "{op:?}");
    }
}

#[test]
fn fully_connected_cmsis_order_of_methods_md() {
    // docs/methods.md: one batch of 64 to 10, outputs 0..7 precede the last pass over the
    // input: s_mono = 8, where the reference order (one pass per output) gives 9.
    let op = fully_connected(1, 64, 10);
    let traced = traced_offsets("fully_connected_cmsis", vec![fully_connected_poke(&op)]);
    assert_eq!(traced[0][1], 8);
    assert_eq!(cmsis_offsets(&op), traced);
    // Control: the reference kernel's fixture on the same pokes traces 9, as the reference
    // walk predicts, so the two orders are told apart by the trace.
    let reference = traced_offsets("fully_connected_int8", vec![fully_connected_poke(&op)]);
    assert_eq!(reference[0][1], 9);
    assert_eq!(vec![four(&simulated_pairs(&op)[0])], reference);
    assert_ne!(reference, traced);
}

fn add(dims: &[usize]) -> OpDescription {
    OpDescription::add(ElementwiseBinaryParams {
        input1: int8(dims),
        input2: int8(dims),
        output: int8(dims),
    })
    .unwrap()
}

#[test]
fn add_cmsis_order_trace_matches_simulation() {
    // 120 elements (30 words), 27 and 6 (3 and 2 left one by one), 1 (no word at all).
    let default = add(&[1, 6, 5, 4]);
    assert_eq!(
        dmo_ops::cmsis_path(&default),
        dmo_ops::CmsisPath::Elementwise4
    );
    assert_eq!(
        cmsis_offsets(&default),
        traced_offsets("add_cmsis", Vec::new())
    );
    for op in [add(&[1, 3, 3, 3]), add(&[2, 1, 1, 3]), add(&[1, 1, 1, 1])] {
        let traced = traced_offsets("add_cmsis", vec![add_poke(&op)]);
        assert_eq!(cmsis_offsets(&op), traced, "{op:?}");
    }
}

#[test]
fn add_cmsis_order_differs_from_the_reference_only_within_one_word() {
    // Both orders read element k (of each input) no later than they write output k, and read
    // every later word after it, so s and u agree with the reference's whenever there are
    // two words or more. Four elements are one step under CMSIS-NN: the output may sit 1..3
    // bytes above either input (u_mono = 0), where the reference order needs u_mono = 4.
    let op = add(&[1, 1, 2, 2]);
    let traced = traced_offsets("add_cmsis", vec![add_poke(&op)]);
    assert_eq!(traced, vec![[0, 0, 0, 0], [0, 0, 0, 0]]);
    assert_eq!(cmsis_offsets(&op), traced);
    // Control: the reference kernel's trace on the same pokes, and the reference walk, give 4.
    let reference = traced_offsets("add_int8", vec![add_poke(&op)]);
    assert_eq!(reference, vec![[0, 0, 0, 4], [0, 0, 0, 4]]);
    assert_eq!(
        simulated_pairs(&op).iter().map(four).collect::<Vec<_>>(),
        reference
    );
    // With two words or more the orders agree (the default fixture: 120 elements).
    let default = add(&[1, 6, 5, 4]);
    assert_eq!(
        simulated_pairs(&default)
            .iter()
            .map(four)
            .collect::<Vec<_>>(),
        cmsis_offsets(&default)
    );
}

fn depthwise_padded(
    input: &[usize],
    output: &[usize],
    stride: usize,
    padding: Padding,
) -> OpDescription {
    OpDescription::depthwise_conv2d(DepthwiseConv2dParams {
        input: int8(input),
        output: int8(output),
        window: Window::square(3, stride, padding),
        depth_multiplier: 1,
    })
    .unwrap()
}

#[test]
fn depthwise_3x3_cmsis_order_trace_matches_simulation() {
    // The fixture's default (1x9x10x6, SAME: a group of 4 channels read as words, 2 leftover
    // channels), strides, VALID padding, channel counts of 3, 5 and 8.
    let default = depthwise_padded(&[1, 9, 10, 6], &[1, 9, 10, 6], 1, Padding::Same);
    assert_eq!(
        dmo_ops::cmsis_path(&default),
        dmo_ops::CmsisPath::Depthwise3x3
    );
    assert_eq!(
        cmsis_offsets(&default),
        traced_offsets("depthwise_3x3_cmsis", Vec::new())
    );
    for op in [
        depthwise_padded(&[1, 7, 7, 4], &[1, 4, 4, 4], 2, Padding::Same),
        depthwise_padded(&[1, 6, 5, 5], &[1, 6, 5, 5], 1, Padding::Same),
        depthwise_padded(&[1, 8, 8, 3], &[1, 6, 6, 3], 1, Padding::Valid),
        depthwise_padded(&[1, 5, 6, 8], &[1, 5, 6, 8], 1, Padding::Same),
    ] {
        assert_eq!(dmo_ops::cmsis_path(&op), dmo_ops::CmsisPath::Depthwise3x3);
        let traced = traced_offsets("depthwise_3x3_cmsis", vec![conv_poke(&op)]);
        assert_eq!(cmsis_offsets(&op), traced, "{op:?}");
    }
}

#[test]
fn depthwise_3x3_cmsis_order_differs_from_the_reference_on_one_pixel_of_4_channels() {
    // On these geometries the two orders give the same offsets (the issue measured the 3x3
    // kernel as identical to the reference on person_detect). One output pixel of 4 channels
    // is one step under CMSIS-NN (the whole window, 4 channels a word, then the 4 outputs):
    // the output may sit anywhere above the input, u_mono = 0; the reference order writes
    // channel 0 before reading channel 1, u_mono = the input's 36 bytes.
    let op = depthwise_padded(&[1, 3, 3, 4], &[1, 1, 1, 4], 1, Padding::Valid);
    let traced = traced_offsets("depthwise_3x3_cmsis", vec![conv_poke(&op)]);
    assert_eq!(traced, vec![[0, 0, 0, 0]]);
    assert_eq!(cmsis_offsets(&op), traced);
    // Control: the reference kernel traced on the same pokes gives the reference walk's 36.
    let reference = traced_offsets("depthwise_int8", vec![conv_poke(&op)]);
    assert_eq!(reference, vec![[0, 0, 0, 36]]);
    assert_eq!(vec![four(&simulated_pairs(&op)[0])], reference);
}

fn average_pool(input: &[usize], output: &[usize], filter: usize, stride: usize) -> OpDescription {
    OpDescription::average_pool2d(Pool2dParams {
        input: int8(input),
        output: int8(output),
        window: Window::square(filter, stride, Padding::Same),
    })
    .unwrap()
}

#[test]
fn average_pool_cmsis_order_trace_matches_simulation() {
    // The fixture's default (1x9x10x4, 3x3 stride 2 SAME, clipped edge windows), stride 1,
    // an even window (TFLite pads 0 at top/left) and two batches.
    let default = average_pool(&[1, 9, 10, 4], &[1, 5, 5, 4], 3, 2);
    assert_eq!(dmo_ops::cmsis_path(&default), dmo_ops::CmsisPath::AvgPool);
    assert_eq!(
        cmsis_offsets(&default),
        traced_offsets("avg_pool_cmsis", Vec::new())
    );
    for op in [
        average_pool(&[1, 6, 5, 3], &[1, 6, 5, 3], 3, 1),
        average_pool(&[1, 5, 6, 3], &[1, 5, 6, 3], 2, 1),
        average_pool(&[2, 4, 4, 5], &[2, 2, 2, 5], 2, 2),
    ] {
        let traced = traced_offsets("avg_pool_cmsis", vec![pool_poke(&op)]);
        assert_eq!(cmsis_offsets(&op), traced, "{op:?}");
    }
    // One output pixel is one step under CMSIS-NN (every channel of the window, then every
    // output channel): u_mono = 0. Control: the reference kernel traced on the same pokes
    // writes channel 0 before reading channel 1, u_mono = the input's 12 bytes, as the
    // reference walk predicts.
    let one = average_pool(&[1, 2, 2, 3], &[1, 1, 1, 3], 2, 2);
    let traced = traced_offsets("avg_pool_cmsis", vec![pool_poke(&one)]);
    assert_eq!(traced, vec![[0, 0, 0, 0]]);
    assert_eq!(cmsis_offsets(&one), traced);
    let reference = traced_offsets("avg_pool_int8", vec![pool_poke(&one)]);
    assert_eq!(reference, vec![[0, 0, 0, 12]]);
    assert_eq!(vec![four(&simulated_pairs(&one)[0])], reference);
}

fn mul(dims: &[usize]) -> OpDescription {
    OpDescription::mul(ElementwiseBinaryParams {
        input1: int8(dims),
        input2: int8(dims),
        output: int8(dims),
    })
    .unwrap()
}

#[test]
fn mul_cmsis_order_trace_matches_simulation() {
    // arm_elementwise_mul_s8 has ADD's order: 120 elements (the default), 27, 6 and 1.
    let default = mul(&[1, 6, 5, 4]);
    assert_eq!(
        dmo_ops::cmsis_path(&default),
        dmo_ops::CmsisPath::Elementwise4
    );
    assert_eq!(
        cmsis_offsets(&default),
        traced_offsets("mul_cmsis", Vec::new())
    );
    for op in [mul(&[1, 3, 3, 3]), mul(&[2, 1, 1, 3]), mul(&[1, 1, 1, 1])] {
        let traced = traced_offsets("mul_cmsis", vec![mul_poke(&op)]);
        assert_eq!(cmsis_offsets(&op), traced, "{op:?}");
    }
    // Four elements are one step: u_mono = 0. Control: the reference kernel on the same pokes
    // gives 4, as the reference walk.
    let four_elements = mul(&[1, 1, 2, 2]);
    let traced = traced_offsets("mul_cmsis", vec![mul_poke(&four_elements)]);
    assert_eq!(traced, vec![[0, 0, 0, 0], [0, 0, 0, 0]]);
    assert_eq!(cmsis_offsets(&four_elements), traced);
    let reference = traced_offsets("mul_int8", vec![mul_poke(&four_elements)]);
    assert_eq!(reference, vec![[0, 0, 0, 4], [0, 0, 0, 4]]);
    assert_eq!(
        simulated_pairs(&four_elements)
            .iter()
            .map(four)
            .collect::<Vec<_>>(),
        reference
    );
}

fn depthwise_window(input: &[usize], output: &[usize], window: Window) -> OpDescription {
    OpDescription::depthwise_conv2d(DepthwiseConv2dParams {
        input: int8(input),
        output: int8(output),
        window,
        depth_multiplier: 1,
    })
    .unwrap()
}

#[test]
fn depthwise_opt_cmsis_order_trace_matches_simulation() {
    // The fixture's default (1x8x9x6, 5x5 SAME: 25 taps, a group of 4 channels and 2
    // leftover), a 2x2 window (an even tap count), a 4x4 window with stride 2, a 1x1 filter,
    // a 3x5 window (3x3 windows with padding <= 1 take the 3x3 path), and one output pixel.
    let default = depthwise_window(
        &[1, 8, 9, 6],
        &[1, 8, 9, 6],
        Window::square(5, 1, Padding::Same),
    );
    assert_eq!(
        dmo_ops::cmsis_path(&default),
        dmo_ops::CmsisPath::DepthwiseOpt
    );
    assert_eq!(
        cmsis_offsets(&default),
        traced_offsets("depthwise_opt_cmsis", Vec::new())
    );
    let three_by_five = Window {
        filter_width: 5,
        ..Window::square(3, 2, Padding::Same)
    };
    for op in [
        depthwise_window(
            &[1, 6, 7, 4],
            &[1, 6, 7, 4],
            Window::square(2, 1, Padding::Same),
        ),
        depthwise_window(
            &[1, 9, 8, 5],
            &[1, 5, 4, 5],
            Window::square(4, 2, Padding::Same),
        ),
        depthwise_window(
            &[1, 4, 5, 8],
            &[1, 4, 5, 8],
            Window::square(1, 1, Padding::Valid),
        ),
        depthwise_window(&[1, 7, 9, 3], &[1, 4, 5, 3], three_by_five),
    ] {
        assert_eq!(
            dmo_ops::cmsis_path(&op),
            dmo_ops::CmsisPath::DepthwiseOpt,
            "{op:?}"
        );
        let traced = traced_offsets("depthwise_opt_cmsis", vec![conv_poke(&op)]);
        assert_eq!(cmsis_offsets(&op), traced, "{op:?}");
    }
    // One output pixel is one step (the whole window, all channels, then every output
    // channel): u_mono = 0. Control: the reference kernel traced on the same pokes writes
    // channel 0 before reading channel 1: u_mono = the input's 50 bytes, the reference walk's.
    let one = depthwise_window(
        &[1, 5, 5, 2],
        &[1, 1, 1, 2],
        Window::square(5, 1, Padding::Valid),
    );
    assert_eq!(dmo_ops::cmsis_path(&one), dmo_ops::CmsisPath::DepthwiseOpt);
    let traced = traced_offsets("depthwise_opt_cmsis", vec![conv_poke(&one)]);
    assert_eq!(traced, vec![[0, 0, 0, 0]]);
    assert_eq!(cmsis_offsets(&one), traced);
    let reference = traced_offsets("depthwise_int8", vec![conv_poke(&one)]);
    assert_eq!(reference, vec![[0, 0, 0, 50]]);
    assert_eq!(vec![four(&simulated_pairs(&one)[0])], reference);
}

#[test]
fn fully_connected_as_conv1x1_cmsis_order_trace_matches_simulation() {
    // TFLM's FULLY_CONNECTED with an output of rank > 2 and a depth that is a multiple of 4
    // runs arm_convolve_1x1_s8_fast over the batches (fully_connected_conv1x1_cmsis). The
    // fixture's default geometry as a rank-3 output: [1, 2, 40] -> [1, 2, 12].
    let fc3 = |batches: usize, depth: usize, rows: usize| {
        OpDescription::fully_connected(FullyConnectedParams {
            input: int8(&[1, batches, depth]),
            output: int8(&[1, batches, rows]),
            accumulation_depth: depth,
        })
        .unwrap()
    };
    let default = fc3(2, 40, 12);
    assert_eq!(
        dmo_ops::cmsis_path(&default),
        dmo_ops::CmsisPath::FullyConnectedAsConv1x1
    );
    let traced = traced_offsets("fully_connected_conv1x1_cmsis", Vec::new());
    assert_eq!(cmsis_offsets(&default), traced);
    // The 1x1 closed form (docs/methods.md): s = output bytes - 2 with 12 (even) rows, u = the
    // input's bytes.
    assert_eq!(traced, vec![[22, 22, 80, 80]]);
    for op in [fc3(5, 16, 7), fc3(3, 8, 2), fc3(4, 12, 9)] {
        let traced = traced_offsets(
            "fully_connected_conv1x1_cmsis",
            vec![fully_connected_poke(&op)],
        );
        assert_eq!(cmsis_offsets(&op), traced, "{op:?}");
    }
    // Control: the other CMSIS-NN FULLY_CONNECTED path (arm_fully_connected_s8, rank-2
    // output) traced on the same pokes gives 10, as its walk predicts.
    let rank2 = fully_connected(2, 40, 12);
    let vec_mat = traced_offsets("fully_connected_cmsis", Vec::new());
    assert_eq!(cmsis_offsets(&rank2), vec_mat);
    assert_eq!(vec_mat[0][1], 10);
    assert_ne!(vec_mat, traced);
}

#[test]
fn conv_1xn_cmsis_order_is_the_generic_conv() {
    // arm_convolve_1_x_n_s8 (a 1xN filter on a 1-row input, stride_w * C % 4 == 0) calls
    // arm_convolve_s8 without MVE: the conv_cmsis kernel's trace equals the walk, hand-derived
    // in crates/ops/src/cmsis_tests.rs as [0, 0, 0, 40]; an odd pixel count and odd channels
    // too.
    let one_by = |input: &[usize], output: &[usize], width: usize| {
        conv(
            input,
            output,
            Window {
                filter_height: 1,
                filter_width: width,
                ..Window::square(1, 1, Padding::Valid)
            },
        )
    };
    let op = one_by(&[1, 1, 10, 4], &[1, 1, 8, 4], 3);
    assert_eq!(dmo_ops::cmsis_path(&op), dmo_ops::CmsisPath::Conv1xN);
    let traced = traced_offsets("conv_cmsis", vec![conv_poke(&op)]);
    assert_eq!(traced, vec![[0, 0, 0, 40]]);
    assert_eq!(cmsis_offsets(&op), traced);
    let odd = one_by(&[1, 1, 13, 8], &[1, 1, 9, 5], 5);
    assert_eq!(dmo_ops::cmsis_path(&odd), dmo_ops::CmsisPath::Conv1xN);
    let traced_odd = traced_offsets("conv_cmsis", vec![conv_poke(&odd)]);
    assert_eq!(cmsis_offsets(&odd), traced_odd);
    // Control: the reference kernel's trace on the same pokes, as the reference walk.
    let reference = traced_offsets("conv_int8", vec![conv_poke(&op)]);
    assert_eq!(vec![four(&simulated_pairs(&op)[0])], reference);
    assert_ne!(reference, traced);
}

/// One STRIDED_SLICE geometry of `fixtures/programs/strided_slice_int8.c`: the poke of its
/// parameters (fixtures/README.md) and dmo's description of it. The output shape is dmo's
/// resolution of the slice; the kernel resolves it on its own, so a wrong shape shows up as a
/// different output length in the trace.
struct Slice<'a> {
    element: ElementType,
    dims: &'a [usize],
    begin: &'a [i64],
    end: &'a [i64],
    strides: &'a [i64],
    masks: [u32; 3],
    starts: (u32, u32),
}

impl Slice<'_> {
    fn spec(&self) -> dmo_ops::SliceSpec {
        dmo_ops::SliceSpec {
            begin: self.begin.to_vec(),
            end: self.end.to_vec(),
            strides: self.strides.to_vec(),
            begin_mask: self.masks[0],
            end_mask: self.masks[1],
            shrink_axis_mask: self.masks[2],
        }
    }

    fn op(&self) -> OpDescription {
        let input = TensorShape::new(self.dims.to_vec(), self.element);
        let axes = self.spec().axes(&input).unwrap();
        let output = axes.iter().filter(|a| !a.shrink).map(|a| a.count).collect();
        OpDescription::strided_slice(input, TensorShape::new(output, self.element), &self.spec())
            .unwrap()
    }

    fn poke(&self) -> Poke {
        let padded = |values: &[i64]| {
            let mut words: Vec<u32> = values.iter().map(|&v| v as i32 as u32).collect();
            words.resize(5, 0);
            words
        };
        let dims: Vec<i64> = self.dims.iter().map(|&d| d as i64).collect();
        let mut fields = vec![
            1,
            self.starts.0,
            self.starts.1,
            self.dims.len() as u32,
            self.element.size_bytes() as u32,
        ];
        for values in [&dims[..], self.begin, self.end, self.strides] {
            fields.extend(padded(values));
        }
        fields.extend(self.masks);
        Poke {
            symbol: "dmo_params".into(),
            bytes: fields.iter().flat_map(|v| v.to_le_bytes()).collect(),
            source: "strided slice test".into(),
        }
    }
}

#[test]
fn strided_slice_in_output_order() {
    use ElementType::{Int16, Int32, Int8};
    // The fixture's default: int8 [3, 4, 6] x[::-1, 1:4, ::2] (element copies).
    let default = Slice {
        element: Int8,
        dims: &[3, 4, 6],
        begin: &[0, 1, 0],
        end: &[0, 4, 0],
        strides: &[-1, 1, 2],
        masks: [5, 5, 0],
        starts: (256, 0),
    };
    assert_same_offsets("strided_slice_int8", &default.op());
    let cases = [
        // memcpy rows (innermost stride 1) at odd addresses, every other row backwards.
        Slice {
            element: Int8,
            dims: &[2, 5, 7],
            begin: &[0, -1, 1],
            end: &[2, 0, 6],
            strides: &[1, -2, 1],
            masks: [0, 2, 0],
            starts: (301, 7),
        },
        // int16 x[2, ::-1]: axis 0 shrunk, elements backwards.
        Slice {
            element: Int16,
            dims: &[4, 6],
            begin: &[2, 0],
            end: &[3, 0],
            strides: &[1, -1],
            masks: [2, 2, 1],
            starts: (256, 0),
        },
        // int32 x[:, -2:, 1:3]: memcpy rows of two words.
        Slice {
            element: Int32,
            dims: &[2, 3, 4],
            begin: &[0, -2, 1],
            end: &[0, 3, 3],
            strides: &[1, 1, 1],
            masks: [1, 1, 0],
            starts: (512, 16),
        },
        // Rank 5 with a shrunk middle axis and a stride-3 innermost one.
        Slice {
            element: Int8,
            dims: &[2, 2, 3, 2, 7],
            begin: &[1, 0, -1, 0, 0],
            end: &[0, 2, 0, 2, 7],
            strides: &[-1, 1, 1, 1, 3],
            masks: [1, 1, 4],
            starts: (256, 0),
        },
        // Negative begin and end without masks: x[-2:-9:-3] = elements 8, 5, 2.
        Slice {
            element: Int8,
            dims: &[10],
            begin: &[-2],
            end: &[-9],
            strides: &[-3],
            masks: [0, 0, 0],
            starts: (64, 0),
        },
    ];
    for case in &cases {
        assert_same_offsets_with("strided_slice_int8", vec![case.poke()], &case.op());
    }
    // Control: the slice without the row reversal has other offsets than the fixture's trace.
    let traced = traced_pairs(&load_fixture("strided_slice_int8"), Vec::new());
    let forward = Slice {
        strides: &[1, 1, 2],
        ..default
    };
    assert_ne!(simulated_pairs(&forward.op())[0].s_mono, traced[0].s_mono);
}

#[test]
fn strided_slice_memcpy_of_one_wide_element_is_modelled_byte_by_byte() {
    // int16 [3, 2] x[::-1, 0:1]: each row is a memcpy of one element (2 bytes), of input
    // elements 4, 2, 0. The walk copies rows byte by byte (a byte-wise memcpy, e.g. newlib's
    // on unaligned data, reads input byte 9 after writing output byte 0): u_mono = 10. The
    // Cortex-M4 newlib memcpy copies the 2 bytes as one halfword, so its trace has u_mono = 6
    // (element 2 is the last read after output element 0): the walk is conservative there and
    // exact elsewhere (s_min, s_mono, u_min; and every geometry in strided_slice_in_output_order).
    let case = Slice {
        element: ElementType::Int16,
        dims: &[3, 2],
        begin: &[0, 0],
        end: &[0, 1],
        strides: &[-1, 1],
        masks: [1, 1, 0],
        starts: (256, 0),
    };
    let traced = traced_pairs(&load_fixture("strided_slice_int8"), vec![case.poke()]);
    let simulated = simulated_pairs(&case.op());
    let offsets = |pair: &PairOverlap| [pair.s_min.0, pair.s_mono.0, pair.u_min.0, pair.u_mono.0];
    assert_eq!(offsets(&traced[0]), [4, 4, 2, 6]);
    assert_eq!(offsets(&simulated[0]), [4, 4, 2, 10]);
}

#[test]
fn broadcasting_mul_in_tflms_fused_loops() {
    // fixtures/programs/mul_broadcast_int8.c: [2, 3, 4] x [2, 3, 1] and poked shapes. The
    // poke rewrites the rank and the three extended shapes (fixtures/README.md).
    let shapes: [(&[usize], &[usize], &[usize]); 6] = [
        (&[2, 3, 4], &[2, 3, 1], &[2, 3, 4]),
        // A scalar: one row, read once before every write.
        (&[3, 4], &[1, 1], &[3, 4]),
        // Outer product: input1 held per row, input2 stepped.
        (&[5, 1], &[1, 6], &[5, 6]),
        // A trailing unit axis makes its own innermost loop of one element.
        (&[2, 3, 1], &[1, 3, 1], &[2, 3, 1]),
        // Rank 5, broadcast on alternating axes.
        (&[2, 1, 3, 1, 4], &[1, 2, 3, 2, 1], &[2, 2, 3, 2, 4]),
        // Channel scaling of a 1x4x4x8 map (input1 broadcast).
        (&[1, 1, 1, 8], &[1, 4, 4, 8], &[1, 4, 4, 8]),
    ];
    let mul = |first: &[usize], second: &[usize], output: &[usize], add: bool| {
        let params = ElementwiseBinaryParams {
            input1: int8(first),
            input2: int8(second),
            output: int8(output),
        };
        if add {
            OpDescription::add(params)
        } else {
            OpDescription::mul(params)
        }
        .unwrap()
    };
    for (first, second, output) in shapes {
        let mut fields: Vec<u32> = vec![1, 256, 1024, 2048];
        // dmo_mul_params: elements, offsets 3, -7, 1, multiplier 2^30, shift -1, range.
        fields.extend([0, 3, (-7i32) as u32, 1, 1 << 30, (-1i32) as u32]);
        fields.extend([(-128i32) as u32, 127, output.len() as u32]);
        for dims in [first, second, output] {
            let mut padded: Vec<u32> = dims.iter().map(|&d| d as u32).collect();
            padded.resize(6, 1);
            fields.extend(padded);
        }
        let poke = Poke {
            symbol: "dmo_params".into(),
            bytes: fields.iter().flat_map(|v| v.to_le_bytes()).collect(),
            source: "broadcasting mul test".into(),
        };
        assert_same_offsets_with(
            "mul_broadcast_int8",
            vec![poke],
            &mul(first, second, output, false),
        );
    }
    // ADD runs the same loops (fixtures/kernels/add.c on dmo_broadcast_int8, as TFLM's
    // BroadcastAdd6DSlow): the add_int8 fixture with [1, 6, 5, 4] + [1, 6, 5, 1] traces the
    // same walk (its poke layout: fixtures/README.md). input2[r] is read once before row r
    // (output 4r..4r+3): output bytes below 4r hazard with byte r, so s_mono = max_r 4r - r
    // = 3 * 29 = 87 (a read per element, M = 4r + 3, would give 90).
    let mut fields: Vec<u32> = vec![1, 256, 512, 0];
    fields.extend([1, 6, 5, 4, 1, 6, 5, 1]);
    // The fixture's arithmetic: left shift 20, offsets 3 / -7 / 1, multipliers as its Prepare.
    fields.extend([
        20,
        3,
        1 << 30,
        (-1i32) as u32,
        (-7i32) as u32,
        1 << 30,
        0,
        1,
    ]);
    fields.extend([1431655765, (-19i32) as u32, (-128i32) as u32, 127]);
    let poke = Poke {
        symbol: "dmo_params".into(),
        bytes: fields.iter().flat_map(|v| v.to_le_bytes()).collect(),
        source: "broadcasting add test".into(),
    };
    let add = mul(&[1, 6, 5, 4], &[1, 6, 5, 1], &[1, 6, 5, 4], true);
    assert_same_offsets_with("add_int8", vec![poke], &add);
    assert_eq!(simulated_pairs(&add)[1].s_mono.0, 87);
    // Control: the model of a stepped (not held) input2 differs from the trace of the fixture.
    let traced = traced_pairs(&load_fixture("mul_broadcast_int8"), Vec::new());
    let stepped = simulated_pairs(&mul(&[2, 3, 4], &[2, 3, 4], &[2, 3, 4], false));
    assert_ne!(stepped[1].s_mono, traced[1].s_mono);
}
