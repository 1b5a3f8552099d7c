//! A faithful re-implementation of TFLM's `GreedyMemoryPlanner`.
//!
//! Offline-planned buffers are placed first at their given offsets (in buffer
//! order); the others are sorted by size, largest first, highest buffer index
//! first among equal sizes, and each goes to the lowest offset where the gap
//! between the time-overlapping buffers already placed (scanned in address
//! order) is big enough.

use crate::lifetimes::Scope;

/// One buffer as the planner sees it.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct PlannerRequest {
    /// Size in bytes, already aligned by the caller (TFLM aligns to 16).
    pub size: u64,
    pub first_scope: Scope,
    pub last_scope: Scope,
    /// A fixed offset from an offline plan, or `None` to plan it online.
    pub offline_offset: Option<u64>,
}

/// A placed buffer in the planner's offset-ordered list.
#[derive(Clone, Copy)]
struct Placed {
    request: usize,
    offset: u64,
}

/// Offsets for every request, as TFLM's greedy planner computes them.
pub fn greedy_offsets(requests: &[PlannerRequest]) -> Vec<u64> {
    let mut order: Vec<usize> = (0..requests.len())
        .filter(|&i| requests[i].offline_offset.is_some())
        .collect();
    // TFLM fills the online part from the tail (so in reverse index order),
    // then bubble-sorts it by size, descending and stable.
    let mut online: Vec<usize> = (0..requests.len())
        .rev()
        .filter(|&i| requests[i].offline_offset.is_none())
        .collect();
    online.sort_by(|&a, &b| requests[b].size.cmp(&requests[a].size));
    order.extend(online);

    let mut offsets = vec![0u64; requests.len()];
    // Buffers in ascending offset order; a new one goes after equal offsets.
    let mut by_offset: Vec<Placed> = Vec::with_capacity(requests.len());
    for &index in &order {
        let wanted = &requests[index];
        let offset = match wanted.offline_offset {
            Some(offset) => offset,
            None => first_fit(requests, &by_offset, wanted),
        };
        offsets[index] = offset;
        let at = by_offset.partition_point(|p| p.offset <= offset);
        by_offset.insert(
            at,
            Placed {
                request: index,
                offset,
            },
        );
    }
    offsets
}

fn overlaps_in_time(a: &PlannerRequest, first: Scope, last: Scope) -> bool {
    !(a.first_scope > last || first > a.last_scope)
}

fn first_fit(requests: &[PlannerRequest], by_offset: &[Placed], wanted: &PlannerRequest) -> u64 {
    let mut candidate = 0u64;
    let active = by_offset
        .iter()
        .filter(|p| overlaps_in_time(&requests[p.request], wanted.first_scope, wanted.last_scope));
    for placed in active {
        // The gap between the end of what came before and this buffer.
        if placed.offset >= candidate && placed.offset - candidate >= wanted.size {
            break;
        }
        candidate = candidate.max(placed.offset + requests[placed.request].size);
    }
    candidate
}

/// The arena head of a plan: the largest end offset.
pub fn head_size(requests: &[PlannerRequest], offsets: &[u64]) -> u64 {
    requests
        .iter()
        .zip(offsets)
        .map(|(r, &o)| o + r.size)
        .max()
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn online(size: u64, first: u32, last: u32) -> PlannerRequest {
        PlannerRequest {
            size,
            first_scope: Scope(first),
            last_scope: Scope(last),
            offline_offset: None,
        }
    }

    #[test]
    fn chain_reuses_memory_of_dead_tensors() {
        // a(0..1) -> b(1..2) -> c(2..3): a and c never coexist, so by hand:
        // b (largest, 64) at 0; a (32) must avoid b: 64; c (48) avoids b
        // only, and a is dead: 64. Head 112.
        let requests = [online(32, 0, 1), online(64, 1, 2), online(48, 2, 3)];
        let offsets = greedy_offsets(&requests);
        assert_eq!(offsets, vec![64, 0, 64]);
        assert_eq!(head_size(&requests, &offsets), 112);
    }

    #[test]
    fn equal_sizes_place_the_highest_index_first() {
        // Two equal buffers alive together: index 1 goes first, at 0.
        let requests = [online(16, 0, 1), online(16, 0, 1)];
        assert_eq!(greedy_offsets(&requests), vec![16, 0]);
    }

    #[test]
    fn gap_between_buffers_is_used_when_big_enough() {
        // x(0..0) at 0 size 32 is placed first (largest); y (16, 1..1) and
        // z (16, 0..1) follow. Order by size: x, then z (index 2), then y.
        // z overlaps x in time: goes to 32. y overlaps z only: gap [0,32)
        // before z is big enough: 0.
        let requests = [online(32, 0, 0), online(16, 1, 1), online(16, 0, 1)];
        assert_eq!(greedy_offsets(&requests), vec![0, 0, 32]);
    }

    #[test]
    fn offline_offsets_are_kept_and_online_buffers_fit_around_them() {
        let requests = [
            PlannerRequest {
                offline_offset: Some(32),
                ..online(32, 0, 2)
            },
            online(32, 1, 1),
            online(16, 1, 1),
        ];
        // Online order: 1 (32 bytes) then 2. Buffer 1: gap [0,32) before the
        // offline one fits: 0. Buffer 2: after 1 (32), gap to offline at 32 is
        // 0, so after the offline one: 64.
        assert_eq!(greedy_offsets(&requests), vec![32, 0, 64]);
    }
}
