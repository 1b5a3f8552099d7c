//! Time per operator of each method on person_detect's layer shapes
//! (MobileNetV1-0.25, 96x96x1 int8) and on MobileNetV2-224-sized layers.
//! `cargo bench -p dmo-ops --bench simulate`.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use dmo_ops::{
    analytic, simulate, simulate_access_times, Conv2dParams, DepthwiseConv2dParams, OpDescription,
    Padding, TensorShape, Window,
};
use std::hint::black_box;

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

criterion_group!(benches, per_op);
criterion_main!(benches);
