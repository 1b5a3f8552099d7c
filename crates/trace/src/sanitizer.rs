//! The memcheck of arena plans: finds every read of an op's input byte after
//! that byte was overwritten while the op ran.
//!
//! A plan that overlaps an op's output with its input is safe when no output
//! store lands on an input byte the op still has to read (`shared/DESIGN.md`,
//! "Safe overlap"). In a run of the planned firmware the two buffers really
//! share memory, so a broken plan shows up as a load from an input address
//! that the same op stored to earlier: the kernel reads a value it clobbered.
//! This sink sees exactly that, from the addresses alone, so it works on any
//! trace or live run, however the buffers are placed. (A kernel that reads
//! back its own output where it aliases its input is reported too: in a trace
//! the two cannot be told apart, and no kernel dmo knows does it.)

use crate::{BufferDiscovery, TraceError, TraceReader};
use dmo_core::{AccessKind, Address, Buffer, BufferRole, Event, EventSink, EventTime};
use serde::Serialize;

/// The clobbered reads of every op of a trace (its recorded buffers, or the
/// discovered ones for ops without markers), in one pass.
pub fn clobbered_reads(reader: &TraceReader) -> Result<Vec<ClobberFinding>, TraceError> {
    let segments = BufferDiscovery::segments_to_mine(reader)?;
    let mut sanitizer = ClobberSanitizer::new();
    reader.replay_with_segments(&segments, &mut sanitizer)?;
    Ok(sanitizer.finish())
}

/// The first clobbered read of an input buffer, with the store before it.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize)]
pub struct ClobberedAccess {
    /// Byte offset in the input buffer.
    pub input_byte: u64,
    pub address: Address,
    pub write_time: EventTime,
    pub write_pc: Address,
    pub read_time: EventTime,
    pub read_pc: Address,
}

/// All clobbered reads of one input buffer of one op run.
#[derive(Clone, PartialEq, Eq, Debug, Serialize)]
pub struct ClobberFinding {
    /// Position of the op among the segments, counting from 0.
    pub segment_index: usize,
    pub op_name: String,
    pub op_kind: String,
    pub input: Buffer,
    /// Distinct input bytes read after the op overwrote them.
    pub bytes: u64,
    /// Reads (accesses) that saw an overwritten byte.
    pub reads: u64,
    pub first: ClobberedAccess,
}

/// Per input byte: the op's last store to it, if any.
#[derive(Clone, Copy, Default)]
struct LastStore {
    /// Time + 1 (0: no store in this op).
    time_plus_one: u64,
    pc: Address,
}

struct WatchedInput {
    buffer: Buffer,
    stores: Vec<LastStore>,
    clobbered: Vec<bool>,
    bytes: u64,
    reads: u64,
    first: Option<ClobberedAccess>,
}

struct OpenOp {
    name: String,
    kind: String,
    inputs: Vec<WatchedInput>,
}

/// An [`EventSink`] that reports clobbered reads per op and input buffer.
/// Memory: 16 bytes per input byte of the running op.
#[derive(Default)]
pub struct ClobberSanitizer {
    open: Option<OpenOp>,
    segment_index: usize,
    findings: Vec<ClobberFinding>,
}

impl ClobberSanitizer {
    pub fn new() -> Self {
        ClobberSanitizer::default()
    }

    /// Every finding, in op order then input order.
    pub fn finish(mut self) -> Vec<ClobberFinding> {
        self.close();
        self.findings
    }

    fn close(&mut self) {
        let Some(op) = self.open.take() else { return };
        for input in op.inputs {
            if let Some(first) = input.first {
                self.findings.push(ClobberFinding {
                    segment_index: self.segment_index,
                    op_name: op.name.clone(),
                    op_kind: op.kind.clone(),
                    input: input.buffer,
                    bytes: input.bytes,
                    reads: input.reads,
                    first,
                });
            }
        }
        self.segment_index += 1;
    }
}

impl EventSink for ClobberSanitizer {
    #[inline]
    fn event(&mut self, event: &Event) {
        let Some(op) = self.open.as_mut() else { return };
        for input in &mut op.inputs {
            let start = input.buffer.start.0 as u64;
            let end = start + u64::from(input.buffer.len);
            let first = (event.address.0 as u64).max(start);
            let last = (event.address.0 as u64 + u64::from(event.size)).min(end);
            if first >= last {
                continue;
            }
            let bytes = (first - start) as usize..(last - start) as usize;
            match event.kind {
                AccessKind::Write => {
                    for store in &mut input.stores[bytes] {
                        *store = LastStore {
                            time_plus_one: event.time.0 + 1,
                            pc: event.pc,
                        };
                    }
                }
                AccessKind::Read => {
                    let mut clobbered = false;
                    for byte in bytes {
                        let store = input.stores[byte];
                        if store.time_plus_one == 0 {
                            continue;
                        }
                        clobbered = true;
                        if !input.clobbered[byte] {
                            input.clobbered[byte] = true;
                            input.bytes += 1;
                        }
                        input.first.get_or_insert(ClobberedAccess {
                            input_byte: byte as u64,
                            address: Address(start as u32 + byte as u32),
                            write_time: EventTime(store.time_plus_one - 1),
                            write_pc: store.pc,
                            read_time: event.time,
                            read_pc: event.pc,
                        });
                    }
                    if clobbered {
                        input.reads += 1;
                    }
                }
            }
        }
    }

