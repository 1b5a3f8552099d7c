//! Time per operator of each method on person_detect's layer shapes
//! (MobileNetV1-0.25, 96x96x1 int8) and on MobileNetV2-224-sized layers.
//! `cargo bench -p dmo-ops --bench simulate`.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use dmo_ops::{
    analytic, evaluate_all, simulate, simulate_access_times, Conv2dParams, DepthwiseConv2dParams,
    ElementwiseBinaryParams, FullyConnectedParams, Method, OpDescription, Padding, Pool2dParams,
    TensorShape, Window,
};
use std::hint::black_box;

#[path = "../tests/support/fixtures.rs"]
mod fixtures;

fn conv(input: [usize; 3], output: [usize; 3], filter: usize, stride: usize) -> OpDescription {
    OpDescription::conv2d(Conv2dParams {
        input: TensorShape::int8(&[1, input[0], input[1], input[2]]),
        output: TensorShape::int8(&[1, output[0], output[1], output[2]]),
        window: Window::square(filter, stride, Padding::Same),
        filter_input_channels: None,
    })
    .expect("valid conv")
}

fn depthwise(input: [usize; 3], stride: usize) -> OpDescription {
    let out = input[0].div_ceil(stride);
    OpDescription::depthwise_conv2d(DepthwiseConv2dParams {
        input: TensorShape::int8(&[1, input[0], input[1], input[2]]),
        output: TensorShape::int8(&[1, out, input[1].div_ceil(stride), input[2]]),
        window: Window::square(3, stride, Padding::Same),
        depth_multiplier: 1,
    })
    .expect("valid depthwise conv")
}

/// (name, op): the first layers of person_detect and some MobileNetV2-224
/// layers with tensors of up to 1.2 MB.
fn layers() -> Vec<(&'static str, OpDescription)> {
    vec![
        (
            "pd_conv3x3s2_96x96x1_48x48x8",
            conv([96, 96, 1], [48, 48, 8], 3, 2),
        ),
        ("pd_dw3x3_48x48x8", depthwise([48, 48, 8], 1)),
        (
            "pd_conv1x1_48x48x8_16",
            conv([48, 48, 8], [48, 48, 16], 1, 1),
        ),
        ("pd_dw3x3s2_48x48x16", depthwise([48, 48, 16], 2)),
        (
            "pd_conv1x1_24x24x16_32",
            conv([24, 24, 16], [24, 24, 32], 1, 1),
        ),
        (
            "pd_conv1x1_6x6x128_128",
            conv([6, 6, 128], [6, 6, 128], 1, 1),
        ),
        (
            "v2_conv3x3s2_224x224x3_112x112x32",
            conv([224, 224, 3], [112, 112, 32], 3, 2),
        ),
        (
            "v2_conv1x1_112x112x32_16",
            conv([112, 112, 32], [112, 112, 16], 1, 1),
        ),
        (
            "v2_conv1x1_112x112x16_96",
            conv([112, 112, 16], [112, 112, 96], 1, 1),
        ),
        ("v2_dw3x3s2_112x112x96", depthwise([112, 112, 96], 2)),
    ]
}

fn per_op(c: &mut Criterion) {
    let mut group = c.benchmark_group("per_op");
    group.sample_size(10);
    for (name, op) in layers() {
        group.bench_with_input(BenchmarkId::new("access_times", name), &op, |b, op| {
            b.iter(|| simulate_access_times(black_box(op)).expect("modelled"))
        });
        group.bench_with_input(BenchmarkId::new("simulate", name), &op, |b, op| {
            b.iter(|| simulate(black_box(op)))
        });
        group.bench_with_input(BenchmarkId::new("analytic", name), &op, |b, op| {
            b.iter(|| analytic(black_box(op)))
        });
    }
    group.finish();
}

