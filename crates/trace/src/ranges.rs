//! Address ranges, and a map from the bytes of several ranges to one dense
//! index, so per-byte state costs memory in proportion to the bytes tracked.

use dmo_core::Address;
use serde::{Deserialize, Serialize};
use std::fmt;

/// The bytes `[start, start + len)`.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Serialize, Deserialize)]
pub struct ByteRange {
    pub start: Address,
    pub len: u32,
}

impl ByteRange {
    pub fn new(start: Address, len: u32) -> ByteRange {
        ByteRange { start, len }
    }

    /// One past the last byte, as u64 so a range may end at 2^32.
    pub fn end(&self) -> u64 {
        self.start.0 as u64 + self.len as u64
    }

    pub fn contains(&self, address: Address) -> bool {
        self.start <= address && (address.0 as u64) < self.end()
    }
}

impl fmt::Display for ByteRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}..0x{:08x}", self.start, self.end())
    }
}

/// Numbers the bytes of a set of ranges densely: the bytes of the first
/// (lowest) range are `0..len0`, those of the next follow, and so on.
#[derive(Clone, Debug)]
pub(crate) struct DenseBytes {
    /// Disjoint, sorted by start; with the dense index of each range's first byte.
    ranges: Vec<(ByteRange, usize)>,
    total: usize,
}

impl DenseBytes {
    /// Merges overlapping and adjacent ranges; empty ranges are dropped.
    pub fn new(ranges: &[ByteRange]) -> DenseBytes {
        let mut sorted: Vec<ByteRange> = ranges.iter().copied().filter(|r| r.len > 0).collect();
        sorted.sort();
        let mut merged: Vec<(u64, u64)> = Vec::new();
        for range in sorted {
            let (start, end) = (range.start.0 as u64, range.end());
            match merged.last_mut() {
                Some(last) if start <= last.1 => last.1 = last.1.max(end),
                _ => merged.push((start, end)),
            }
        }
        let mut total = 0usize;
        let ranges = merged
            .into_iter()
            .map(|(start, end)| {
                // A merged range can reach 2^32 bytes only if the whole
                // address space is tracked; cap it at u32::MAX bytes.
                let len = (end - start).min(u32::MAX as u64) as u32;
                let entry = (ByteRange::new(Address(start as u32), len), total);
                total += len as usize;
                entry
            })
            .collect();
        DenseBytes { ranges, total }
    }

    /// Bytes tracked in all.
    pub fn len(&self) -> usize {
        self.total
    }

    /// The merged ranges in address order.
    pub fn ranges(&self) -> impl Iterator<Item = ByteRange> + '_ {
        self.ranges.iter().map(|(range, _)| *range)
    }

    /// The dense index of `address`, if tracked.
    #[inline]
    pub fn index(&self, address: u64) -> Option<usize> {
        // Usually few ranges, where a linear scan beats a binary search; flash
        // minus every function (buffer discovery) has thousands.
        if self.ranges.len() > 8 {
            let position = self
                .ranges
                .partition_point(|(range, _)| (range.start.0 as u64) <= address);
            let (range, base) = self.ranges.get(position.checked_sub(1)?)?;
            let start = range.start.0 as u64;
            return (address < range.end()).then(|| base + (address - start) as usize);
        }
        for (range, base) in &self.ranges {
            let start = range.start.0 as u64;
            if address >= start && address < range.end() {
                return Some(base + (address - start) as usize);
            }
        }
        None
    }

    /// The address of dense index `index`.
    pub fn address(&self, index: usize) -> Address {
        let position = self.ranges.partition_point(|(_, base)| *base <= index) - 1;
        let (range, base) = self.ranges[position];
        Address(range.start.0 + (index - base) as u32)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn many_ranges_index_by_binary_search_like_the_linear_scan() {
        let ranges: Vec<ByteRange> = (0..40u32)
            .map(|i| ByteRange::new(Address(0x1000 + 0x100 * i), 0x10 + i))
            .collect();
        let dense = DenseBytes::new(&ranges);
        let mut expected = 0usize;
        for address in 0xf00u64..0x4000 {
            let inside = ranges
                .iter()
                .any(|r| address >= r.start.0 as u64 && address < r.end());
            let found = dense.index(address);
            assert_eq!(found.is_some(), inside, "{address:#x}");
            if inside {
                assert_eq!(found, Some(expected), "{address:#x}");
                assert_eq!(dense.address(expected), Address(address as u32));
                expected += 1;
            }
        }
        assert_eq!(expected, dense.len());
    }

    #[test]
    fn dense_indexes_follow_address_order_across_merged_ranges() {
        let dense = DenseBytes::new(&[
            ByteRange::new(Address(0x200), 4),
            ByteRange::new(Address(0x100), 8),
            ByteRange::new(Address(0x104), 8), // overlaps the one before: 0x100..0x10c
            ByteRange::new(Address(0x300), 0),
        ]);
        assert_eq!(dense.len(), 12 + 4);
        assert_eq!(dense.index(0x100), Some(0));
        assert_eq!(dense.index(0x10b), Some(11));
        assert_eq!(dense.index(0x10c), None);
        assert_eq!(dense.index(0x200), Some(12));
        assert_eq!(dense.index(0x203), Some(15));
        assert_eq!(dense.index(0x204), None);
        assert_eq!(dense.address(11), Address(0x10b));
        assert_eq!(dense.address(12), Address(0x200));
    }
}
