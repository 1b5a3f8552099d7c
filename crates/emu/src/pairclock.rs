//! Pair-bounded runs of one op for `dmo verify`, with event times converted
//! exactly to the times of a fully hooked run.
//!
//! A check of an (input, output) pair only looks at the accesses that touch
//! the pair's bytes, yet its event times count every access of the run (the
//! trace's clock, which the miner's witnesses use). Hooking every access
//! costs unicorn a PC restore each; hooking only the pair's ranges skips
//! that for all other accesses, but then nothing counts them.
//!
//! The clock is therefore taken from a *recorded* run of the same op from
//! the same snapshot, fully hooked: its [`OpLog`] lists, in order, every
//! translated block entered and every access that touches the pair, each
//! with its event time. A *replayed* run hooks only the pair and walks the
//! log: each block it enters and each pair access it makes must be the
//! log's next step (same block address; same PC, address, size and
//! direction), and then takes that step's time. The first step that differs
//! ends the replay as diverged, and the caller re-runs the check fully
//! hooked.
//!
//! Why equal steps mean equal times: the same sequence of translated blocks
//! executes the same instructions, and an instruction that always executes
//! makes the same number of memory accesses whatever the data (addresses
//! may differ, the count does not). The only instructions that execute or
//! not within a block are those an IT instruction makes conditional; a block
//! with a conditional load or store, or entered inside an IT block, also
//! ends the replay as diverged. So the accesses between two equal steps are
//! as many as in the recorded run, and every time is the recorded one.

use crate::disasm::thumb_instruction_len;

/// One step of an op run: a translated block entered, or an access that
/// touches the pair.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Step {
    Block(u32),
    Access {
        pc: u32,
        address: u32,
        size: u8,
        write: bool,
    },
}

/// The steps of a recorded op run, with their event times.
#[derive(Clone, Debug, Default)]
pub struct OpLog {
    steps: Vec<(Step, u64)>,
    /// The pair's bytes, `[start, end)`.
    ranges: Vec<(u64, u64)>,
}

impl OpLog {
    pub(crate) fn new(ranges: Vec<(u64, u64)>) -> OpLog {
        OpLog {
            steps: Vec::new(),
            ranges,
        }
    }

    /// Whether an access of `size` bytes at `address` touches the pair.
    pub(crate) fn touches(&self, address: u32, size: usize) -> bool {
        touches(&self.ranges, address as u64, size as u64)
    }

    pub(crate) fn ranges(&self) -> &[(u64, u64)] {
        &self.ranges
    }

    /// Steps recorded.
    pub fn len(&self) -> usize {
        self.steps.len()
    }

    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }
}

fn touches(ranges: &[(u64, u64)], address: u64, size: u64) -> bool {
    ranges
        .iter()
        .any(|&(start, end)| address < end && address + size.max(1) > start)
}

/// The clock of a recorded or replayed op run.
#[derive(Debug)]
pub(crate) enum PairClock {
    Record(OpLog),
    Replay {
        log: OpLog,
        cursor: usize,
        diverged: bool,
    },
}

impl PairClock {
    /// Takes `step` at time `now`: recorded, or matched against the log.
    /// Returns the step's time, or `None` once the replay has diverged.
    pub(crate) fn step(&mut self, step: Step, now: u64) -> Option<u64> {
        match self {
            PairClock::Record(log) => {
                log.steps.push((step, now));
                Some(now)
            }
            PairClock::Replay {
                log,
                cursor,
                diverged,
            } => {
                if *diverged {
                    return None;
                }
                match log.steps.get(*cursor) {
                    Some(&(logged, time)) if logged == step => {
                        *cursor += 1;
                        Some(time)
                    }
                    _ => {
                        *diverged = true;
                        None
                    }
                }
            }
        }
    }

    /// Ends a replay as diverged (a block whose access count may depend on
    /// the data).
    pub(crate) fn diverge(&mut self) {
        if let PairClock::Replay { diverged, .. } = self {
            *diverged = true;
        }
    }

    pub(crate) fn is_replay(&self) -> bool {
        matches!(self, PairClock::Replay { .. })
    }

    pub(crate) fn diverged(&self) -> bool {
        matches!(self, PairClock::Replay { diverged: true, .. })
    }

    pub(crate) fn into_log(self) -> OpLog {
        match self {
            PairClock::Record(log) | PairClock::Replay { log, .. } => log,
        }
    }
}

/// Whether a Thumb halfword begins a load or store (conservative: every
/// encoding class that contains one).
fn is_memory_instruction(first: u16) -> bool {
    if thumb_instruction_len(first) == 4 {
        // LDM/STM, LDRD/STRD, exclusives, TBB/TBH; single loads and stores
        // (with hints); coprocessor loads and stores (VLDR, VLDM, VPUSH).
        matches!(first & 0xfe00, 0xe800 | 0xf800) || matches!(first & 0xee00, 0xec00)
    } else {
        first >> 11 == 0b01001 // LDR (literal)
            || matches!(first >> 12, 0b0101 | 0b0110 | 0b0111 | 0b1000 | 0b1001 | 0b1100)
            || first & 0xf600 == 0xb400 // PUSH, POP
    }
}

