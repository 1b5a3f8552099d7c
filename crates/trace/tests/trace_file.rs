//! Trace files written by the writer, read back by the reader: round trips,
//! the golden file, and rejected corrupt, truncated and wrong-version files.

mod support;

use dmo_core::{
    AccessKind, Address, Buffer, BufferRole, Event, EventSink, EventTime, MemoryRegion, OpSegment,
    RegionKind, RunEnd, RunStats, Symbol, SymbolKind, TimeRange,
};
use dmo_trace::{BufferOrigin, TraceError, TraceMetadata, TraceOptions, TraceReader, TraceWriter};
use std::path::{Path, PathBuf};
use support::synthetic::{emit_conv, ConvShape};

/// Records what a sink receives, as the oracle for round trips.
#[derive(Default, Debug, PartialEq)]
struct Recorder {
    events: Vec<Event>,
    markers: Vec<String>,
}

impl EventSink for Recorder {
    fn event(&mut self, event: &Event) {
        self.events.push(*event);
    }
    fn op_begin(&mut self, at: EventTime, name: &str, kind: &str) {
        self.markers.push(format!("begin {} {name} {kind}", at.0));
    }
    fn op_buffer(&mut self, buffer: &Buffer) {
        self.markers.push(format!(
            "buffer {} {} {} {}",
            buffer.name, buffer.start, buffer.len, buffer.role
        ));
    }
    fn op_instructions(&mut self, count: u64) {
        self.markers.push(format!("instructions {count}"));
    }
    fn op_end(&mut self, at: EventTime) {
        self.markers.push(format!("end {}", at.0));
    }
}

fn sample_metadata() -> TraceMetadata {
    TraceMetadata {
        tool_version: "0.1.0".to_string(),
        elf_path: PathBuf::from("firmware/tiny_cnn.elf"),
        elf_sha256: [0xab; 32],
        cpu: "cortex-m4".to_string(),
        memory_map: vec![
            MemoryRegion {
                name: "flash".to_string(),
                start: Address(0x0800_0000),
                len: 0x10_0000,
                kind: RegionKind::Flash,
            },
            MemoryRegion {
                name: "sram".to_string(),
                start: Address(0x2000_0000),
                len: 0xff00,
                kind: RegionKind::Ram,
            },
            MemoryRegion {
                name: "stack".to_string(),
                start: Address(0x2000_ff00),
                len: 0x100,
                kind: RegionKind::Stack,
            },
        ],
        symbols: vec![Symbol {
            name: "tensor_arena".to_string(),
            address: Address(0x2000_1000),
            size: 0x8000,
            kind: SymbolKind::Object,
        }],
        status: RunEnd::Complete { exit_code: 0 },
        stats: RunStats {
            instructions: 1234,
            events: 0,
            reads: 0,
            writes: 0,
            mmio_reads: 1,
            mmio_writes: 2,
            wall_time_ms: 0,
        },
        firmware_stdout: "ok\n".to_string(),
    }
}

const SMALL: ConvShape = ConvShape {
    height: 5,
    width: 6,
    in_channels: 2,
    out_channels: 3,
};

/// Writes the small conv with tiny blocks (so there are many) to `path`.
fn write_small(path: &Path, events_per_block: u32) -> dmo_trace::TraceSummary {
    let options = TraceOptions {
        events_per_block,
        ..TraceOptions::default()
    };
    let mut writer = TraceWriter::create(path, options).unwrap();
    emit_conv(&mut writer, SMALL, 0);
    writer.finish(sample_metadata()).unwrap()
}

fn expected_small() -> Recorder {
    let mut recorder = Recorder::default();
    emit_conv(&mut recorder, SMALL, 0);
    recorder
}

fn golden_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/small_conv_v3_origin.dmotrace")
}

/// The same trace as a `dmo` from before the footer extension (which
/// records where the buffers come from) wrote it.
fn golden_without_extension_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/small_conv_v3.dmotrace")
}

