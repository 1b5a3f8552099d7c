//! Runs the C fixtures (`make -C fixtures`) under the emulator and checks
//! what comes out against independent oracles: the same C compiled for the
//! host, and event counts derived from the kernels' loop nests.

use dmo_core::{AccessKind, CountingSink, CpuModel, Event, EventSink};
use dmo_emu::{run, Firmware, RunConfig, RunStatus};
mod support;

use std::process::Command;
use support::{fixture, repo_root};

fn host_output(name: &str) -> Vec<u8> {
    let path = repo_root().join(format!("fixtures/build/host/{name}"));
    let output = Command::new(&path)
        .output()
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    output.stdout
}

fn run_fixture<S: EventSink>(cpu: CpuModel, name: &str, sink: &mut S) -> dmo_emu::RunOutcome {
    let firmware = Firmware::load(&fixture(cpu, name)).unwrap();
    let config = RunConfig {
        cpu,
        max_instructions: 200_000_000,
        ..RunConfig::default()
    };
    run(&firmware, &config, sink).unwrap()
}

#[test]
fn hello_prints_and_exits_with_its_status() {
    for cpu in [CpuModel::CortexM0, CpuModel::CortexM4, CpuModel::CortexM7] {
        let mut sink = CountingSink::default();
        let outcome = run_fixture(cpu, "hello", &mut sink);
        assert_eq!(
            outcome.status,
            RunStatus::Exited { status: 3 },
            "{cpu}: {:?}",
            outcome
        );
        assert_eq!(
            String::from_utf8_lossy(&outcome.stdout),
            String::from_utf8_lossy(&host_output("hello")),
            "{cpu}"
        );
        assert!(sink.reads > 0 && sink.writes > 0);
        assert_eq!(outcome.stats.events, sink.reads + sink.writes);
    }
}

#[test]
fn kernels_match_the_host_build() {
    let kernels = [
        "conv_int8",
        "conv_float",
        "depthwise_int8",
        "fully_connected_int8",
        "avg_pool_int8",
        "max_pool_int8",
        "add_int8",
        "softmax_int8",
        "tiny_cnn",
    ];
    for cpu in [CpuModel::CortexM0, CpuModel::CortexM4, CpuModel::CortexM7] {
        for name in kernels {
            let mut sink = CountingSink::default();
            let outcome = run_fixture(cpu, name, &mut sink);
            assert_eq!(
                outcome.status,
                RunStatus::Exited { status: 0 },
                "{cpu} {name}"
            );
            let expected = host_output(name);
            assert!(!expected.is_empty(), "{name}: host build printed nothing");
            assert_eq!(
                String::from_utf8_lossy(&outcome.stdout),
                String::from_utf8_lossy(&expected),
                "{cpu} {name}: emulated output differs from the host build"
            );
        }
    }
}

/// Collects the events of op segments.
#[derive(Default)]
struct OpEvents {
    inside: bool,
    events: Vec<Event>,
}

impl EventSink for OpEvents {
    fn event(&mut self, event: &Event) {
        if self.inside {
            self.events.push(*event);
        }
    }
    fn op_begin(&mut self, _at: dmo_core::EventTime, _name: &str, _kind: &str) {
        self.inside = true;
    }
    fn op_end(&mut self, _at: dmo_core::EventTime) {
        self.inside = false;
    }
}

