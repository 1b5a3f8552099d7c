//! Finds the buffers of op segments from their accesses alone, for firmware
//! without `dmo_buffer()` markers.
//!
//! Within a segment: contiguous RAM ranges written are outputs, except
//! scratch (bytes the op wrote, read back itself, and whose values nobody
//! read after the op: an im2col or accumulator buffer in the arena); RAM
//! ranges read whose values were produced before the segment (or are
//! initial data) are inputs; ranges read from flash are weights. The stack region of the
//! memory map (lowest SP seen up to the initial SP) is left out. Each range is
//! named after the ELF symbol it falls in (`tensor_arena+0x1200`). See
//! [`BufferDiscovery`] for how constants in RAM and literal pools are told
//! apart.

use crate::metadata::TraceMetadata;
use crate::ranges::{ByteRange, DenseBytes};
use crate::reader::TraceReader;
use crate::TraceError;
use dmo_core::{
    AccessKind, Address, Buffer, BufferRole, Event, EventSink, EventTime, OpSegment, RegionKind,
    SymbolKind, TimeRange,
};

/// A growable bit per tracked byte.
struct BitSet {
    words: Vec<u64>,
}

impl BitSet {
    fn new(bits: usize) -> BitSet {
        BitSet {
            words: vec![0; bits.div_ceil(64)],
        }
    }

    #[inline]
    fn set(&mut self, bit: usize) {
        self.words[bit / 64] |= 1 << (bit % 64);
    }

    #[inline]
    fn unset(&mut self, bit: usize) {
        self.words[bit / 64] &= !(1 << (bit % 64));
    }

    fn get(&self, bit: usize) -> bool {
        self.words[bit / 64] & (1 << (bit % 64)) != 0
    }

    fn clear(&mut self) {
        self.words.fill(0);
    }

    /// Maximal runs of set bits as `(first, count)`, each inside one range of
    /// `bytes` (a run never spans a gap between tracked ranges).
    fn runs(&self, bytes: &DenseBytes) -> Vec<ByteRange> {
        let mut runs = Vec::new();
        let mut base = 0usize;
        for range in bytes.ranges() {
            let mut run_start: Option<usize> = None;
            for offset in 0..range.len as usize {
                let set = self.get(base + offset);
                match (set, run_start) {
                    (true, None) => run_start = Some(offset),
                    (false, Some(start)) => {
                        runs.push(ByteRange::new(
                            range.start.offset(start as u32),
                            (offset - start) as u32,
                        ));
                        run_start = None;
                    }
                    _ => {}
                }
            }
            if let Some(start) = run_start {
                runs.push(ByteRange::new(
                    range.start.offset(start as u32),
                    range.len - start as u32,
                ));
            }
            base += range.len as usize;
        }
        runs
    }
}

/// A segment whose buffers are known except for two classes settled at the
/// end: the values it read that no op produced (model input or constant?),
/// and the values it wrote and read back itself (scratch, unless someone
/// reads them after the op).
struct PendingSegment {
    segment: OpSegment,
    /// Read ranges whose values were written outside any op, or are initial data.
    produced_outside_ops: Vec<ByteRange>,
    /// RAM ranges the op wrote.
    written: Vec<ByteRange>,
    /// Of `written`: bytes the op read back after writing them.
    scratch_candidates: Vec<ByteRange>,
    /// Addresses of scratch candidates whose values were read after the op:
    /// outputs after all.
    read_later: Vec<u32>,
}

