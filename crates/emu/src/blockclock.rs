//! The block clock: exact event times for runs that hook only some accesses
//! (`dmo verify`'s checks).
//!
//! An event's time counts every data access of the run before it (the
//! trace's clock, which the miner's witnesses use). Hooking every access
//! costs unicorn a PC restore each; hooking only the bytes a check looks at
//! skips that for all other accesses, but then nothing counts them.
//!
//! The clock counts them from the code instead. Each translated block's
//! loads and stores are decoded once ([`block_shape`]): which instructions
//! access memory and how many accesses each makes (LDM and PUSH one per
//! register, LDRD two). When every access instruction of a block executes
//! exactly once whenever the block runs, its accesses are as many and in the
//! same order in every run, whatever the data: their addresses may differ,
//! their number and the instructions that make them do not. The clock then
//! only needs a block hook: a block begins at the time the previous one
//! began plus that block's accesses, and a hooked access made by the block's
//! `k`-th access instruction happens at the block's start plus the accesses
//! of the instructions before it.
//!
//! The decoder is not trusted on its own word. A block is used only once a
//! fully hooked run has *seen* it run with exactly the accesses decoded, at
//! the decoded PCs, in the decoded order ([`BlockClock::observe`] in
//! [`ClockMode::Validate`]), and never otherwise. A clocked run
//! ([`ClockMode::Clock`]) gives up, and its caller re-runs fully hooked,
//! when it enters a block not so validated, enters a block by falling
//! through inside an IT block (its first instructions would be conditional),
//! takes an exception, or makes a hooked access it cannot place: one from
//! an instruction not decoded as an access of the current block, or one of
//! the several accesses of an LDM-like instruction (only some of which may
//! be hooked). Blocks whose accesses depend on the data are never
//! validated: an IT block that makes a load or store conditional, an
//! exclusive store (it may not store), coprocessor loads and stores, and
//! instructions that raise exceptions. Accesses to stubbed peripherals are
//! not events; a clocked run that reaches one gives up too (the caller
//! checks the peripheral counters).

use crate::disasm::thumb_instruction_len;
use std::collections::HashMap;

/// One load or store instruction of a block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct AccessInstruction {
    pub(crate) pc: u32,
    /// Accesses of the block before this instruction's first.
    pub(crate) first: u32,
    pub(crate) count: u32,
}

/// What a block of Thumb code does to memory, from its code alone.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct BlockShape {
    pub(crate) instructions: Vec<AccessInstruction>,
    /// Accesses of the whole block.
    pub(crate) accesses: u32,
    /// Whether every access instruction runs exactly once per run of the
    /// block, with a fixed number of accesses (see the module docs).
    pub(crate) fixed: bool,
}

impl BlockShape {
    /// A block whose code could not be read: never clocked.
    pub(crate) fn unknown() -> BlockShape {
        BlockShape {
            instructions: Vec::new(),
            accesses: 0,
            fixed: false,
        }
    }

    /// The access instruction at `pc`.
    fn instruction_at(&self, pc: u32) -> Option<&AccessInstruction> {
        self.instructions
            .binary_search_by_key(&pc, |instruction| instruction.pc)
            .ok()
            .map(|at| &self.instructions[at])
    }
}

/// Accesses one instruction makes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Accesses {
    None,
    Fixed(u32),
    /// Data-dependent, or not decoded here: the block is never clocked.
    Unknown,
}

