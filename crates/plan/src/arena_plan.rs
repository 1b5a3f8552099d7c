//! The one planning entry point, [`plan_buffers`]: buffers with lifetimes
//! and the (input, output) pairs whose safe offsets are known, from any
//! source (a `.tflite` model, a trace). It owns the step from a pair to an
//! [`OverlapAllowance`] (alignment, which pairs may overlap, the RESHAPE
//! rule) and from allowances to the two checked plans: TFLM's greedy one and
//! the DMO one as TFLM places it.

use crate::checker::{check_plan, OverlapAllowance};
use crate::dmo_planner::{plan_dmo, scope_lower_bound, DmoSearchResult, SearchEffort};
use crate::error::{InvalidPlan, PlanError, PlanSide};
use crate::greedy::{greedy_offsets, head_size, PlannerRequest};
use crate::lifetimes::{align_up, ArenaBuffer, BufferSource, Scope};
use crate::model_buffers::arena_buffers;
use crate::pair_offsets::PairOffsets;
use dmo_core::ByteCount;
use dmo_tflite::Model;
use serde::Serialize;

/// Buffers with their offsets in the arena head.
#[derive(Clone, PartialEq, Eq, Debug, Serialize)]
pub struct ArenaPlan {
    pub buffers: Vec<ArenaBuffer>,
    /// Offset of each buffer from the start of the head.
    pub offsets: Vec<u64>,
    /// The head size: the largest end offset.
    pub head: ByteCount,
}

impl ArenaPlan {
    /// The offline plan TFLM reads: one offset per tensor of all subgraphs,
    /// -1 for tensors it plans itself (constants, variables, other
    /// subgraphs). Scratch buffers are not in it: TFLM places them.
    /// Fails if an offset does not fit the format's int32.
    pub fn offline_offsets(&self, model: &Model) -> Result<Vec<i32>, PlanError> {
        let mut offsets = vec![-1i32; model.total_tensor_count()];
        for (buffer, &offset) in self.buffers.iter().zip(&self.offsets) {
            if let BufferSource::Tensor(index) = buffer.source {
                offsets[index] = i32::try_from(offset).map_err(|_| PlanError::Tensor {
                    tensor: index,
                    name: model.tensors[index].name.clone(),
                    problem: format!("offset {offset} does not fit an int32 offline plan"),
                })?;
            }
        }
        Ok(offsets)
    }

    /// Offset and reserved (16-byte aligned) size of buffer `index`.
    pub fn placed(&self, index: usize) -> (ByteCount, ByteCount) {
        (
            ByteCount(self.offsets[index]),
            ByteCount(self.buffers[index].aligned_bytes()),
        )
    }
}

/// What TFLM's planner is asked for: every buffer at its aligned size, the
/// ones `fixed` names at their offline offset.
fn requests(buffers: &[ArenaBuffer], fixed: impl Fn(usize) -> Option<u64>) -> Vec<PlannerRequest> {
    buffers
        .iter()
        .enumerate()
        .map(|(index, buffer)| PlannerRequest {
            size: buffer.aligned_bytes(),
            first_scope: buffer.first_scope,
            last_scope: buffer.last_scope,
            offline_offset: fixed(index),
        })
        .collect()
}

/// TFLM's greedy plan of `buffers`, no overlaps.
pub fn tflm_greedy(buffers: Vec<ArenaBuffer>) -> ArenaPlan {
    let requests = requests(&buffers, |_| None);
    let offsets = greedy_offsets(&requests);
    let head = ByteCount(head_size(&requests, &offsets));
    ArenaPlan {
        buffers,
        offsets,
        head,
    }
}

/// TFLM's greedy plan of subgraph 0 (reference kernels' scratch buffers).
pub fn tflm_baseline(model: &Model) -> Result<ArenaPlan, PlanError> {
    Ok(tflm_greedy(arena_buffers(model)?))
}

/// TFLM's greedy plan of subgraph 0 with the scratch buffers of `orders`' kernels.
pub fn tflm_baseline_for(
    model: &Model,
    orders: dmo_ops::LoopOrders,
) -> Result<ArenaPlan, PlanError> {
    Ok(tflm_greedy(crate::model_buffers::arena_buffers_for(
        model, orders,
    )?))
}