/// Discovers buffers segment by segment while the events stream past.
/// Feed it a whole run (op markers included) and call [`finish`](Self::finish).
///
/// Refinements of the basic rules, learnt on the `tiny_cnn` fixture:
/// - RAM values an op reads that were produced outside every op (start-up
///   code, initial data) are weights, unless some op writes those bytes at
///   some time in the run (then they are activation memory, e.g. the model
///   input in the arena).
/// - Flash reads inside a function's symbol are literal pools, not weights.
/// - Ranges are split where ELF object symbols begin or end, so neighbouring
///   arrays (filter, bias, ...) are separate buffers.
pub struct BufferDiscovery<'m> {
    metadata: &'m TraceMetadata,
    ram: DenseBytes,
    flash: DenseBytes,
    /// Last write time per RAM byte (`u64::MAX`: never written).
    last_write: Vec<u64>,
    /// Whether the last write of a RAM byte happened inside an op segment.
    last_write_in_op: BitSet,
    /// RAM bytes any op segment has written so far.
    written_by_some_op: BitSet,
    /// Of the open segment: RAM bytes written.
    written: BitSet,
    /// Of the open segment: RAM bytes read whose value an earlier op produced.
    read_from_earlier_op: BitSet,
    /// Of the open segment: RAM bytes read whose value no op produced.
    read_from_outside_ops: BitSet,
    /// Of the open segment: RAM bytes it read after writing them itself.
    read_back: BitSet,
    /// RAM bytes whose value a closed segment wrote and read back, and that
    /// nobody has read since (cleared by the next write or read of the byte).
    scratch_candidate: BitSet,
    /// Of the open segment: flash bytes read outside functions.
    weights_read: BitSet,
    open: Option<(String, String, EventTime)>,
    /// The open op's instruction count, as the replay reports it.
    open_instructions: Option<u64>,
    found: Vec<PendingSegment>,
}

impl<'m> BufferDiscovery<'m> {
    /// Uses the memory map of `metadata`: RAM regions minus stack regions are
    /// tracked as data, flash regions as weights.
    pub fn new(metadata: &'m TraceMetadata) -> Self {
        let regions = |kind: RegionKind| -> Vec<ByteRange> {
            metadata
                .memory_map
                .iter()
                .filter(|region| region.kind == kind)
                .map(|region| ByteRange::new(region.start, region.len))
                .collect()
        };
        let ram = DenseBytes::new(&subtract(
            &regions(RegionKind::Ram),
            &regions(RegionKind::Stack),
        ));
        let functions: Vec<ByteRange> = metadata
            .symbols
            .iter()
            .filter(|symbol| symbol.kind == SymbolKind::Function)
            .map(|symbol| ByteRange::new(symbol.address, symbol.size))
            .collect();
        let flash = DenseBytes::new(&subtract(&regions(RegionKind::Flash), &functions));
        BufferDiscovery {
            metadata,
            last_write: vec![u64::MAX; ram.len()],
            last_write_in_op: BitSet::new(ram.len()),
            written_by_some_op: BitSet::new(ram.len()),
            written: BitSet::new(ram.len()),
            read_from_earlier_op: BitSet::new(ram.len()),
            read_from_outside_ops: BitSet::new(ram.len()),
            read_back: BitSet::new(ram.len()),
            scratch_candidate: BitSet::new(ram.len()),
            weights_read: BitSet::new(flash.len()),
            ram,
            flash,
            open: None,
            open_instructions: None,
            found: Vec::new(),
        }
    }

    /// The segments seen, each with the buffers found in it: inputs, then
    /// outputs, then weights, each in address order.
    pub fn finish(mut self, end: EventTime) -> Vec<OpSegment> {
        self.close(end);
        let mut segments = Vec::with_capacity(self.found.len());
        for pending in std::mem::take(&mut self.found) {
            let mut segment = pending.segment;
            let mut read_later = pending.read_later;
            read_later.sort_unstable();
            read_later.dedup();
            let scratch = subtract(&pending.scratch_candidates, &byte_runs(&read_later));
            for (ranges, role) in [
                (subtract(&pending.written, &scratch), BufferRole::Output),
                (scratch, BufferRole::Scratch),
            ] {
                for range in ranges {
                    segment.buffers.extend(self.named_buffers(range, role));
                }
            }
            for range in pending.produced_outside_ops {
                for (piece, in_activation_memory) in self.split_by_op_writes(range) {
                    let role = if in_activation_memory {
                        BufferRole::Input
                    } else {
                        BufferRole::Weights
                    };
                    segment.buffers.extend(self.named_buffers(piece, role));
                }
            }
            segment
                .buffers
                .sort_by_key(|buffer| (role_order(buffer.role), buffer.start));
            segments.push(segment);
        }
        segments
    }

