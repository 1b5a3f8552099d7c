//! The DMO planner: like TFLM's greedy planner, but an operator's output may
//! overlap an input that dies at that operator, at an allowed offset.
//!
//! Tensors are placed one by one at the lowest feasible candidate offset;
//! scratch buffers are then placed the way TFLM places them around an offline
//! plan, so the head computed here is the head TFLM reports. The search tries
//! several orderings, then a local search over the best one; graphs with few
//! tensors are searched exhaustively over all orderings. A per-scope lower
//! bound says when a plan is provably optimal. The result is never worse than
//! the baseline: the baseline itself is a candidate.

use crate::checker::OverlapAllowance;
use crate::greedy::{greedy_offsets, head_size, PlannerRequest};
use crate::lifetimes::{ArenaBuffer, BufferSource, Scope};
use dmo_core::ByteCount;
use dmo_overlap::{footprint, Direction, SafeOffset};
use serde::Serialize;
use std::collections::HashMap;

/// How hard to search.
#[derive(Clone, Copy, Debug)]
pub struct SearchEffort {
    /// Random orderings tried after the fixed ones.
    pub random_orderings: usize,
    /// Local-search moves over the best ordering.
    pub local_search_moves: usize,
    /// Up to this many tensors, every ordering is tried.
    pub exhaustive_up_to: usize,
}

impl Default for SearchEffort {
    fn default() -> Self {
        SearchEffort {
            random_orderings: 64,
            local_search_moves: 3000,
            exhaustive_up_to: 8,
        }
    }
}

impl SearchEffort {
    /// One placement costs about n^3 for n tensors: keep the search's total
    /// work near that of a 64-tensor graph, so large models stay fast.
    fn scaled_to(self, tensors: usize) -> SearchEffort {
        if tensors <= 64 {
            return self;
        }
        let factor = (64.0 / tensors as f64).powi(3);
        let scale = |n: usize| ((n as f64 * factor) as usize).max(8);
        SearchEffort {
            random_orderings: scale(self.random_orderings),
            local_search_moves: scale(self.local_search_moves),
            exhaustive_up_to: self.exhaustive_up_to,
        }
    }
}

/// A DMO plan and how good it is known to be.
#[derive(Clone, PartialEq, Eq, Debug, Serialize)]
pub struct DmoSearchResult {
    pub offsets: Vec<u64>,
    pub head: u64,
    /// No plan using these allowances can have a smaller head.
    pub lower_bound: u64,
    /// No plan using these allowances has a smaller head: it reaches the
    /// lower bound, or [`no_smaller_plan_exists`] proves it.
    pub proven_optimal: bool,
    /// Which search found the plan.
    pub found_by: String,
}

