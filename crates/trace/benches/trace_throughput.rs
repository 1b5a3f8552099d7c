//! Writer and reader throughput on a conv-like stream, and its size per event.
//! Run: `cargo bench -p dmo-trace --bench trace_throughput`.

#[path = "../tests/support/synthetic.rs"]
mod synthetic;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use dmo_core::{Address, CountingSink, EventTime, TimeRange};
use dmo_trace::{
    ByteRange, LivenessTracker, PairMiner, TraceMetadata, TraceOptions, TraceReader, TraceWriter,
};
use synthetic::{emit_conv, ConvShape};

/// 24x24x8 in, 22x22x16 out: 7744 outputs x 154 events = 1.19 M events.
const SHAPE: ConvShape = ConvShape {
    height: 24,
    width: 24,
    in_channels: 8,
    out_channels: 16,
};

fn write_trace(path: &std::path::Path) -> dmo_trace::TraceSummary {
    let mut writer = TraceWriter::create(path, TraceOptions::default()).expect("create trace");
    emit_conv(&mut writer, SHAPE, 0);
    writer
        .finish(TraceMetadata::default())
        .expect("finish trace")
}

fn benchmarks(criterion: &mut Criterion) {
    let directory = tempfile::tempdir().expect("temporary directory");
    let path = directory.path().join("conv.dmotrace");
    let summary = write_trace(&path);
    eprintln!(
        "conv-like stream: {} events, {} event bytes, {:.3} bytes/event, file {} bytes",
        summary.events,
        summary.event_bytes,
        summary.bytes_per_event(),
        summary.file_bytes
    );

    let mut group = criterion.benchmark_group("trace");
    group.throughput(Throughput::Elements(SHAPE.event_count()));
    group.sample_size(20);
    group.bench_function("generate_only", |bencher| {
        bencher.iter(|| {
            let mut counter = CountingSink::default();
            emit_conv(&mut counter, SHAPE, 0);
            counter
        })
    });
    group.bench_function("write", |bencher| bencher.iter(|| write_trace(&path)));
    let reader = TraceReader::open(&path).expect("open trace");
    group.bench_function("read_blocks", |bencher| {
        bencher.iter(|| {
            let mut blocks = reader.blocks().expect("blocks");
            let mut events = 0usize;
            while let Some(block) = blocks.next_block().expect("block") {
                events += block.len();
            }
            events
        })
    });
    group.bench_function("read_events_iterator", |bencher| {
        bencher.iter(|| {
            reader
                .events()
                .expect("events")
                .map(|event| event.expect("event").size as u64)
                .sum::<u64>()
        })
    });
    group.bench_function("replay_into_counter", |bencher| {
        bencher.iter(|| {
            let mut counter = CountingSink::default();
            reader.replay(&mut counter).expect("replay");
            counter
        })
    });
    group.bench_function("liveness_of_input_and_output", |bencher| {
        let ranges = [
            ByteRange::new(Address(synthetic::INPUT_BASE), SHAPE.input_len()),
            ByteRange::new(Address(synthetic::OUTPUT_BASE), SHAPE.output_len()),
        ];
        let all = TimeRange::new(EventTime(0), EventTime(u64::MAX));
        bencher.iter(|| {
            let mut windows = 0u64;
            let mut tracker = LivenessTracker::new(&ranges, all, |_| windows += 1);
            reader.replay(&mut tracker).expect("replay");
            tracker.finish();
            windows
        })
    });
    group.bench_function("pair_miner", |bencher| {
        bencher.iter(|| PairMiner::of_trace(&reader, reader.segments()).expect("mine"))
    });
    group.finish();
}

criterion_group!(benches, benchmarks);
criterion_main!(benches);
