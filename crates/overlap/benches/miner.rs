//! Speed of the miner on 100 KB input x 100 KB output pairs (target: under
//! 1 s each on the 2-core machine), and of the brute-force reference at a
//! smaller size for the ratio.
//!
//! Run: `cargo bench -p dmo-overlap --features reference --bench miner`

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use dmo_core::EventTime;
use dmo_overlap::{mine_pair, reference, s_mono};
use std::hint::black_box;
use std::time::Duration;

type Times = Vec<Option<EventTime>>;

/// A 3x3 CONV_2D, stride 1, SAME padding, `height x width x channels` int8 in
/// and out, in TFLM's reference order: per output pixel and out channel, read
/// the window (padding skipped), then write the output byte. Diagonal.
fn conv3x3(height: usize, width: usize, channels: usize) -> (Times, Times) {
    let input_len = height * width * channels;
    let mut last_read = vec![None; input_len];
    let mut first_access = vec![None; input_len];
    let mut now = 0u64;
    for out_y in 0..height {
        for out_x in 0..width {
            for out_c in 0..channels {
                for filter_y in 0..3 {
                    for filter_x in 0..3 {
                        let (in_y, in_x) = (out_y + filter_y, out_x + filter_x);
                        if in_y < 1 || in_x < 1 || in_y > height || in_x > width {
                            continue;
                        }
                        let pixel = ((in_y - 1) * width + (in_x - 1)) * channels;
                        for in_c in 0..channels {
                            last_read[pixel + in_c] = Some(EventTime(now));
                            now += 1;
                        }
                    }
                }
                first_access[(out_y * width + out_x) * channels + out_c] = Some(EventTime(now));
                now += 1;
            }
        }
    }
    (last_read, first_access)
}

/// Random times, about one byte in ten untouched: no structure at all.
fn random(input_len: usize, output_len: usize, seed: u64) -> (Times, Times) {
    let mut state = seed;
    let mut next = move || {
        // xorshift64*
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        state.wrapping_mul(0x2545_f491_4f6c_dd1d)
    };
    let mut times = |len: usize| -> Times {
        (0..len)
            .map(|_| {
                let value = next();
                (value % 10 != 0).then_some(EventTime(value >> 40))
            })
            .collect()
    };
    let last_read = times(input_len);
    let first_access = times(output_len);
    (last_read, first_access)
}

/// FULLY_CONNECTED order: every output but the last is written while every
/// input is still live, the densest hazard set there is.
fn fully_connected(input_len: usize, output_len: usize) -> (Times, Times) {
    let per_output = input_len as u64 + 1;
    let last = (output_len as u64 - 1) * per_output;
    let last_read = (0..input_len)
        .map(|i| Some(EventTime(last + i as u64)))
        .collect();
    let first_access = (0..output_len)
        .map(|c| Some(EventTime(c as u64 * per_output + input_len as u64)))
        .collect();
    (last_read, first_access)
}

fn large_pairs(c: &mut Criterion) {
    let cases = [
        ("conv3x3_64x50x32", conv3x3(64, 50, 32)),
        (
            "random_100k",
            random(102_400, 102_400, 0x9e37_79b9_7f4a_7c15),
        ),
        ("fully_connected_100k", fully_connected(102_400, 102_400)),
    ];
    let mut group = c.benchmark_group("mine_pair_100KB");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(10));
    for (name, (last_read, first_access)) in &cases {
        group.bench_with_input(BenchmarkId::from_parameter(name), &(), |b, _| {
            b.iter(|| mine_pair(black_box(last_read), black_box(first_access)))
        });
    }
    group.finish();
    let mut group = c.benchmark_group("s_mono_100KB");
    for (name, (last_read, first_access)) in &cases {
        group.bench_with_input(BenchmarkId::from_parameter(name), &(), |b, _| {
            b.iter(|| s_mono(black_box(last_read), black_box(first_access)))
        });
    }
    group.finish();
}

fn against_reference(c: &mut Criterion) {
    let cases = [
        ("conv3x3_16x16x16", conv3x3(16, 16, 16)),
        ("random_4k", random(4096, 4096, 7)),
    ];
    let mut group = c.benchmark_group("4KB_fast_vs_brute_force");
    group.sample_size(10);
    for (name, (last_read, first_access)) in &cases {
        group.bench_with_input(BenchmarkId::new("mine_pair", name), &(), |b, _| {
            b.iter(|| mine_pair(black_box(last_read), black_box(first_access)))
        });
        group.bench_with_input(BenchmarkId::new("brute_force", name), &(), |b, _| {
            b.iter(|| reference::offsets(black_box(last_read), black_box(first_access)))
        });
    }
    group.finish();
}

criterion_group!(benches, large_pairs, against_reference);
criterion_main!(benches);