/// Plans `buffers` with the overlaps `allowances` permits. `baseline_offsets`
/// is a valid plan without overlaps (TFLM's), the fallback.
pub fn plan_dmo(
    buffers: &[ArenaBuffer],
    allowances: &[OverlapAllowance],
    baseline_offsets: &[u64],
    effort: SearchEffort,
) -> DmoSearchResult {
    let placer = Placer::new(buffers, allowances);
    let effort = effort.scaled_to(placer.tensors.len());
    let lower_bound = lower_bound(buffers, allowances);
    let baseline = placer.with_scratch(baseline_offsets);
    let mut best = Candidate {
        head: baseline.1,
        offsets: baseline.0,
        found_by: "TFLM greedy (no overlap helps)".into(),
    };
    let consider = |order: &[usize], found_by: &str, best: &mut Candidate| -> u64 {
        let (offsets, head) = placer.place(order);
        if head < best.head {
            *best = Candidate {
                head,
                offsets,
                found_by: found_by.into(),
            };
        }
        head
    };

    let tensors = placer.tensors.clone();
    let size = |b: usize| buffers[b].aligned_bytes();
    // TFLM's order: size descending, highest index first among equals.
    let mut by_size: Vec<usize> = tensors.iter().rev().copied().collect();
    by_size.sort_by_key(|&b| std::cmp::Reverse(size(b)));
    let mut by_time = tensors.clone();
    by_time.sort_by(|&a, &b| {
        buffers[a]
            .first_scope
            .cmp(&buffers[b].first_scope)
            .then(size(b).cmp(&size(a)))
    });
    let mut by_time_reversed = by_time.clone();
    by_time_reversed.reverse();
    let fixed = [
        (&by_size, "greedy, size order"),
        (&by_time, "greedy, time order"),
        (&by_time_reversed, "greedy, reverse time order"),
    ];
    let mut best_order = by_size.clone();
    let mut best_order_head = u64::MAX;
    for (order, name) in fixed {
        let head = consider(order, name, &mut best);
        if head < best_order_head {
            best_order_head = head;
            best_order = order.clone();
        }
    }

    let mut random = SplitMix64(0x5eed_d1a6_0ea1);
    if tensors.len() <= effort.exhaustive_up_to {
        let mut order = tensors.clone();
        for_each_permutation(&mut order, &mut |order| {
            consider(order, "exhaustive over orderings", &mut best);
        });
    } else {
        for _ in 0..effort.random_orderings {
            if best.head <= lower_bound {
                break;
            }
            let mut order = tensors.clone();
            random.shuffle(&mut order);
            let head = consider(&order, "greedy, random order", &mut best);
            if head < best_order_head {
                best_order_head = head;
                best_order = order;
            }
        }
        // Local search: move one tensor elsewhere in the order; keep moves
        // that do not make the head worse (so plateaus are crossed).
        let mut current = best_order;
        let mut current_head = best_order_head;
        for _ in 0..effort.local_search_moves {
            if best.head <= lower_bound || current.len() < 2 {
                break;
            }
            let from = random.below(current.len());
            let to = random.below(current.len());
            let mut next = current.clone();
            let moved = next.remove(from);
            next.insert(to, moved);
            let head = consider(&next, "greedy + local search", &mut best);
            if head <= current_head {
                current = next;
                current_head = head;
            }
        }
    }
    let proven_optimal =
        best.head <= lower_bound || no_smaller_plan_exists(buffers, allowances, best.head);
    DmoSearchResult {
        offsets: best.offsets,
        head: best.head,
        lower_bound,
        proven_optimal,
        found_by: best.found_by,
    }
}

struct Candidate {
    head: u64,
    offsets: Vec<u64>,
    found_by: String,
}

/// Places tensors in a given order at the lowest feasible candidate offset.
struct Placer<'a> {
    buffers: &'a [ArenaBuffer],
    sizes: Vec<u64>,
    /// Tensor buffers (scratch buffers are placed by TFLM's rule).
    tensors: Vec<usize>,
    /// Buffers alive together with each buffer.
    neighbours: Vec<Vec<usize>>,
    /// Allowances by unordered buffer pair.
    rules: HashMap<(usize, usize), Vec<&'a OverlapAllowance>>,
}