#[test]
fn round_trip_preserves_events_markers_and_metadata() {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("small.dmotrace");
    let summary = write_small(&path, 100);
    let expected = expected_small();
    // 3x4 outputs x 3 channels = 36 output elements, 4 + 36 + 1 + 1 + 4 = 46
    // events each.
    assert_eq!(summary.events, 36 * 46);
    assert_eq!(expected.events.len() as u64, summary.events);
    // 1656 events in blocks of 100: 17 blocks.
    assert_eq!(summary.blocks, 17);
    assert_eq!(std::fs::metadata(&path).unwrap().len(), summary.file_bytes);

    let reader = TraceReader::open(&path).unwrap();
    assert!(reader.is_complete());
    assert_eq!(reader.metadata(), &sample_metadata());
    assert_eq!(reader.event_count(), summary.events);
    let events: Vec<Event> = reader.events().unwrap().map(Result::unwrap).collect();
    assert_eq!(events, expected.events);

    let mut replayed = Recorder::default();
    reader.replay(&mut replayed).unwrap();
    assert_eq!(replayed, expected);
    assert_eq!(
        reader.segments(),
        &[OpSegment {
            name: "conv_0".to_string(),
            kind: "CONV_2D".to_string(),
            time: TimeRange::new(EventTime(0), EventTime(36 * 46)),
            buffers: vec![
                Buffer {
                    name: "input".to_string(),
                    start: Address(0x2000_1000),
                    len: 60,
                    role: BufferRole::Input
                },
                Buffer {
                    name: "output".to_string(),
                    start: Address(0x2000_8000),
                    len: 36,
                    role: BufferRole::Output
                },
                Buffer {
                    name: "filter".to_string(),
                    start: Address(0x0800_4000),
                    len: 54,
                    role: BufferRole::Weights
                },
            ],
            // 36 output elements x (1 + 27 x 2 input channels + 3).
            instructions: Some(36 * 58),
        }]
    );
    // No temporary file is left beside the trace.
    let names: Vec<_> = std::fs::read_dir(directory.path()).unwrap().collect();
    assert_eq!(names.len(), 1);
}

#[test]
fn events_in_a_time_range_skip_to_the_right_block() {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("small.dmotrace");
    write_small(&path, 64);
    let expected = expected_small();
    let reader = TraceReader::open(&path).unwrap();
    for (start, end) in [(0, 1), (63, 65), (500, 777), (1600, 5000), (5000, 6000)] {
        let range = TimeRange::new(EventTime(start), EventTime(end));
        let got: Vec<Event> = reader
            .events_in(range)
            .unwrap()
            .map(Result::unwrap)
            .collect();
        let want: Vec<Event> = expected
            .events
            .iter()
            .filter(|event| range.contains(event.time))
            .copied()
            .collect();
        assert_eq!(got, want, "range {start}..{end}");
    }
}

#[test]
fn random_streams_round_trip() {
    use proptest::prelude::*;
    let strategy = proptest::collection::vec(
        (
            0u32..64,
            any::<u32>(),
            prop_oneof![Just(1u8), Just(2), Just(4), Just(8), 0u8..=255],
            any::<bool>(),
            any::<bool>(),
        ),
        0..600,
    );
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("random.dmotrace");
    proptest!(ProptestConfig::with_cases(64), |(raw in strategy, block in 1u32..200)| {
        // Mix random jumps with strided runs so both coding paths are used.
        let mut address = 0x2000_0000u32;
        let events: Vec<Event> = raw
            .iter()
            .enumerate()
            .map(|(time, &(pc, random_address, size, jump, write))| {
                address = if jump { random_address } else { address.wrapping_add(size as u32) };
                Event {
                    time: EventTime(time as u64),
                    pc: Address(0x0800_0000 + 2 * pc),
                    address: Address(address),
                    size,
                    kind: if write { AccessKind::Write } else { AccessKind::Read },
                }
            })
            .collect();
        let options = TraceOptions { events_per_block: block, overwrite: true, ..TraceOptions::default() };
        let mut writer = TraceWriter::create(&path, options).unwrap();
        for event in &events {
            writer.event(event);
        }
        writer.finish(TraceMetadata::default()).unwrap();
        let reader = TraceReader::open(&path).unwrap();
        let read: Vec<Event> = reader.events().unwrap().map(Result::unwrap).collect();
        prop_assert_eq!(read, events);
    });
}

