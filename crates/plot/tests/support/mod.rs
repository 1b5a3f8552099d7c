//! Hand-made traces with known answers, written with the real trace writer.

use dmo_core::{
    AccessKind, Address, Buffer, BufferRole, Event, EventSink, EventTime, MemoryRegion, RegionKind,
    RunEnd,
};
use dmo_trace::{TraceMetadata, TraceOptions, TraceWriter};
use std::path::Path;

pub const OUTPUT: u32 = 0x2000_0000;
pub const INPUT: u32 = 0x2000_0100;
pub const PIXELS: u32 = 8;
pub const IN_CHANNELS: u32 = 8;
pub const OUT_CHANNELS: u32 = 16;

struct Recorder<'a> {
    writer: &'a mut TraceWriter,
    time: u64,
}

impl Recorder<'_> {
    fn access(&mut self, address: u32, size: u8, kind: AccessKind) {
        self.writer.event(&Event {
            time: EventTime(self.time),
            pc: Address(0x100 + 2 * (self.time % 7) as u32),
            address: Address(address),
            size,
            kind,
        });
        self.time += 1;
    }
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
    let mut r = Recorder {
        writer: &mut writer,
        time: 0,
    };
    for byte in 0..PIXELS * IN_CHANNELS {
        r.access(INPUT + byte, 1, AccessKind::Write);
    }
    let buffer = |name: &str, start: u32, len: u32, role| Buffer {
        name: name.into(),
        start: Address(start),
        len,
        role,
    };
    let conv_start = EventTime(r.time);
    r.writer.op_begin(conv_start, "conv", "CONV_2D");
    r.writer.op_buffer(&buffer(
        "input",
        INPUT,
        PIXELS * IN_CHANNELS,
        BufferRole::Input,
    ));
    r.writer.op_buffer(&buffer(
        "output",
        OUTPUT,
        PIXELS * OUT_CHANNELS,
        BufferRole::Output,
    ));
    for pixel in 0..PIXELS {
        for out_channel in 0..OUT_CHANNELS {
            for in_channel in 0..IN_CHANNELS {
                r.access(
                    INPUT + pixel * IN_CHANNELS + in_channel,
                    1,
                    AccessKind::Read,
                );
            }
            r.access(
                OUTPUT + pixel * OUT_CHANNELS + out_channel,
                1,
                AccessKind::Write,
            );
        }
    }
    let end = EventTime(r.time);
    r.writer.op_end(end);
    r.writer.op_begin(end, "relu", "RELU");
    r.writer.op_buffer(&buffer(
        "input",
        OUTPUT,
        PIXELS * OUT_CHANNELS,
        BufferRole::Input,
    ));
    r.writer.op_buffer(&buffer(
        "output",
        INPUT,
        PIXELS * OUT_CHANNELS,
        BufferRole::Output,
    ));
    for byte in 0..PIXELS * OUT_CHANNELS {
        r.access(OUTPUT + byte, 1, AccessKind::Read);
        r.access(INPUT + byte, 1, AccessKind::Write);
    }
    let end = EventTime(r.time);
    r.writer.op_end(end);
    // Read the result, as the firmware would print it.
    for byte in 0..PIXELS * OUT_CHANNELS {
        r.access(INPUT + byte, 1, AccessKind::Read);
    }
    writer.finish(metadata()).unwrap();
}

/// No ops; 32768 events alternating an 8-byte write cycling over the 64
/// bytes at `OUTPUT` and an 8-byte read cycling over the 64 bytes above.
/// Every time column of a figure up to 2048 pixels wide holds at least 8
/// writes and 8 reads, so each covers all 64 bytes of its half.
pub fn write_halves_trace(path: &Path) {
    let mut writer = TraceWriter::create(path, TraceOptions::default()).unwrap();
    let mut r = Recorder {
        writer: &mut writer,
        time: 0,
    };
    for step in 0..16384u32 {
        let slot = (step % 8) * 8;
        r.access(OUTPUT + slot, 8, AccessKind::Write);
        r.access(OUTPUT + 64 + slot, 8, AccessKind::Read);
    }
    writer.finish(metadata()).unwrap();
}