impl<'a> Placer<'a> {
    fn new(buffers: &'a [ArenaBuffer], allowances: &'a [OverlapAllowance]) -> Placer<'a> {
        let sizes = buffers.iter().map(|b| b.aligned_bytes()).collect();
        let tensors = (0..buffers.len())
            .filter(|&i| matches!(buffers[i].source, BufferSource::Tensor(_)))
            .collect();
        let neighbours = (0..buffers.len())
            .map(|a| {
                (0..buffers.len())
                    .filter(|&b| b != a && buffers[a].lifetime_intersects(&buffers[b]))
                    .collect()
            })
            .collect();
        let mut rules: HashMap<(usize, usize), Vec<&OverlapAllowance>> = HashMap::new();
        for rule in allowances {
            let key = (rule.input.min(rule.output), rule.input.max(rule.output));
            rules.entry(key).or_default().push(rule);
        }
        Placer {
            buffers,
            sizes,
            tensors,
            neighbours,
            rules,
        }
    }

    fn rules_for(&self, a: usize, b: usize) -> Option<&Vec<&'a OverlapAllowance>> {
        self.rules.get(&(a.min(b), a.max(b)))
    }

    /// Whether `x` at `offset` fits against the placed buffer `p`.
    fn compatible(&self, x: usize, offset: u64, p: usize, p_offset: u64) -> bool {
        if offset + self.sizes[x] <= p_offset || p_offset + self.sizes[p] <= offset {
            return true;
        }
        let Some(rules) = self.rules_for(x, p) else {
            return false;
        };
        let offset_of = |buffer: usize| if buffer == x { offset } else { p_offset };
        rules
            .iter()
            .all(|rule| rule.allows(offset_of(rule.output) as i64 - offset_of(rule.input) as i64))
    }

    fn place(&self, order: &[usize]) -> (Vec<u64>, u64) {
        let mut offsets: Vec<Option<u64>> = vec![None; self.buffers.len()];
        let mut candidates = Vec::new();
        for &x in order {
            candidates.clear();
            candidates.push(0u64);
            for &p in &self.neighbours[x] {
                let Some(p_offset) = offsets[p] else { continue };
                candidates.push(p_offset + self.sizes[p]);
                if let Some(rules) = self.rules_for(x, p) {
                    for rule in rules {
                        let x_is_output = rule.output == x;
                        let mut relative: Vec<i64> = Vec::new();
                        // Relative positions d = output - input the rule allows at its edges.
                        if let Some(down) = rule.down {
                            relative.push(-(down as i64));
                        }
                        if let Some(up) = rule.up {
                            relative.push(up as i64);
                        }
                        relative.extend(rule.exact_down.iter().map(|&e| -(e as i64)));
                        for d in relative {
                            let position = if x_is_output {
                                p_offset as i64 + d
                            } else {
                                p_offset as i64 - d
                            };
                            if position >= 0 {
                                candidates.push(position as u64);
                            }
                        }
                    }
                }
            }
            candidates.sort_unstable();
            candidates.dedup();
            let chosen = candidates
                .iter()
                .copied()
                .find(|&c| {
                    self.neighbours[x].iter().all(|&p| {
                        offsets[p].map_or(true, |p_offset| self.compatible(x, c, p, p_offset))
                    })
                })
                .expect("the end of the highest placed neighbour is always feasible");
            offsets[x] = Some(chosen);
        }
        let tensor_offsets: Vec<u64> = offsets.iter().map(|o| o.unwrap_or(0)).collect();
        self.with_scratch(&tensor_offsets)
    }

    /// Places the scratch buffers as TFLM does around fixed tensor offsets.
    fn with_scratch(&self, tensor_offsets: &[u64]) -> (Vec<u64>, u64) {
        let requests: Vec<PlannerRequest> = self
            .buffers
            .iter()
            .enumerate()
            .map(|(index, buffer)| PlannerRequest {
                size: self.sizes[index],
                first_scope: buffer.first_scope,
                last_scope: buffer.last_scope,
                offline_offset: match buffer.source {
                    BufferSource::Tensor(_) => Some(tensor_offsets[index]),
                    BufferSource::Scratch { .. } => None,
                },
            })
            .collect();
        let offsets = greedy_offsets(&requests);
        let head = head_size(&requests, &offsets);
        (offsets, head)
    }
}

/// Per scope: the bytes alive minus the most every allowed pair of that scope
/// could save. Only allowed pairs may share bytes, so the union of the live
/// buffers is at least this large.
pub fn lower_bound(buffers: &[ArenaBuffer], allowances: &[OverlapAllowance]) -> u64 {
    let last = buffers.iter().map(|b| b.last_scope.0).max().unwrap_or(0);
    (0..=last)
        .map(|scope| scope_lower_bound(buffers, allowances, Scope(scope)))
        .max()
        .unwrap_or(0)
}

/// The lower bound of one scope (see [`lower_bound`]).
pub fn scope_lower_bound(
    buffers: &[ArenaBuffer],
    allowances: &[OverlapAllowance],
    scope: Scope,
) -> u64 {
    let live: u64 = buffers
        .iter()
        .filter(|b| b.first_scope <= scope && scope <= b.last_scope)
        .map(|b| b.aligned_bytes())
        .sum();
    let savings: u64 = allowances
        .iter()
        .filter(|rule| Scope::of_operator(rule.operator) == scope)
        .map(|rule| best_pair_saving(buffers, rule))
        .sum();
    live.saturating_sub(savings)
}

