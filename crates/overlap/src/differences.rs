//! The exact set of unsafe offsets, holes included.
//!
//! A hazard `(i, j)` (`fa[j] <= lr[i]`) forbids the difference `d = j - i`:
//! down offset `s = d` when `d >= 0`, up offset `u = -d` when `d <= 0`. The set
//! of all hazard differences is kept as a bitset; bit `p = d + nI - 1` stands
//! for `d`, so `p` runs over `0..nI + nO - 1`.
//!
//! Sweep: visit the output bytes in increasing `fa`. The input bytes still
//! live at `t = fa[j]` (`lr[i] >= t`) only shrink as `t` grows. Keep them as a
//! bitset `live` with bit `nI - 1 - i` for input byte `i`; output byte `j` then
//! forbids exactly the bits of `live << j`, which is ORed in one word at a time
//! (64 input bytes per instruction). Only the nonzero words of `live` are
//! touched. The output bytes are cut into chunks that run on separate threads
//! (rayon), each rebuilding `live` at its first time and ORing into its own
//! bitset; the bitsets are ORed at the end.
//!
//! A run of consecutive output bytes with one live set is ORed once, smeared
//! over the run by doubling ([`smear`]).
//!
//! The live set is also kept as its maximal intervals of input bytes. While
//! there are few of them (convolutions, depthwise convolutions and pools read
//! their input in address order, so the live set is one or two intervals), a
//! run forbids one interval of differences per live interval, and the
//! intervals are merged at the end of the chunk: O(intervals) per run instead
//! of O(live span / 64). A fragmented live set (holes from strides, random
//! patterns) takes the bitset path.
//!
//! Cost: O(nI log nI + nO log nO) for the sorts plus, per run, the span of
//! still-live input bytes divided by 64, times `1 + log2(run length)` on the
//! bitset path, or the number of live intervals on the interval path.

use crate::SafeOffset;
use dmo_core::EventTime;
use rayon::prelude::*;

/// Output bytes per parallel chunk at least; below this, rebuilding the live
/// set costs more than the chunk's work.
const MIN_OUTPUTS_PER_CHUNK: usize = 2048;

/// The most live intervals a run is handled with on the interval path.
const MAX_LIVE_INTERVALS: usize = 64;

/// Past this many live intervals a chunk stops keeping them (a fragmented,
/// e.g. random, pattern): the bitset path then runs alone, without paying
/// for interval upkeep on every read that ends.
const ABANDON_INTERVALS_ABOVE: usize = 2 * MAX_LIVE_INTERVALS;

/// The set of hazard differences `j - i` of one (input, output) pair.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HazardDifferences {
    input_len: usize,
    output_len: usize,
    /// Bit `d + nI - 1` is set iff some hazard has `j - i = d`.
    bits: Vec<u64>,
}

impl HazardDifferences {
    /// Computes the set from per-byte last reads and first accesses.
    pub fn compute(
        last_read: &[Option<EventTime>],
        first_access: &[Option<EventTime>],
    ) -> HazardDifferences {
        Self::compute_in_chunks(last_read, first_access, MIN_OUTPUTS_PER_CHUNK)
    }

    /// [`compute`](Self::compute) with at least `min_chunk` output bytes per
    /// parallel chunk (tests use tiny chunks to exercise the chunk seams).
    pub(crate) fn compute_in_chunks(
        last_read: &[Option<EventTime>],
        first_access: &[Option<EventTime>],
        min_chunk: usize,
    ) -> HazardDifferences {
        Self::compute_with(last_read, first_access, min_chunk, MAX_LIVE_INTERVALS)
    }

