//! Clobbered reads (an op reading an input byte it overwrote), as errors:
//! shared by `dmo check` and `dmo report`.

use dmo_core::Address;
use dmo_emu::{Disassembler, Firmware};
use dmo_trace::ClobberFinding;

/// `pc symbol+offset `instruction`` when the firmware is at hand.
fn site(pc: Address, firmware: Option<&Firmware>, disassembler: &Disassembler) -> String {
    match firmware {
        Some(firmware) => {
            let instruction = disassembler
                .instruction_at(firmware, pc)
                .map(|text| format!(" `{text}`"))
                .unwrap_or_default();
            format!("{pc} {}{instruction}", firmware.symbols.describe(pc))
        }
        None => pc.to_string(),
    }
}

/// [`print_clobbers`] when there is anything to print.
pub fn print_clobbers_if_any(
    findings: &[ClobberFinding],
    ops: usize,
    firmware: Option<&Firmware>,
) -> bool {
    !findings.is_empty() && print_clobbers(findings, ops, firmware)
}

/// Prints one error line per finding (and its first clobbered read) to
/// standard error, then a summary line; returns whether there were any.
pub fn print_clobbers(
    findings: &[ClobberFinding],
    ops: usize,
    firmware: Option<&Firmware>,
) -> bool {
    let disassembler = Disassembler::new();
    for finding in findings {
        let first = &finding.first;
        eprintln!(
            "error: op {} `{}` ({}) read {} byte{} of its input `{}` ({} B at {}) after overwriting them ({} reads)",
            finding.segment_index,
            finding.op_name,
            finding.op_kind,
            finding.bytes,
            if finding.bytes == 1 { "" } else { "s" },
            finding.input.name,
            finding.input.len,
            finding.input.start,
            finding.reads
        );
        eprintln!(
            "  first: input byte {} ({}) written at t={} by {}, read at t={} by {}",
            first.input_byte,
            first.address,
            first.write_time.0,
            site(first.write_pc, firmware, &disassembler),
            first.read_time.0,
            site(first.read_pc, firmware, &disassembler)
        );
    }
    let broken: std::collections::BTreeSet<usize> =
        findings.iter().map(|f| f.segment_index).collect();
    if broken.is_empty() {
        eprintln!(
            "no clobbered reads: none of the {ops} ops read an input byte after overwriting it"
        );
    } else {
        eprintln!(
            "{} of {ops} ops read input bytes after overwriting them: the arena plan (or the kernel) is unsafe there",
            broken.len()
        );
    }
    !broken.is_empty()
}
