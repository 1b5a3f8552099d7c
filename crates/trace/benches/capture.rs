//! Capture throughput: events per second of the full trace machinery
//! against a bare unicorn loop whose memory hook only counts, on the same
//! firmware in the same process. Variants run interleaved over several
//! rounds, so machine noise hits all of them alike; each variant's best
//! round is compared (on a shared machine, interference only ever slows a
//! run down, so the fastest round is the least disturbed), and the medians
//! are shown too.
//!
//! Run: `cargo bench -p dmo-trace --bench capture` (after `make -C fixtures`).
//! Optional: `DMO_BENCH_FIXTURE=conv_int8 DMO_BENCH_ROUNDS=7`.

use dmo_core::CountingSink;
use dmo_emu::{run, run_counting_baseline, Firmware, RunConfig};
use dmo_trace::{TraceOptions, TraceWriter};
use std::path::Path;
use std::time::Instant;

/// (best, median) of events-per-second samples.
fn best_and_median(values: &mut [f64]) -> (f64, f64) {
    values.sort_by(|a, b| a.partial_cmp(b).unwrap());
    (values[values.len() - 1], values[values.len() / 2])
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` would too.
    let fixture = std::env::var("DMO_BENCH_FIXTURE").unwrap_or_else(|_| "conv1x1".into());
    let rounds: usize = std::env::var("DMO_BENCH_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(9);
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/build/cortex-m4")
        .join(format!("{fixture}.elf"));
    let firmware = Firmware::load(&path).unwrap_or_else(|e| panic!("{e} (run `make -C fixtures`)"));
    let config = RunConfig::default();
    let dir = tempfile::tempdir().unwrap();

    let mut baseline = Vec::new();
    let mut counting = Vec::new();
    let mut tracing = Vec::new();
    let mut events = 0;
    let mut trace_bytes = 0;
    for round in 0..rounds {
        let start = Instant::now();
        let outcome = run_counting_baseline(&firmware, &config).unwrap();
        let seconds = start.elapsed().as_secs_f64();
        assert!(outcome.status.is_complete());
        events = outcome.stats.events;
        baseline.push(events as f64 / seconds);

        let start = Instant::now();
        let mut sink = CountingSink::default();
        let outcome = run(&firmware, &config, &mut sink).unwrap();
        let seconds = start.elapsed().as_secs_f64();
        assert_eq!(outcome.stats.events, events, "same firmware, same events");
        counting.push(events as f64 / seconds);

        let trace_path = dir.path().join(format!("round{round}.dmotrace"));
        let start = Instant::now();
        let mut writer = TraceWriter::create(&trace_path, TraceOptions::default()).unwrap();
        let outcome = run(&firmware, &config, &mut writer).unwrap();
        let summary = writer
            .finish(outcome.record(&firmware, config.cpu).into())
            .unwrap();
        let seconds = start.elapsed().as_secs_f64();
        trace_bytes = summary.file_bytes;
        tracing.push(events as f64 / seconds);
        std::fs::remove_file(&trace_path).unwrap();
    }
    let (baseline_best, baseline_median) = best_and_median(&mut baseline);
    let rows = [
        (
            "dmo emulator, counting sink (exact PCs, ops, budget)",
            best_and_median(&mut counting),
        ),
        (
            "dmo trace, written to a file",
            best_and_median(&mut tracing),
        ),
    ];
    println!(
        "capture throughput, {fixture}.elf on cortex-m4, {events} events, {rounds} interleaved rounds"
    );
    println!(
        "| variant | best M events/s | vs bare (best) | median M events/s | vs bare (median) |"
    );
    println!("|---|---|---|---|---|");
    println!(
        "| bare unicorn, counting hook (baseline) | {:.2} | 1.00x | {:.2} | 1.00x |",
        baseline_best / 1e6,
        baseline_median / 1e6
    );
    for (name, (best, median)) in rows {
        println!(
            "| {name} | {:.2} | {:.2}x | {:.2} | {:.2}x |",
            best / 1e6,
            best / baseline_best,
            median / 1e6,
            median / baseline_median
        );
    }
    println!(
        "trace file: {trace_bytes} bytes, {:.2} bytes/event",
        trace_bytes as f64 / events as f64
    );
}