#[test]
fn conv1x1_stores_each_output_byte_once() {
    // DESIGN.md worked example: 1x1 CONV_2D, 48x48x8 -> 48x48x16 int8.
    // The reference loop order writes output[y, x, c] once per (y, x, c):
    // exactly 48 * 48 * 16 = 36864 one-byte stores into the output buffer,
    // and each of them comes after all 8 input bytes of its pixel were read.
    let mut sink = OpEvents::default();
    let outcome = run_fixture(CpuModel::CortexM4, "conv1x1", &mut sink);
    assert!(outcome.status.is_complete(), "{:?}", outcome.status);
    let op = &outcome.ops[0];
    let output = op
        .buffers
        .iter()
        .find(|b| b.role == dmo_core::BufferRole::Output)
        .unwrap();
    let input = op
        .buffers
        .iter()
        .find(|b| b.role == dmo_core::BufferRole::Input)
        .unwrap();
    assert_eq!(output.len, 36864);
    assert_eq!(input.len, 18432);
    let output_stores: Vec<&Event> = sink
        .events
        .iter()
        .filter(|e| e.kind == AccessKind::Write && output.contains(e.address))
        .collect();
    assert_eq!(output_stores.len(), 36864);
    assert!(output_stores.iter().all(|e| e.size == 1));
    let mut stored = vec![0u32; 36864];
    for event in &output_stores {
        stored[(event.address.0 - output.start.0) as usize] += 1;
    }
    assert!(stored.iter().all(|&count| count == 1));
    let input_bytes_read: u64 = sink
        .events
        .iter()
        .filter(|e| e.kind == AccessKind::Read && input.contains(e.address))
        .map(|e| e.size as u64)
        .sum();
    // Every output element reads its pixel's 8 input bytes (in some width).
    assert_eq!(input_bytes_read, 36864 * 8);
}

#[test]
fn forever_hits_the_budget() {
    let firmware = Firmware::load(&fixture(CpuModel::CortexM4, "forever")).unwrap();
    let config = RunConfig {
        max_instructions: 100_000,
        ..RunConfig::default()
    };
    let outcome = run(&firmware, &config, &mut CountingSink::default()).unwrap();
    match outcome.status {
        RunStatus::BudgetExhausted { instructions } => {
            assert!((100_000..100_100).contains(&instructions), "{instructions}")
        }
        other => panic!("expected the budget to run out, got {other:?}"),
    }
}

#[test]
fn bad_access_reports_the_fault() {
    let mut sink = CountingSink::default();
    let outcome = run_fixture(CpuModel::CortexM4, "bad_access", &mut sink);
    let RunStatus::Fault(report) = outcome.status else {
        panic!("expected a fault, got {:?}", outcome.status);
    };
    assert!(report.message.contains("0x90000000"), "{}", report.message);
    assert!(report.message.contains("unmapped"), "{}", report.message);
    assert!(
        report.instruction.starts_with("ldr"),
        "{}",
        report.instruction
    );
    assert!(
        report.location.contains("main") || report.location.contains("bad"),
        "{}",
        report.location
    );
}

/// Every event's PC must be an instruction that accesses memory: a check of
/// PC attribution against the disassembly, independent of the emulator.
#[test]
fn every_event_pc_is_a_memory_instruction() {
    struct Pcs(std::collections::BTreeMap<u32, u64>);
    impl EventSink for Pcs {
        fn event(&mut self, event: &Event) {
            *self.0.entry(event.pc.0).or_default() += 1;
        }
    }
    for cpu in [CpuModel::CortexM0, CpuModel::CortexM4] {
        let firmware = Firmware::load(&fixture(cpu, "tiny_cnn")).unwrap();
        let mut pcs = Pcs(Default::default());
        let outcome = run(
            &firmware,
            &RunConfig {
                cpu,
                ..RunConfig::default()
            },
            &mut pcs,
        )
        .unwrap();
        assert!(outcome.status.is_complete());
        let disassembler = dmo_emu::Disassembler::new();
        let memory_mnemonics = [
            "ld", "st", "push", "pop", "vld", "vst", "vpush", "vpop", "tbb", "tbh",
        ];
        for (&pc, &count) in &pcs.0 {
            let instruction = disassembler
                .instruction_at(&firmware, dmo_core::Address(pc))
                .unwrap();
            assert!(
                memory_mnemonics.iter().any(|m| instruction.starts_with(m)),
                "{cpu}: {count} events at {} attributed to `{instruction}`",
                firmware.symbols.describe(dmo_core::Address(pc))
            );
        }
    }
}