    fn op_begin(&mut self, _at: EventTime, name: &str, kind: &str) {
        self.close();
        self.open = Some(OpenOp {
            name: name.to_owned(),
            kind: kind.to_owned(),
            inputs: Vec::new(),
        });
    }

    fn op_buffer(&mut self, buffer: &Buffer) {
        let Some(op) = self.open.as_mut() else { return };
        if buffer.role != BufferRole::Input {
            return;
        }
        let len = buffer.len as usize;
        op.inputs.push(WatchedInput {
            buffer: buffer.clone(),
            stores: vec![LastStore::default(); len],
            clobbered: vec![false; len],
            bytes: 0,
            reads: 0,
            first: None,
        });
    }

    fn op_end(&mut self, _at: EventTime) {
        self.close();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(time: u64, pc: u32, address: u32, size: u8, kind: AccessKind) -> Event {
        Event {
            time: EventTime(time),
            pc: Address(pc),
            address: Address(address),
            size,
            kind,
        }
    }

    fn buffer(name: &str, start: u32, len: u32, role: BufferRole) -> Buffer {
        Buffer {
            name: name.into(),
            start: Address(start),
            len,
            role,
        }
    }

    /// A 4-byte "copy" op, output placed 2 bytes below its input: input at
    /// 0x1002..0x1006, output at 0x1000..0x1004. Copying byte i reads input
    /// i then writes output i (address 0x1000 + i). The write of output 2
    /// lands on input 0 (already read): harmless. A kernel that writes
    /// output 2 and 3 *before* reading input 0 and 1 clobbers them.
    fn run(events: &[Event]) -> Vec<ClobberFinding> {
        let mut sanitizer = ClobberSanitizer::new();
        sanitizer.op_begin(EventTime(0), "copy", "RESHAPE");
        sanitizer.op_buffer(&buffer("in", 0x1002, 4, BufferRole::Input));
        sanitizer.op_buffer(&buffer("out", 0x1000, 4, BufferRole::Output));
        for e in events {
            sanitizer.event(e);
        }
        sanitizer.op_end(EventTime(events.len() as u64));
        sanitizer.finish()
    }

    #[test]
    fn in_order_copy_over_its_input_is_clean() {
        let mut events = Vec::new();
        for i in 0..4u32 {
            events.push(event(2 * i as u64, 0x100, 0x1002 + i, 1, AccessKind::Read));
            events.push(event(
                2 * i as u64 + 1,
                0x104,
                0x1000 + i,
                1,
                AccessKind::Write,
            ));
        }
        assert!(run(&events).is_empty());
    }

    #[test]
    fn a_store_before_the_last_read_is_found_with_both_instructions() {
        // Writes first (output 0..4 = addresses 0x1000..0x1004), then reads
        // the input (0x1002..0x1006): input bytes 0 and 1 (0x1002, 0x1003)
        // were overwritten by output bytes 2 and 3 at times 2 and 3.
        let mut events = Vec::new();
        for i in 0..4u32 {
            events.push(event(i as u64, 0x200, 0x1000 + i, 1, AccessKind::Write));
        }
        // One word read covers all four input bytes.
        events.push(event(4, 0x204, 0x1002, 4, AccessKind::Read));
        let findings = run(&events);
        assert_eq!(findings.len(), 1);
        let finding = &findings[0];
        assert_eq!((finding.bytes, finding.reads), (2, 1));
        assert_eq!(finding.input.name, "in");
        assert_eq!(
            finding.first,
            ClobberedAccess {
                input_byte: 0,
                address: Address(0x1002),
                write_time: EventTime(2),
                write_pc: Address(0x200),
                read_time: EventTime(4),
                read_pc: Address(0x204),
            }
        );
    }

    #[test]
    fn stores_of_an_earlier_op_do_not_count() {
        let mut sanitizer = ClobberSanitizer::new();
        sanitizer.op_begin(EventTime(0), "producer", "ADD");
        sanitizer.op_buffer(&buffer("out", 0x1002, 4, BufferRole::Output));
        sanitizer.event(&event(0, 0x1, 0x1002, 4, AccessKind::Write));
        sanitizer.op_end(EventTime(1));
        sanitizer.op_begin(EventTime(1), "consumer", "ADD");
        sanitizer.op_buffer(&buffer("in", 0x1002, 4, BufferRole::Input));
        sanitizer.event(&event(1, 0x2, 0x1002, 4, AccessKind::Read));
        sanitizer.op_end(EventTime(2));
        assert!(sanitizer.finish().is_empty());
    }
}
