//! The stable-Rust mutation test of issue 12, run by `cargo test` (and so by
//! `scripts/test.sh`): the mutators of the `cargo fuzz` campaign
//! (docs/RELIABILITY.md) over the three untrusted formats, in-process.
//!
//! Per format at least 2,000 mutants of the shipped traces, fixtures and
//! models: bit flips, truncation, and count/length fields set to 0, 2^31 - 1,
//! 2^31 and 2^32 - 1; trace mutants get their block and footer CRCs
//! recomputed (7 in 8) so the damage reaches the decoder and the footer
//! decoding, and structural trace mutants (buffer lengths, memory map, op
//! names and times) are written by the trace writer itself. Each mutant goes
//! through what `dmo` does with the file (open, decode every event, mine and
//! render the report / plan and emit the model / parse and emulate the ELF).
//!
//! Every case must end in `Ok` or a clean error:
//! - a panic is caught (`catch_unwind`) and fails the test with the mutant;
//! - an abort (e.g. a failed allocation) kills the test binary: a failure;
//! - a hang is killed by a watchdog after 20 s (abort, naming the mutant);
//! - the peak resident memory of the process (VmHWM) must stay under 1 GiB.
//!
//! The three formats run as three tests, in parallel with each other. Set
//! `DMO_MUTATION_VERBOSE=1` to print each mutant before it runs (to name the
//! one that aborted).

use dmo_core::{Address, BufferRole, CountingSink, EventSink, OpSegment};
use dmo_trace::{TraceMetadata, TraceOptions, TraceReader, TraceWriter};
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, Once};
use std::time::{Duration, Instant};

const MUTANTS_PER_FORMAT: usize = 2400;
const SPECIAL: [u32; 4] = [0, (1 << 31) - 1, 1 << 31, u32::MAX];
const WATCHDOG: Duration = Duration::from_secs(20);

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// xorshift64*: deterministic, so a failing mutant is reproducible by seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Byte-level mutators shared by the three formats (and the fuzz targets'
/// seeds): `fields` are offsets of 32-bit counts and lengths of the format.
fn mutate(rng: &mut Rng, base: &[u8], fields: &[usize]) -> (Vec<u8>, String) {
    let mut bytes = base.to_vec();
    let description = match rng.below(5) {
        0 => {
            let flips = 1 + rng.below(4);
            let mut at = Vec::new();
            for _ in 0..flips {
                let bit = rng.below(bytes.len() * 8);
                bytes[bit / 8] ^= 1 << (bit % 8);
                at.push(bit);
            }
            format!("bit flips at {at:?}")
        }
        1 => {
            let len = rng.below(bytes.len());
            bytes.truncate(len);
            format!("truncated to {len} bytes")
        }
        2 | 3 if !fields.is_empty() => {
            let at = fields[rng.below(fields.len())];
            let value = SPECIAL[rng.below(SPECIAL.len())];
            if at + 4 <= bytes.len() {
                bytes[at..at + 4].copy_from_slice(&value.to_le_bytes());
            }
            format!("field at {at} set to {value:#x}")
        }
        _ => {
            let at = rng.below(bytes.len().saturating_sub(4) / 4) * 4;
            let value = SPECIAL[rng.below(SPECIAL.len())];
            if at + 4 <= bytes.len() {
                bytes[at..at + 4].copy_from_slice(&value.to_le_bytes());
            }
            format!("word at {at} set to {value:#x}")
        }
    };
    (bytes, description)
}

/// What the current case is and when it started, for the watchdog.
static CASES: Mutex<Vec<(String, Instant)>> = Mutex::new(Vec::new());
static WATCH: Once = Once::new();
static DONE: AtomicU64 = AtomicU64::new(0);

fn start_watchdog() {
    WATCH.call_once(|| {
        std::thread::spawn(|| loop {
            std::thread::sleep(Duration::from_millis(200));
            let cases = CASES.lock().unwrap_or_else(|p| p.into_inner());
            for (case, started) in cases.iter() {
                if started.elapsed() > WATCHDOG {
                    eprintln!("HANG: {case} ran for more than {WATCHDOG:?}");
                    std::process::abort();
                }
            }
        });
    });
}

