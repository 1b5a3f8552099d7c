//! The traces committed under `traces/` are golden files for the reader: a
//! change to the format or the decoder that alters what they decode to fails
//! here. Each `NAME.dmotrace` has a `NAME.json` recording, when the file was
//! made, its event count, reads, writes, op names and an FNV-1a digest over
//! every decoded event. When the fixture ELF on this machine is the very file
//! that was traced (same SHA-256), the test also emulates it again and
//! requires the same event stream: the emulator's output is pinned too.

use dmo_core::{AccessKind, CpuModel, Event, EventSink};
use dmo_emu::{Firmware, RunConfig};
use dmo_trace::TraceReader;
use std::path::{Path, PathBuf};

#[derive(Default)]
struct Digest {
    events: u64,
    reads: u64,
    writes: u64,
    hash: u64,
}

impl Digest {
    fn add(&mut self, event: &Event) {
        if self.events == 0 {
            self.hash = 0xcbf2_9ce4_8422_2325;
        }
        self.events += 1;
        match event.kind {
            AccessKind::Read => self.reads += 1,
            AccessKind::Write => self.writes += 1,
        }
        let fields = [
            event.time.0,
            event.pc.0 as u64,
            event.address.0 as u64,
            event.size as u64,
            (event.kind == AccessKind::Write) as u64,
        ];
        for field in fields {
            for byte in field.to_le_bytes() {
                self.hash ^= byte as u64;
                self.hash = self.hash.wrapping_mul(0x0100_0000_01b3);
            }
        }
    }
}

impl EventSink for Digest {
    fn event(&mut self, event: &Event) {
        self.add(event);
    }
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn check(name: &str, fixture: &str, cpu: CpuModel) {
    let trace = repo().join("traces").join(format!("{name}.dmotrace"));
    let expected: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(repo().join("traces").join(format!("{name}.json"))).unwrap(),
    )
    .unwrap();
    let reader = TraceReader::open(&trace).unwrap();
    let mut digest = Digest::default();
    for event in reader.events().unwrap() {
        digest.add(&event.unwrap());
    }
    assert_eq!(
        digest.events,
        expected["events"].as_u64().unwrap(),
        "{name}"
    );
    assert_eq!(digest.reads, expected["reads"].as_u64().unwrap(), "{name}");
    assert_eq!(
        digest.writes,
        expected["writes"].as_u64().unwrap(),
        "{name}"
    );
    assert_eq!(
        format!("{:016x}", digest.hash),
        expected["digest"].as_str().unwrap(),
        "{name}: the events decode differently"
    );
    let ops: Vec<&str> = reader.segments().iter().map(|s| s.name.as_str()).collect();
    let expected_ops: Vec<&str> = expected["ops"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(ops, expected_ops, "{name}");

    let elf = repo().join(format!("fixtures/build/{}/{fixture}.elf", cpu.name()));
    if let Ok(firmware) = Firmware::load(&elf) {
        if firmware.sha256 == reader.metadata().elf_sha256 {
            let mut fresh = Digest::default();
            let config = RunConfig {
                cpu,
                ..RunConfig::default()
            };
            dmo_emu::run(&firmware, &config, &mut fresh).unwrap();
            assert_eq!(fresh.events, digest.events, "{name}: emulating again");
            assert_eq!(
                fresh.hash, digest.hash,
                "{name}: emulating again gives other events"
            );
        }
    }
}

#[test]
fn tiny_cnn_on_cortex_m4() {
    check("tiny_cnn-cortex-m4", "tiny_cnn", CpuModel::CortexM4);
}

#[test]
fn add_int8_on_cortex_m0() {
    check("add_int8-cortex-m0", "add_int8", CpuModel::CortexM0);
}

/// Writes the `.json` sidecars; run by hand after re-recording the traces:
/// `cargo test -p dmo --test golden_traces -- --ignored`.
#[test]
#[ignore]
fn write_sidecars() {
    for name in ["tiny_cnn-cortex-m4", "add_int8-cortex-m0"] {
        let reader =
            TraceReader::open(repo().join("traces").join(format!("{name}.dmotrace"))).unwrap();
        let mut digest = Digest::default();
        for event in reader.events().unwrap() {
            digest.add(&event.unwrap());
        }
        let ops: Vec<&str> = reader.segments().iter().map(|s| s.name.as_str()).collect();
        let json = serde_json::json!({
            "events": digest.events, "reads": digest.reads, "writes": digest.writes,
            "digest": format!("{:016x}", digest.hash), "ops": ops,
        });
        std::fs::write(
            repo().join("traces").join(format!("{name}.json")),
            serde_json::to_string_pretty(&json).unwrap() + "\n",
        )
        .unwrap();
    }
}