#[test]
fn golden_file_is_read_and_rewritten_byte_for_byte() {
    let golden = golden_path();
    let directory = tempfile::tempdir().unwrap();
    let fresh = directory.path().join("fresh.dmotrace");
    write_small(&fresh, 256);
    if std::env::var_os("DMO_REGENERATE_GOLDEN").is_some() {
        std::fs::copy(&fresh, &golden).unwrap();
    }
    let reader = TraceReader::open(&golden).unwrap();
    let mut replayed = Recorder::default();
    reader.replay(&mut replayed).unwrap();
    assert_eq!(replayed, expected_small());
    assert_eq!(reader.metadata(), &sample_metadata());
    assert_eq!(reader.buffer_origin(), Some(BufferOrigin::Markers));
    assert_eq!(
        std::fs::read(&fresh).unwrap(),
        std::fs::read(&golden).unwrap(),
        "the writer's output changed: if the format changed on purpose, bump FORMAT_VERSION and \
         regenerate with DMO_REGENERATE_GOLDEN=1 cargo test -p dmo-trace --test trace_file"
    );
}

#[test]
fn a_trace_without_the_footer_extension_still_reads() {
    // Written before the writer recorded the buffers' origin: the same
    // events, segments and metadata, and no origin. The control: the
    // files differ only by the extension after the footer.
    let old = TraceReader::open(golden_without_extension_path()).unwrap();
    let new = TraceReader::open(golden_path()).unwrap();
    let mut replayed = Recorder::default();
    old.replay(&mut replayed).unwrap();
    assert_eq!(replayed, expected_small());
    assert_eq!(old.metadata(), new.metadata());
    assert_eq!(old.segments(), new.segments());
    assert_eq!(old.buffer_origin(), None);
    assert_eq!(new.buffer_origin(), Some(BufferOrigin::Markers));
    let (old_len, new_len) = (
        std::fs::metadata(golden_without_extension_path())
            .unwrap()
            .len(),
        std::fs::metadata(golden_path()).unwrap().len(),
    );
    assert!(
        new_len > old_len && new_len - old_len <= 3,
        "{old_len} {new_len}"
    );
}

/// Format 2 (before instruction counts) is still read: the same events,
/// markers and metadata as today's golden file, and no instruction counts.
/// The file is the golden file `dmo` 0.1 committed when it wrote format 2.
#[test]
fn a_format_2_trace_is_read_without_instruction_counts() {
    let old = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/small_conv_v2.dmotrace");
    assert_eq!(&std::fs::read(&old).unwrap()[8..12], &2u32.to_le_bytes());
    let reader = TraceReader::open(&old).unwrap();
    let mut replayed = Recorder::default();
    reader.replay(&mut replayed).unwrap();
    let mut expected = expected_small();
    expected
        .markers
        .retain(|marker| !marker.starts_with("instructions"));
    assert_eq!(replayed, expected);
    assert_eq!(reader.metadata(), &sample_metadata());
    assert_eq!(reader.segments().len(), 1);
    assert_eq!(reader.segments()[0].instructions, None);
    // Control: today's golden file does carry the count.
    let current = TraceReader::open(golden_path()).unwrap();
    assert_eq!(current.segments()[0].instructions, Some(36 * 58));
}

/// Copies the golden file to a temporary path, lets `damage` change it, opens it.
fn open_damaged(damage: impl FnOnce(&mut Vec<u8>)) -> (TraceError, PathBuf, tempfile::TempDir) {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("damaged.dmotrace");
    write_small(&path, 256);
    let mut bytes = std::fs::read(&path).unwrap();
    damage(&mut bytes);
    std::fs::write(&path, bytes).unwrap();
    let error = match TraceReader::open(&path) {
        Err(error) => error,
        Ok(reader) => reader
            .events()
            .unwrap()
            .find_map(Result::err)
            .expect("damage must be detected"),
    };
    (error, path, directory)
}

#[test]
fn wrong_version_is_rejected_up_front() {
    let (error, path, _directory) = open_damaged(|bytes| bytes[8] = 99);
    assert!(matches!(
        error,
        TraceError::WrongVersion {
            found: 99,
            supported: dmo_trace::FORMAT_VERSION,
            ..
        }
    ));
    let message = error.to_string();
    assert!(
        message.contains(path.to_str().unwrap()) && message.contains("version 99"),
        "{message}"
    );
}

#[test]
fn other_files_are_not_traces() {
    let (error, _, _directory) = open_damaged(|bytes| bytes[0] = b'X');
    assert!(matches!(error, TraceError::NotATrace { .. }), "{error}");
    let (error, _, _directory) = open_damaged(|bytes| bytes.clear());
    assert!(matches!(error, TraceError::NotATrace { .. }), "{error}");
}

