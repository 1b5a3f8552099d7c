//! `s_mono` and `u_mono` in linear time.
//!
//! `s_mono - 1` is the largest hazard difference `j - i` (a hazard being
//! `fa[j] <= lr[i]`). DESIGN.md writes it as `max_j (j - minLive(fa[j]) + 1)`
//! with `minLive(t)` the smallest input byte still live at `t`; here the same
//! maximum is found with two monotone arrays and two pointers instead of a
//! search per output byte:
//!
//! - `reads_up_to[i] = max(lr[0..=i])` never decreases with `i`,
//! - `accesses_from[j] = min(fa[j..])` never decreases with `j`,
//!
//! and a hazard `(i, j)` exists with `j - i >= d` iff some `(i, j)` with
//! `j - i >= d` has `accesses_from[j] <= reads_up_to[i]` (the prefix maximum
//! and suffix minimum are reached at an `i' <= i` and a `j' >= j`). For each
//! `i` the `j` with `accesses_from[j] <= reads_up_to[i]` form a prefix of the
//! output that only grows with `i`, so one forward pointer finds them all.
//! `u_mono` mirrors this with `max(lr[i..])` and `min(fa[..=j])`.
//!
//! Ties follow the safety definition (`fa[j] > lr[i]` is safe), so a tie is a
//! hazard; DESIGN.md's `lr[i] > t` in `minLive` differs only for a tie, which
//! needs one event to touch both buffers.

use crate::SafeOffset;
use dmo_core::EventTime;

/// Never read sorts below every time (`None < Some` in `Option`'s order), so
/// the plain maximum of `Option<EventTime>` treats `None` as -inf.
fn max_read(a: Option<EventTime>, b: Option<EventTime>) -> Option<EventTime> {
    a.max(b)
}

/// Never accessed is +inf: the minimum ignores `None`.
fn min_access(a: Option<EventTime>, b: Option<EventTime>) -> Option<EventTime> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.min(y)),
        (x, None) => x,
        (None, y) => y,
    }
}

/// Smallest down offset `s` such that every `s' >= s` is safe. O(nI + nO).
pub fn s_mono(last_read: &[Option<EventTime>], first_access: &[Option<EventTime>]) -> SafeOffset {
    let mut accesses_from = first_access.to_vec();
    for j in (0..accesses_from.len().saturating_sub(1)).rev() {
        accesses_from[j] = min_access(accesses_from[j], accesses_from[j + 1]);
    }
    let mut reads_up_to = None;
    // Output bytes [0, hazardous_prefix) hazard with some input byte <= i.
    let mut hazardous_prefix = 0usize;
    let mut largest_gap_plus_one = 0u64;
    for (i, &read) in last_read.iter().enumerate() {
        reads_up_to = max_read(reads_up_to, read);
        let Some(read) = reads_up_to else { continue };
        while hazardous_prefix < accesses_from.len()
            && accesses_from[hazardous_prefix].is_some_and(|access| access <= read)
        {
            hazardous_prefix += 1;
        }
        // Largest hazardous j is hazardous_prefix - 1; unsafe s = j - i >= 0.
        if hazardous_prefix > i {
            largest_gap_plus_one = largest_gap_plus_one.max((hazardous_prefix - i) as u64);
        }
    }
    SafeOffset(largest_gap_plus_one)
}

/// Smallest up offset `u` such that every `u' >= u` is safe. O(nI + nO).
pub fn u_mono(last_read: &[Option<EventTime>], first_access: &[Option<EventTime>]) -> SafeOffset {
    let mut reads_from = last_read.to_vec();
    for i in (0..reads_from.len().saturating_sub(1)).rev() {
        reads_from[i] = max_read(reads_from[i], reads_from[i + 1]);
    }
    let mut accesses_up_to = None;
    // Input bytes [0, hazardous_prefix) hazard with some output byte <= j.
    let mut hazardous_prefix = 0usize;
    let mut largest_gap_plus_one = 0u64;
    for (j, &access) in first_access.iter().enumerate() {
        accesses_up_to = min_access(accesses_up_to, access);
        let Some(access) = accesses_up_to else {
            continue;
        };
        while hazardous_prefix < reads_from.len()
            && reads_from[hazardous_prefix].is_some_and(|read| access <= read)
        {
            hazardous_prefix += 1;
        }
        // Largest hazardous i is hazardous_prefix - 1; unsafe u = i - j >= 0.
        if hazardous_prefix > j {
            largest_gap_plus_one = largest_gap_plus_one.max((hazardous_prefix - j) as u64);
        }
    }
    SafeOffset(largest_gap_plus_one)
}