/// Runs one case under the watchdog and `catch_unwind`; returns the panic
/// message, if any.
fn run_case(name: &str, case: impl FnOnce()) -> Option<String> {
    start_watchdog();
    if std::env::var_os("DMO_MUTATION_VERBOSE").is_some() {
        eprintln!("{name}");
    }
    CASES
        .lock()
        .unwrap()
        .push((name.to_string(), Instant::now()));
    let result = std::panic::catch_unwind(AssertUnwindSafe(case));
    {
        let mut cases = CASES.lock().unwrap();
        // Names are unique (format and index).
        if let Some(index) = cases.iter().position(|(n, _)| n == name) {
            cases.swap_remove(index);
        }
    }
    DONE.fetch_add(1, Ordering::Relaxed);
    result.err().map(|payload| {
        payload
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default()
    })
}

/// Peak resident memory of this process, from /proc/self/status.
fn peak_rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    let kb: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kb * 1024
}

fn finish(format: &str, started: Instant, count: usize, ok: usize, panics: &[String]) {
    let elapsed = started.elapsed();
    let peak = peak_rss_bytes();
    eprintln!(
        "{format}: {count} mutants in {:.1} s ({ok} Ok, {} clean errors, {} panics), peak RSS {} MiB",
        elapsed.as_secs_f64(),
        count - ok - panics.len(),
        panics.len(),
        peak >> 20
    );
    assert!(
        panics.is_empty(),
        "{format}: panics:\n{}",
        panics.join("\n")
    );
    assert!(count >= 2000);
    assert!(peak < 1 << 30, "peak RSS {peak} bytes");
}

// ---------------------------------------------------------------- traces

/// Offsets of the block header fields (payload length, event count, first
/// time's low word) and the trailer's footer offset and length.
fn trace_fields(bytes: &[u8]) -> Vec<usize> {
    let mut fields = Vec::new();
    let mut offset = 16;
    while offset + 24 <= bytes.len() && &bytes[offset..offset + 4] == b"DMOB" {
        fields.extend([offset + 4, offset + 8, offset + 16, offset + 20]);
        let payload = u32::from_le_bytes(bytes[offset + 4..offset + 8].try_into().unwrap());
        offset += 24 + payload as usize;
    }
    let end = bytes.len();
    fields.extend([end - 32, end - 28, end - 24, end - 20]);
    fields
}

/// Recomputes every block CRC whose block still parses, and the footer CRC
/// if the trailer still points inside the file, so mutations get past the
/// checksums (the layout is in crates/trace/src/format.rs).
fn fix_crcs(bytes: &mut [u8]) {
    let mut offset = 16;
    while offset + 24 <= bytes.len() && &bytes[offset..offset + 4] == b"DMOB" {
        let payload_len = u32::from_le_bytes(bytes[offset + 4..offset + 8].try_into().unwrap());
        let end = offset + 24 + payload_len as usize;
        if end > bytes.len() {
            break;
        }
        let mut hasher = crc32fast::Hasher::new();
        hasher.update(&bytes[offset + 8..offset + 12]);
        hasher.update(&bytes[offset + 16..offset + 24]);
        hasher.update(&bytes[offset + 24..end]);
        let crc = hasher.finalize();
        bytes[offset + 12..offset + 16].copy_from_slice(&crc.to_le_bytes());
        offset = end;
    }
    if bytes.len() >= 48 && &bytes[bytes.len() - 8..] == b"DMOTEND!" {
        let trailer = bytes.len() - 32;
        let footer_offset = u64::from_le_bytes(bytes[trailer..trailer + 8].try_into().unwrap());
        let footer_len = u64::from_le_bytes(bytes[trailer + 8..trailer + 16].try_into().unwrap());
        if let Some(end) = footer_offset.checked_add(footer_len) {
            if end <= trailer as u64 {
                let crc = crc32fast::hash(&bytes[footer_offset as usize..end as usize]);
                bytes[trailer + 16..trailer + 20].copy_from_slice(&crc.to_le_bytes());
            }
        }
    }
}