/// Every activation op of MobileNetV2 1.0 at 224x224 (int8), in order: the
/// 3x3 stem, 17 inverted-residual blocks (expand 1x1, depthwise 3x3,
/// project 1x1, residual ADD), the 1x1 head, the 7x7 average pool and the
/// classifier. The largest tensor, 112x112x96, is 1.2 MB.
fn mobilenet_v2_ops() -> Vec<OpDescription> {
    let mut ops = vec![conv([224, 224, 3], [112, 112, 32], 3, 2)];
    let mut size = 112;
    let mut channels = 32;
    // (expansion t, output channels c, repeats n, first stride s)
    let stages = [
        (1, 16, 1, 1),
        (6, 24, 2, 2),
        (6, 32, 3, 2),
        (6, 64, 4, 2),
        (6, 96, 3, 1),
        (6, 160, 3, 2),
        (6, 320, 1, 1),
    ];
    for (expansion, out_channels, repeats, first_stride) in stages {
        for repeat in 0..repeats {
            let stride = if repeat == 0 { first_stride } else { 1 };
            let hidden = channels * expansion;
            if expansion != 1 {
                ops.push(conv([size, size, channels], [size, size, hidden], 1, 1));
            }
            ops.push(depthwise([size, size, hidden], stride));
            let out_size = size.div_ceil(stride);
            ops.push(conv(
                [out_size, out_size, hidden],
                [out_size, out_size, out_channels],
                1,
                1,
            ));
            if stride == 1 && channels == out_channels {
                let shape = TensorShape::int8(&[1, size, size, channels]);
                ops.push(
                    OpDescription::add(ElementwiseBinaryParams {
                        input1: shape.clone(),
                        input2: shape.clone(),
                        output: shape,
                    })
                    .expect("valid add"),
                );
            }
            size = out_size;
            channels = out_channels;
        }
    }
    ops.push(conv([7, 7, 320], [7, 7, 1280], 1, 1));
    ops.push(
        OpDescription::average_pool2d(Pool2dParams {
            input: TensorShape::int8(&[1, 7, 7, 1280]),
            output: TensorShape::int8(&[1, 1, 1, 1280]),
            window: Window::square(7, 1, Padding::Valid),
        })
        .expect("valid pool"),
    );
    ops.push(
        OpDescription::fully_connected(FullyConnectedParams {
            input: TensorShape::int8(&[1, 1280]),
            output: TensorShape::int8(&[1, 1000]),
            accumulation_depth: 1280,
        })
        .expect("valid fully connected"),
    );
    ops
}

fn whole_model(c: &mut Criterion) {
    let ops = mobilenet_v2_ops();
    let mut group = c.benchmark_group("mobilenet_v2_224");
    group.sample_size(10);
    group.bench_function("simulate_all_ops_parallel", |b| {
        b.iter(|| evaluate_all(black_box(&ops), Method::Simulate))
    });
    group.bench_function("access_times_all_ops_sequential", |b| {
        b.iter(|| {
            for op in &ops {
                black_box(simulate_access_times(black_box(op)).expect("modelled"));
            }
        })
    });
    group.bench_function("analytic_all_ops", |b| {
        b.iter(|| evaluate_all(black_box(&ops), Method::Analytic))
    });
    group.finish();
}

/// Method 1 on the same layers: the compiled C reference kernel
/// (`fixtures/`, Cortex-M4) emulated with its parameters poked to the
/// layer's shape, its trace mined pair by pair. Needs `make -C fixtures`.
fn emulated_trace(c: &mut Criterion) {
    let mut group = c.benchmark_group("per_op");
    group.sample_size(10);
    let layers = layers();
    for (name, fixture) in [
        ("pd_conv3x3s2_96x96x1_48x48x8", "conv_int8"),
        ("pd_dw3x3_48x48x8", "depthwise_int8"),
        ("pd_conv1x1_48x48x8_16", "conv1x1"),
    ] {
        let op = &layers
            .iter()
            .find(|(layer, _)| *layer == name)
            .expect("listed layer")
            .1;
        let firmware = fixtures::load_fixture(fixture);
        let pokes = vec![fixtures::conv_poke(op)];
        group.bench_function(BenchmarkId::new("emulated_trace", name), |b| {
            b.iter(|| fixtures::traced_pairs(&firmware, pokes.clone()))
        });
    }
    group.finish();
}

criterion_group!(benches, per_op, emulated_trace, whole_model);
criterion_main!(benches);
