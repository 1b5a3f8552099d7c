//! Liveness, buffer discovery and pair mining over a trace file holding the
//! worked example of `shared/DESIGN.md`: a 1x1 CONV_2D, input 48x48x8 int8,
//! output 48x48x16, in TFLM's reference loop order. DESIGN.md gives
//! s_mono = 8*2303 + 15 = 18439, checked there against TFLM itself.

use dmo_core::{
    AccessKind, Address, Buffer, BufferRole, EventClock, EventSink, EventTime, MemoryRegion,
    RegionKind, Symbol, SymbolKind, TimeRange,
};
use dmo_trace::{
    BufferDiscovery, ByteRange, LivenessReport, PairMiner, TraceMetadata, TraceOptions,
    TraceReader, TraceWriter,
};
use std::path::Path;

const PIXELS: u32 = 48 * 48;
const IN_CHANNELS: u32 = 8;
const OUT_CHANNELS: u32 = 16;
const INPUT: u32 = 0x2000_1000;
const OUTPUT: u32 = 0x2000_8000;
const FILTER: u32 = 0x0800_2000;
const BIAS: u32 = 0x0800_3000;
const STACK_SLOT: u32 = 0x2001_fff0;
/// The fill op writes the input as 4608 words at times 0..4608.
const CONV_START: u64 = (PIXELS * IN_CHANNELS / 4) as u64;
/// Per pixel: a push, 16 x (8 input + 8 filter reads interleaved, a bias
/// read, the output write), a pop.
const EVENTS_PER_PIXEL: u64 = 1 + 16 * 18 + 1;

fn metadata() -> TraceMetadata {
    let region = |name: &str, start: u32, len: u32, kind| MemoryRegion {
        name: name.to_string(),
        start: Address(start),
        len,
        kind,
    };
    let symbol = |name: &str, address: u32, size: u32| Symbol {
        name: name.to_string(),
        address: Address(address),
        size,
        kind: SymbolKind::Object,
    };
    TraceMetadata {
        memory_map: vec![
            region("flash", 0x0800_0000, 0x10_0000, RegionKind::Flash),
            region("sram", 0x2000_0000, 0x2_0000, RegionKind::Ram),
            region("stack", 0x2001_f000, 0x1000, RegionKind::Stack),
        ],
        symbols: vec![
            symbol("tensor_arena", 0x2000_0000, 0x1_8000),
            symbol("conv_filter", FILTER, 128),
            symbol("conv_bias", BIAS, 64),
        ],
        ..TraceMetadata::default()
    }
}

fn buffer(name: &str, start: u32, len: u32, role: BufferRole) -> Buffer {
    Buffer {
        name: name.to_string(),
        start: Address(start),
        len,
        role,
    }
}

fn conv_markers() -> Vec<Buffer> {
    vec![
        buffer("input", INPUT, PIXELS * IN_CHANNELS, BufferRole::Input),
        buffer("output", OUTPUT, PIXELS * OUT_CHANNELS, BufferRole::Output),
        buffer(
            "filter",
            FILTER,
            IN_CHANNELS * OUT_CHANNELS,
            BufferRole::Weights,
        ),
    ]
}

fn emit_run(sink: &mut dyn EventSink) -> u64 {
    let mut clock = EventClock::new(sink);
    clock.begin_op("fill", "QUANTIZE", &[]);
    for word in 0..PIXELS * IN_CHANNELS / 4 {
        clock.access(0x0800_0100, INPUT + 4 * word, 4, AccessKind::Write);
    }
    clock.end_op();
    assert_eq!(clock.now().0, CONV_START);
    clock.begin_op("conv", "CONV_2D", &conv_markers());
    for pixel in 0..PIXELS {
        clock.access(0x0800_0200, STACK_SLOT, 4, AccessKind::Write);
        for out_channel in 0..OUT_CHANNELS {
            for in_channel in 0..IN_CHANNELS {
                let input = INPUT + pixel * IN_CHANNELS + in_channel;
                let filter = FILTER + out_channel * IN_CHANNELS + in_channel;
                clock.access(0x0800_0210, input, 1, AccessKind::Read);
                clock.access(0x0800_0214, filter, 1, AccessKind::Read);
            }
            clock.access(0x0800_0220, BIAS + 4 * out_channel, 4, AccessKind::Read);
            let output = OUTPUT + pixel * OUT_CHANNELS + out_channel;
            clock.access(0x0800_0230, output, 1, AccessKind::Write);
        }
        clock.access(0x0800_0240, STACK_SLOT, 4, AccessKind::Read);
    }
    clock.end_op();
    clock.now().0
}

fn write_trace(path: &Path) -> u64 {
    let mut writer = TraceWriter::create(path, TraceOptions::default()).unwrap();
    let end = emit_run(&mut writer);
    writer.finish(metadata()).unwrap();
    end
}

