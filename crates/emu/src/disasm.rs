//! Thumb disassembly for fault reports and `dmo dump`.

use crate::firmware::Firmware;
use capstone::arch::arm::{ArchExtraMode, ArchMode};
use capstone::prelude::*;
use dmo_core::Address;

/// A capstone instance set up for Cortex-M (Thumb-2, M-class system registers).
pub struct Disassembler {
    capstone: Capstone,
}

impl Disassembler {
    pub fn new() -> Disassembler {
        let capstone = Capstone::new()
            .arm()
            .mode(ArchMode::Thumb)
            .extra_mode([ArchExtraMode::MClass].iter().copied())
            .build()
            .expect("capstone supports ARM Thumb M-class");
        Disassembler { capstone }
    }

    /// The first instruction in `code` (which starts at `address`), as
    /// `mnemonic operands`, or None if the bytes do not decode.
    pub fn instruction(&self, code: &[u8], address: u32) -> Option<String> {
        let instructions = self.capstone.disasm_count(code, address as u64, 1).ok()?;
        let instruction = instructions.iter().next()?;
        let mnemonic = instruction.mnemonic().unwrap_or("?");
        Some(match instruction.op_str() {
            Some(operands) if !operands.is_empty() => format!("{mnemonic} {operands}"),
            _ => mnemonic.to_owned(),
        })
    }

    /// The instruction at `pc` in `firmware`'s initialised code, as
    /// [`Disassembler::instruction`]; the one lookup `dump`, fault messages
    /// and report witnesses share. Tries four bytes, then two, so a 16-bit
    /// instruction at the very end of a segment still decodes.
    pub fn instruction_at(&self, firmware: &Firmware, pc: Address) -> Option<String> {
        let code = firmware
            .read_initial_bytes(pc, 4)
            .or_else(|| firmware.read_initial_bytes(pc, 2))?;
        self.instruction(code, pc.0)
    }
}

impl Default for Disassembler {
    fn default() -> Self {
        Disassembler::new()
    }
}

/// Bytes in the Thumb instruction whose first halfword is `first`: 32-bit
/// encodings start with 0b11101, 0b11110 or 0b11111 in the top five bits.
pub fn thumb_instruction_len(first: u16) -> u32 {
    if first >> 11 >= 0b11101 {
        4
    } else {
        2
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_thumb() {
        let disassembler = Disassembler::new();
        // 0x4770 = bx lr; 0xbeab = bkpt #0xab.
        assert_eq!(
            disassembler.instruction(&[0x70, 0x47], 0).as_deref(),
            Some("bx lr")
        );
        assert_eq!(
            disassembler.instruction(&[0xab, 0xbe], 0).as_deref(),
            Some("bkpt #0xab")
        );
    }

    #[test]
    fn instruction_lengths() {
        assert_eq!(thumb_instruction_len(0x4770), 2); // bx lr
        assert_eq!(thumb_instruction_len(0xf8d0), 4); // ldr.w
        assert_eq!(thumb_instruction_len(0xe7fe), 2); // b .
        assert_eq!(thumb_instruction_len(0xe92d), 4); // push.w
    }
}
