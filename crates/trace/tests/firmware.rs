//! Traces of the C fixtures (`make -C fixtures`) run under `dmo-emu`: the
//! file round-trips the emulator's events exactly, stays small, and the
//! analyses agree with the firmware's own markers and with DESIGN.md.

use dmo_core::{
    Address, Buffer, BufferRole, CpuModel, Event, EventSink, FanOut, OpSegment, RegionKind,
};
use dmo_emu::{run, Firmware, RunConfig, RunOutcome};
use dmo_trace::{BufferDiscovery, PairMiner, TraceOptions, TraceReader, TraceWriter};
use std::path::{Path, PathBuf};

fn fixture(name: &str) -> PathBuf {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/build/cortex-m4")
        .join(format!("{name}.elf"));
    assert!(
        path.exists(),
        "{} is missing: run `make -C fixtures` first (scripts/test.sh does)",
        path.display()
    );
    path
}

#[derive(Default)]
struct Collect(Vec<Event>);

impl EventSink for Collect {
    fn event(&mut self, event: &Event) {
        self.0.push(*event);
    }
}

/// Runs `name`, writing its trace to `path`; returns the outcome and the
/// events as the emulator sent them.
fn trace_fixture(name: &str, path: &Path) -> (RunOutcome, Vec<Event>) {
    let firmware = Firmware::load(&fixture(name)).unwrap();
    let config = RunConfig {
        cpu: CpuModel::CortexM4,
        max_instructions: 200_000_000,
        ..RunConfig::default()
    };
    let mut writer = TraceWriter::create(path, TraceOptions::default()).unwrap();
    let mut direct = Collect::default();
    let outcome = run(
        &firmware,
        &config,
        &mut FanOut {
            first: &mut writer,
            second: &mut direct,
        },
    )
    .unwrap();
    assert!(outcome.status.is_complete(), "{name}: {:?}", outcome.status);
    let summary = writer
        .finish(outcome.record(&firmware, CpuModel::CortexM4).into())
        .unwrap();
    eprintln!(
        "{name}: {} events, {} event bytes, {:.3} bytes/event",
        summary.events,
        summary.event_bytes,
        summary.bytes_per_event()
    );
    // The size target.
    assert!(
        summary.bytes_per_event() <= 4.0,
        "{name}: {:.3} bytes/event",
        summary.bytes_per_event()
    );
    (outcome, direct.0)
}

#[test]
fn fixture_traces_round_trip_exactly() {
    let directory = tempfile::tempdir().unwrap();
    for name in ["tiny_cnn", "conv1x1", "softmax_int8", "add_int8"] {
        let path = directory.path().join(format!("{name}.dmotrace"));
        let (outcome, direct) = trace_fixture(name, &path);
        let reader = TraceReader::open(&path).unwrap();
        assert_eq!(reader.event_count(), direct.len() as u64);
        let read: Vec<Event> = reader.events().unwrap().map(Result::unwrap).collect();
        assert!(read == direct, "{name}: events differ after the round trip");
        assert_eq!(reader.segments(), outcome.ops.as_slice(), "{name}");
    }
}

#[test]
fn conv1x1_firmware_gives_the_worked_example() {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("conv1x1.dmotrace");
    trace_fixture("conv1x1", &path);
    let reader = TraceReader::open(&path).unwrap();
    let results = PairMiner::of_trace(&reader, reader.segments()).unwrap();
    let conv: Vec<_> = results.iter().filter(|r| r.op_kind == "CONV_2D").collect();
    assert_eq!(conv.len(), 1);
    // DESIGN.md: s_mono = 8*2303 + 15, checked against TFLM.
    assert_eq!(conv[0].overlap.s_mono.0, 18439);
}

#[test]
fn tiny_cnn_discovery_matches_the_markers() {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("tiny_cnn.dmotrace");
    trace_fixture("tiny_cnn", &path);
    discovery_matches_the_markers(&path, 6);
}

