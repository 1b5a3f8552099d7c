//! Rendering time of each figure kind on a synthetic trace of
//! `DMO_PLOT_BENCH_OPS` pointwise convolutions (default 16: 10^7 events;
//! 160 gives 10^8), PNG at the default 1200x750.

use criterion::{criterion_group, criterion_main, Criterion};
use dmo_plot::{render_to_file, FigureKind, FigureRequest};
use dmo_trace::TraceReader;

#[path = "../examples/synthetic_trace.rs"]
mod synthetic_trace;

fn render(c: &mut Criterion) {
    let ops: u32 = std::env::var("DMO_PLOT_BENCH_OPS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(16);
    let dir = tempfile::tempdir().unwrap();
    let trace_path = dir.path().join("chain.dmotrace");
    let events = synthetic_trace::write_pointwise_chain(&trace_path, ops);
    let reader = TraceReader::open(&trace_path).unwrap();
    let mut group = c.benchmark_group(format!("render_{events}_events"));
    group.sample_size(10);
    for kind in [
        FigureKind::Access,
        FigureKind::Liveness,
        FigureKind::Overlap,
        FigureKind::Layout,
    ] {
        let out = dir.path().join(format!("{}.png", kind.as_str()));
        let request = FigureRequest::new(kind);
        group.bench_function(kind.as_str(), |b| {
            b.iter(|| render_to_file(&reader, &request, &out, true).unwrap())
        });
    }
    group.finish();
}

criterion_group!(benches, render);
criterion_main!(benches);
