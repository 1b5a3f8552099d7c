//! The overlap miner: how far one operator's output buffer may overlap one of
//! its input buffers (`shared/DESIGN.md`, "Safe overlap of one operator").
//!
//! Input: per input byte `i` the time of its last read in the op segment
//! (`last_read[i]`, `None` = never read = -inf) and per output byte `j` the
//! time of its first access (`first_access[j]`, `None` = never accessed =
//! +inf). Output byte `j` may share memory with input byte `i` iff
//! `first_access[j] > last_read[i]`; a pair that breaks this is a *hazard*.
//!
//! - Down placement `O = I - s`: output byte `j` lands on input byte `j - s`.
//! - Up placement `O = I + u`: output byte `j` lands on input byte `j + u`.
//!
//! Every hazard `(i, j)` forbids exactly one offset: `s = j - i` when
//! `j >= i`, or `u = i - j` when `i >= j`. So the miner computes the set of
//! hazard *differences* `j - i` once and reads all four offsets from it
//! ([`mine_pair`]). `s_mono`/`u_mono` also have linear-time functions of their
//! own ([`s_mono`], [`u_mono`]).
//!
//! Callers that see a stream of accesses build the two arrays with an
//! [`AccessRecorder`].

mod differences;
mod monotone;
mod recorder;
#[cfg(any(test, feature = "reference"))]
pub mod reference;

use dmo_core::{ByteCount, EventTime};
use serde::{Deserialize, Serialize};
use std::fmt;

pub use differences::HazardDifferences;
pub use monotone::{s_mono, u_mono};
pub use recorder::{AccessRecorder, RecorderError};

/// A byte distance between the start of the input and the start of the output
/// (`s` for [`Direction::Down`], `u` for [`Direction::Up`]).
#[derive(
    Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Debug, Serialize, Deserialize,
)]
pub struct SafeOffset(pub u64);

impl fmt::Display for SafeOffset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} B", self.0)
    }
}

/// Where the output goes relative to the input.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub enum Direction {
    /// `O = I - s`: the output starts `s` bytes below the input.
    Down,
    /// `O = I + u`: the output starts `u` bytes above the input.
    Up,
}

/// One way to place the output against the input, and the bytes the pair
/// then spans.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub struct Placement {
    pub direction: Direction,
    pub offset: SafeOffset,
    pub footprint: ByteCount,
}

/// Why an offset is unsafe: output byte `output_byte` would be first accessed
/// (`output_first_access`) no later than the last read of the input byte it
/// lands on (`input_last_read`), so it would clobber a value still needed.
/// A caller holding the trace can map both times back to instructions.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub struct Witness {
    pub output_byte: u64,
    pub input_byte: u64,
    pub output_first_access: EventTime,
    pub input_last_read: EventTime,
}

/// Everything the miner finds for one (input, output) pair of one operator.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub struct PairOverlap {
    pub input_len: ByteCount,
    pub output_len: ByteCount,
    /// Smallest safe down offset (`0..=output_len`).
    pub s_min: SafeOffset,
    /// Smallest down offset from which every larger one is safe.
    pub s_mono: SafeOffset,
    /// Smallest safe up offset (`0..=input_len`).
    pub u_min: SafeOffset,
    /// Smallest up offset from which every larger one is safe.
    pub u_mono: SafeOffset,
    /// The smaller footprint of down at `s_min` and up at `u_min`; on a tie,
    /// down (the DMO paper's convention, and the one planners expect).
    pub best: Placement,
    /// Why `s_min - 1` is unsafe (`None` when `s_min == 0`).
    pub witness_down: Option<Witness>,
    /// Why `u_min - 1` is unsafe (`None` when `u_min == 0`).
    pub witness_up: Option<Witness>,
    /// Why `s_mono - 1` is unsafe (`None` when `s_mono == 0`).
    pub witness_down_mono: Option<Witness>,
    /// Why `u_mono - 1` is unsafe (`None` when `u_mono == 0`).
    pub witness_up_mono: Option<Witness>,
}

impl PairOverlap {
    /// Bytes the pair needs without overlap: `nI + nO`.
    pub fn naive(&self) -> ByteCount {
        ByteCount(self.input_len.0 + self.output_len.0)
    }

    /// Bytes the best placement saves: `nI + nO - footprint`.
    pub fn saving(&self) -> ByteCount {
        ByteCount(self.naive().0 - self.best.footprint.0)
    }

    /// [`saving`](Self::saving) as a percentage of [`naive`](Self::naive)
    /// (0 for two empty buffers).
    pub fn saving_percent(&self) -> f64 {
        let naive = self.naive().0;
        if naive == 0 {
            0.0
        } else {
            100.0 * self.saving().0 as f64 / naive as f64
        }
    }

    /// The best placement a planner may use when it puts the output *at or
    /// beyond* the offset (`s_mono` / `u_mono`), with the same tie rule as
    /// [`best`](Self::best).
    pub fn best_monotone(&self) -> Placement {
        best_placement(self.input_len, self.output_len, self.s_mono, self.u_mono)
    }
}

/// Bytes an (input, output) pair spans when the output is placed `offset`
/// bytes below (`Down`, `O = I - s`: `max(nO, s + nI)`) or above (`Up`,
/// `O = I + u`: `max(nI, u + nO)`) the input. The one footprint rule of the
/// project: planners pass aligned sizes and offsets, the miner exact ones.
pub fn footprint(
    input_len: ByteCount,
    output_len: ByteCount,
    direction: Direction,
    offset: SafeOffset,
) -> ByteCount {
    match direction {
        Direction::Down => ByteCount(output_len.0.max(offset.0 + input_len.0)),
        Direction::Up => ByteCount(input_len.0.max(offset.0 + output_len.0)),
    }
}

