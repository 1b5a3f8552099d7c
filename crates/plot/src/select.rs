//! Choosing an op segment by name or by position.

use crate::{AddressScope, FigureRequest, PlotError};
use dmo_core::{Address, Buffer, BufferRole, EventTime, OpSegment, RegionKind, TimeRange};
use dmo_trace::TraceReader;
use std::fmt;

/// An op by its position among the trace's segments (from 0) or its name.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum OpSelector {
    Index(usize),
    Name(String),
}

impl OpSelector {
    /// A number is an index, anything else a name.
    pub fn parse(text: &str) -> OpSelector {
        match text.parse::<usize>() {
            Ok(index) => OpSelector::Index(index),
            Err(_) => OpSelector::Name(text.to_string()),
        }
    }

    /// The segment's index in `reader.segments()`.
    pub fn find(&self, reader: &TraceReader) -> Result<usize, PlotError> {
        let segments: &[OpSegment] = reader.segments();
        let found = match self {
            OpSelector::Index(index) => (*index < segments.len()).then_some(*index),
            OpSelector::Name(name) => segments
                .iter()
                .position(|s| &s.name == name || s.display_name() == name.as_str()),
        };
        found.ok_or_else(|| PlotError::NoSuchOp {
            trace: reader.path().to_path_buf(),
            wanted: self.to_string(),
            count: segments.len(),
        })
    }
}

impl fmt::Display for OpSelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OpSelector::Index(index) => write!(f, "{index}"),
            OpSelector::Name(name) => f.write_str(name),
        }
    }
}

/// The times and addresses a figure shows, and the buffers to draw as bands.
#[derive(Clone, Debug)]
pub struct View {
    pub time: TimeRange,
    /// Lowest byte shown; the y axis counts bytes from here.
    pub low: u64,
    /// One past the highest byte shown.
    pub high: u64,
    /// What `low` is, e.g. `dmo_arena`.
    pub base_name: String,
    /// Each op's activation buffers over the op's time range.
    pub bands: Vec<(TimeRange, Buffer)>,
    /// The chosen op, if any.
    pub op: Option<usize>,
    /// A short name of what is shown, for titles.
    pub subject: String,
}

impl View {
    /// `dmo_arena (0x20000000)`, or the bare address when no symbol names it.
    pub fn base_text(&self) -> String {
        let address = format!("0x{:08x}", self.low);
        if self.base_name == address {
            address
        } else {
            format!("{} ({address})", self.base_name)
        }
    }
}

/// Buffers that hold activations (not weights: those are constants).
fn is_activation(buffer: &Buffer) -> bool {
    buffer.role != BufferRole::Weights && buffer.len > 0
}

/// Works out what `access` and `liveness` show for `request`.
pub fn view_of(reader: &TraceReader, request: &FigureRequest) -> Result<View, PlotError> {
    let segments = reader.segments();
    let firmware = reader
        .metadata()
        .elf_path
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_else(|| reader.path().display().to_string());
    let (time, chosen, op) = match &request.op {
        Some(selector) => {
            let index = selector.find(reader)?;
            let segment = &segments[index];
            (segment.time, vec![segment], Some(index))
        }
        None => (
            TimeRange::new(EventTime(0), EventTime(reader.event_count())),
            segments.iter().collect(),
            None,
        ),
    };
    let subject = match op {
        Some(index) => format!(
            "{firmware}, op #{index} {} ({})",
            segments[index].display_name(),
            segments[index].kind
        ),
        None => format!("{firmware}, whole run"),
    };
    let bands: Vec<(TimeRange, Buffer)> = chosen
        .iter()
        .flat_map(|segment| {
            segment
                .buffers
                .iter()
                .filter(|b| is_activation(b))
                .map(|b| (segment.time, b.clone()))
        })
        .collect();
    let span_of_bands = bands.iter().fold(None, |span: Option<(u64, u64)>, (_, b)| {
        let (start, end) = (b.start.0 as u64, b.start.0 as u64 + b.len as u64);
        Some(span.map_or((start, end), |(l, h)| (l.min(start), h.max(end))))
    });
    let (low, high) = match (request.scope, span_of_bands) {
        (AddressScope::Arena, Some(span)) => span,
        (scope, _) if op.is_some() && scope == AddressScope::Arena => {
            return Err(PlotError::NothingToPlot {
                trace: reader.path().to_path_buf(),
                problem: format!("op {subject} declares no activation buffers"),
            })
        }
        (scope, _) => ram_span(reader, time, scope == AddressScope::AllRam)?.ok_or_else(|| {
            PlotError::NothingToPlot {
                trace: reader.path().to_path_buf(),
                problem: "no RAM accesses in the chosen time range".to_string(),
            }
        })?,
    };
    if time.is_empty() {
        return Err(PlotError::NothingToPlot {
            trace: reader.path().to_path_buf(),
            problem: format!("{subject} has no events"),
        });
    }
    let base_name = reader.metadata().name_address(Address(low as u32));
    Ok(View {
        time,
        low,
        high,
        base_name,
        bands,
        op,
        subject,
    })
}

/// Lowest and one-past-highest RAM byte accessed in `time`; the stack only
/// with `with_stack`. One streaming pass.
fn ram_span(
    reader: &TraceReader,
    time: TimeRange,
    with_stack: bool,
) -> Result<Option<(u64, u64)>, PlotError> {
    let map = &reader.metadata().memory_map;
    let in_kind = |address: Address, kind: RegionKind| {
        map.iter()
            .any(|region| region.kind == kind && region.contains(address))
    };
    let mut span: Option<(u64, u64)> = None;
    for event in reader.events_in(time)? {
        let event = event?;
        let wanted = in_kind(event.address, RegionKind::Ram)
            && (with_stack || !in_kind(event.address, RegionKind::Stack));
        if wanted {
            let (start, end) = (event.address.0 as u64, event.end().0 as u64);
            span = Some(span.map_or((start, end), |(l, h)| (l.min(start), h.max(end))));
        }
    }
    Ok(span)
}