/// What TFLM does with an offline plan: tensors at the given offsets, scratch
/// buffers placed first-fit around them. `tensor_offsets` gives the offset of
/// each tensor buffer (by buffer index; scratch entries are ignored).
pub fn tflm_with_offline_tensors(buffers: Vec<ArenaBuffer>, tensor_offsets: &[u64]) -> ArenaPlan {
    let requests = requests(&buffers, |index| match buffers[index].source {
        BufferSource::Tensor(_) => Some(tensor_offsets[index]),
        BufferSource::Scratch { .. } => None,
    });
    let offsets = greedy_offsets(&requests);
    let head = ByteCount(head_size(&requests, &offsets));
    ArenaPlan {
        buffers,
        offsets,
        head,
    }
}

/// The live buffers at the scope where a plan reaches its head.
#[derive(Clone, PartialEq, Eq, Debug, Serialize)]
pub struct Peak {
    /// The operator running then; `None` if the peak is before the first
    /// operator (scope 0: only the model inputs).
    pub operator: Option<usize>,
    /// Buffer indices alive then, lowest offset first.
    pub live_buffers: Vec<usize>,
}

/// Where `plan` reaches its head: among the scopes whose live buffers end at
/// the head, the one that needs the most memory by its own lower bound (the
/// operator that really forces the peak, not one that merely reaches it).
pub fn peak_of(plan: &ArenaPlan, allowances: &[OverlapAllowance]) -> Peak {
    let last = plan
        .buffers
        .iter()
        .map(|b| b.last_scope.0)
        .max()
        .unwrap_or(0);
    let live_at = |scope: u32| -> Vec<usize> {
        (0..plan.buffers.len())
            .filter(|&i| {
                plan.buffers[i].first_scope.0 <= scope && scope <= plan.buffers[i].last_scope.0
            })
            .collect()
    };
    let reaching_head = (0..=last).filter(|&scope| {
        live_at(scope)
            .iter()
            .map(|&i| plan.offsets[i] + plan.buffers[i].aligned_bytes())
            .max()
            == Some(plan.head.0)
    });
    // max_by_key keeps the last maximum; reverse so the earliest scope wins ties.
    let scope = reaching_head
        .rev()
        .max_by_key(|&scope| scope_lower_bound(&plan.buffers, allowances, Scope(scope)));
    match scope {
        Some(scope) => {
            let mut live = live_at(scope);
            live.sort_by_key(|&i| plan.offsets[i]);
            Peak {
                operator: scope.checked_sub(1).map(|s| s as usize),
                live_buffers: live,
            }
        }
        None => Peak {
            operator: None,
            live_buffers: Vec::new(),
        },
    }
}

/// An (input, output) pair of one operator with known safe offsets, by
/// buffer index into the buffers being planned.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct OverlapCandidate<'a> {
    pub operator: usize,
    /// The operator's kind (`CONV_2D`, `RESHAPE`, ...: a TFLite builtin
    /// name or a trace's op kind), for the rules that depend on it.
    pub operator_kind: &'a str,
    pub input: usize,
    pub output: usize,
    pub offsets: PairOffsets,
}

/// TFLM's RESHAPE copies its input with `memcpy` unless input and output
/// share one address, and then skips the copy (`shared/DESIGN.md`, "Arena
/// planning"): its pairs may only share the input's offset exactly.
fn copies_unless_shared(operator_kind: &str) -> bool {
    operator_kind.eq_ignore_ascii_case("RESHAPE")
}

/// Why an operator's output may not overlap one of its inputs. The text is
/// what `dmo plan` prints after "not used: ".
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, thiserror::Error)]
pub enum Unusable {
    #[error("input and output are one tensor")]
    SameTensor,
    #[error("input is a model output")]
    ModelOutput,
    #[error("input or output is not planned in the arena")]
    NotInArena,
    #[error("input is read by a later operator")]
    ReadLater,
    #[error("output is created earlier")]
    OutputCreatedEarlier,
}

/// The lifetime rule: an output may overwrite only an input that dies at
/// its operator, and only if the output is born there.
pub fn lifetimes_forbid_overlap(
    buffers: &[ArenaBuffer],
    operator: usize,
    input: usize,
    output: usize,
) -> Option<Unusable> {
    let scope = Scope::of_operator(operator);
    if input == output {
        Some(Unusable::SameTensor)
    } else if buffers[input].last_scope != scope {
        Some(Unusable::ReadLater)
    } else if buffers[output].first_scope != scope {
        Some(Unusable::OutputCreatedEarlier)
    } else {
        None
    }
}