/// Down at `s` versus up at `u`: the smaller footprint, down on a tie.
pub fn best_placement(
    input_len: ByteCount,
    output_len: ByteCount,
    s: SafeOffset,
    u: SafeOffset,
) -> Placement {
    let down = footprint(input_len, output_len, Direction::Down, s);
    let up = footprint(input_len, output_len, Direction::Up, u);
    if up < down {
        Placement {
            direction: Direction::Up,
            offset: u,
            footprint: up,
        }
    } else {
        Placement {
            direction: Direction::Down,
            offset: s,
            footprint: down,
        }
    }
}

/// Whether the down placement `O = I - s` is safe: `fa[j] > lr[j - s]` for
/// every `j` with `0 <= j - s < nI`. O(min(nI, nO)).
pub fn is_safe_down(
    last_read: &[Option<EventTime>],
    first_access: &[Option<EventTime>],
    s: SafeOffset,
) -> bool {
    witness_down_at(last_read, first_access, s).is_none()
}

/// Whether the up placement `O = I + u` is safe: `fa[j] > lr[j + u]` for every
/// `j` with `0 <= j + u < nI`. O(min(nI, nO)).
pub fn is_safe_up(
    last_read: &[Option<EventTime>],
    first_access: &[Option<EventTime>],
    u: SafeOffset,
) -> bool {
    witness_up_at(last_read, first_access, u).is_none()
}

/// The hazard with the smallest output byte that makes down offset `s`
/// unsafe, or `None` if `s` is safe.
pub fn witness_down_at(
    last_read: &[Option<EventTime>],
    first_access: &[Option<EventTime>],
    s: SafeOffset,
) -> Option<Witness> {
    let s = usize::try_from(s.0).ok()?;
    let end = first_access.len().min(s.saturating_add(last_read.len()));
    (s..end).find_map(|j| witness(last_read, first_access, j - s, j))
}

/// The hazard with the smallest output byte that makes up offset `u` unsafe,
/// or `None` if `u` is safe.
pub fn witness_up_at(
    last_read: &[Option<EventTime>],
    first_access: &[Option<EventTime>],
    u: SafeOffset,
) -> Option<Witness> {
    let u = usize::try_from(u.0).ok()?;
    let end = first_access.len().min(last_read.len().saturating_sub(u));
    (0..end).find_map(|j| witness(last_read, first_access, j + u, j))
}

fn witness(
    last_read: &[Option<EventTime>],
    first_access: &[Option<EventTime>],
    input_byte: usize,
    output_byte: usize,
) -> Option<Witness> {
    match (first_access[output_byte], last_read[input_byte]) {
        (Some(access), Some(read)) if access <= read => Some(Witness {
            output_byte: output_byte as u64,
            input_byte: input_byte as u64,
            output_first_access: access,
            input_last_read: read,
        }),
        _ => None,
    }
}

/// The witness for offset `offset - 1` when `offset > 0`.
fn witness_below(
    offset: SafeOffset,
    find: impl Fn(SafeOffset) -> Option<Witness>,
) -> Option<Witness> {
    offset
        .0
        .checked_sub(1)
        .and_then(|below| find(SafeOffset(below)))
}

/// Smallest safe down offset, exact even when the unsafe offsets have holes,
/// and the witness (smallest output byte) for `s_min - 1`.
pub fn s_min(
    last_read: &[Option<EventTime>],
    first_access: &[Option<EventTime>],
) -> (SafeOffset, Option<Witness>) {
    let found = HazardDifferences::compute(last_read, first_access).s_min();
    (
        found,
        witness_below(found, |s| witness_down_at(last_read, first_access, s)),
    )
}

/// Smallest safe up offset, exact even when the unsafe offsets have holes,
/// and the witness (smallest output byte) for `u_min - 1`.
pub fn u_min(
    last_read: &[Option<EventTime>],
    first_access: &[Option<EventTime>],
) -> (SafeOffset, Option<Witness>) {
    let found = HazardDifferences::compute(last_read, first_access).u_min();
    (
        found,
        witness_below(found, |u| witness_up_at(last_read, first_access, u)),
    )
}

/// All four offsets, the best placement and the witnesses of one
/// (input, output) pair. Witnesses name the smallest output byte `j` whose
/// hazard makes the offset unsafe.
pub fn mine_pair(
    last_read: &[Option<EventTime>],
    first_access: &[Option<EventTime>],
) -> PairOverlap {
    let input_len = ByteCount(last_read.len() as u64);
    let output_len = ByteCount(first_access.len() as u64);
    let differences = HazardDifferences::compute(last_read, first_access);
    let (s_min, s_mono) = (differences.s_min(), differences.s_mono());
    let (u_min, u_mono) = (differences.u_min(), differences.u_mono());
    let down = |s| witness_down_at(last_read, first_access, s);
    let up = |u| witness_up_at(last_read, first_access, u);
    PairOverlap {
        input_len,
        output_len,
        s_min,
        s_mono,
        u_min,
        u_mono,
        best: best_placement(input_len, output_len, s_min, u_min),
        witness_down: witness_below(s_min, down),
        witness_up: witness_below(u_min, up),
        witness_down_mono: witness_below(s_mono, down),
        witness_up_mono: witness_below(u_mono, up),
    }
}

#[cfg(test)]
mod tests;
