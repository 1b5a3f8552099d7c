//! Hand-made traces with known answers, written with the real trace writer.

use dmo_core::{
    AccessKind, Address, Buffer, BufferRole, EventClock, MemoryRegion, RegionKind, RunEnd,
};
use dmo_trace::{TraceMetadata, TraceOptions, TraceWriter};
use std::path::Path;

pub const OUTPUT: u32 = 0x2000_0000;
pub const INPUT: u32 = 0x2000_0100;
pub const PIXELS: u32 = 8;
pub const IN_CHANNELS: u32 = 8;
pub const OUT_CHANNELS: u32 = 16;

/// The instruction of event `time`: seven made-up PCs in turn.
fn pc(time: u64) -> u32 {
    0x100 + 2 * (time % 7) as u32
}

/// Stamps an access with the clock's time and its made-up PC.
fn access(clock: &mut EventClock, address: u32, size: u8, kind: AccessKind) {
    let time = clock.now().0;
    clock.access(pc(time), address, size, kind);
}

fn metadata() -> TraceMetadata {
    TraceMetadata {
        tool_version: "test".into(),
        elf_path: "synthetic.elf".into(),
        cpu: "cortex-m4".into(),
        memory_map: vec![MemoryRegion {
            name: "ram".into(),
            start: Address(0x2000_0000),
            len: 0x1000,
            kind: RegionKind::Ram,
        }],
        status: RunEnd::Complete { exit_code: 0 },
        ..TraceMetadata::default()
    }
}

/// A 1x1 CONV_2D in TFLM's reference order (DESIGN.md): 8 pixels, 8 input
/// channels (64 bytes at `INPUT`), 16 output channels (128 bytes at
/// `OUTPUT`); for each pixel and output channel, read the pixel's 8 input
/// bytes, then write the output byte. The input is written first (a model
/// input), then a RELU reads the conv output and writes it back to `INPUT`
/// and the 64 bytes above it.
pub fn write_conv_trace(path: &Path) {
    let mut writer = TraceWriter::create(path, TraceOptions::default()).unwrap();
    let mut r = EventClock::new(&mut writer);
    for byte in 0..PIXELS * IN_CHANNELS {
        access(&mut r, INPUT + byte, 1, AccessKind::Write);
    }
    let buffer =
        |name: &str, start: u32, len: u32, role| Buffer::new(name, Address(start), len, role);
    r.begin_op(
        "conv",
        "CONV_2D",
        &[
            buffer("input", INPUT, PIXELS * IN_CHANNELS, BufferRole::Input),
            buffer("output", OUTPUT, PIXELS * OUT_CHANNELS, BufferRole::Output),
        ],
    );
    for pixel in 0..PIXELS {
        for out_channel in 0..OUT_CHANNELS {
            for in_channel in 0..IN_CHANNELS {
                access(
                    &mut r,
                    INPUT + pixel * IN_CHANNELS + in_channel,
                    1,
                    AccessKind::Read,
                );
            }
            access(
                &mut r,
                OUTPUT + pixel * OUT_CHANNELS + out_channel,
                1,
                AccessKind::Write,
            );
        }
    }
    r.end_op();
    r.begin_op(
        "relu",
        "RELU",
        &[
            buffer("input", OUTPUT, PIXELS * OUT_CHANNELS, BufferRole::Input),
            buffer("output", INPUT, PIXELS * OUT_CHANNELS, BufferRole::Output),
        ],
    );
    for byte in 0..PIXELS * OUT_CHANNELS {
        access(&mut r, OUTPUT + byte, 1, AccessKind::Read);
        access(&mut r, INPUT + byte, 1, AccessKind::Write);
    }
    r.end_op();
    // Read the result, as the firmware would print it.
    for byte in 0..PIXELS * OUT_CHANNELS {
        access(&mut r, INPUT + byte, 1, AccessKind::Read);
    }
    writer.finish(metadata()).unwrap();
}

/// No ops; 32768 events alternating an 8-byte write cycling over the 64
/// bytes at `OUTPUT` and an 8-byte read cycling over the 64 bytes above.
/// Every time column of a figure up to 2048 pixels wide holds at least 8
/// writes and 8 reads, so each covers all 64 bytes of its half.
pub fn write_halves_trace(path: &Path) {
    let mut writer = TraceWriter::create(path, TraceOptions::default()).unwrap();
    let mut r = EventClock::new(&mut writer);
    for step in 0..16384u32 {
        let slot = (step % 8) * 8;
        access(&mut r, OUTPUT + slot, 8, AccessKind::Write);
        access(&mut r, OUTPUT + 64 + slot, 8, AccessKind::Read);
    }
    writer.finish(metadata()).unwrap();
}
