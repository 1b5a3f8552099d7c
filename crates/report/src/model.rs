//! The typed report: one row per (op, input, output) pair and a run summary.
//! Field names are the JSON/CSV schema (`docs/report-format.md`); change
//! them only together with [`SCHEMA_VERSION`].

use dmo_core::{AccessKind, Address, BufferRole, EventTime, OpSegment};
use dmo_overlap::{Direction, PairOverlap, Witness};
use dmo_trace::PairResult;
use serde::{Deserialize, Serialize};

/// Version of the JSON and CSV layout; bumped on any incompatible change.
pub const SCHEMA_VERSION: u32 = 1;

/// An instruction that made one access of a witness.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct InstructionSite {
    pub pc: Address,
    /// `symbol+0xoffset` of the PC (or the bare address).
    pub location: String,
    /// The instruction, e.g. `strb r3, [r2], #1`; empty when the firmware's
    /// code was not available.
    pub disassembly: String,
}

impl InstructionSite {
    /// `symbol+offset: disassembly`, as the report prints it.
    pub fn describe(&self) -> String {
        if self.disassembly.is_empty() {
            self.location.clone()
        } else {
            format!("{}: {}", self.location, self.disassembly)
        }
    }
}

/// Why `s_min - 1` is unsafe: output byte `output_byte` is first accessed at
/// `output_access_time`, no later than input byte `input_byte` (where that
/// output byte would land) is last read, at `input_last_read_time`.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct WitnessDetail {
    /// The unsafe offset this witness refutes (`s_min - 1`).
    pub offset: u64,
    pub output_byte: u64,
    pub input_byte: u64,
    pub output_access_time: EventTime,
    /// Whether the first access of the output byte was a write (usual) or a read.
    pub output_access_kind: Option<AccessKind>,
    pub input_last_read_time: EventTime,
    /// The instruction of the output access (`None` if the event was not found).
    pub output_instruction: Option<InstructionSite>,
    /// The instruction of the last input read.
    pub input_instruction: Option<InstructionSite>,
}