/// Whether a block of Thumb code has a load or store that an IT instruction
/// in it makes conditional.
pub(crate) fn has_conditional_access(code: &[u8]) -> bool {
    let mut offset = 0usize;
    let mut covered = 0u32;
    while offset + 2 <= code.len() {
        let first = u16::from_le_bytes([code[offset], code[offset + 1]]);
        if covered > 0 {
            if is_memory_instruction(first) {
                return true;
            }
            covered -= 1;
        } else if first & 0xff00 == 0xbf00 && first & 0x000f != 0 {
            // IT: the mask's lowest set bit says how many instructions follow.
            covered = 4 - (first & 0x000f).trailing_zeros();
        }
        offset += thumb_instruction_len(first) as usize;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(halfwords: &[u16]) -> Vec<u8> {
        halfwords.iter().flat_map(|h| h.to_le_bytes()).collect()
    }

    #[test]
    fn finds_loads_and_stores_made_conditional_by_it() {
        // cmp r0, #127; it ge; movge r0, #127: conditional, but no access.
        assert!(!has_conditional_access(&code(&[0x287f, 0xbfa8, 0x207f])));
        // it eq; ldreq r0, [r1]
        assert!(has_conditional_access(&code(&[0xbf08, 0x6808])));
        // ite ne; movne r0, #1; strbeq r0, [r1]: the second covered one.
        assert!(has_conditional_access(&code(&[0xbf14, 0x2001, 0x7008])));
        // it ne; movne r0, #1; then an unconditional ldr: not covered.
        assert!(!has_conditional_access(&code(&[0xbf18, 0x2001, 0x6808])));
        // it eq; ldr.w r0, [r1, #4] (32-bit load)
        assert!(has_conditional_access(&code(&[0xbf08, 0xf8d1, 0x0004])));
        // nop (0xbf00) is no IT; an unconditional push and pop.
        assert!(!has_conditional_access(&code(&[0xbf00, 0xb510, 0xbd10])));
    }

    #[test]
    fn classifies_memory_instructions() {
        for load_or_store in [
            0x4801, 0x5808, 0x6808, 0x7008, 0x8808, 0x9801, 0xb510, 0xbd10, 0xc803,
        ] {
            assert!(is_memory_instruction(load_or_store), "{load_or_store:04x}");
        }
        for other in [0x2001, 0x1840, 0x4770, 0x287f, 0xb082, 0xe7fe] {
            assert!(!is_memory_instruction(other), "{other:04x}");
        }
        // ldr.w, strd, vldr / vpush; against mul (0xfb00) and add.w (0xeb00).
        for wide in [0xf8d1, 0xe9c0, 0xed91, 0xed2d] {
            assert!(is_memory_instruction(wide), "{wide:04x}");
        }
        for wide in [0xfb00, 0xeb00] {
            assert!(!is_memory_instruction(wide), "{wide:04x}");
        }
    }

    #[test]
    fn replay_takes_recorded_times_and_stops_at_the_first_other_step() {
        let access = |pc| Step::Access {
            pc,
            address: 0x2000_0000,
            size: 4,
            write: false,
        };
        let mut clock = PairClock::Record(OpLog::new(vec![(0x2000_0000, 0x2000_0010)]));
        assert_eq!(clock.step(Step::Block(0x100), 5), Some(5));
        assert_eq!(clock.step(access(0x102), 9), Some(9));
        assert_eq!(clock.step(Step::Block(0x110), 12), Some(12));
        let log = clock.into_log();
        assert_eq!(log.len(), 3);
        let replay = |log: &OpLog| PairClock::Replay {
            log: log.clone(),
            cursor: 0,
            diverged: false,
        };
        // The same steps take the recorded times, whatever `now` says.
        let mut same = replay(&log);
        assert_eq!(same.step(Step::Block(0x100), 0), Some(5));
        assert_eq!(same.step(access(0x102), 1), Some(9));
        assert_eq!(same.step(Step::Block(0x110), 2), Some(12));
        assert!(!same.diverged());
        // Control: another block diverges, and stays diverged.
        let mut other = replay(&log);
        assert_eq!(other.step(Step::Block(0x100), 0), Some(5));
        assert_eq!(other.step(Step::Block(0x110), 1), None);
        assert_eq!(other.step(access(0x102), 2), None);
        assert!(other.diverged());
        // Running past the log's end diverges too.
        let mut longer = replay(&log);
        for step in [Step::Block(0x100), access(0x102), Step::Block(0x110)] {
            assert!(longer.step(step, 0).is_some());
        }
        assert_eq!(longer.step(Step::Block(0x120), 0), None);
    }

    #[test]
    fn touches_counts_accesses_that_overlap_a_range() {
        let log = OpLog::new(vec![(0x100, 0x108)]);
        assert!(log.touches(0xfd, 4)); // 0xfd..0x101
        assert!(!log.touches(0xfc, 4)); // ends at 0x100
        assert!(log.touches(0x107, 1));
        assert!(!log.touches(0x108, 1));
    }
}
