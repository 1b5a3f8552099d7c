//! Brute force straight from the definitions in DESIGN.md, the oracle the
//! fast miner is tested and benchmarked against: every candidate offset is
//! checked against every byte it makes overlap. O(nO * min(nI, nO)).

use dmo_core::EventTime;

/// Whether output byte `j` may overlap input byte `i`: `fa[j] > lr[i]` with
/// `None` read = -inf and `None` access = +inf.
fn safe(first_access: Option<EventTime>, last_read: Option<EventTime>) -> bool {
    match (first_access, last_read) {
        (Some(access), Some(read)) => access > read,
        _ => true,
    }
}

/// Safety of every down offset `s` in `0..=nO`.
pub fn safe_down_offsets(
    last_read: &[Option<EventTime>],
    first_access: &[Option<EventTime>],
) -> Vec<bool> {
    (0..=first_access.len())
        .map(|s| {
            (0..first_access.len())
                .filter(|&j| j >= s && j - s < last_read.len())
                .all(|j| safe(first_access[j], last_read[j - s]))
        })
        .collect()
}

/// Safety of every up offset `u` in `0..=nI`.
pub fn safe_up_offsets(
    last_read: &[Option<EventTime>],
    first_access: &[Option<EventTime>],
) -> Vec<bool> {
    (0..=last_read.len())
        .map(|u| {
            (0..first_access.len())
                .filter(|&j| j + u < last_read.len())
                .all(|j| safe(first_access[j], last_read[j + u]))
        })
        .collect()
}

/// The smallest safe offset of a `safe_*_offsets` table.
pub fn smallest_safe(safe_offsets: &[bool]) -> u64 {
    safe_offsets
        .iter()
        .position(|&ok| ok)
        .expect("the largest offset never overlaps") as u64
}

/// The smallest offset from which every later one in the table is safe.
pub fn smallest_monotone(safe_offsets: &[bool]) -> u64 {
    safe_offsets
        .iter()
        .rposition(|&ok| !ok)
        .map_or(0, |last_unsafe| last_unsafe as u64 + 1)
}

/// `(s_min, s_mono, u_min, u_mono)` by brute force.
pub fn offsets(
    last_read: &[Option<EventTime>],
    first_access: &[Option<EventTime>],
) -> (u64, u64, u64, u64) {
    let down = safe_down_offsets(last_read, first_access);
    let up = safe_up_offsets(last_read, first_access);
    (
        smallest_safe(&down),
        smallest_monotone(&down),
        smallest_safe(&up),
        smallest_monotone(&up),
    )
}