/// The footer's varint-encoded fields cannot be set in place: structural
/// mutants are written by the writer, with a segment or the memory map
/// changed.
fn structural_trace(rng: &mut Rng, reader: &TraceReader, path: &Path) -> String {
    let mut metadata: TraceMetadata = reader.metadata().clone();
    let mut segments: Vec<OpSegment> = reader.segments().to_vec();
    let value = SPECIAL[rng.below(SPECIAL.len())];
    let description = match rng.below(6) {
        0 if !segments.is_empty() => {
            let s = rng.below(segments.len());
            if let Some(b) = segments[s].buffers.first_mut() {
                b.len = value;
            }
            format!("segment {s} first buffer length {value:#x}")
        }
        1 if !segments.is_empty() => {
            let s = rng.below(segments.len());
            let n = segments[s].buffers.len();
            if n > 0 {
                let b = rng.below(n);
                segments[s].buffers[b].start = Address(value);
            }
            format!("segment {s} buffer start {value:#x}")
        }
        2 if !segments.is_empty() => {
            let s = rng.below(segments.len());
            segments[s].name = "n".repeat(70_000);
            if let Some(b) = segments[s].buffers.first_mut() {
                b.name = "b".repeat(70_000);
            }
            format!("segment {s} named with 70,000 characters")
        }
        3 if !metadata.memory_map.is_empty() => {
            let r = rng.below(metadata.memory_map.len());
            metadata.memory_map[r].len = value;
            format!("memory region {r} length {value:#x}")
        }
        4 if !segments.is_empty() => {
            let s = rng.below(segments.len());
            for buffer in &mut segments[s].buffers {
                buffer.role = match rng.below(4) {
                    0 => BufferRole::Input,
                    1 => BufferRole::Output,
                    2 => BufferRole::Weights,
                    _ => BufferRole::Scratch,
                };
            }
            format!("segment {s} roles shuffled")
        }
        _ => {
            // Ops stripped of buffers: the report falls back to discovery.
            for segment in &mut segments {
                segment.buffers.retain(|b| b.role != BufferRole::Output);
            }
            "outputs removed (buffer discovery)".to_string()
        }
    };
    let options = TraceOptions {
        overwrite: true,
        ..TraceOptions::default()
    };
    let mut writer = TraceWriter::create(path, options).unwrap();
    let mut next = 0;
    let events: Vec<_> = reader.events().unwrap().map(Result::unwrap).collect();
    for segment in &segments {
        while next < events.len() && events[next].time < segment.time.start {
            writer.event(&events[next]);
            next += 1;
        }
        writer.op_begin(segment.time.start, &segment.name, &segment.kind);
        for buffer in &segment.buffers {
            writer.op_buffer(buffer);
        }
        while next < events.len() && events[next].time < segment.time.end {
            writer.event(&events[next]);
            next += 1;
        }
        writer.op_end(segment.time.end);
    }
    for event in &events[next..] {
        writer.event(event);
    }
    writer.finish(metadata).unwrap();
    description
}

/// What `dmo info`, `dump`, `report` and `plot` do with a trace.
fn use_trace(path: &Path, plot: bool) -> bool {
    let Ok(reader) = TraceReader::open(path) else {
        return false;
    };
    let _ = reader.metadata().name_address(Address(0x2000_0000));
    let mut count = 0u64;
    if let Ok(events) = reader.events() {
        for event in events {
            if event.is_err() {
                break;
            }
            count += 1;
        }
    }
    let mut counter = CountingSink::default();
    let _ = reader.replay(&mut counter);
    let Ok(report) = dmo_report::report_of_trace(&reader, None) else {
        return false;
    };
    for format in ["table", "markdown", "json", "csv"] {
        let _ = dmo_report::render(&report, format.parse().unwrap());
    }
    if plot {
        let directory = tempfile::tempdir().unwrap();
        for kind in [dmo_plot::FigureKind::Liveness, dmo_plot::FigureKind::Layout] {
            let mut request = dmo_plot::FigureRequest::new(kind);
            (request.width, request.height) = (240, 200);
            let _ =
                dmo_plot::render_to_file(&reader, &request, &directory.path().join("f.png"), true);
        }
    }
    count == reader.event_count()
}