/// Classifies the Thumb instruction beginning with halfword `first`
/// (`second` is the next halfword, for 32-bit encodings).
fn accesses(first: u16, second: u16) -> Accesses {
    if thumb_instruction_len(first) == 2 {
        return match first {
            // LDR (literal); LDR/STR (register); LDR/STR(B) (immediate);
            // LDRH/STRH (immediate); LDR/STR (SP-relative).
            _ if first >> 11 == 0b01001
                || first >> 12 == 0b0101
                || first >> 13 == 0b011
                || first >> 12 == 0b1000
                || first >> 12 == 0b1001 =>
            {
                Accesses::Fixed(1)
            }
            // PUSH (with LR), POP (with PC).
            _ if first & 0xfe00 == 0xb400 || first & 0xfe00 == 0xbc00 => {
                Accesses::Fixed((first & 0x01ff).count_ones())
            }
            // STM, LDM.
            _ if first >> 12 == 0b1100 => Accesses::Fixed((first & 0x00ff).count_ones()),
            // BKPT, UDF, SVC.
            _ if first & 0xff00 == 0xbe00
                || first & 0xff00 == 0xde00
                || first & 0xff00 == 0xdf00 =>
            {
                Accesses::Unknown
            }
            _ => Accesses::None,
        };
    }
    if first & 0xfe40 == 0xe800 {
        // LDM/STM (IA, DB; PUSH.W, POP.W): one access per listed register.
        // SRS and RFE (op 00 and 11) are not decoded here.
        return match (first >> 7) & 3 {
            1 | 2 => Accesses::Fixed(second.count_ones()),
            _ => Accesses::Unknown,
        };
    }
    if first & 0xfe40 == 0xe840 {
        let (p, w) = (first & 0x0100 != 0, first & 0x0020 != 0);
        return if p || w {
            // LDRD/STRD: two word accesses.
            Accesses::Fixed(2)
        } else if first & 0xfff0 == 0xe8d0 && second & 0xffe0 == 0xf000 {
            // TBB/TBH: one table read.
            Accesses::Fixed(1)
        } else {
            // Exclusives: a store-exclusive may not store.
            Accesses::Unknown
        };
    }
    if first & 0xfe00 == 0xf800 {
        // Single loads and stores, and memory hints.
        let load = first & 0x0010 != 0;
        let size = (first >> 5) & 3;
        if size == 3 || (!load && first & 0x0100 != 0) {
            return Accesses::Unknown; // undefined encodings
        }
        // PLD/PLI and other hints: byte/halfword "loads" to PC touch nothing.
        if load && size < 2 && second >> 12 == 0xf {
            return Accesses::None;
        }
        return Accesses::Fixed(1);
    }
    if first & 0xee00 == 0xec00 {
        // Coprocessor (FPU) loads and stores: not decoded here.
        return Accesses::Unknown;
    }
    if first & 0xfff0 == 0xf7f0 && second & 0xf000 == 0xa000 {
        return Accesses::Unknown; // UDF.W
    }
    Accesses::None
}

/// Decodes the block of Thumb code `code` that begins at `address`.
pub(crate) fn block_shape(code: &[u8], address: u32) -> BlockShape {
    let mut shape = BlockShape {
        instructions: Vec::new(),
        accesses: 0,
        fixed: true,
    };
    let halfword = |at: usize| {
        code.get(at..at + 2)
            .map(|bytes| u16::from_le_bytes([bytes[0], bytes[1]]))
    };
    let mut offset = 0usize;
    // Instructions still covered by the last IT instruction.
    let mut covered = 0u32;
    while let Some(first) = halfword(offset) {
        let len = thumb_instruction_len(first) as usize;
        let second = if len == 4 {
            match halfword(offset + 2) {
                Some(second) => second,
                None => {
                    shape.fixed = false;
                    break;
                }
            }
        } else {
            0
        };
        let conditional = covered > 0;
        covered = covered.saturating_sub(1);
        match accesses(first, second) {
            Accesses::None => {}
            Accesses::Unknown => shape.fixed = false,
            Accesses::Fixed(count) => {
                if conditional {
                    shape.fixed = false;
                }
                shape.instructions.push(AccessInstruction {
                    pc: address.wrapping_add(offset as u32),
                    first: shape.accesses,
                    count,
                });
                shape.accesses += count;
            }
        }
        if len == 2 && first & 0xff00 == 0xbf00 && first & 0x000f != 0 {
            // IT: the mask's lowest set bit says how many instructions follow.
            covered = 4 - (first & 0x000f).trailing_zeros();
        }
        offset += len;
    }
    if offset != code.len() {
        shape.fixed = false;
    }
    shape
}

/// Whether a block may be clocked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Trust {
    /// Not yet seen run fully hooked.
    Unchecked,
    /// Seen run fully hooked, always exactly as decoded.
    Validated,
    /// Not fixed, or once seen run otherwise than decoded.
    Refused,
}

#[derive(Clone, Debug)]
struct Block {
    shape: BlockShape,
    /// The PC of each access, in order (`shape.accesses` entries).
    access_pcs: Vec<u32>,
    trust: Trust,
}

/// What the clock does in the current run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ClockMode {
    /// A fully hooked run: compare every block run with its decoded shape.
    Validate,
    /// A run with only some accesses hooked: give their times.
    Clock,
}

/// Why a clocked run gave up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClockStop {
    /// A block not validated by a fully hooked run.
    UnvalidatedBlock(u32),
    /// A block entered inside an IT block.
    InsideIt(u32),
    /// A hooked access the clock cannot place.
    UnplacedAccess(u32),
    /// An exception, or an access to a stubbed peripheral.
    Interrupted,
    /// The op has no snapshot to run from.
    NoSnapshot,
}