/// One (input, output) pair of one op.
#[derive(Clone, PartialEq, Debug, Serialize, Deserialize)]
pub struct PairRow {
    /// Position of the op in the run, from 0.
    pub op_index: usize,
    /// The op's name as people read it (a function symbol demangled).
    pub op_name: String,
    /// The raw (mangled) symbol when `op_name` was demangled from one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub op_symbol: Option<String>,
    pub op_kind: String,
    pub input_name: String,
    pub input_address: Address,
    pub input_bytes: u64,
    pub output_name: String,
    pub output_address: Address,
    pub output_bytes: u64,
    /// Smallest safe down offset (`O = I - s`).
    pub s_min: u64,
    /// Smallest down offset from which every larger one is safe.
    pub s_mono: u64,
    pub u_min: u64,
    pub u_mono: u64,
    /// Placement with the smallest footprint (down at `s_min` or up at `u_min`).
    pub best_direction: Direction,
    pub best_offset: u64,
    /// Bytes the pair spans at the best placement.
    pub footprint: u64,
    /// `input_bytes + output_bytes`: the pair without overlap.
    pub naive: u64,
    pub saving_bytes: u64,
    /// `100 * saving_bytes / naive`.
    pub saving_percent: f64,
    /// Why `s_min - 1` is unsafe (absent when `s_min == 0`).
    pub witness: Option<WitnessDetail>,
    /// With `--model`: the model operator this op matched, and the names of
    /// the pair's input and output tensors.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_operator: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_input: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_output: Option<String>,
    /// What a reader must know about this row's offsets (e.g. a RESHAPE
    /// that is a plain `memcpy`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

/// Peaks over the whole run.
#[derive(Clone, PartialEq, Debug, Serialize, Deserialize)]
pub struct RunSummary {
    pub ops: usize,
    pub pairs: usize,
    /// Largest number of bytes one op's inputs and outputs cover as the
    /// firmware placed them (union of their address ranges).
    pub placed_peak_bytes: u64,
    /// The op where that peak occurs.
    pub placed_peak_op: Option<String>,
    /// Largest per-op need if every op placed its output at its best safe
    /// overlap with one of its inputs: the op's distinct input and output
    /// bytes minus its largest pair saving.
    pub overlapped_peak_bytes: u64,
    pub overlapped_peak_op: Option<String>,
    /// `placed_peak_bytes - overlapped_peak_bytes` (0 if negative).
    pub peak_saving_bytes: u64,
    pub peak_saving_percent: f64,
}

/// The per-layer report of one run.
#[derive(Clone, PartialEq, Debug, Serialize, Deserialize)]
pub struct Report {
    pub schema_version: u32,
    /// The firmware ELF the run came from.
    pub firmware: String,
    pub rows: Vec<PairRow>,
    pub summary: RunSummary,
    /// With `--model`: how the traced ops matched the model's operators.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_match: Option<ModelMatch>,
}

/// Looks up the instruction that made the event at a time.
pub trait SiteLookup {
    /// The instruction of the event at `time` and whether it was a read or a write.
    fn site_at(&mut self, time: EventTime) -> Option<(AccessKind, InstructionSite)>;
}

impl Report {
    /// Builds the report from mined pairs and the op segments they came from.
    pub fn build(
        firmware: String,
        segments: &[OpSegment],
        pairs: &[PairResult],
        sites: &mut dyn SiteLookup,
    ) -> Report {
        let rows: Vec<PairRow> = pairs.iter().map(|pair| row(pair, sites)).collect();
        let summary = summarise(segments, &rows);
        Report {
            schema_version: SCHEMA_VERSION,
            firmware,
            rows,
            summary,
            model_match: None,
        }
    }
}

fn row(pair: &PairResult, sites: &mut dyn SiteLookup) -> PairRow {
    let overlap: &PairOverlap = &pair.overlap;
    PairRow {
        op_index: pair.segment_index,
        op_name: dmo_core::demangle(&pair.op_name).into_owned(),
        op_symbol: (dmo_core::demangle(&pair.op_name) != pair.op_name.as_str())
            .then(|| pair.op_name.clone()),
        op_kind: pair.op_kind.clone(),
        input_name: pair.input.name.clone(),
        input_address: pair.input.start,
        input_bytes: overlap.input_len.0,
        output_name: pair.output.name.clone(),
        output_address: pair.output.start,
        output_bytes: overlap.output_len.0,
        s_min: overlap.s_min.0,
        s_mono: overlap.s_mono.0,
        u_min: overlap.u_min.0,
        u_mono: overlap.u_mono.0,
        best_direction: overlap.best.direction,
        best_offset: overlap.best.offset.0,
        footprint: overlap.best.footprint.0,
        naive: overlap.naive().0,
        saving_bytes: overlap.saving().0,
        saving_percent: round2(overlap.saving_percent()),
        model_operator: None,
        model_input: None,
        model_output: None,
        notes: Vec::new(),
        witness: overlap
            .witness_down
            .map(|witness| detail(overlap.s_min.0 - 1, &witness, sites)),
    }
}

fn detail(offset: u64, witness: &Witness, sites: &mut dyn SiteLookup) -> WitnessDetail {
    let output = sites.site_at(witness.output_first_access);
    let input = sites.site_at(witness.input_last_read);
    WitnessDetail {
        offset,
        output_byte: witness.output_byte,
        input_byte: witness.input_byte,
        output_access_time: witness.output_first_access,
        output_access_kind: output.as_ref().map(|(kind, _)| *kind),
        input_last_read_time: witness.input_last_read,
        output_instruction: output.map(|(_, site)| site),
        input_instruction: input.map(|(_, site)| site),
    }
}

/// Rounds a percentage to two decimals so that JSON/CSV output is stable.
fn round2(value: f64) -> f64 {
    (value * 100.0).round() / 100.0
}

fn summarise(segments: &[OpSegment], rows: &[PairRow]) -> RunSummary {
    let mut placed_peak = (0u64, None);
    let mut overlapped_peak = (0u64, None);
    for (index, segment) in segments.iter().enumerate() {
        let mut ranges: Vec<(u64, u64)> = segment
            .buffers
            .iter()
            .filter(|b| matches!(b.role, BufferRole::Input | BufferRole::Output))
            .map(|b| (b.start.0 as u64, b.start.0 as u64 + b.len as u64))
            .collect();
        let placed = union_bytes(&mut ranges);
        let mut distinct: Vec<(u64, u64)> = Vec::new();
        for buffer in segment
            .buffers
            .iter()
            .filter(|b| matches!(b.role, BufferRole::Input | BufferRole::Output))
        {
            let range = (buffer.start.0 as u64, buffer.len as u64);
            if !distinct.contains(&range) {
                distinct.push(range);
            }
        }
        let naive: u64 = distinct.iter().map(|(_, len)| len).sum();
        let best_saving = rows
            .iter()
            .filter(|row| row.op_index == index)
            .map(|row| row.saving_bytes)
            .max()
            .unwrap_or(0);
        let overlapped = naive - best_saving.min(naive);
        if placed > placed_peak.0 {
            placed_peak = (placed, Some(segment.display_name().into_owned()));
        }
        if overlapped > overlapped_peak.0 {
            overlapped_peak = (overlapped, Some(segment.display_name().into_owned()));
        }
    }
    let saving = placed_peak.0.saturating_sub(overlapped_peak.0);
    RunSummary {
        ops: segments.len(),
        pairs: rows.len(),
        placed_peak_bytes: placed_peak.0,
        placed_peak_op: placed_peak.1,
        overlapped_peak_bytes: overlapped_peak.0,
        overlapped_peak_op: overlapped_peak.1,
        peak_saving_bytes: saving,
        peak_saving_percent: if placed_peak.0 == 0 {
            0.0
        } else {
            round2(100.0 * saving as f64 / placed_peak.0 as f64)
        },
    }
}

/// Bytes covered by the union of half-open ranges.
fn union_bytes(ranges: &mut [(u64, u64)]) -> u64 {
    ranges.sort_unstable();
    let mut total = 0;
    let mut covered_to = 0u64;
    for &(start, end) in ranges.iter() {
        let start = start.max(covered_to);
        if end > start {
            total += end - start;
            covered_to = end;
        }
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn union_counts_overlaps_once() {
        // [0,10) and [5,20) cover 20 bytes; [30,31) one more; a duplicate adds nothing.
        let mut ranges = vec![(5, 20), (0, 10), (30, 31), (0, 10)];
        assert_eq!(union_bytes(&mut ranges), 21);
        assert_eq!(union_bytes(&mut []), 0);
    }
}

/// How the trace's ops lined up with a model's operators.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct ModelMatch {
    /// The model file, as given.
    pub model: String,
    pub operators: usize,
    pub matched: usize,
    /// Model operators no traced op took, each with why.
    pub missing: Vec<String>,
    /// Traced ops no model operator took (extra calls).
    pub extra: Vec<String>,
}

impl ModelMatch {
    /// Lines a person reads: the count, then every disagreement.
    pub fn lines(&self) -> Vec<String> {
        let mut lines = vec![format!(
            "model {}: {} of {} operators matched to traced ops (by order, kind and output size)",
            self.model, self.matched, self.operators
        )];
        lines.extend(self.missing.iter().cloned());
        lines.extend(self.extra.iter().cloned());
        lines
    }
}
