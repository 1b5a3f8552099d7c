//! Helpers the emulator's integration tests share: the fixture ELFs, a sink
//! that keeps every event, and the overlay of an op's first input/output pair.
#![allow(dead_code)] // each test file uses a subset

use dmo_core::{BufferRole, CpuModel, Event, EventSink, OpSegment};
use dmo_emu::{Overlay, OverlayPlacement};
use std::path::{Path, PathBuf};

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A fixture ELF built by `make -C fixtures` for `cpu`.
pub fn fixture(cpu: CpuModel, name: &str) -> PathBuf {
    let path = repo_root().join(format!("fixtures/build/{}/{name}.elf", cpu.name()));
    assert!(
        path.exists(),
        "{} is missing: run `make -C fixtures` first (scripts/test.sh does)",
        path.display()
    );
    path
}

/// Keeps every event of a run.
#[derive(Default)]
pub struct Recorder {
    pub events: Vec<Event>,
}

impl EventSink for Recorder {
    fn event(&mut self, event: &Event) {
        self.events.push(*event);
    }
}

/// The overlay of `op`'s first input and output, its input filled from
/// `seed`; `None` when the op has no such pair.
pub fn overlay_of(
    op: &OpSegment,
    placement: Option<OverlayPlacement>,
    seed: u64,
) -> Option<Overlay> {
    let buffer = |role| op.buffers.iter().find(|buffer| buffer.role == role);
    let (input, output) = (buffer(BufferRole::Input)?, buffer(BufferRole::Output)?);
    Some(Overlay {
        op_name: op.name.clone(),
        occurrence: 0,
        input_start: input.start,
        input_len: input.len,
        output_start: output.start,
        output_len: output.len,
        placement,
        fill_seed: Some(seed),
        watch_input_byte: None,
    })
}