/// Proves that no plan has a head below `head`, when it can.
///
/// Suppose a plan had head `H < head`. At an operator whose allowed pair,
/// placed apart (or overlapped upwards), would already make the live bytes
/// of that scope exceed `H` even with every other pair of the scope at its
/// best, the pair must overlap downwards: `offset(out) <= offset(in) - down`.
/// With `0 <= offset(t) <= H - size(t)` these are difference constraints;
/// if they have no solution (a negative cycle, found by Bellman-Ford), no
/// such plan exists. Pairs with exact offsets (a disjunction) add nothing,
/// so the test can fail to prove optimality but never proves it wrongly.
/// Example: kws_ref_model's chain of eight 8000-byte layers must descend
/// `4*384 + 4*64` bytes, so its head is at least 9792.
pub fn no_smaller_plan_exists(
    buffers: &[ArenaBuffer],
    allowances: &[OverlapAllowance],
    head: u64,
) -> bool {
    let Some(limit) = head.checked_sub(1) else {
        return false;
    };
    let n = buffers.len();
    // Edges (from, to, weight) meaning x[to] - x[from] <= weight; node n is 0.
    let mut edges: Vec<(usize, usize, i64)> = Vec::new();
    for (index, buffer) in buffers.iter().enumerate() {
        let room = limit as i64 - buffer.aligned_bytes() as i64;
        if room < 0 {
            return true;
        }
        edges.push((n, index, room));
        edges.push((index, n, 0));
    }
    for rule in allowances {
        let (Some(down), true) = (rule.down, rule.exact_down.is_empty()) else {
            continue;
        };
        let scope = Scope::of_operator(rule.operator);
        let live: u64 = buffers
            .iter()
            .filter(|b| b.first_scope <= scope && scope <= b.last_scope)
            .map(|b| b.aligned_bytes())
            .sum();
        let other_savings: u64 = allowances
            .iter()
            .filter(|other| {
                !std::ptr::eq(*other, rule) && Scope::of_operator(other.operator) == scope
            })
            .map(|other| best_pair_saving(buffers, other))
            .sum();
        let input = buffers[rule.input].aligned_bytes();
        let output = buffers[rule.output].aligned_bytes();
        let others = live
            .saturating_sub(input + output)
            .saturating_sub(other_savings);
        let apart = others + input + output;
        let upwards = rule.up.map_or(apart, |up| {
            others + pair_footprint(input, output, Direction::Up, up)
        });
        if apart > limit && upwards > limit {
            // x[output] - x[input] <= -down
            edges.push((rule.input, rule.output, -(down as i64)));
        }
    }
    let mut distance = vec![0i64; n + 1];
    for _ in 0..=n {
        let mut changed = false;
        for &(from, to, weight) in &edges {
            if distance[from] + weight < distance[to] {
                distance[to] = distance[from] + weight;
                changed = true;
            }
        }
        if !changed {
            return false;
        }
    }
    true
}

/// The most bytes one allowed pair can share (aligned sizes).
fn best_pair_saving(buffers: &[ArenaBuffer], rule: &OverlapAllowance) -> u64 {
    let input = buffers[rule.input].aligned_bytes();
    let output = buffers[rule.output].aligned_bytes();
    let mut footprints = vec![input + output];
    if let Some(down) = rule.down {
        footprints.push(pair_footprint(input, output, Direction::Down, down));
    }
    if let Some(up) = rule.up {
        footprints.push(pair_footprint(input, output, Direction::Up, up));
    }
    footprints.extend(
        rule.exact_down
            .iter()
            .map(|&e| pair_footprint(input, output, Direction::Down, e)),
    );
    input + output - footprints.into_iter().min().unwrap_or(input + output)
}

/// [`dmo_overlap::footprint`] of aligned sizes and offsets, in bytes.
fn pair_footprint(input: u64, output: u64, direction: Direction, offset: u64) -> u64 {
    footprint(
        ByteCount(input),
        ByteCount(output),
        direction,
        SafeOffset(offset),
    )
    .0
}

