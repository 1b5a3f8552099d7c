//! Per-op `lr`/`fa` extraction and overlap mining, for every (input, output)
//! buffer pair of every op segment, in one streaming pass.

use crate::reader::TraceReader;
use crate::TraceError;
use dmo_core::{Buffer, BufferRole, ByteCount, Event, EventSink, EventTime, OpSegment};
use dmo_overlap::{AccessRecorder, PairOverlap};
use serde::{Deserialize, Serialize};

/// The mined overlap of one (input, output) pair of one op.
#[derive(Clone, PartialEq, Debug, Serialize, Deserialize)]
pub struct PairResult {
    /// Position of the op among the segments, counting from 0.
    pub segment_index: usize,
    pub op_name: String,
    pub op_kind: String,
    pub input: Buffer,
    pub output: Buffer,
    pub overlap: PairOverlap,
}

/// The op being recorded.
struct OpenOp {
    name: String,
    kind: String,
    buffers: Vec<Buffer>,
    /// One recorder per (input, output) pair, made at the op's first event.
    recorders: Option<Vec<(usize, usize, AccessRecorder)>>,
    /// Lowest and one-past-highest address of any input or output.
    span: (u64, u64),
}

impl OpenOp {
    fn pairs(&self) -> Vec<(usize, usize, AccessRecorder)> {
        let with_role = |role| {
            self.buffers
                .iter()
                .enumerate()
                .filter(move |(_, buffer)| buffer.role == role)
        };
        let mut pairs = Vec::new();
        for (input_index, input) in with_role(BufferRole::Input) {
            for (output_index, output) in with_role(BufferRole::Output) {
                let recorder =
                    AccessRecorder::new(ByteCount(input.len as u64), ByteCount(output.len as u64));
                pairs.push((input_index, output_index, recorder));
            }
        }
        pairs
    }
}

/// An [`EventSink`] that builds `lr` (last read of each input byte within
/// the op) and `fa` (first access of each output byte) for every pair of
/// every op, and mines each pair when its op ends. Memory: the buffers of
/// one op.
#[derive(Default)]
pub struct PairMiner {
    open: Option<OpenOp>,
    segment_index: usize,
    results: Vec<PairResult>,
}

impl PairMiner {
    pub fn new() -> Self {
        PairMiner::default()
    }

    /// The results so far, in op order, then input order, then output order.
    pub fn finish(mut self) -> Vec<PairResult> {
        self.close();
        self.results
    }

    fn close(&mut self) {
        let Some(op) = self.open.take() else {
            return;
        };
        let recorders = op.recorders.clone().unwrap_or_else(|| op.pairs());
        for (input_index, output_index, recorder) in recorders {
            self.results.push(PairResult {
                segment_index: self.segment_index,
                op_name: op.name.clone(),
                op_kind: op.kind.clone(),
                input: op.buffers[input_index].clone(),
                output: op.buffers[output_index].clone(),
                overlap: recorder.mine(),
            });
        }
        self.segment_index += 1;
    }

    /// Mines the pairs of one segment, reading only the blocks that hold its
    /// events.
    pub fn of_segment(
        reader: &TraceReader,
        segment: &OpSegment,
    ) -> Result<Vec<PairResult>, TraceError> {
        let mut miner = PairMiner::new();
        miner.op_begin(segment.time.start, &segment.name, &segment.kind);
        for buffer in &segment.buffers {
            miner.op_buffer(buffer);
        }
        for event in reader.events_in(segment.time)? {
            miner.event(&event?);
        }
        miner.op_end(segment.time.end);
        Ok(miner.finish())
    }

    /// Mines every pair of `segments` (the trace's own, or discovered ones)
    /// in one pass over the trace.
    pub fn of_trace(
        reader: &TraceReader,
        segments: &[OpSegment],
    ) -> Result<Vec<PairResult>, TraceError> {
        let mut miner = PairMiner::new();
        reader.replay_with_segments(segments, &mut miner)?;
        Ok(miner.finish())
    }
}

impl EventSink for PairMiner {
    #[inline]
    fn event(&mut self, event: &Event) {
        let Some(op) = &mut self.open else {
            return;
        };
        let first = event.address.0 as u64;
        if first + event.size as u64 <= op.span.0 || first >= op.span.1 {
            return;
        }
        if op.recorders.is_none() {
            op.recorders = Some(op.pairs());
        }
        for (input_index, output_index, recorder) in op.recorders.iter_mut().flatten() {
            let input = op.buffers[*input_index].start;
            let output = op.buffers[*output_index].start;
            recorder.record_event(event, input, output);
        }
    }

    fn op_begin(&mut self, _at: EventTime, name: &str, kind: &str) {
        self.close();
        self.open = Some(OpenOp {
            name: name.to_string(),
            kind: kind.to_string(),
            buffers: Vec::new(),
            recorders: None,
            span: (u64::MAX, 0),
        });
    }

    fn op_buffer(&mut self, buffer: &Buffer) {
        if let Some(op) = &mut self.open {
            if matches!(buffer.role, BufferRole::Input | BufferRole::Output) {
                op.span.0 = op.span.0.min(buffer.start.0 as u64);
                op.span.1 = op.span.1.max(buffer.end().0 as u64);
                // Degenerate wrap-around end: track to the top of memory.
                if buffer.end().0 < buffer.start.0 {
                    op.span.1 = 1 << 32;
                }
            }
            op.buffers.push(buffer.clone());
            // Buffers are declared before the op's first access; should one
            // come later, the pairs are rebuilt to include it.
            op.recorders = None;
        }
    }

    fn op_end(&mut self, _at: EventTime) {
        self.close();
    }
}