#[test]
fn trace_mutants_give_ok_or_a_clean_error() {
    let started = Instant::now();
    let bases: Vec<Vec<u8>> = ["add_int8-cortex-m0", "tiny_cnn-cortex-m4"]
        .iter()
        .map(|name| std::fs::read(repo().join(format!("traces/{name}.dmotrace"))).unwrap())
        .collect();
    let directory = tempfile::tempdir().unwrap();
    let base_paths: Vec<PathBuf> = bases
        .iter()
        .enumerate()
        .map(|(i, bytes)| {
            let path = directory.path().join(format!("base{i}.dmotrace"));
            std::fs::write(&path, bytes).unwrap();
            path
        })
        .collect();
    let base_readers: Vec<TraceReader> = base_paths
        .iter()
        .map(|p| TraceReader::open(p).unwrap())
        .collect();
    let mut rng = Rng(0x5eed_0001);
    let (mut ok, mut panics) = (0, Vec::new());
    let path = directory.path().join("mutant.dmotrace");
    for index in 0..MUTANTS_PER_FORMAT {
        // add_int8 (14 KB) mostly, tiny_cnn (244 KB) for one mutant in 8.
        let which = usize::from(index % 8 == 7);
        let description = if index % 6 == 5 {
            structural_trace(&mut rng, &base_readers[which], &path)
        } else {
            let fields = trace_fields(&bases[which]);
            let (mut bytes, description) = mutate(&mut rng, &bases[which], &fields);
            let fixed = index % 8 != 0;
            if fixed {
                fix_crcs(&mut bytes);
            }
            std::fs::write(&path, &bytes).unwrap();
            format!(
                "{description}{}",
                if fixed { ", CRCs recomputed" } else { "" }
            )
        };
        let name = format!("trace mutant {index} of base {which}: {description}");
        let plot = index % 40 == 3;
        let mut result = false;
        if let Some(message) = run_case(&name, || result = use_trace(&path, plot)) {
            panics.push(format!("{name}: {message}"));
        }
        ok += usize::from(result);
    }
    finish("traces", started, MUTANTS_PER_FORMAT, ok, &panics);
}

// ---------------------------------------------------------------- .tflite

/// What `dmo plan --emit-tflite` does with a model, at a small search effort.
fn use_model(bytes: &[u8]) -> bool {
    let Ok(model) = dmo_tflite::Model::parse(bytes) else {
        return false;
    };
    let _ = dmo_tflite::tensor_contents(bytes);
    let effort = dmo_plan::SearchEffort {
        random_orderings: 1,
        local_search_moves: 20,
        exhaustive_up_to: 3,
    };
    let Ok(plan) = dmo_plan::plan_model(
        &model,
        dmo_plan::OffsetSource::Kernels(dmo_ops::kernel_family("reference").unwrap()),
        effort,
    ) else {
        return false;
    };
    if let Ok(offsets) = plan.dmo.offline_offsets(&model) {
        if let Ok(emitted) = dmo_tflite::with_offline_plan(bytes, &offsets) {
            let _ = dmo_tflite::Model::parse(&emitted);
        }
    }
    true
}