    /// [`compute_in_chunks`](Self::compute_in_chunks) with the interval path
    /// taken while the live set has at most `max_intervals` intervals (tests
    /// force one path or the other with 0 and `usize::MAX`).
    pub(crate) fn compute_with(
        last_read: &[Option<EventTime>],
        first_access: &[Option<EventTime>],
        min_chunk: usize,
        max_intervals: usize,
    ) -> HazardDifferences {
        let input_len = last_read.len();
        let output_len = first_access.len();
        let words = input_len.div_ceil(64) + output_len.div_ceil(64) + 2;
        let mut bits = vec![0u64; words];
        if input_len > 0 && output_len > 0 {
            let mut reads: Vec<(EventTime, usize)> = last_read
                .iter()
                .enumerate()
                .filter_map(|(i, read)| read.map(|t| (t, i)))
                .collect();
            let mut accesses: Vec<(EventTime, usize)> = first_access
                .iter()
                .enumerate()
                .filter_map(|(j, access)| access.map(|t| (t, j)))
                .collect();
            reads.par_sort_unstable();
            accesses.par_sort_unstable();
            // Output bytes accessed after every read hazard with nothing.
            if let Some(&(last, _)) = reads.last() {
                accesses.truncate(accesses.partition_point(|&(t, _)| t <= last));
            }
            let threads = rayon::current_num_threads().max(1);
            let chunk_len = accesses.len().div_ceil(threads * 4).max(min_chunk.max(1));
            bits = accesses
                .par_chunks(chunk_len)
                .map(|chunk| sweep_chunk(input_len, words, &reads, chunk, max_intervals))
                .reduce_with(|mut a, b| {
                    a.iter_mut().zip(&b).for_each(|(x, y)| *x |= y);
                    a
                })
                .unwrap_or(bits);
        }
        HazardDifferences {
            input_len,
            output_len,
            bits,
        }
    }

    fn contains_difference(&self, difference: i64) -> bool {
        let position = difference + self.input_len as i64 - 1;
        if position < 0 {
            return false;
        }
        let position = position as usize;
        self.bits
            .get(position / 64)
            .is_some_and(|word| word >> (position % 64) & 1 == 1)
    }

    /// Whether down offset `s` is unsafe.
    pub fn is_unsafe_down(&self, s: SafeOffset) -> bool {
        s.0 < self.output_len as u64 && self.contains_difference(s.0 as i64)
    }

    /// Whether up offset `u` is unsafe.
    pub fn is_unsafe_up(&self, u: SafeOffset) -> bool {
        u.0 < self.input_len as u64 && self.contains_difference(-(u.0 as i64))
    }

    /// Smallest safe down offset (at most `nO`, which never overlaps).
    pub fn s_min(&self) -> SafeOffset {
        if self.input_len == 0 {
            return SafeOffset(0);
        }
        let first = self.input_len - 1; // position of s = 0
        let last = first + self.output_len; // position of s = nO, always clear
        SafeOffset((self.first_clear_upward(first, last) - first) as u64)
    }

    /// Smallest safe up offset (at most `nI`, which never overlaps).
    pub fn u_min(&self) -> SafeOffset {
        if self.input_len == 0 {
            return SafeOffset(0);
        }
        let first = self.input_len - 1; // position of u = 0; u = nI is position -1
        let mut position = first as i64;
        while position >= 0 && self.bit(position as usize) {
            position -= 1;
        }
        SafeOffset((first as i64 - position) as u64)
    }

    /// Smallest down offset from which every larger one is safe.
    pub fn s_mono(&self) -> SafeOffset {
        if self.input_len == 0 {
            return SafeOffset(0);
        }
        let first = self.input_len - 1;
        match self.highest_set() {
            Some(position) if position >= first => SafeOffset((position - first + 1) as u64),
            _ => SafeOffset(0),
        }
    }

    /// Smallest up offset from which every larger one is safe.
    pub fn u_mono(&self) -> SafeOffset {
        if self.input_len == 0 {
            return SafeOffset(0);
        }
        let first = self.input_len - 1;
        match self.lowest_set() {
            Some(position) if position <= first => SafeOffset((first - position + 1) as u64),
            _ => SafeOffset(0),
        }
    }

    fn bit(&self, position: usize) -> bool {
        self.bits[position / 64] >> (position % 64) & 1 == 1
    }

