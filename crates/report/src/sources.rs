//! Where a report's pairs and witness instructions come from: a trace file,
//! or an emulation run with the miner attached as a sink (no file).

use crate::model::{InstructionSite, Report, SiteLookup};
use crate::ReportError;
use dmo_core::{
    AccessKind, Address, Buffer, Event, EventSink, EventTime, FanOut, OpSegment, TimeRange,
};
use dmo_emu::{Disassembler, Firmware, RunConfig, RunOutcome};
use dmo_tflite::Model;
use dmo_trace::{BufferDiscovery, PairMiner, TraceReader};

/// Names and disassembles PCs with the firmware's symbols and code.
pub struct FirmwareSites<'f> {
    firmware: &'f Firmware,
    disassembler: Disassembler,
}

impl<'f> FirmwareSites<'f> {
    pub fn new(firmware: &'f Firmware) -> Self {
        FirmwareSites {
            firmware,
            disassembler: Disassembler::new(),
        }
    }

    /// `symbol+offset` and the instruction at `pc`.
    pub fn site(&self, pc: Address) -> InstructionSite {
        let disassembly = self
            .disassembler
            .instruction_at(self.firmware, pc)
            .unwrap_or_default();
        InstructionSite {
            pc,
            location: self.firmware.symbols.describe(pc),
            disassembly,
        }
    }
}

/// Witness sites from a trace file: the event at a time is looked up in the
/// trace; PCs are named with the firmware when it is at hand, else with the
/// trace's own symbols (no disassembly).
pub struct TraceSites<'r, 'f> {
    reader: &'r TraceReader,
    firmware: Option<FirmwareSites<'f>>,
}

impl<'r, 'f> TraceSites<'r, 'f> {
    pub fn new(reader: &'r TraceReader, firmware: Option<&'f Firmware>) -> Self {
        TraceSites {
            reader,
            firmware: firmware.map(FirmwareSites::new),
        }
    }
}

impl SiteLookup for TraceSites<'_, '_> {
    fn site_at(&mut self, time: EventTime) -> Option<(AccessKind, InstructionSite)> {
        let event = self
            .reader
            .events_in(TimeRange::new(time, time.next()))
            .ok()?
            .next()?
            .ok()?;
        let site = match &self.firmware {
            Some(firmware) => firmware.site(event.pc),
            None => InstructionSite {
                pc: event.pc,
                location: self.reader.metadata().name_address(event.pc),
                disassembly: String::new(),
            },
        };
        Some((event.kind, site))
    }
}

/// The report of a recorded trace. Ops without `dmo_buffer()` markers get
/// their buffers from [`BufferDiscovery`]. `firmware` (the traced ELF, if
/// available) adds disassembly to the witnesses.
pub fn report_of_trace(
    reader: &TraceReader,
    firmware: Option<&Firmware>,
) -> Result<Report, ReportError> {
    report_of_trace_with_model(reader, firmware, None)
}

/// [`report_of_trace`], with the ops matched to a model's operators when
/// `model` (the model and its file name) is given.
pub fn report_of_trace_with_model(
    reader: &TraceReader,
    firmware: Option<&Firmware>,
    model: Option<(&Model, String)>,
) -> Result<Report, ReportError> {
    let segments = BufferDiscovery::segments_to_mine(reader)?;
    let pairs = PairMiner::of_trace(reader, &segments)?;
    let mut sites = TraceSites::new(reader, firmware);
    let name = firmware
        .map(|f| f.path.clone())
        .unwrap_or_else(|| reader.metadata().elf_path.clone());
    let mut report = Report::build(name.display().to_string(), &segments, &pairs, &mut sites);
    note_memcpy_reshapes(reader, &segments, &mut report)?;
    if let Some((model, model_name)) = model {
        crate::model_match::match_model(&mut report, model, model_name, &segments, &pairs);
    }
    Ok(report)
}