/// The allowance a DMO plan may use for `pair`, or `None` if it may not
/// overlap at all ([`lifetimes_forbid_overlap`]). Otherwise: at or beyond
/// `s_mono` / `u_mono` rounded up to the buffer alignment, or exactly at
/// `s_min` when it is aligned and below that; a RESHAPE only at its input's
/// offset, and only when both have one size.
pub fn allowance(buffers: &[ArenaBuffer], pair: &OverlapCandidate<'_>) -> Option<OverlapAllowance> {
    let (input, output) = (pair.input, pair.output);
    if lifetimes_forbid_overlap(buffers, pair.operator, input, output).is_some() {
        return None;
    }
    if copies_unless_shared(pair.operator_kind) {
        if buffers[input].bytes != buffers[output].bytes {
            return None;
        }
        return Some(OverlapAllowance {
            operator: pair.operator,
            input,
            output,
            down: None,
            up: None,
            exact_down: vec![0],
        });
    }
    let offsets = &pair.offsets;
    let down = align_up(offsets.s_mono);
    let up = align_up(offsets.u_mono);
    let mut exact_down = Vec::new();
    if align_up(offsets.s_min) == offsets.s_min && offsets.s_min < down {
        exact_down.push(offsets.s_min);
    }
    Some(OverlapAllowance {
        operator: pair.operator,
        input,
        output,
        down: Some(down),
        up: Some(up),
        exact_down,
    })
}

/// Both plans of some buffers, checked.
#[derive(Clone, PartialEq, Debug, Serialize)]
pub struct BufferPlan {
    /// The overlaps the DMO plan may use.
    pub allowances: Vec<OverlapAllowance>,
    /// TFLM's greedy plan, no overlaps.
    pub baseline: ArenaPlan,
    /// The DMO plan as TFLM places it (tensors offline, scratch by TFLM).
    pub dmo: ArenaPlan,
    pub dmo_search: DmoSearchResult,
    pub baseline_peak: Peak,
    pub dmo_peak: Peak,
}