    fn close(&mut self, end: EventTime) {
        let Some((name, kind, start)) = self.open.take() else {
            return;
        };
        let mut buffers = Vec::new();
        for (bits, bytes, role) in [
            (&self.read_from_earlier_op, &self.ram, BufferRole::Input),
            (&self.weights_read, &self.flash, BufferRole::Weights),
        ] {
            for run in bits.runs(bytes) {
                buffers.extend(self.named_buffers(run, role));
            }
        }
        // Bytes read back (so written by this op) are scratch candidates from now on.
        for (candidate, read_back) in self
            .scratch_candidate
            .words
            .iter_mut()
            .zip(&self.read_back.words)
        {
            *candidate |= *read_back;
        }
        let scratch_candidates = self.read_back.runs(&self.ram);
        self.found.push(PendingSegment {
            segment: OpSegment {
                name,
                kind,
                time: TimeRange::new(start, end),
                buffers,
                instructions: self.open_instructions.take(),
            },
            produced_outside_ops: self.read_from_outside_ops.runs(&self.ram),
            written: self.written.runs(&self.ram),
            scratch_candidates,
            read_later: Vec::new(),
        });
        self.written.clear();
        self.read_back.clear();
        self.read_from_earlier_op.clear();
        self.read_from_outside_ops.clear();
        self.weights_read.clear();
    }

    /// A read of a RAM byte after the op that last wrote it: if that op had
    /// read the value back (a scratch candidate), the value was an output.
    #[inline]
    fn note_read_later(&mut self, index: usize, address: u64, last_write: u64) {
        if !self.scratch_candidate.get(index) {
            return;
        }
        self.scratch_candidate.unset(index);
        let writer = self
            .found
            .partition_point(|pending| pending.segment.time.start.0 <= last_write);
        if let Some(pending) = writer.checked_sub(1).map(|i| &mut self.found[i]) {
            pending.read_later.push(address as u32);
        }
    }

    /// `range` cut into pieces that some op writes during the run (`true`)
    /// and pieces none does (`false`).
    fn split_by_op_writes(&self, range: ByteRange) -> Vec<(ByteRange, bool)> {
        let mut pieces: Vec<(ByteRange, bool)> = Vec::new();
        for offset in 0..range.len {
            let address = range.start.offset(offset);
            let written = self
                .ram
                .index(address.0 as u64)
                .is_some_and(|index| self.written_by_some_op.get(index));
            match pieces.last_mut() {
                Some((piece, class)) if *class == written => piece.len += 1,
                _ => pieces.push((ByteRange::new(address, 1), written)),
            }
        }
        pieces
    }

    /// Buffers for `range`, split where object symbols begin or end, each
    /// named after the symbol it falls in.
    fn named_buffers(&self, range: ByteRange, role: BufferRole) -> Vec<Buffer> {
        let mut cuts: Vec<u64> = self
            .metadata
            .symbols
            .iter()
            .filter(|symbol| symbol.kind == SymbolKind::Object)
            .flat_map(|symbol| {
                let start = symbol.address.0 as u64;
                [start, start + symbol.size as u64]
            })
            .filter(|&cut| cut > range.start.0 as u64 && cut < range.end())
            .collect();
        cuts.sort_unstable();
        cuts.dedup();
        let mut bounds = vec![range.start.0 as u64];
        bounds.extend(cuts);
        bounds.push(range.end());
        bounds
            .windows(2)
            .map(|pair| {
                let start = Address(pair[0] as u32);
                Buffer {
                    name: self.metadata.name_address(start),
                    start,
                    len: (pair[1] - pair[0]) as u32,
                    role,
                }
            })
            .collect()
    }