    /// First clear bit in `from..=to`, word at a time; `to` must be clear.
    fn first_clear_upward(&self, from: usize, to: usize) -> usize {
        let mut word_index = from / 64;
        let mut clear = !self.bits[word_index] & (u64::MAX << (from % 64));
        while clear == 0 {
            word_index += 1;
            clear = !self.bits[word_index];
        }
        let found = word_index * 64 + clear.trailing_zeros() as usize;
        debug_assert!(found <= to);
        found.min(to)
    }

    fn highest_set(&self) -> Option<usize> {
        let index = self.bits.iter().rposition(|&w| w != 0)?;
        Some(index * 64 + 63 - self.bits[index].leading_zeros() as usize)
    }

    fn lowest_set(&self) -> Option<usize> {
        let index = self.bits.iter().position(|&w| w != 0)?;
        Some(index * 64 + self.bits[index].trailing_zeros() as usize)
    }
}

/// ORs `live << shift` into `into`, touching only `live[low..=high]`.
#[inline]
fn or_shifted(into: &mut [u64], live: &[u64], low: usize, high: usize, shift: usize) {
    let word_shift = shift / 64;
    let bit_shift = (shift % 64) as u32;
    let source = &live[low..=high];
    let target = &mut into[low + word_shift..=high + word_shift + 1];
    if bit_shift == 0 {
        target.iter_mut().zip(source).for_each(|(t, &s)| *t |= s);
    } else {
        let mut carry = 0u64;
        for (t, &s) in target.iter_mut().zip(source) {
            *t |= (s << bit_shift) | carry;
            carry = s >> (64 - bit_shift);
        }
        target[source.len()] |= carry;
    }
}

/// `into = OR over r in 0..run of (source << r)`, by doubling: O(log run)
/// passes instead of `run`.
fn smear(source: &[u64], run: usize, into: &mut Vec<u64>) {
    into.clear();
    into.extend_from_slice(source);
    into.resize(source.len() + (run - 1).div_ceil(64), 0);
    let mut covered = 1;
    while covered < run {
        let step = covered.min(run - covered);
        let (word_shift, bit_shift) = (step / 64, (step % 64) as u32);
        // From the top down, so every word reads words not yet updated.
        for k in (word_shift..into.len()).rev() {
            let mut shifted = into[k - word_shift] << bit_shift;
            if bit_shift > 0 && k > word_shift {
                shifted |= into[k - word_shift - 1] >> (64 - bit_shift);
            }
            into[k] |= shifted;
        }
        covered += step;
    }
}