/// A RESHAPE whose output is written by the C library's `memcpy` (TFLM's
/// reference RESHAPE is one call of it): its offset is a property of this
/// binary's `memcpy`, which another libc (or another size) may copy in
/// another order. One pass over each such op's events.
fn note_memcpy_reshapes(
    reader: &TraceReader,
    segments: &[OpSegment],
    report: &mut Report,
) -> Result<(), ReportError> {
    for row in &mut report.rows {
        if !row.op_kind.eq_ignore_ascii_case("RESHAPE") {
            continue;
        }
        let Some(segment) = segments.get(row.op_index) else {
            continue;
        };
        let output = row.output_address.0 as u64..row.output_address.0 as u64 + row.output_bytes;
        let mut writer = None;
        for event in reader.events_in(segment.time)? {
            let event = event?;
            if event.kind == AccessKind::Write && output.contains(&(event.address.0 as u64)) {
                writer = Some(reader.metadata().name_address(event.pc));
                break;
            }
        }
        let Some(location) = writer else { continue };
        let function = location.split('+').next().unwrap_or(&location).to_owned();
        if function.contains("memcpy") || function.contains("memmove") {
            row.notes.push(format!(
                "a plain copy by `{function}`: its measured offset holds for this binary's \
                 `{function}` only (another C library or build may copy in another order)"
            ));
        }
    }
    Ok(())
}

/// The PC and kind of every event inside an op segment, so that witness times
/// found when the op ends can be named without a trace file. Memory: 8 bytes
/// per event inside ops.
#[derive(Default)]
pub struct RecordedSites {
    /// Per op: its first event time and the events from there on.
    ops: Vec<(EventTime, Vec<(Address, AccessKind)>)>,
    in_op: bool,
}

impl RecordedSites {
    fn event_at(&self, time: EventTime) -> Option<(Address, AccessKind)> {
        let index = self.ops.partition_point(|(start, _)| *start <= time);
        let (start, events) = self.ops.get(index.checked_sub(1)?)?;
        events.get((time.0 - start.0) as usize).copied()
    }
}

impl EventSink for RecordedSites {
    #[inline]
    fn event(&mut self, event: &Event) {
        if self.in_op {
            if let Some((start, events)) = self.ops.last_mut() {
                // Markers carry the time of the op's first event.
                if events.is_empty() && *start != event.time {
                    *start = event.time;
                }
                events.push((event.pc, event.kind));
            }
        }
    }
    fn op_begin(&mut self, at: EventTime, _name: &str, _kind: &str) {
        self.ops.push((at, Vec::new()));
        self.in_op = true;
    }
    fn op_buffer(&mut self, _buffer: &Buffer) {}
    fn op_end(&mut self, _at: EventTime) {
        self.in_op = false;
    }
}

struct RecordedLookup<'a, 'f> {
    recorded: &'a RecordedSites,
    firmware: FirmwareSites<'f>,
}

impl SiteLookup for RecordedLookup<'_, '_> {
    fn site_at(&mut self, time: EventTime) -> Option<(AccessKind, InstructionSite)> {
        let (pc, kind) = self.recorded.event_at(time)?;
        Some((kind, self.firmware.site(pc)))
    }
}

/// A report made while emulating, and the run it came from.
pub struct Analysis {
    pub report: Report,
    pub outcome: RunOutcome,
}

/// Runs `firmware`, mines every op's pairs online (no trace file) and builds
/// the report. `also` receives every event too (e.g. a trace writer when the
/// user asks to keep the trace, or a progress display).
pub fn analyse<S: EventSink>(
    firmware: &Firmware,
    config: &RunConfig,
    also: &mut S,
) -> Result<Analysis, ReportError> {
    let mut miner = PairMiner::new();
    let mut recorded = RecordedSites::default();
    let outcome = {
        let mut ours = FanOut {
            first: &mut miner,
            second: &mut recorded,
        };
        let mut sink = FanOut {
            first: &mut ours,
            second: also,
        };
        dmo_emu::run(firmware, config, &mut sink)?
    };
    let pairs = miner.finish();
    let mut lookup = RecordedLookup {
        recorded: &recorded,
        firmware: FirmwareSites::new(firmware),
    };
    let report = Report::build(
        firmware.path.display().to_string(),
        &outcome.ops,
        &pairs,
        &mut lookup,
    );
    Ok(Analysis { report, outcome })
}
