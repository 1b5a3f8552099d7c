//! Writes a large synthetic trace for benchmarking `dmo plot`:
//! `cargo run --release -p dmo-plot --example synthetic_trace -- OPS OUT.dmotrace`.
//!
//! A chain of OPS pointwise (1x1) CONV_2D ops, 48x48 pixels, 16 -> 16
//! channels (36864-byte buffers ping-ponging between two arena halves), in
//! TFLM's reference loop order: per pixel and output channel, read the
//! pixel's 16 input bytes, write one output byte. 626 688 events per op, so
//! 160 ops make 10^8 events.

use dmo_core::{
    AccessKind, Address, Buffer, BufferRole, EventClock, MemoryRegion, RegionKind, RunEnd,
};
use dmo_trace::{TraceMetadata, TraceOptions, TraceWriter};
use std::path::Path;

const PIXELS: u32 = 48 * 48;
const CHANNELS: u32 = 16;
const BUFFER: u32 = PIXELS * CHANNELS;
const ARENA: u32 = 0x2000_0000;

/// The pointwise chain's two instructions: one load, one store.
fn pc(kind: AccessKind) -> u32 {
    0x400 + if kind == AccessKind::Read { 0 } else { 4 }
}

/// Writes the trace; returns the number of events.
pub fn write_pointwise_chain(path: &Path, ops: u32) -> u64 {
    let mut writer = TraceWriter::create(path, TraceOptions::default()).expect("create trace");
    let mut chain = EventClock::new(&mut writer);
    let access = |chain: &mut EventClock, address: u32, kind: AccessKind| {
        chain.access(pc(kind), address, 1, kind)
    };
    for byte in 0..BUFFER {
        access(&mut chain, ARENA + byte, AccessKind::Write);
    }
    for op in 0..ops {
        let (input, output) = if op % 2 == 0 {
            (ARENA, ARENA + BUFFER)
        } else {
            (ARENA + BUFFER, ARENA)
        };
        chain.begin_op(
            &format!("pw{op}"),
            "CONV_2D",
            &[
                Buffer::new("input", Address(input), BUFFER, BufferRole::Input),
                Buffer::new("output", Address(output), BUFFER, BufferRole::Output),
            ],
        );
        for pixel in 0..PIXELS {
            for out_channel in 0..CHANNELS {
                for in_channel in 0..CHANNELS {
                    access(
                        &mut chain,
                        input + pixel * CHANNELS + in_channel,
                        AccessKind::Read,
                    );
                }
                access(
                    &mut chain,
                    output + pixel * CHANNELS + out_channel,
                    AccessKind::Write,
                );
            }
        }
        chain.end_op();
    }
    let events = chain.now().0;
    let metadata = TraceMetadata {
        tool_version: "synthetic".into(),
        elf_path: "pointwise_chain.elf".into(),
        cpu: "cortex-m4".into(),
        memory_map: vec![MemoryRegion {
            name: "ram".into(),
            start: Address(ARENA),
            len: 0x1_0000,
            kind: RegionKind::Ram,
        }],
        status: RunEnd::Complete { exit_code: 0 },
        ..TraceMetadata::default()
    };
    writer.finish(metadata).expect("finish trace");
    events
}

#[allow(dead_code)]
fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 3 {
        eprintln!("usage: synthetic_trace OPS OUT.dmotrace");
        std::process::exit(2);
    }
    let ops: u32 = args[1].parse().expect("OPS is a number");
    let events = write_pointwise_chain(Path::new(&args[2]), ops);
    println!("wrote {}: {events} events", args[2]);
}