#[test]
fn flipped_payload_byte_names_the_block() {
    // The small conv has 1656 events; with 256 per block, block 0 starts at
    // byte 16 (after the header) and its payload at byte 16 + 24 = 40.
    let (error, _, _directory) = open_damaged(|bytes| bytes[45] ^= 0x10);
    match &error {
        TraceError::CorruptBlock {
            position, detail, ..
        } => {
            assert_eq!((position.index, position.byte_offset), (0, 16));
            assert!(detail.contains("checksum"), "{detail}");
        }
        other => panic!("expected a corrupt block, got {other}"),
    }
    assert!(error.to_string().contains("block 0 at byte 16"), "{error}");
}

#[test]
fn forged_payload_length_is_caught_before_allocating() {
    // Block 0's payload length field (bytes 20..24) claims 4 GiB.
    let (error, _, _directory) = open_damaged(|bytes| bytes[20..24].fill(0xff));
    match &error {
        TraceError::CorruptBlock {
            position, detail, ..
        } => {
            assert_eq!(position.index, 0);
            assert!(detail.contains("implausible payload length"), "{detail}");
        }
        other => panic!("expected a corrupt block, got {other}"),
    }
    // One byte shorter: the payload no longer matches its checksum.
    let (error, _, _directory) = open_damaged(|bytes| bytes[20] -= 1);
    assert!(
        matches!(&error, TraceError::CorruptBlock { position, .. } if position.index == 0),
        "{error}"
    );
}

#[test]
fn damage_in_a_later_block_is_found_there() {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("trace.dmotrace");
    write_small(&path, 256);
    let second_block = {
        // Block 0's header holds its payload length at bytes 4..8.
        let bytes = std::fs::read(&path).unwrap();
        16 + 24 + u32::from_le_bytes(bytes[20..24].try_into().unwrap()) as usize
    };
    let (error, _, _directory) = open_damaged(|bytes| bytes[second_block + 30] ^= 0xff);
    match error {
        TraceError::CorruptBlock { position, .. } => {
            assert_eq!(
                (position.index, position.byte_offset),
                (1, second_block as u64)
            )
        }
        other => panic!("expected a corrupt block, got {other}"),
    }
}

#[test]
fn damaged_metadata_is_reported() {
    let (error, _, _directory) = open_damaged(|bytes| {
        let footer_at = bytes.len() - 32 - 10;
        bytes[footer_at] ^= 1;
    });
    assert!(
        matches!(error, TraceError::CorruptMetadata { .. }),
        "{error}"
    );
}

#[test]
fn truncated_trace_names_the_cut_block() {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("trace.dmotrace");
    write_small(&path, 256);
    let bytes = std::fs::read(&path).unwrap();
    let first_payload = u32::from_le_bytes(bytes[20..24].try_into().unwrap()) as usize;
    let second_block = 16 + 24 + first_payload;
    let cases = [
        (second_block + 3, "inside the header of block 1"),
        (second_block + 30, "inside block 1"),
        (second_block, "before the metadata"),
        (10, "shorter than the 16-byte header"),
    ];
    for (cut, expected) in cases {
        std::fs::write(&path, &bytes[..cut]).unwrap();
        let error = TraceReader::open(&path).unwrap_err();
        assert!(
            matches!(error, TraceError::Truncated { .. }),
            "cut at {cut}: {error}"
        );
        assert!(
            error.to_string().contains(expected),
            "cut at {cut}: {error}"
        );
    }
    // Cut inside the footer: every block is whole, the next "header" is not one.
    std::fs::write(&path, &bytes[..bytes.len() - 5]).unwrap();
    let error = TraceReader::open(&path).unwrap_err();
    assert!(matches!(error, TraceError::Truncated { .. }), "{error}");
}

