//! The safe offsets of one (input, output) pair as plans use and record
//! them, whatever measured or predicted them.

use dmo_core::ByteCount;
use dmo_overlap::{best_placement, PairOverlap, SafeOffset};
use serde::{Deserialize, Serialize};

/// Safe offsets of one (input, output) pair, in bytes. Its field names are
/// part of the `dmo_plan` record written into planned models.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct PairOffsets {
    pub input_bytes: u64,
    pub output_bytes: u64,
    pub s_min: u64,
    pub s_mono: u64,
    pub u_min: u64,
    pub u_mono: u64,
}

impl PairOffsets {
    /// Bytes the pair spans at the better monotone placement (down at
    /// `s_mono` or up at `u_mono`), unaligned, as the paper counts it.
    pub fn monotone_footprint(&self) -> ByteCount {
        best_placement(
            ByteCount(self.input_bytes),
            ByteCount(self.output_bytes),
            SafeOffset(self.s_mono),
            SafeOffset(self.u_mono),
        )
        .footprint
    }

    /// `nI + nO - footprint`.
    pub fn saving(&self) -> ByteCount {
        ByteCount(self.input_bytes + self.output_bytes - self.monotone_footprint().0)
    }
}

impl From<&PairOverlap> for PairOffsets {
    /// The offsets the miner (or dmo-ops' simulation) found.
    fn from(pair: &PairOverlap) -> PairOffsets {
        PairOffsets {
            input_bytes: pair.input_len.0,
            output_bytes: pair.output_len.0,
            s_min: pair.s_min.0,
            s_mono: pair.s_mono.0,
            u_min: pair.u_min.0,
            u_mono: pair.u_mono.0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn footprint_is_the_better_monotone_placement() {
        // DESIGN.md's conv1x1: nI 18432, nO 36864, s_mono 18439, u_mono
        // 18432 (= nI): down max(36864, 18439 + 18432) = 36871; up
        // max(18432, 18432 + 36864) = 55296. Down wins, saving 18425.
        let conv = PairOffsets {
            input_bytes: 18432,
            output_bytes: 36864,
            s_min: 18439,
            s_mono: 18439,
            u_min: 18432,
            u_mono: 18432,
        };
        assert_eq!(conv.monotone_footprint(), ByteCount(36871));
        assert_eq!(conv.saving(), ByteCount(18425));
        // Control: a pair whose up placement is better (the output fits
        // above a 100-byte input 10 bytes up; down needs 90 + 100).
        let up = PairOffsets {
            input_bytes: 100,
            output_bytes: 40,
            s_min: 90,
            s_mono: 90,
            u_min: 10,
            u_mono: 10,
        };
        assert_eq!(up.monotone_footprint(), ByteCount(100));
    }
}
