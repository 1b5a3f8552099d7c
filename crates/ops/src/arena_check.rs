//! Test oracle by execution: runs the naive kernel walk on one byte arena
//! with the output placed at a given offset from an input, the way TFLM ran
//! DESIGN.md's check. Inputs hold bytes with the top bit clear and every
//! output write sets it, so a read that sees anything but the original input
//! byte has been clobbered by the output. An offset is safe exactly when no
//! read is clobbered; the offsets the miner reports must pass and the ones
//! just below them must fail.

use crate::reference_walk::{walk, Accesses, Target};
use crate::{simulate, OpDescription, OverlapModel};
use dmo_core::AccessKind;

/// Where one chosen input sits relative to the output.
#[derive(Clone, Copy, Debug)]
pub enum Layout {
    /// Nothing overlaps.
    Apart,
    /// Output `s` bytes below input `input`.
    Down { input: usize, s: u64 },
    /// Output `u` bytes above input `input`.
    Up { input: usize, u: u64 },
}

struct Arena {
    memory: Vec<u8>,
    input_bases: Vec<usize>,
    output_base: usize,
    input_element_bytes: Vec<usize>,
    output_element_bytes: usize,
    original_inputs: Vec<Vec<u8>>,
    accumulator: u32,
    clobbered_reads: usize,
}

impl Arena {
    fn access(&mut self, target: Target, first: usize, count: usize, kind: AccessKind) {
        let base = match target {
            Target::Input(index) => self.input_bases[index],
            Target::Output => self.output_base,
        };
        for offset in first..first + count {
            match kind {
                AccessKind::Read => {
                    let value = self.memory[base + offset];
                    if let Target::Input(index) = target {
                        if value != self.original_inputs[index][offset] {
                            self.clobbered_reads += 1;
                        }
                    }
                    self.accumulator = (self.accumulator.rotate_left(5) ^ u32::from(value))
                        .wrapping_mul(0x9E37_79B1);
                }
                AccessKind::Write => {
                    assert_eq!(target, Target::Output, "kernels write only their output");
                    self.memory[base + offset] = (self.accumulator >> 8) as u8 | 0x80;
                    self.accumulator = self
                        .accumulator
                        .wrapping_mul(0x0101_0101)
                        .wrapping_add(offset as u32);
                }
            }
        }
    }
}

impl Accesses for Arena {
    fn element(&mut self, target: Target, element: usize, kind: AccessKind) {
        let size = match target {
            Target::Input(index) => self.input_element_bytes[index],
            Target::Output => self.output_element_bytes,
        };
        self.access(target, element * size, size, kind);
    }

    fn byte(&mut self, target: Target, byte: usize, kind: AccessKind) {
        self.access(target, byte, 1, kind);
    }
}

/// Output bytes and number of clobbered input reads of one run.
pub fn run(op: &OpDescription, layout: Layout) -> (Vec<u8>, usize) {
    let output_len = op.output().bytes();
    let input_lens: Vec<usize> = op.inputs().iter().map(|input| input.bytes()).collect();
    let mut input_bases = vec![0; input_lens.len()];
    let (output_base, mut end) = match layout {
        Layout::Apart => (0, output_len),
        Layout::Down { input, s } => {
            input_bases[input] = s as usize;
            (0, output_len.max(s as usize + input_lens[input]))
        }
        Layout::Up { input, u } => {
            input_bases[input] = 0;
            (u as usize, input_lens[input].max(u as usize + output_len))
        }
    };
    let placed = match layout {
        Layout::Apart => None,
        Layout::Down { input, .. } | Layout::Up { input, .. } => Some(input),
    };
    for (index, len) in input_lens.iter().enumerate() {
        if Some(index) != placed {
            input_bases[index] = end;
            end += len;
        }
    }
    // Fixed pseudo-random input bytes, top bit clear.
    let mut seed = 0x2545_F491u32;
    let original_inputs: Vec<Vec<u8>> = input_lens
        .iter()
        .map(|&len| {
            (0..len)
                .map(|_| {
                    seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                    (seed >> 24) as u8 & 0x7f
                })
                .collect()
        })
        .collect();
    let mut memory = vec![0u8; end];
    for (index, data) in original_inputs.iter().enumerate() {
        memory[input_bases[index]..input_bases[index] + data.len()].copy_from_slice(data);
    }
    let mut arena = Arena {
        memory,
        input_bases,
        output_base,
        input_element_bytes: op
            .inputs()
            .iter()
            .map(|input| input.element().size_bytes())
            .collect(),
        output_element_bytes: op.output().element().size_bytes(),
        original_inputs,
        accumulator: 1,
        clobbered_reads: 0,
    };
    assert!(walk(op, &mut arena), "only modelled kinds can run");
    let output = arena.memory[output_base..output_base + output_len].to_vec();
    (output, arena.clobbered_reads)
}

/// Checks every offset the simulation reports for every input of `op` by
/// running the kernel: at the offset nothing is clobbered and the output is
/// the one computed apart; one byte closer, some read is clobbered. For the
/// monotone offsets a few larger ones are checked too.
pub fn assert_offsets_hold_in_arena(op: &OpDescription) {
    let (expected, clobbered) = run(op, Layout::Apart);
    assert_eq!(clobbered, 0);
    for result in simulate(op) {
        let input = result.input_index;
        let OverlapModel::Modelled(pair) = result.result else {
            panic!("{op:?} is not modelled");
        };
        let check = |layout: Layout, safe: bool| {
            let (output, clobbered) = run(op, layout);
            if safe {
                assert_eq!(clobbered, 0, "{layout:?} clobbers input reads of {op:?}");
                assert_eq!(output, expected, "{layout:?} changes the output of {op:?}");
            } else {
                assert!(
                    clobbered > 0,
                    "{layout:?} is reported unsafe but nothing is clobbered: {op:?}"
                );
            }
        };
        let output_len = pair.output_len.0;
        let input_len = pair.input_len.0;
        for (offset, monotone_limit) in [(pair.s_min, None), (pair.s_mono, Some(output_len))] {
            check(Layout::Down { input, s: offset.0 }, true);
            if offset.0 > 0 {
                check(
                    Layout::Down {
                        input,
                        s: offset.0 - 1,
                    },
                    false,
                );
            }
            if let Some(limit) = monotone_limit {
                for s in (offset.0 + 1..=limit).step_by(((limit / 7) as usize).max(1)) {
                    check(Layout::Down { input, s }, true);
                }
            }
        }
        for (offset, monotone_limit) in [(pair.u_min, None), (pair.u_mono, Some(input_len))] {
            check(Layout::Up { input, u: offset.0 }, true);
            if offset.0 > 0 {
                check(
                    Layout::Up {
                        input,
                        u: offset.0 - 1,
                    },
                    false,
                );
            }
            if let Some(limit) = monotone_limit {
                for u in (offset.0 + 1..=limit).step_by(((limit / 7) as usize).max(1)) {
                    check(Layout::Up { input, u }, true);
                }
            }
        }
    }
}