#[test]
fn tflite_mutants_give_ok_or_a_clean_error() {
    let started = Instant::now();
    let models = repo().join("../shared/models");
    let bases: Vec<Vec<u8>> = [
        "hello_world_int8",
        "micro_speech_quantized",
        "trained_lstm_int8",
        "keyword_scrambled",
        "kws_ref_model",
    ]
    .iter()
    .map(|name| std::fs::read(models.join(format!("{name}.tflite"))).unwrap())
    .collect();
    let mut rng = Rng(0x5eed_0002);
    let (mut ok, mut panics) = (0, Vec::new());
    for index in 0..MUTANTS_PER_FORMAT {
        let which = index % bases.len();
        // Flatbuffer offsets, vector lengths and shape dimensions are all
        // 4-aligned 32-bit words: any word may be one.
        let (bytes, description) = mutate(&mut rng, &bases[which], &[]);
        let name = format!("tflite mutant {index} of base {which}: {description}");
        let mut result = false;
        if let Some(message) = run_case(&name, || result = use_model(&bytes)) {
            panics.push(format!("{name}: {message}"));
        }
        ok += usize::from(result);
    }
    finish("tflite", started, MUTANTS_PER_FORMAT, ok, &panics);
}

// ---------------------------------------------------------------- ELF

/// Offsets of the 32-bit ELF header, program header and section header
/// fields that are counts, offsets or sizes.
fn elf_fields(bytes: &[u8]) -> Vec<usize> {
    let u32_at = |at: usize| u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
    let u16_at = |at: usize| u16::from_le_bytes(bytes[at..at + 2].try_into().unwrap()) as usize;
    // e_entry, e_phoff, e_shoff, then e_phentsize/e_phnum and
    // e_shentsize/e_shnum/e_shstrndx as 32-bit words.
    let mut fields = vec![0x18, 0x1c, 0x20, 0x2a, 0x2c, 0x2e, 0x30];
    let (phoff, phnum) = (u32_at(0x1c), u16_at(0x2c));
    for i in 0..phnum {
        let at = phoff + 32 * i;
        fields.extend([at + 4, at + 8, at + 12, at + 16, at + 20]);
    }
    let (shoff, shnum) = (u32_at(0x20), u16_at(0x30));
    for i in 0..shnum {
        let at = shoff + 40 * i;
        fields.extend([at, at + 12, at + 16, at + 20, at + 24, at + 36]);
    }
    fields.retain(|&at| at + 4 <= bytes.len());
    fields
}

/// What `dmo trace` does with an ELF: parse it, lay it out and run it (a
/// short budget) for one mutant in `run_every`.
fn use_elf(bytes: &[u8], run: bool) -> bool {
    let Ok(firmware) = dmo_emu::Firmware::parse(Path::new("mutant.elf"), bytes) else {
        return false;
    };
    let _ = firmware.symbols.describe(Address(0x2000_0000));
    if run {
        let config = dmo_emu::RunConfig {
            max_instructions: 20_000,
            ..dmo_emu::RunConfig::default()
        };
        let mut sink = CountingSink::default();
        let _ = dmo_emu::run(&firmware, &config, &mut sink);
    }
    true
}

#[test]
fn elf_mutants_give_ok_or_a_clean_error() {
    let started = Instant::now();
    let bases: Vec<Vec<u8>> = [
        "cortex-m4/hello",
        "cortex-m0/add_int8",
        "cortex-m4/tiny_cnn",
        "cortex-m7/conv1x1",
    ]
    .iter()
    .map(|name| {
        let path = repo().join(format!("fixtures/build/{name}.elf"));
        std::fs::read(&path)
            .unwrap_or_else(|e| panic!("{}: {e} (run `make -C fixtures`)", path.display()))
    })
    .collect();
    let fields: Vec<Vec<usize>> = bases.iter().map(|b| elf_fields(b)).collect();
    let mut rng = Rng(0x5eed_0003);
    let (mut ok, mut panics) = (0, Vec::new());
    for index in 0..MUTANTS_PER_FORMAT {
        let which = index % bases.len();
        let (bytes, description) = mutate(&mut rng, &bases[which], &fields[which]);
        let name = format!("ELF mutant {index} of base {which}: {description}");
        let run = index % 10 == 0;
        let mut result = false;
        if let Some(message) = run_case(&name, || result = use_elf(&bytes, run)) {
            panics.push(format!("{name}: {message}"));
        }
        ok += usize::from(result);
    }
    finish("ELF", started, MUTANTS_PER_FORMAT, ok, &panics);
}