    /// The op segments to mine: as recorded when the firmware's markers
    /// declared an input and an output for some op, else discovered from
    /// the events (ops from `--ops`, which carry no buffers).
    pub fn segments_to_mine(reader: &TraceReader) -> Result<Vec<OpSegment>, TraceError> {
        let has_pairs = |segment: &OpSegment| {
            segment
                .buffers_with_role(BufferRole::Input)
                .next()
                .is_some()
                && segment
                    .buffers_with_role(BufferRole::Output)
                    .next()
                    .is_some()
        };
        let recorded = reader.segments();
        if !recorded.is_empty() && !recorded.iter().any(has_pairs) {
            BufferDiscovery::of_trace(reader)
        } else {
            Ok(recorded.to_vec())
        }
    }

    /// Discovers the buffers of every segment of a trace in one pass.
    pub fn of_trace(reader: &TraceReader) -> Result<Vec<OpSegment>, TraceError> {
        let mut discovery = BufferDiscovery::new(reader.metadata());
        reader.replay(&mut discovery)?;
        Ok(discovery.finish(EventTime(reader.event_count())))
    }
}

fn role_order(role: BufferRole) -> u8 {
    match role {
        BufferRole::Input => 0,
        BufferRole::Output => 1,
        BufferRole::Weights => 2,
        BufferRole::Scratch => 3,
    }
}

impl EventSink for BufferDiscovery<'_> {
    #[inline]
    fn event(&mut self, event: &Event) {
        let segment_start = self.open.as_ref().map(|(_, _, start)| start.0);
        let first = event.address.0 as u64;
        for address in first..first + event.size as u64 {
            if let Some(index) = self.ram.index(address) {
                match (event.kind, segment_start) {
                    (AccessKind::Write, Some(_)) => {
                        self.last_write[index] = event.time.0;
                        self.last_write_in_op.set(index);
                        self.written_by_some_op.set(index);
                        self.written.set(index);
                        self.scratch_candidate.unset(index);
                    }
                    (AccessKind::Write, None) => {
                        self.last_write[index] = event.time.0;
                        self.last_write_in_op.unset(index);
                        self.scratch_candidate.unset(index);
                    }
                    (AccessKind::Read, Some(start)) => {
                        let last_write = self.last_write[index];
                        if last_write != u64::MAX && last_write >= start {
                            self.read_back.set(index);
                        } else {
                            self.note_read_later(index, address, last_write);
                            if last_write != u64::MAX && self.last_write_in_op.get(index) {
                                self.read_from_earlier_op.set(index);
                            } else {
                                self.read_from_outside_ops.set(index);
                            }
                        }
                    }
                    (AccessKind::Read, None) => {
                        let last_write = self.last_write[index];
                        self.note_read_later(index, address, last_write);
                    }
                }
            } else if segment_start.is_some() && event.kind == AccessKind::Read {
                // Checked after the cheap conditions: flash minus the
                // functions is many ranges.
                if let Some(index) = self.flash.index(address) {
                    self.weights_read.set(index);
                }
            }
        }
    }

    fn op_begin(&mut self, at: EventTime, name: &str, kind: &str) {
        self.close(at);
        self.open = Some((name.to_string(), kind.to_string(), at));
        self.open_instructions = None;
    }

    fn op_instructions(&mut self, count: u64) {
        self.open_instructions = Some(count);
    }

    fn op_end(&mut self, at: EventTime) {
        self.close(at);
    }
}

/// Sorted, distinct addresses as maximal runs.
fn byte_runs(addresses: &[u32]) -> Vec<ByteRange> {
    let mut runs: Vec<ByteRange> = Vec::new();
    for &address in addresses {
        match runs.last_mut() {
            Some(run) if run.end() == address as u64 => run.len += 1,
            _ => runs.push(ByteRange::new(Address(address), 1)),
        }
    }
    runs
}