#[test]
fn worked_example_s_mono_from_the_trace_file() {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("conv1x1.dmotrace");
    write_trace(&path);
    let reader = TraceReader::open(&path).unwrap();
    let results = PairMiner::of_trace(&reader, reader.segments()).unwrap();
    // The fill op has an output only: no pair. The conv has one pair.
    assert_eq!(results.len(), 1);
    let conv = &results[0];
    assert_eq!((conv.op_name.as_str(), conv.segment_index), ("conv", 1));
    assert_eq!(conv.overlap.s_mono.0, 18439);
    // Up: output byte 0 is written while every input byte still has reads
    // ahead, so any u < 18432 puts it on a live input byte.
    assert_eq!(conv.overlap.u_min.0, 18432);
    assert_eq!(conv.overlap.u_mono.0, 18432);
    // The pair needs 36871 bytes instead of 55296 (DESIGN.md).
    assert_eq!(conv.overlap.best_monotone().footprint.0, 36871);

    // Mining the conv segment alone (skipping the fill's blocks) agrees,
    // apart from its position among the segments.
    let alone = PairMiner::of_segment(&reader, &reader.segments()[1]).unwrap();
    assert_eq!(alone.len(), 1);
    assert_eq!(alone[0].segment_index, 0);
    assert_eq!(
        (&alone[0].input, &alone[0].output, alone[0].overlap),
        (&conv.input, &conv.output, conv.overlap)
    );
}

#[test]
fn discovery_finds_the_marked_buffers() {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("conv1x1.dmotrace");
    write_trace(&path);
    let reader = TraceReader::open(&path).unwrap();
    let found = BufferDiscovery::of_trace(&reader).unwrap();
    assert_eq!(found.len(), 2);
    assert_eq!(found[0].time, reader.segments()[0].time);
    assert_eq!(found[1].time, reader.segments()[1].time);
    // Stack traffic is left out; flash reads are weights (filter and bias).
    assert_eq!(
        found[1].buffers,
        vec![
            buffer("tensor_arena+0x1000", INPUT, 18432, BufferRole::Input),
            buffer("tensor_arena+0x8000", OUTPUT, 36864, BufferRole::Output),
            buffer("conv_filter", FILTER, 128, BufferRole::Weights),
            buffer("conv_bias", BIAS, 64, BufferRole::Weights),
        ]
    );
    // Same ranges and roles as the markers (names differ: found ones are
    // symbol-relative).
    let ranges = |buffers: &[Buffer]| -> Vec<(Address, u32, BufferRole)> {
        buffers
            .iter()
            .filter(|b| b.role != BufferRole::Weights)
            .map(|b| (b.start, b.len, b.role))
            .collect()
    };
    assert_eq!(
        ranges(&found[1].buffers),
        ranges(&reader.segments()[1].buffers)
    );

    // Mining the discovered segments gives the same answer as the markers.
    let results = PairMiner::of_trace(&reader, &found).unwrap();
    assert_eq!(results.len(), 1);
    assert_eq!(results[0].overlap.s_mono.0, 18439);
}

#[test]
fn liveness_of_input_and_output_bytes() {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("conv1x1.dmotrace");
    let end = write_trace(&path);
    let reader = TraceReader::open(&path).unwrap();
    let all = TimeRange::new(EventTime(0), EventTime(end));
    let ranges = [
        ByteRange::new(Address(INPUT), PIXELS * IN_CHANNELS),
        ByteRange::new(Address(OUTPUT), PIXELS * OUT_CHANNELS),
    ];
    let report = LivenessReport::of_trace(&reader, &ranges, all).unwrap();
    // Input byte i = 8p + c is written by word i/4 at time i/4 and last read
    // in pixel p, output channel 15, at
    // CONV_START + 290p + 1 + 18*15 + 2c. Every byte's window is distinct.
    assert_eq!(report.windows.len(), 18432);
    for (p, c) in [(0u64, 0u64), (0, 7), (1, 3), (2303, 7)] {
        let i = 8 * p + c;
        let window = report
            .windows
            .iter()
            .find(|w| w.bytes.start.0 as u64 == INPUT as u64 + i)
            .unwrap();
        assert_eq!(window.bytes.len, 1);
        assert_eq!(window.written, Some(EventTime(i / 4)));
        assert_eq!(
            window.last_read,
            Some(EventTime(
                CONV_START + EVENTS_PER_PIXEL * p + 1 + 18 * 15 + 2 * c
            ))
        );
    }
    // Output bytes are written and never read in this run: dead stores, one
    // per byte (their write times all differ).
    assert_eq!(report.dead_stores.len(), 36864);
    assert!(report.initial_reads.is_empty());

    // Restricted to the last pixel's time, only its input bytes are live
    // (plus the output bytes written then).
    let last_pixel_start = CONV_START + EVENTS_PER_PIXEL * 2303;
    let late = TimeRange::new(EventTime(last_pixel_start), EventTime(end));
    let report = LivenessReport::of_trace(&reader, &ranges, late).unwrap();
    assert_eq!(report.windows.len(), 8);
    assert_eq!(report.dead_stores.len(), 16);
}
