//! `plan_trace`: the activation buffers a trace's ops declare, where the
//! firmware put them, and the TFLM-greedy and DMO plans of the same buffers
//! from the offsets mined on that trace, through
//! [`plan_buffers`](crate::plan_buffers).
//!
//! A buffer is what an op writes (or reads before any op wrote it: a model
//! input); it lives over the ops that use it, in TFLM's scopes (op `i` runs
//! in scope `i + 1`, model inputs are born in scope 0). Weights and empty
//! buffers are not planned.

use crate::arena_plan::{plan_buffers, BufferPlan, OverlapCandidate};
use crate::dmo_planner::SearchEffort;
use crate::error::PlanError;
use crate::lifetimes::{ArenaBuffer, BufferSource, Scope};
use crate::matching::MinedPair;
use crate::pair_offsets::PairOffsets;
use dmo_core::{Address, BufferRole, ByteCount, OpSegment};

/// One activation buffer of a trace.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct TraceBuffer {
    /// `op.buffer`, e.g. `conv1.output`.
    pub name: String,
    /// Where the firmware put it.
    pub start: Address,
    pub bytes: ByteCount,
    /// First and last op (segment index) that use it.
    pub first_op: usize,
    pub last_op: usize,
    /// Not written by any op of the run: its life starts before the first.
    pub model_input: bool,
}

/// The firmware's placement of a trace's buffers and both plans of them.
/// The planned buffers are `BufferSource::Tensor(i)` for `buffers[i]`.
#[derive(Clone, PartialEq, Debug)]
pub struct TracePlan {
    pub buffers: Vec<TraceBuffer>,
    pub op_names: Vec<String>,
    /// The lowest buffer address; firmware offsets count from here.
    pub base: Address,
    /// Each buffer's offset from `base` in the firmware.
    pub firmware_offsets: Vec<ByteCount>,
    /// Highest byte any buffer of the firmware's placement ends at.
    pub firmware_peak: ByteCount,
    /// TFLM's greedy plan and the DMO plan of the same buffers.
    pub plan: BufferPlan,
}