/// `ranges` minus the bytes of `holes`.
fn subtract(ranges: &[ByteRange], holes: &[ByteRange]) -> Vec<ByteRange> {
    let mut pieces: Vec<(u64, u64)> = ranges.iter().map(|r| (r.start.0 as u64, r.end())).collect();
    for hole in holes {
        let (hole_start, hole_end) = (hole.start.0 as u64, hole.end());
        pieces = pieces
            .into_iter()
            .flat_map(|(start, end)| {
                [(start, end.min(hole_start)), (start.max(hole_end), end)]
                    .into_iter()
                    .filter(|(s, e)| s < e)
            })
            .collect();
    }
    pieces
        .into_iter()
        .map(|(start, end)| ByteRange::new(dmo_core::Address(start as u32), (end - start) as u32))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use dmo_core::{Address, MemoryRegion, Symbol};

    fn metadata() -> TraceMetadata {
        let region = |name: &str, start: u32, len: u32, kind| MemoryRegion {
            name: name.to_string(),
            start: Address(start),
            len,
            kind,
        };
        TraceMetadata {
            memory_map: vec![
                region("flash", 0x0800_0000, 0x1_0000, RegionKind::Flash),
                region("ram", 0x2000_0000, 0x1_0000, RegionKind::Ram),
                region("stack", 0x2000_f000, 0x1000, RegionKind::Stack),
            ],
            symbols: vec![
                Symbol {
                    name: "tensor_arena".to_string(),
                    address: Address(0x2000_0000),
                    size: 0x1000,
                    kind: SymbolKind::Object,
                },
                Symbol {
                    name: "kernel".to_string(),
                    address: Address(0x0800_0100),
                    size: 0x40,
                    kind: SymbolKind::Function,
                },
                Symbol {
                    name: "conv_weights".to_string(),
                    address: Address(0x0800_2000),
                    size: 0x100,
                    kind: SymbolKind::Object,
                },
            ],
            ..TraceMetadata::default()
        }
    }

    #[test]
    fn subtracting_the_stack_splits_ram() {
        let ram = [ByteRange::new(Address(0x100), 0x100)];
        let stack = [ByteRange::new(Address(0x180), 0x10)];
        assert_eq!(
            subtract(&ram, &stack),
            vec![
                ByteRange::new(Address(0x100), 0x80),
                ByteRange::new(Address(0x190), 0x70)
            ]
        );
    }

    /// Two ops by hand: a producer writing 16 bytes at arena+0x100, then an op
    /// reading them (and 4 bytes of initial data at arena+0x200), reading 8
    /// weight bytes and a literal in a function, using the stack, writing 8
    /// bytes at arena+0x0 and reading one of them back (not an input:
    /// produced in the segment). After the ops, the firmware reads the result
    /// (so the byte read back is an output, not scratch).
    #[test]
    fn finds_inputs_outputs_and_weights_and_skips_the_stack() {
        let metadata = metadata();
        let mut discovery = BufferDiscovery::new(&metadata);
        let mut time = 0u64;
        let mut access = |sink: &mut BufferDiscovery, address: u32, size: u8, kind| {
            sink.event(&Event {
                time: EventTime(time),
                pc: Address(0x0800_0100),
                address: Address(address),
                size,
                kind,
            });
            time += 1;
        };
        discovery.op_begin(EventTime(0), "fill", "CUSTOM");
        for word in 0..4 {
            access(&mut discovery, 0x2000_0100 + 4 * word, 4, AccessKind::Write);
        }
        discovery.op_end(EventTime(4));
        discovery.op_begin(EventTime(4), "conv", "CONV_2D");
        access(&mut discovery, 0x2000_fff0, 4, AccessKind::Write); // push
        for byte in 0..16 {
            access(&mut discovery, 0x2000_0100 + byte, 1, AccessKind::Read);
        }
        access(&mut discovery, 0x2000_0200, 4, AccessKind::Read);
        access(&mut discovery, 0x0800_2010, 8, AccessKind::Read);
        access(&mut discovery, 0x0800_0104, 4, AccessKind::Read); // literal pool
        access(&mut discovery, 0x2000_0000, 8, AccessKind::Write);
        access(&mut discovery, 0x2000_0004, 1, AccessKind::Read);
        access(&mut discovery, 0x2000_fff0, 4, AccessKind::Read); // pop
                                                                  // 4 fill writes, then 23 conv events: push, 16 + 1 + 1 + 1 reads,
                                                                  // write, read back, pop.
        discovery.op_end(EventTime(27));
        access(&mut discovery, 0x2000_0000, 8, AccessKind::Read); // the result
        let found = discovery.finish(EventTime(28));

        let buffer = |name: &str, start: u32, len: u32, role| Buffer {
            name: name.to_string(),
            start: Address(start),
            len,
            role,
        };
        assert_eq!(found.len(), 2);
        assert_eq!(
            found[0].buffers,
            vec![buffer(
                "tensor_arena+0x100",
                0x2000_0100,
                16,
                BufferRole::Output
            )]
        );
        // 4 fill writes, then 23 conv events: push, 16 + 1 + 1 + 1 reads,
        // write, read back, pop.
        assert_eq!(found[1].time, TimeRange::new(EventTime(4), EventTime(27)));
        assert_eq!(
            found[1].buffers,
            vec![
                buffer("tensor_arena+0x100", 0x2000_0100, 16, BufferRole::Input),
                buffer("tensor_arena", 0x2000_0000, 8, BufferRole::Output),
                buffer("conv_weights+0x10", 0x0800_2010, 8, BufferRole::Weights),
                // Initial data no op ever writes: a constant.
                buffer("tensor_arena+0x200", 0x2000_0200, 4, BufferRole::Weights),
            ]
        );
    }

    /// An op in CMSIS-NN's average-pool shape: it sums into 8 bytes of int32
    /// accumulators at arena+0x40 (written, read back), then writes its 2-byte
    /// output at arena+0x48; the next op reads the output. The accumulators
    /// are scratch: written and read back by the op, read by nobody after.
    /// Control: when the next op reads the accumulators too, they are an
    /// output (the value outlived the op).
    #[test]
    fn bytes_an_op_reads_back_and_nobody_reads_later_are_scratch() {
        let run = |next_reads_accumulators: bool| {
            let metadata = metadata();
            let mut discovery = BufferDiscovery::new(&metadata);
            let mut clock = dmo_core::EventClock::new(&mut discovery);
            let pc = 0x0800_0100;
            clock.begin_op("pool", "AVERAGE_POOL_2D", &[]);
            clock.access(pc, 0x2000_0040, 8, AccessKind::Write);
            clock.access(pc, 0x2000_0040, 8, AccessKind::Read);
            clock.access(pc, 0x2000_0048, 2, AccessKind::Write);
            clock.end_op();
            clock.begin_op("next", "SOFTMAX", &[]);
            clock.access(pc, 0x2000_0048, 2, AccessKind::Read);
            if next_reads_accumulators {
                clock.access(pc, 0x2000_0040, 8, AccessKind::Read);
            }
            clock.access(pc, 0x2000_0060, 2, AccessKind::Write);
            clock.end_op();
            let end = clock.now();
            discovery.finish(end)
        };
        let roles = |segment: &OpSegment| -> Vec<(u32, u32, BufferRole)> {
            segment
                .buffers
                .iter()
                .map(|b| (b.start.0, b.len, b.role))
                .collect()
        };
        let found = run(false);
        assert_eq!(
            roles(&found[0]),
            [
                (0x2000_0048, 2, BufferRole::Output),
                (0x2000_0040, 8, BufferRole::Scratch)
            ]
        );
        let control = run(true);
        assert_eq!(roles(&control[0]), [(0x2000_0040, 10, BufferRole::Output)]);
    }
}