/// The block clock of one engine (see the module docs).
#[derive(Clone, Debug)]
pub(crate) struct BlockClock {
    blocks: Vec<Block>,
    index: HashMap<(u32, u32), u32>,
    /// Direct-mapped cache of `index`: (address, size, block).
    cache: Vec<(u32, u32, u32)>,
    mode: ClockMode,
    /// The block running now, and where it ends.
    current: Option<u32>,
    current_end: u32,
    /// Validate: accesses seen in the current block so far, and whether
    /// one differed from the decoded ones.
    seen: u32,
    differed: bool,
    /// Clock: why the run gave up, if it did.
    pub(crate) stopped: Option<ClockStop>,
}

/// What the block hook should do after [`BlockClock::enter`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Entered {
    Go,
    /// Clock: the block was entered by falling through; check the IT state.
    CheckIt,
    /// Clock: give up (see [`BlockClock::stopped`]).
    Stop,
}

impl BlockClock {
    const CACHE_SLOTS: usize = 1 << 14;

    pub(crate) fn new() -> BlockClock {
        BlockClock {
            blocks: Vec::new(),
            index: HashMap::new(),
            cache: vec![(u32::MAX, 0, 0); Self::CACHE_SLOTS],
            mode: ClockMode::Validate,
            current: None,
            current_end: u32::MAX,
            seen: 0,
            differed: false,
            stopped: None,
        }
    }

    /// Starts a run in `mode`; a block left half-run by the previous run
    /// (stopped inside it) counts for nothing.
    pub(crate) fn start(&mut self, mode: ClockMode) {
        self.mode = mode;
        self.current = None;
        self.current_end = u32::MAX;
        self.seen = 0;
        self.differed = false;
        self.stopped = None;
    }

    pub(crate) fn mode(&self) -> ClockMode {
        self.mode
    }

    /// The block at `address` of `size` bytes, if it was decoded before.
    pub(crate) fn find(&mut self, address: u32, size: u32) -> Option<u32> {
        let slot = (address as usize >> 1) & (Self::CACHE_SLOTS - 1);
        let (cached_address, cached_size, block) = self.cache[slot];
        if cached_address == address && cached_size == size {
            return Some(block);
        }
        let block = *self.index.get(&(address, size))?;
        self.cache[slot] = (address, size, block);
        Some(block)
    }

    /// Adds the decoded block at `address` of `size` bytes.
    pub(crate) fn insert(&mut self, address: u32, size: u32, shape: BlockShape) -> u32 {
        let access_pcs = shape
            .instructions
            .iter()
            .flat_map(|instruction| std::iter::repeat_n(instruction.pc, instruction.count as usize))
            .collect();
        let trust = if shape.fixed {
            Trust::Unchecked
        } else {
            Trust::Refused
        };
        let block = self.blocks.len() as u32;
        self.blocks.push(Block {
            shape,
            access_pcs,
            trust,
        });
        self.index.insert((address, size), block);
        block
    }

    /// Block `block` (at `address`, `size` bytes) begins. In
    /// [`ClockMode::Clock`], `now` is the time of the block's first access:
    /// it moves past the accesses of the block before.
    pub(crate) fn enter(&mut self, block: u32, address: u32, size: u32, now: &mut u64) -> Entered {
        let fell_through = address == self.current_end;
        match self.mode {
            ClockMode::Validate => {
                self.finish_validation();
                self.current = Some(block);
                self.current_end = address.wrapping_add(size);
                Entered::Go
            }
            ClockMode::Clock => {
                if self.stopped.is_some() {
                    return Entered::Stop;
                }
                if let Some(previous) = self.current {
                    *now += u64::from(self.blocks[previous as usize].shape.accesses);
                }
                self.current = Some(block);
                self.current_end = address.wrapping_add(size);
                if self.blocks[block as usize].trust != Trust::Validated {
                    self.stopped = Some(ClockStop::UnvalidatedBlock(address));
                    Entered::Stop
                } else if fell_through {
                    Entered::CheckIt
                } else {
                    Entered::Go
                }
            }
        }
    }

    /// Clock: the block just entered began inside an IT block.
    pub(crate) fn inside_it(&mut self, address: u32) {
        self.stopped.get_or_insert(ClockStop::InsideIt(address));
    }