#[test]
fn abandoned_run_leaves_no_file_unless_kept() {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("failed.dmotrace");
    let mut writer = TraceWriter::create(&path, TraceOptions::default()).unwrap();
    emit_conv(&mut writer, SMALL, 0);
    assert_eq!(writer.abandon(sample_metadata()).unwrap(), None);
    assert_eq!(std::fs::read_dir(directory.path()).unwrap().count(), 0);

    // A writer dropped mid-run (a panic, an early return) leaves nothing either.
    let mut writer = TraceWriter::create(&path, TraceOptions::default()).unwrap();
    emit_conv(&mut writer, SMALL, 0);
    drop(writer);
    assert_eq!(std::fs::read_dir(directory.path()).unwrap().count(), 0);

    let options = TraceOptions {
        keep_partial: true,
        ..TraceOptions::default()
    };
    let mut writer = TraceWriter::create(&path, options).unwrap();
    // The op never ends: the partial file closes it at the last event.
    writer.op_begin(EventTime(0), "conv", "CONV_2D");
    for time in 0..10u64 {
        writer.event(&Event {
            time: EventTime(time),
            pc: Address(0x100),
            address: Address(0x2000_0000 + time as u32),
            size: 1,
            kind: AccessKind::Read,
        });
    }
    let metadata = TraceMetadata {
        status: RunEnd::Fault {
            message: "hard fault".to_string(),
            pc: Address(0x100),
        },
        ..TraceMetadata::default()
    };
    let summary = writer.abandon(metadata.clone()).unwrap().unwrap();
    assert!(!summary.complete);
    let reader = TraceReader::open(&path).unwrap();
    assert!(!reader.is_complete());
    assert_eq!(reader.metadata(), &metadata);
    assert_eq!(reader.event_count(), 10);
    assert_eq!(
        reader.segments()[0].time,
        TimeRange::new(EventTime(0), EventTime(10))
    );
}

#[test]
fn unwritable_directory_is_an_error_naming_the_path() {
    let error = TraceWriter::create("/nonexistent-dmo-dir/x.dmotrace", TraceOptions::default())
        .err()
        .unwrap();
    assert!(
        error
            .to_string()
            .contains("/nonexistent-dmo-dir/x.dmotrace"),
        "{error}"
    );
}

/// A trace with one op whose input is `input_len` bytes, its output 16, and
/// a memory map of `ram_len` bytes of RAM.
fn write_with_sizes(path: &Path, input_len: u32, ram_len: u32) {
    let mut writer = TraceWriter::create(path, TraceOptions::default()).unwrap();
    writer.op_begin(EventTime(0), "conv", "CONV_2D");
    for (name, start, len, role) in [
        ("in", 0x2000_0000, input_len, BufferRole::Input),
        ("out", 0x2000_0000, 16, BufferRole::Output),
    ] {
        writer.op_buffer(&Buffer {
            name: name.to_string(),
            start: Address(start),
            len,
            role,
        });
    }
    writer.event(&Event {
        time: EventTime(0),
        pc: Address(0x100),
        address: Address(0x2000_0000),
        size: 1,
        kind: AccessKind::Read,
    });
    writer.op_end(EventTime(1));
    let mut metadata = sample_metadata();
    metadata.memory_map[1].len = ram_len;
    writer.finish(metadata).unwrap();
}

#[test]
fn buffer_and_memory_sizes_from_the_footer_are_checked_before_allocating() {
    // Issue 12 case 2: AccessRecorder::new allocated 16 B per buffer byte
    // from the footer's lengths: 2^32 - 1 aborted `report` (64 GiB), 2^27
    // took 4 GB. The reader now refuses an op whose pairs need more than
    // MAX_PAIR_BYTES = 2^24 tracked bytes: input 2^24 - 16 plus output 16 is
    // exactly the limit and opens; one byte more does not.
    let directory = tempfile::tempdir().unwrap();
    for input_len in [u32::MAX, 1 << 27, (1 << 24) - 15] {
        let path = directory.path().join(format!("{input_len}.dmotrace"));
        write_with_sizes(&path, input_len, 0xff00);
        let error = TraceReader::open(&path).unwrap_err();
        assert!(
            matches!(error, TraceError::CorruptMetadata { .. })
                && error.to_string().contains("more than dmo mines"),
            "{error}"
        );
    }
    let path = directory.path().join("limit.dmotrace");
    write_with_sizes(&path, (1 << 24) - 16, 0xff00);
    let reader = TraceReader::open(&path).unwrap();
    assert_eq!(dmo_trace::MAX_PAIR_BYTES, 1 << 24);
    let pairs = dmo_trace::PairMiner::of_trace(&reader, reader.segments()).unwrap();
    assert_eq!(pairs.len(), 1);

    // A memory map of 4 GiB of RAM (what discovery sizes its tables by) is
    // refused the same way: flash 1 MiB + stack 256 B + RAM must stay within
    // MAX_MAPPED_BYTES = 2^26.
    let path = directory.path().join("ram.dmotrace");
    write_with_sizes(&path, 16, u32::MAX);
    let error = TraceReader::open(&path).unwrap_err();
    assert!(error.to_string().contains("memory map"), "{error}");
}