/// Plans the buffers of `segments` with the mined `pairs` (as
/// `dmo_trace::PairMiner` gives them). A trace without activation buffers
/// gives an empty plan.
pub fn plan_trace<'a>(
    segments: &[OpSegment],
    pairs: impl IntoIterator<Item = MinedPair<'a>>,
    effort: SearchEffort,
) -> Result<TracePlan, PlanError> {
    let mut buffers: Vec<TraceBuffer> = Vec::new();
    // Per op, the trace buffer of each of its buffers (None: not planned).
    let mut op_buffer_index: Vec<Vec<Option<usize>>> = Vec::new();
    for (op, segment) in segments.iter().enumerate() {
        let mut indices = Vec::new();
        for buffer in &segment.buffers {
            if buffer.role == BufferRole::Weights || buffer.len == 0 {
                indices.push(None);
                continue;
            }
            let earlier = buffers
                .iter()
                .rposition(|b| b.start == buffer.start && b.bytes.0 == u64::from(buffer.len));
            let index = match (buffer.role, earlier) {
                (BufferRole::Input, Some(index)) => {
                    buffers[index].last_op = op;
                    index
                }
                (role, _) => {
                    buffers.push(TraceBuffer {
                        name: format!("{}.{}", segment.name, buffer.name),
                        start: buffer.start,
                        bytes: ByteCount(u64::from(buffer.len)),
                        first_op: op,
                        last_op: op,
                        model_input: role == BufferRole::Input,
                    });
                    buffers.len() - 1
                }
            };
            indices.push(Some(index));
        }
        op_buffer_index.push(indices);
    }
    let base = buffers.iter().map(|b| b.start).min().unwrap_or_default();
    let firmware_offsets: Vec<ByteCount> = buffers
        .iter()
        .map(|b| ByteCount(u64::from(b.start.0 - base.0)))
        .collect();
    let firmware_peak = buffers
        .iter()
        .zip(&firmware_offsets)
        .map(|(b, offset)| offset.0 + b.bytes.0)
        .max()
        .unwrap_or(0);

    let arena: Vec<ArenaBuffer> = buffers
        .iter()
        .enumerate()
        .map(|(index, b)| ArenaBuffer {
            source: BufferSource::Tensor(index),
            bytes: b.bytes,
            first_scope: if b.model_input {
                Scope(0)
            } else {
                Scope::of_operator(b.first_op)
            },
            last_scope: Scope::of_operator(b.last_op),
        })
        .collect();
    let mut candidates = Vec::new();
    for pair in pairs {
        let op = pair.segment_index;
        let Some(segment) = segments.get(op) else {
            continue;
        };
        let find = |wanted: &dmo_core::Buffer| {
            segment
                .buffers
                .iter()
                .position(|b| b == wanted)
                .and_then(|position| op_buffer_index[op][position])
        };
        let (Some(input), Some(output)) = (find(pair.input), find(pair.output)) else {
            continue;
        };
        candidates.push(OverlapCandidate {
            operator: op,
            operator_kind: &segment.kind,
            input,
            output,
            offsets: PairOffsets::from(pair.overlap),
        });
    }
    let plan = plan_buffers(arena, &candidates, effort)?;
    Ok(TracePlan {
        buffers,
        op_names: segments
            .iter()
            .map(|s| s.display_name().into_owned())
            .collect(),
        base,
        firmware_offsets,
        firmware_peak: ByteCount(firmware_peak),
        plan,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use dmo_core::{Buffer, EventTime, TimeRange};
    use dmo_overlap::{best_placement, PairOverlap, SafeOffset};

    fn buffer(name: &str, start: u32, len: u32, role: BufferRole) -> Buffer {
        Buffer {
            name: name.into(),
            start: Address(start),
            len,
            role,
        }
    }

    fn segment(name: &str, kind: &str, buffers: Vec<Buffer>) -> OpSegment {
        OpSegment {
            name: name.into(),
            kind: kind.into(),
            time: TimeRange {
                start: EventTime(0),
                end: EventTime(0),
            },
            buffers,
            instructions: None,
        }
    }

    fn overlap(n_in: u64, n_out: u64, s: u64, u: u64) -> PairOverlap {
        let (input_len, output_len) = (ByteCount(n_in), ByteCount(n_out));
        PairOverlap {
            input_len,
            output_len,
            s_min: SafeOffset(s),
            s_mono: SafeOffset(s),
            u_min: SafeOffset(u),
            u_mono: SafeOffset(u),
            best: best_placement(input_len, output_len, SafeOffset(s), SafeOffset(u)),
            witness_down: None,
            witness_up: None,
            witness_down_mono: None,
            witness_up_mono: None,
        }
    }

    #[test]
    fn conv_then_relu_plans_as_derived_by_hand() {
        // conv (1x1, 8 pixels, 8 -> 16 channels): input 64 B at base + 0x80,
        // output 128 B at the base, s_min = s_mono = 8 * 7 + 15 = 71,
        // u = nI = 64. relu: in place elementwise, s = u = 0, output 128 B
        // at base + 0x100. Weights are not planned.
        let base = 0x2000_0000;
        let segments = vec![
            segment(
                "conv",
                "CONV_2D",
                vec![
                    buffer("input", base + 0x80, 64, BufferRole::Input),
                    buffer("filter", 0x0800_0000, 128, BufferRole::Weights),
                    buffer("output", base, 128, BufferRole::Output),
                ],
            ),
            segment(
                "relu",
                "RELU",
                vec![
                    buffer("input", base, 128, BufferRole::Input),
                    buffer("output", base + 0x100, 128, BufferRole::Output),
                ],
            ),
        ];
        let conv = overlap(64, 128, 71, 64);
        let relu = overlap(128, 128, 0, 0);
        let pairs = [
            MinedPair {
                segment_index: 0,
                input: &segments[0].buffers[0],
                output: &segments[0].buffers[2],
                overlap: &conv,
            },
            MinedPair {
                segment_index: 1,
                input: &segments[1].buffers[0],
                output: &segments[1].buffers[1],
                overlap: &relu,
            },
        ];
        let plan = plan_trace(&segments, pairs, SearchEffort::default()).unwrap();
        let names: Vec<&str> = plan.buffers.iter().map(|b| b.name.as_str()).collect();
        assert_eq!(names, ["conv.input", "conv.output", "relu.output"]);
        assert!(plan.buffers[0].model_input);
        assert_eq!((plan.buffers[1].first_op, plan.buffers[1].last_op), (0, 1));
        assert_eq!(plan.base, Address(base));
        // Firmware: relu.output ends at 0x100 + 128 = 384.
        assert_eq!(plan.firmware_peak, ByteCount(384));
        // Greedy: conv.output and relu.output (128 each) live together at
        // op 1 -> 256; conv.input fits below them at op 0.
        assert_eq!(plan.plan.baseline.head, ByteCount(256));
        // DMO: conv.output ceil16(71) = 80 below conv.input -> 80 + 64 =
        // 144; relu.output on conv.output exactly (s = 0) -> 144.
        assert_eq!(plan.plan.dmo.head, ByteCount(144));
        assert_eq!(plan.plan.allowances.len(), 2);

        // Control: without the mined pairs the DMO plan is the greedy one.
        let none = plan_trace(&segments, [], SearchEffort::default()).unwrap();
        assert_eq!(none.plan.dmo.head, ByteCount(256));
    }
}