    /// Clock: an exception or a peripheral access; the count is off.
    pub(crate) fn interrupted(&mut self) {
        if self.mode == ClockMode::Clock {
            self.stopped.get_or_insert(ClockStop::Interrupted);
        } else {
            // The block did not run to its end: it proves nothing.
            self.current = None;
        }
    }

    /// Clock: an access to a stubbed peripheral (not an event, so the
    /// decoded count is off). Validate needs nothing: the access hook does
    /// not observe such accesses, so the block is refused.
    pub(crate) fn peripheral(&mut self) {
        if self.mode == ClockMode::Clock {
            self.stopped.get_or_insert(ClockStop::Interrupted);
        }
    }

    /// Validate: an access at `pc` of the current block.
    #[inline]
    pub(crate) fn observe(&mut self, pc: u32) {
        let (ClockMode::Validate, Some(block)) = (self.mode, self.current) else {
            return;
        };
        let expected = self.blocks[block as usize]
            .access_pcs
            .get(self.seen as usize);
        if expected != Some(&pc) {
            self.differed = true;
        }
        self.seen += 1;
    }

    fn finish_validation(&mut self) {
        if let Some(block) = self.current.take() {
            let block = &mut self.blocks[block as usize];
            if self.differed || self.seen != block.shape.accesses {
                block.trust = Trust::Refused;
            } else if block.trust == Trust::Unchecked {
                block.trust = Trust::Validated;
            }
        }
        self.seen = 0;
        self.differed = false;
    }

    /// Ends a fully hooked run: the last block, cut off by the stop,
    /// proves nothing.
    pub(crate) fn end_run(&mut self) {
        self.current = None;
        self.seen = 0;
        self.differed = false;
    }

    /// Clock: the offset from the current block's start of the hooked
    /// access made at `pc`, or `None` (and the run gives up).
    #[inline]
    pub(crate) fn place(&mut self, pc: u32) -> Option<u64> {
        let placed = self.current.and_then(|block| {
            let instruction = self.blocks[block as usize].shape.instruction_at(pc)?;
            (instruction.count == 1).then_some(u64::from(instruction.first))
        });
        if placed.is_none() {
            self.stopped.get_or_insert(ClockStop::UnplacedAccess(pc));
        }
        placed
    }