/// Plans `buffers` twice, with TFLM's greedy planner and with the overlaps
/// `pairs` allow, and checks both plans independently
/// ([`check_plan`]). The one way from safe offsets to a plan: `plan_model`
/// (from a `.tflite`) and `plan_trace` (from a trace) both come here.
pub fn plan_buffers(
    buffers: Vec<ArenaBuffer>,
    pairs: &[OverlapCandidate<'_>],
    effort: SearchEffort,
) -> Result<BufferPlan, PlanError> {
    let allowances: Vec<OverlapAllowance> = pairs
        .iter()
        .filter_map(|pair| allowance(&buffers, pair))
        .collect();
    let baseline = tflm_greedy(buffers);
    let search = plan_dmo(&baseline.buffers, &allowances, &baseline.offsets, effort);
    // The DMO plan as TFLM will see it: its tensor offsets given offline,
    // scratch buffers placed by TFLM's own rule.
    let dmo = tflm_with_offline_tensors(baseline.buffers.clone(), &search.offsets);
    for (side, plan, rules) in [
        (PlanSide::Baseline, &baseline, &[][..]),
        (PlanSide::Dmo, &dmo, &allowances[..]),
    ] {
        let conflicts = check_plan(&plan.buffers, &plan.offsets, rules);
        if let Some(conflict) = conflicts.into_iter().next() {
            return Err(PlanError::InvalidPlan(InvalidPlan::Conflict {
                side,
                conflict,
            }));
        }
    }
    if dmo.head != ByteCount(search.head) {
        return Err(PlanError::InvalidPlan(InvalidPlan::HeadMismatch {
            searched: search.head,
            placed: dmo.head.0,
        }));
    }
    Ok(BufferPlan {
        baseline_peak: peak_of(&baseline, &[]),
        dmo_peak: peak_of(&dmo, &allowances),
        allowances,
        baseline,
        dmo,
        dmo_search: search,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tensor(index: usize, bytes: u64, first: u32, last: u32) -> ArenaBuffer {
        ArenaBuffer {
            source: BufferSource::Tensor(index),
            bytes: ByteCount(bytes),
            first_scope: Scope(first),
            last_scope: Scope(last),
        }
    }

    fn offsets(n_in: u64, n_out: u64, s_min: u64, s_mono: u64, u_mono: u64) -> PairOffsets {
        PairOffsets {
            input_bytes: n_in,
            output_bytes: n_out,
            s_min,
            s_mono,
            u_min: u_mono,
            u_mono,
        }
    }

    /// Input 0 (100 B, dies at op 0 = scope 1), output 1 (100 B, born there).
    fn copy_pair(kind: &str) -> (Vec<ArenaBuffer>, OverlapCandidate<'_>) {
        let buffers = vec![tensor(0, 100, 0, 1), tensor(1, 100, 1, 2)];
        let pair = OverlapCandidate {
            operator: 0,
            operator_kind: kind,
            input: 0,
            output: 1,
            // A forward copy: every s >= 0 and every u >= 0 is safe.
            offsets: offsets(100, 100, 0, 0, 0),
        };
        (buffers, pair)
    }

    #[test]
    fn a_reshape_shares_its_input_exactly_or_not_at_all() {
        let (buffers, reshape) = copy_pair("RESHAPE");
        let rule = allowance(&buffers, &reshape).unwrap();
        assert_eq!(
            (rule.down, rule.up, &rule.exact_down[..]),
            (None, None, &[0][..])
        );
        // Output 16 B below its input: a memcpy between overlapping
        // buffers, which DESIGN.md forbids; at the same offset TFLM skips it.
        assert_eq!(
            check_plan(&buffers, &[16, 0], std::slice::from_ref(&rule)).len(),
            1
        );
        assert!(check_plan(&buffers, &[0, 0], &[rule]).is_empty());
        let plan = plan_buffers(buffers.clone(), &[reshape], SearchEffort::default()).unwrap();
        assert_eq!(plan.dmo.offsets, [0, 0]);
        assert_eq!(plan.dmo.head, ByteCount(112));
        // Control: the same offsets under another kind allow d = -16.
        let (_, add) = copy_pair("ADD");
        let rule = allowance(&buffers, &add).unwrap();
        assert_eq!((rule.down, rule.up), (Some(0), Some(0)));
        assert!(check_plan(&buffers, &[16, 0], &[rule]).is_empty());
        // A reshape between buffers of two sizes may not overlap at all.
        let mut longer = buffers;
        longer[1].bytes = ByteCount(120);
        assert_eq!(allowance(&longer, &reshape), None);
    }

    #[test]
    fn offsets_are_rounded_up_to_the_alignment_and_s_min_kept_when_aligned() {
        let buffers = vec![tensor(0, 256, 0, 1), tensor(1, 256, 1, 2)];
        let pair = |s_min, s_mono, u_mono| OverlapCandidate {
            operator: 0,
            operator_kind: "DEPTHWISE_CONV_2D",
            input: 0,
            output: 1,
            offsets: offsets(256, 256, s_min, s_mono, u_mono),
        };
        // ceil16(40) = 48, ceil16(1) = 16; s_min 32 is aligned and below 48.
        let rule = allowance(&buffers, &pair(32, 40, 1)).unwrap();
        assert_eq!((rule.down, rule.up), (Some(48), Some(16)));
        assert_eq!(rule.exact_down, [32]);
        // s_min 33 is not aligned; s_min 48 = ceil16(s_mono) adds nothing.
        assert!(allowance(&buffers, &pair(33, 40, 1))
            .unwrap()
            .exact_down
            .is_empty());
        assert!(allowance(&buffers, &pair(48, 48, 1))
            .unwrap()
            .exact_down
            .is_empty());
    }

    #[test]
    fn only_an_input_dying_at_the_operator_may_be_overwritten() {
        // Input read again by op 1 (scope 2): no overlap.
        let buffers = vec![tensor(0, 64, 0, 2), tensor(1, 64, 1, 2)];
        assert_eq!(
            lifetimes_forbid_overlap(&buffers, 0, 0, 1),
            Some(Unusable::ReadLater)
        );
        // Control: the same pair with the input dying at op 0.
        let buffers = vec![tensor(0, 64, 0, 1), tensor(1, 64, 1, 2)];
        assert_eq!(lifetimes_forbid_overlap(&buffers, 0, 0, 1), None);
        // Output born at op 0 but the pair named for op 1.
        assert_eq!(
            lifetimes_forbid_overlap(&buffers, 1, 0, 1),
            Some(Unusable::ReadLater)
        );
        assert_eq!(
            lifetimes_forbid_overlap(&[tensor(0, 64, 0, 2), tensor(1, 64, 1, 2)], 1, 0, 1),
            Some(Unusable::OutputCreatedEarlier)
        );
    }
}