/// The hazard differences of the output bytes in `chunk` (sorted by time).
fn sweep_chunk(
    input_len: usize,
    words: usize,
    reads: &[(EventTime, usize)],
    chunk: &[(EventTime, usize)],
    max_intervals: usize,
) -> Vec<u64> {
    let mut found = vec![0u64; words];
    let Some(&(start, _)) = chunk.first() else {
        return found;
    };
    // Input bytes still live at `start`, as bits nI - 1 - i.
    let mut next_dead = reads.partition_point(|&(t, _)| t < start);
    let mut live = vec![0u64; input_len.div_ceil(64)];
    for &(_, i) in &reads[next_dead..] {
        let position = input_len - 1 - i;
        live[position / 64] |= 1 << (position % 64);
    }
    let mut intervals =
        LiveIntervals::of_bits(input_len, &live, max_intervals.max(ABANDON_INTERVALS_ABOVE));
    // Interval path: `reach[p]` is one past the highest position forbidden
    // by an interval starting at position p (0: none).
    let mut reach: Vec<u32> = Vec::new();
    let (mut low, mut high) = (0usize, live.len() - 1);
    let mut smeared = Vec::new();
    let mut index = 0;
    while let Some(&(time, j)) = chunk.get(index) {
        while next_dead < reads.len() && reads[next_dead].0 < time {
            let input_byte = reads[next_dead].1;
            let position = input_len - 1 - input_byte;
            live[position / 64] &= !(1 << (position % 64));
            if let Some(live_intervals) = &mut intervals {
                live_intervals.remove(input_byte);
            }
            next_dead += 1;
        }
        if next_dead == reads.len() {
            break; // nothing live now or later in this chunk
        }
        // A run of output bytes j, j + 1, ... that see the same live set
        // (no read ends before the last one's time) forbids `live << j` ORed
        // with its shifts by 1..run: smear once instead of ORing run times.
        let next_read_end = reads[next_dead].0;
        let mut run = 1;
        while let Some(&(later, later_j)) = chunk.get(index + run) {
            if later_j != j + run || later > next_read_end {
                break;
            }
            run += 1;
        }
        if let Some(live_intervals) = &intervals {
            if live_intervals.len() > max_intervals.max(ABANDON_INTERVALS_ABOVE) {
                intervals = None;
            }
        }
        if let Some(live_intervals) = intervals.as_ref().filter(|i| i.len() <= max_intervals) {
            if reach.is_empty() {
                reach = vec![0; words * 64];
            }
            // Input bytes a..=b and output bytes j..j + run forbid the
            // differences j - b ..= j + run - 1 - a, at positions d + nI - 1.
            for (a, b) in live_intervals.iter() {
                let lowest = j + input_len - 1 - b;
                let end = (j + run + input_len - 1 - a) as u32;
                reach[lowest] = reach[lowest].max(end);
            }
            index += run;
            continue;
        }
        while live[low] == 0 {
            low += 1;
        }
        while live[high] == 0 {
            high -= 1;
        }
        if run == 1 {
            or_shifted(&mut found, &live, low, high, j);
        } else {
            smear(&live[low..=high], run, &mut smeared);
            or_shifted(&mut found, &smeared, 0, smeared.len() - 1, j + 64 * low);
        }
        index += run;
    }
    let mut covered_until = 0u32;
    for (position, &end) in reach.iter().enumerate() {
        covered_until = covered_until.max(end);
        if (position as u32) < covered_until {
            found[position / 64] |= 1 << (position % 64);
        }
    }
    found
}

/// A set of input bytes as its maximal intervals `start..=end`.
struct LiveIntervals {
    by_start: std::collections::BTreeMap<usize, usize>,
}

impl LiveIntervals {
    /// The intervals of the input bytes whose bit (`nI - 1 - i`) is set, or
    /// None if there are more than `limit`.
    fn of_bits(input_len: usize, live: &[u64], limit: usize) -> Option<LiveIntervals> {
        let mut by_start = std::collections::BTreeMap::new();
        let mut open: Option<(usize, usize)> = None;
        for input_byte in 0..input_len {
            let position = input_len - 1 - input_byte;
            if live[position / 64] >> (position % 64) & 1 == 1 {
                open = match open {
                    Some((start, end)) if end + 1 == input_byte => Some((start, input_byte)),
                    Some((start, end)) => {
                        by_start.insert(start, end);
                        if by_start.len() > limit {
                            return None;
                        }
                        Some((input_byte, input_byte))
                    }
                    None => Some((input_byte, input_byte)),
                };
            }
        }
        if let Some((start, end)) = open {
            by_start.insert(start, end);
        }
        (by_start.len() <= limit).then_some(LiveIntervals { by_start })
    }

    fn len(&self) -> usize {
        self.by_start.len()
    }

    fn iter(&self) -> impl Iterator<Item = (usize, usize)> + '_ {
        self.by_start.iter().map(|(&start, &end)| (start, end))
    }

    /// Removes one live byte, splitting its interval.
    fn remove(&mut self, input_byte: usize) {
        let Some((&start, &end)) = self.by_start.range(..=input_byte).next_back() else {
            return;
        };
        if end < input_byte {
            return;
        }
        self.by_start.remove(&start);
        if start < input_byte {
            self.by_start.insert(start, input_byte - 1);
        }
        if input_byte < end {
            self.by_start.insert(input_byte + 1, end);
        }
    }
}