/// Kernels with scratch buffers in RAM (the markers declare them with
/// `DMO_SCRATCH`): discovery finds them as scratch, not as outputs, and the
/// marked outputs as outputs. The markers also tag SVDF's and LSTM's state
/// (variable tensors, kept across calls) as scratch; discovery sees a state
/// read from before the op and written, so those may be found as inputs and
/// outputs: found scratch must lie inside the marked scratch, and cover every
/// marked scratch buffer that is not a state. (The fixtures' inputs come
/// from the harness, outside any op, so discovery calls them constants; only
/// the written buffers are compared here.)
#[test]
fn scratch_buffers_are_discovered_as_the_markers_declare_them() {
    let directory = tempfile::tempdir().unwrap();
    for name in ["svdf_int8", "lstm_int8"] {
        let path = directory.path().join(format!("{name}.dmotrace"));
        trace_fixture(name, &path);
        let reader = TraceReader::open(&path).unwrap();
        let found = BufferDiscovery::of_trace(&reader).unwrap();
        let bytes_where = |segment: &OpSegment, keep: &dyn Fn(&Buffer) -> bool| -> Vec<u32> {
            let mut bytes: Vec<u32> = segment
                .buffers
                .iter()
                .filter(|b| keep(b))
                .flat_map(|b| b.start.0..b.start.0 + b.len)
                .collect();
            bytes.sort_unstable();
            bytes
        };
        let bytes = |segment: &OpSegment, role: BufferRole| {
            bytes_where(segment, &|b: &Buffer| b.role == role)
        };
        let mut scratch_ops = 0;
        for (marked, found) in reader.segments().iter().zip(&found) {
            let marked_scratch = bytes(marked, BufferRole::Scratch);
            let found_scratch = bytes(found, BufferRole::Scratch);
            let not_state = bytes_where(marked, &|b: &Buffer| {
                b.role == BufferRole::Scratch && !b.name.ends_with("state")
            });
            for byte in &found_scratch {
                assert!(
                    marked_scratch.binary_search(byte).is_ok(),
                    "{name} {}: found scratch byte 0x{byte:08x} is not marked scratch",
                    marked.name
                );
            }
            // The markers may declare more than the op touches (the LSTM
            // fixture declares 2 x cells x 2 bytes per gate buffer and one
            // batch uses half): of the bytes the op wrote, each marked scratch
            // byte is found as scratch, not as an output.
            let found_outputs = bytes(found, BufferRole::Output);
            for byte in &not_state {
                assert!(
                    found_outputs.binary_search(byte).is_err(),
                    "{name} {}: marked scratch byte 0x{byte:08x} found as an output",
                    marked.name
                );
            }
            scratch_ops += usize::from(!found_scratch.is_empty());
            // Every marked output byte is found as an output.
            let found_outputs = bytes(found, BufferRole::Output);
            for byte in bytes(marked, BufferRole::Output) {
                assert!(
                    found_outputs.binary_search(&byte).is_ok(),
                    "{name} {}: output byte 0x{byte:08x}",
                    marked.name
                );
            }
        }
        // Control: an answer without any scratch (every written byte an
        // output, as before scratch was told apart) fails here.
        assert!(scratch_ops > 0, "{name}");
    }
}

/// Every buffer the markers declare is found with its role, what discovery
/// adds is flash constants, and mining the found buffers gives the markers'
/// `pairs` answers.
fn discovery_matches_the_markers(path: &std::path::Path, pairs: usize) {
    let reader = TraceReader::open(path).unwrap();
    let found = BufferDiscovery::of_trace(&reader).unwrap();
    let flash = |address: Address| {
        reader
            .metadata()
            .region_of(address)
            .is_some_and(|region| region.kind == RegionKind::Flash)
    };
    assert_eq!(found.len(), reader.segments().len());
    for (marked, found) in reader.segments().iter().zip(&found) {
        assert_eq!((&marked.name, marked.time), (&found.name, found.time));
        let key = |buffer: &Buffer| (buffer.start, buffer.len, buffer.role);
        // Every buffer the markers declare is found, with its role: inputs,
        // outputs, and filter/bias/multiplier/shift arrays as weights.
        for buffer in &marked.buffers {
            assert!(
                found.buffers.iter().any(|f| key(f) == key(buffer)),
                "{}: marked {} {} {}+{} not found in {:#?}",
                marked.name,
                buffer.role,
                buffer.name,
                buffer.start,
                buffer.len,
                found.buffers
            );
        }
        // What discovery adds are constants in flash the markers do not
        // declare (the kernels' parameter structs, lookup tables).
        for extra in found
            .buffers
            .iter()
            .filter(|f| !marked.buffers.iter().any(|m| key(m) == key(f)))
        {
            assert!(
                extra.role == BufferRole::Weights && flash(extra.start),
                "{}: unexpected {} {}",
                marked.name,
                extra.role,
                extra.name
            );
        }
    }
    // Mining the discovered buffers gives the markers' answer for every pair.
    let from_markers = PairMiner::of_trace(&reader, reader.segments()).unwrap();
    let from_discovery = PairMiner::of_trace(&reader, &found).unwrap();
    let overlaps = |results: &[dmo_trace::PairResult]| -> Vec<_> {
        results
            .iter()
            .map(|r| (r.op_name.clone(), r.input.start, r.output.start, r.overlap))
            .collect()
    };
    assert_eq!(overlaps(&from_markers), overlaps(&from_discovery));
    assert_eq!(from_markers.len(), pairs);
}