/// Heap's algorithm.
fn for_each_permutation(items: &mut [usize], visit: &mut dyn FnMut(&[usize])) {
    fn recurse(k: usize, items: &mut [usize], visit: &mut dyn FnMut(&[usize])) {
        if k <= 1 {
            visit(items);
            return;
        }
        for i in 0..k - 1 {
            recurse(k - 1, items, visit);
            if k % 2 == 0 {
                items.swap(i, k - 1);
            } else {
                items.swap(0, k - 1);
            }
        }
        recurse(k - 1, items, visit);
    }
    let n = items.len();
    recurse(n, items, visit);
}

/// A small deterministic generator, so plans are reproducible.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn shuffle(&mut self, items: &mut [usize]) {
        for i in (1..items.len()).rev() {
            items.swap(i, self.below(i + 1));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checker::check_plan;
    use dmo_core::ByteCount;

    fn tensor(index: usize, bytes: u64, first: u32, last: u32) -> ArenaBuffer {
        ArenaBuffer {
            source: BufferSource::Tensor(index),
            bytes: ByteCount(bytes),
            first_scope: Scope(first),
            last_scope: Scope(last),
        }
    }

    #[test]
    fn one_pair_overlaps_by_its_safe_offset() {
        // The DESIGN.md worked example: 1x1 conv, input 18432 B, output
        // 36864 B, s_mono 18439 -> 18448 aligned. Footprint by hand:
        // max(36864, 18448 + 18432) = 36880.
        let buffers = [tensor(0, 18432, 0, 1), tensor(1, 36864, 1, 1)];
        let rule = OverlapAllowance {
            operator: 0,
            input: 0,
            output: 1,
            down: Some(18448),
            up: Some(18432),
            exact_down: vec![],
        };
        let rules = [rule];
        let result = plan_dmo(&buffers, &rules, &[36864, 0], SearchEffort::default());
        assert_eq!(result.head, 36880);
        assert_eq!(result.lower_bound, 36880);
        assert!(result.proven_optimal);
        assert!(check_plan(&buffers, &result.offsets, &rules).is_empty());
    }

    #[test]
    fn never_worse_than_the_baseline_without_allowances() {
        let buffers = [
            tensor(0, 32, 0, 1),
            tensor(1, 64, 1, 2),
            tensor(2, 48, 2, 3),
        ];
        let result = plan_dmo(&buffers, &[], &[64, 0, 64], SearchEffort::default());
        assert_eq!(result.head, 112);
        assert!(check_plan(&buffers, &result.offsets, &[]).is_empty());
    }

    #[test]
    fn descending_chain_is_proven_optimal_beyond_the_per_scope_bound() {
        // a -> b -> c, 64 B each, each output at least 16 B below its input
        // (no upward overlap). By hand: c <= b - 16 <= a - 32, a + 64 <= head,
        // so head >= 96, though each scope alone needs only 80.
        let buffers = [
            tensor(0, 64, 0, 1),
            tensor(1, 64, 1, 2),
            tensor(2, 64, 2, 2),
        ];
        let rule = |operator, input, output| OverlapAllowance {
            operator,
            input,
            output,
            down: Some(16),
            up: Some(64),
            exact_down: vec![],
        };
        let rules = [rule(0, 0, 1), rule(1, 1, 2)];
        let result = plan_dmo(&buffers, &rules, &[128, 0, 64], SearchEffort::default());
        assert_eq!(result.head, 96);
        assert_eq!(result.lower_bound, 80);
        assert!(result.proven_optimal);
        assert!(
            !no_smaller_plan_exists(&buffers, &rules, 112),
            "112 is not optimal: 96 exists"
        );
        assert!(check_plan(&buffers, &result.offsets, &rules).is_empty());
    }

    #[test]
    fn permutations_visit_every_order_once() {
        let mut items = vec![0, 1, 2, 3];
        let mut seen = std::collections::HashSet::new();
        for_each_permutation(&mut items, &mut |order| {
            seen.insert(order.to_vec());
        });
        assert_eq!(seen.len(), 24);
    }
}