    /// Blocks validated so far.
    pub(crate) fn validated(&self) -> usize {
        self.blocks
            .iter()
            .filter(|block| block.trust == Trust::Validated)
            .count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(halfwords: &[u16]) -> Vec<u8> {
        halfwords.iter().flat_map(|h| h.to_le_bytes()).collect()
    }

    fn counts(halfwords: &[u16]) -> Vec<(u32, u32, u32)> {
        block_shape(&code(halfwords), 0x100)
            .instructions
            .iter()
            .map(|i| (i.pc, i.first, i.count))
            .collect()
    }

    #[test]
    fn counts_accesses_per_instruction() {
        // push {r4, r5, lr}; ldrb r3, [r1, #0]; adds r0, #1; ldr.w r2, [r1, #4];
        // strd r2, r3, [r0]; pop {r4, r5, pc}
        let block = [
            0xb530, 0x780b, 0x3001, 0xf8d1, 0x2004, 0xe9c0, 0x2300, 0xbd30,
        ];
        assert_eq!(
            counts(&block),
            vec![
                (0x100, 0, 3),
                (0x102, 3, 1),
                (0x106, 4, 1),
                (0x10a, 5, 2),
                (0x10e, 7, 3)
            ]
        );
        let shape = block_shape(&code(&block), 0x100);
        assert!(shape.fixed);
        assert_eq!(shape.accesses, 10);
        // ldmia r0!, {r1-r3}; stmia r1!, {r2, r3}; ldmia.w sp!, {r4-r7, pc}
        assert_eq!(
            counts(&[0xc80e, 0xc10c, 0xe8bd, 0x80f0]),
            vec![(0x100, 0, 3), (0x102, 3, 2), (0x104, 5, 5)]
        );
        // tbb [pc, r1]; pld [r0] (a hint: no access); ldr r0, [pc, #4]
        assert_eq!(
            counts(&[0xe8df, 0xf001, 0xf890, 0xf000, 0x4801]),
            vec![(0x100, 0, 1), (0x108, 1, 1)]
        );
    }

    #[test]
    fn refuses_blocks_whose_accesses_depend_on_the_data() {
        let fixed = |halfwords: &[u16]| block_shape(&code(halfwords), 0).fixed;
        // cmp r0, #127; it ge; movge r0, #127: conditional, but no access.
        assert!(fixed(&[0x287f, 0xbfa8, 0x207f]));
        // it eq; ldreq r0, [r1]
        assert!(!fixed(&[0xbf08, 0x6808]));
        // ite ne; movne r0, #1; strbeq r0, [r1]: the second covered one.
        assert!(!fixed(&[0xbf14, 0x2001, 0x7008]));
        // it ne; movne r0, #1; then an unconditional ldr: not covered.
        assert!(fixed(&[0xbf18, 0x2001, 0x6808]));
        // ldrex r0, [r1]; strex r2, r0, [r1]
        assert!(!fixed(&[0xe851, 0x0f00, 0xe841, 0x0200]));
        // vldr s0, [r0]; bkpt 0xab; svc 0
        assert!(!fixed(&[0xed90, 0x0a00]));
        assert!(!fixed(&[0xbeab]));
        assert!(!fixed(&[0xdf00]));
        // A 32-bit instruction cut off at the block's end.
        assert!(!fixed(&[0xf8d1]));
    }

    fn clock_with(halfwords: &[u16]) -> (BlockClock, u32) {
        let mut clock = BlockClock::new();
        let block = clock.insert(
            0x100,
            2 * halfwords.len() as u32,
            block_shape(&code(halfwords), 0x100),
        );
        (clock, block)
    }

    #[test]
    fn a_block_is_clocked_only_after_a_hooked_run_saw_it_as_decoded() {
        // ldrb r3, [r1]; strb r3, [r0]; b .
        let halfwords = [0x780b, 0x7003, 0xe7fe];
        let (mut clock, block) = clock_with(&halfwords);
        let mut now = 10;
        // Unchecked: a clocked run gives up.
        clock.start(ClockMode::Clock);
        assert_eq!(clock.enter(block, 0x100, 6, &mut now), Entered::Stop);
        assert_eq!(clock.stopped, Some(ClockStop::UnvalidatedBlock(0x100)));
        // Seen with the decoded accesses: validated.
        clock.start(ClockMode::Validate);
        clock.enter(block, 0x100, 6, &mut now);
        clock.observe(0x100);
        clock.observe(0x102);
        clock.enter(block, 0x100, 6, &mut now);
        clock.end_run();
        assert_eq!(clock.validated(), 1);
        // Clocked: the store is the block's second access; the next run of
        // the block begins two accesses later.
        clock.start(ClockMode::Clock);
        let mut now = 10;
        assert_eq!(clock.enter(block, 0x100, 6, &mut now), Entered::Go);
        assert_eq!(clock.place(0x102), Some(1));
        assert_eq!(clock.enter(block, 0x100, 6, &mut now), Entered::Go);
        assert_eq!(now, 12);
        // Control: an access from an instruction that is no access of the block.
        assert_eq!(clock.place(0x104), None);
        assert_eq!(clock.stopped, Some(ClockStop::UnplacedAccess(0x104)));
    }

    #[test]
    fn a_block_once_seen_otherwise_is_never_clocked() {
        let halfwords = [0x780b, 0x7003, 0xe7fe];
        let (mut clock, block) = clock_with(&halfwords);
        let mut now = 0;
        clock.start(ClockMode::Validate);
        clock.enter(block, 0x100, 6, &mut now);
        clock.observe(0x100);
        clock.observe(0x102);
        // Seen again with one access missing (e.g. to a stubbed peripheral).
        clock.enter(block, 0x100, 6, &mut now);
        clock.observe(0x100);
        clock.enter(block, 0x100, 6, &mut now);
        clock.observe(0x100);
        clock.observe(0x102);
        clock.end_run();
        assert_eq!(clock.validated(), 0);
        // Falling through into a block needs the IT check; multi-access
        // instructions cannot be placed.
        let (mut clock, block) = clock_with(&[0xb530, 0xbd30]);
        clock.start(ClockMode::Validate);
        clock.enter(block, 0x100, 4, &mut now);
        for pc in [0x100, 0x100, 0x100, 0x102, 0x102, 0x102] {
            clock.observe(pc);
        }
        clock.enter(block, 0x100, 4, &mut now);
        clock.end_run();
        clock.start(ClockMode::Clock);
        assert_eq!(clock.enter(block, 0x100, 4, &mut now), Entered::Go);
        assert_eq!(clock.enter(block, 0x104, 4, &mut now), Entered::CheckIt);
        assert_eq!(clock.place(0x100), None);
    }
}
