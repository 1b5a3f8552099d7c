//! Reads a trace file without loading it whole: the footer up front, then
//! the events block by block.

use crate::codec::BlockDecoder;
use crate::error::{BlockPosition, TraceError};
use crate::format::{
    self, BlockHeader, Trailer, BLOCK_HEADER_LEN, FORMAT_VERSION, HEADER_LEN, TRAILER_LEN,
};
use crate::metadata::{
    BlockIndexEntry, BufferOrigin, Footer, FooterExtension, OpSegmentV2, TraceMetadata,
};
use dmo_core::{Event, EventSink, EventTime, OpSegment, TimeRange};
use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

/// An open trace: its metadata, op segments and block index are in memory,
/// its events are read on demand.
#[derive(Debug)]
pub struct TraceReader {
    path: PathBuf,
    footer: Footer,
    buffer_origin: Option<BufferOrigin>,
    /// Where the event blocks end (the footer's offset).
    events_end: u64,
}

impl TraceReader {
    /// Opens a trace, checking its version, trailer and metadata. A file cut
    /// short is reported with the first block that is not whole.
    pub fn open(path: impl AsRef<Path>) -> Result<TraceReader, TraceError> {
        let path = path.as_ref().to_path_buf();
        // Regular files only, checked before opening: a FIFO or a device
        // would block or never end.
        let (mut file, file_len) = dmo_fsio::open_input(&path)?;

        let mut header = [0u8; HEADER_LEN as usize];
        if file_len < HEADER_LEN {
            let mut start = vec![0u8; file_len as usize];
            file.read_exact(&mut start)
                .map_err(|source| TraceError::io(&path, "cannot read the trace header", source))?;
            if !format::FILE_MAGIC.starts_with(&start[..start.len().min(8)]) || start.is_empty() {
                return Err(TraceError::NotATrace { path });
            }
            return Err(TraceError::Truncated {
                detail: format!(
                    "the file is {file_len} bytes, shorter than the {HEADER_LEN}-byte header"
                ),
                path,
            });
        }
        file.read_exact(&mut header)
            .map_err(|source| TraceError::io(&path, "cannot read the trace header", source))?;
        if header[..8] != format::FILE_MAGIC {
            return Err(TraceError::NotATrace { path });
        }
        let version = format::u32_at(&header, 8);
        if !format::READABLE_VERSIONS.contains(&version) {
            return Err(TraceError::WrongVersion {
                path,
                found: version,
                supported: FORMAT_VERSION,
            });
        }

        let trailer = if file_len >= HEADER_LEN + TRAILER_LEN {
            let mut bytes = [0u8; TRAILER_LEN as usize];
            file.seek(SeekFrom::Start(file_len - TRAILER_LEN))
                .and_then(|_| file.read_exact(&mut bytes))
                .map_err(|source| TraceError::io(&path, "cannot read the trace trailer", source))?;
            Trailer::parse(&bytes)
        } else {
            None
        };
        let Some(trailer) = trailer else {
            return Err(truncation_error(&path, &mut file, file_len));
        };
        let footer_end = trailer.footer_offset.checked_add(trailer.footer_len);
        if trailer.version != version
            || trailer.footer_offset < HEADER_LEN
            || footer_end != Some(file_len - TRAILER_LEN)
        {
            return Err(TraceError::CorruptMetadata {
                path,
                byte_offset: file_len - TRAILER_LEN,
                detail: format!(
                    "the trailer points at a footer of {} bytes at byte {}, which does not end where the trailer starts",
                    trailer.footer_len, trailer.footer_offset
                ),
            });
        }
        let mut footer_bytes = vec![0u8; trailer.footer_len as usize];
        file.seek(SeekFrom::Start(trailer.footer_offset))
            .and_then(|_| file.read_exact(&mut footer_bytes))
            .map_err(|source| TraceError::io(&path, "cannot read the trace metadata", source))?;
        let metadata_error = |detail: String| TraceError::CorruptMetadata {
            path: path.clone(),
            byte_offset: trailer.footer_offset,
            detail,
        };
        // Fuzzing builds (`cargo fuzz`, `--cfg fuzzing`) skip the checksums
        // so that mutations reach the decoders behind them.
        if crc32fast::hash(&footer_bytes) != trailer.footer_crc && !cfg!(fuzzing) {
            return Err(metadata_error("checksum mismatch".to_string()));
        }
        let decode_error = |error: bincode::error::DecodeError| metadata_error(error.to_string());
        let (footer, footer_len): (Footer, usize) = if version == 2 {
            let (old, len): (Footer<OpSegmentV2>, usize) =
                bincode::serde::decode_from_slice(&footer_bytes, format::bincode_config())
                    .map_err(decode_error)?;
            (old.into(), len)
        } else {
            bincode::serde::decode_from_slice(&footer_bytes, format::bincode_config())
                .map_err(decode_error)?
        };
        // Traces written before the extension end with the footer.
        let extension = match footer_bytes.get(footer_len..) {
            Some(rest) if !rest.is_empty() => {
                bincode::serde::decode_from_slice::<FooterExtension, _>(
                    rest,
                    format::bincode_config(),
                )
                .map_err(decode_error)?
                .0
            }
            _ => FooterExtension {
                buffer_origin: None,
            },
        };
        check_block_index(&footer, trailer.footer_offset).map_err(metadata_error)?;
        check_sizes(&footer).map_err(metadata_error)?;
        Ok(TraceReader {
            path,
            footer,
            buffer_origin: extension.buffer_origin,
            events_end: trailer.footer_offset,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn metadata(&self) -> &TraceMetadata {
        &self.footer.metadata
    }

    /// Where the stored op buffers come from, as the writer recorded it;
    /// `None` when no buffers are stored, or the trace was written by a
    /// `dmo` that did not record it.
    pub fn buffer_origin(&self) -> Option<BufferOrigin> {
        self.buffer_origin
    }

    /// Op segments in the order they began.
    pub fn segments(&self) -> &[OpSegment] {
        &self.footer.segments
    }

    pub fn event_count(&self) -> u64 {
        self.footer.event_count
    }

    pub fn block_count(&self) -> usize {
        self.footer.blocks.len()
    }

    /// False for a file kept by `keep_partial` after a failed run.
    pub fn is_complete(&self) -> bool {
        self.footer.complete
    }

    /// The event blocks in order, decoded one at a time.
    pub fn blocks(&self) -> Result<BlockStream<'_>, TraceError> {
        self.blocks_from(0)
    }

    fn blocks_from(&self, first_block: usize) -> Result<BlockStream<'_>, TraceError> {
        let (file, _) = dmo_fsio::open_input(&self.path)?;
        Ok(BlockStream {
            path: &self.path,
            index: &self.footer.blocks,
            events_end: self.events_end,
            next_block: first_block,
            file: BufReader::with_capacity(1 << 20, file),
            file_position: None,
            payload: Vec::new(),
            events: Vec::new(),
            decoder: BlockDecoder::new(),
        })
    }

    /// Every event in time order.
    pub fn events(&self) -> Result<Events<'_>, TraceError> {
        self.events_in(TimeRange::new(EventTime(0), EventTime(u64::MAX)))
    }

    /// The events whose time lies in `range`, skipping whole blocks before it.
    pub fn events_in(&self, range: TimeRange) -> Result<Events<'_>, TraceError> {
        let first_block = self
            .footer
            .blocks
            .partition_point(|block| block.first_time + block.event_count as u64 <= range.start.0);
        Ok(Events {
            blocks: self.blocks_from(first_block)?,
            range,
            position: 0,
            done: false,
        })
    }

    /// Feeds the whole run to `sink` as the emulator did: events in order with
    /// the op markers between them. Stops early if the sink asks to.
    pub fn replay(&self, sink: &mut dyn EventSink) -> Result<(), TraceError> {
        self.replay_with_segments(&self.footer.segments, sink)
    }

    /// Like [`replay`](Self::replay), with op markers made from `segments`
    /// (e.g. found by buffer discovery) instead of the recorded ones. The
    /// segments must be in time order and must not overlap.
    pub fn replay_with_segments(
        &self,
        segments: &[OpSegment],
        sink: &mut dyn EventSink,
    ) -> Result<(), TraceError> {
        let mut markers = Markers::new(segments);
        let mut blocks = self.blocks()?;
        let mut next_marker = markers.next_time();
        while let Some(events) = blocks.next_block()? {
            for event in events {
                if event.time >= next_marker {
                    markers.emit_until(event.time, sink);
                    next_marker = markers.next_time();
                }
                sink.event(event);
            }
            if sink.wants_stop() {
                return Ok(());
            }
        }
        markers.emit_until(EventTime(u64::MAX), sink);
        Ok(())
    }
}

/// Op markers in the order a replay sends them.
struct Markers<'a> {
    segments: &'a [OpSegment],
    next_segment: usize,
    /// Whether `segments[next_segment]` has begun (and waits for its end).
    begun: bool,
}

impl<'a> Markers<'a> {
    fn new(segments: &'a [OpSegment]) -> Self {
        Markers {
            segments,
            next_segment: 0,
            begun: false,
        }
    }

    /// The time of the next marker to send (`u64::MAX` when none is left).
    fn next_time(&self) -> EventTime {
        match self.segments.get(self.next_segment) {
            Some(segment) if self.begun => segment.time.end,
            Some(segment) => segment.time.start,
            None => EventTime(u64::MAX),
        }
    }

    /// Sends every marker at or before `time`.
    fn emit_until(&mut self, time: EventTime, sink: &mut dyn EventSink) {
        while let Some(segment) = self.segments.get(self.next_segment) {
            if !self.begun {
                if segment.time.start > time {
                    return;
                }
                sink.op_begin(segment.time.start, &segment.name, &segment.kind);
                for buffer in &segment.buffers {
                    sink.op_buffer(buffer);
                }
                self.begun = true;
            }
            if segment.time.end > time {
                return;
            }
            if let Some(count) = segment.instructions {
                sink.op_instructions(count);
            }
            sink.op_end(segment.time.end);
            self.begun = false;
            self.next_segment += 1;
        }
    }
}

/// The most bytes the (input, output) pairs of one op may ask the miner to
/// track: the sum over its pairs of input plus output length, 16 MiB (the
/// miner keeps 16 bytes per tracked byte, so at most 256 MiB). Activation
/// buffers of Cortex-M models are kilobytes to a few megabytes.
pub const MAX_PAIR_BYTES: u64 = 1 << 24;

/// The most bytes of flash, RAM and stack a trace's memory map may hold,
/// 64 MiB: more than any Cortex-M part has, and what bounds the per-byte
/// tables of buffer discovery (about 9 bytes per byte, under 600 MiB).
pub const MAX_MAPPED_BYTES: u64 = 1 << 26;

/// Sizes read from the footer, checked before anything is allocated from
/// them: a forged buffer length of 2^32 - 1 made `report` try to allocate
/// 64 GiB and abort.
fn check_sizes(footer: &Footer) -> Result<(), String> {
    let mapped: u64 = footer
        .metadata
        .memory_map
        .iter()
        .filter(|region| region.kind != dmo_core::RegionKind::MmioStub)
        .map(|region| region.len as u64)
        .sum();
    if mapped > MAX_MAPPED_BYTES {
        return Err(format!(
            "the memory map holds {mapped} bytes of flash and RAM, more than dmo handles ({MAX_MAPPED_BYTES})"
        ));
    }
    for (index, segment) in footer.segments.iter().enumerate() {
        let total = |role| -> (u64, u64) {
            segment
                .buffers_with_role(role)
                .fold((0, 0), |(count, bytes), b| {
                    (count + 1, bytes + b.len as u64)
                })
        };
        let (inputs, input_bytes) = total(dmo_core::BufferRole::Input);
        let (outputs, output_bytes) = total(dmo_core::BufferRole::Output);
        // Each input is paired with each output.
        let pair_bytes = (outputs as u128 * input_bytes as u128)
            .saturating_add(inputs as u128 * output_bytes as u128);
        if pair_bytes > MAX_PAIR_BYTES as u128 {
            return Err(format!(
                "op {index} ({}) has {inputs} inputs of {input_bytes} bytes and {outputs} outputs of {output_bytes} bytes, more than dmo mines ({MAX_PAIR_BYTES} bytes over its pairs)",
                segment.name.chars().take(80).collect::<String>()
            ));
        }
    }
    Ok(())
}

/// The index must describe consecutive blocks that tile the event times and
/// lie between the header and the footer.
fn check_block_index(footer: &Footer, footer_offset: u64) -> Result<(), String> {
    let mut expected_time = 0u64;
    let mut minimum_offset = HEADER_LEN;
    for (index, block) in footer.blocks.iter().enumerate() {
        if block.first_time != expected_time || block.event_count == 0 {
            return Err(format!(
                "block index entry {index} starts at event {} with {} events, expected a non-empty block starting at event {expected_time}",
                block.first_time, block.event_count
            ));
        }
        if block.byte_offset < minimum_offset
            || block
                .byte_offset
                .checked_add(BLOCK_HEADER_LEN as u64)
                .is_none_or(|end| end > footer_offset)
        {
            return Err(format!(
                "block index entry {index} points at byte {}, outside the event area",
                block.byte_offset
            ));
        }
        expected_time += block.event_count as u64;
        minimum_offset = block.byte_offset + BLOCK_HEADER_LEN as u64;
    }
    if expected_time != footer.event_count {
        return Err(format!(
            "the block index holds {expected_time} events, the footer says {}",
            footer.event_count
        ));
    }
    Ok(())
}

/// Walks the block headers of a file whose trailer is missing to say where
/// it was cut.
fn truncation_error(path: &Path, file: &mut File, file_len: u64) -> TraceError {
    let mut offset = HEADER_LEN;
    let mut index = 0u64;
    let detail = loop {
        let position = BlockPosition {
            index,
            byte_offset: offset,
        };
        if offset == file_len {
            break format!("the file ends after {index} whole blocks, before the metadata (at byte {offset}); the run may still be going or was killed");
        }
        let mut bytes = [0u8; BLOCK_HEADER_LEN];
        if offset + BLOCK_HEADER_LEN as u64 > file_len
            || file
                .seek(SeekFrom::Start(offset))
                .and_then(|_| file.read_exact(&mut bytes))
                .is_err()
        {
            break format!("the file ends inside the header of {position}");
        }
        let Ok(header) = BlockHeader::parse(&bytes) else {
            break format!("no trailer, and no block header at {position} (metadata cut short?)");
        };
        let end = offset + BLOCK_HEADER_LEN as u64 + header.payload_len as u64;
        if end > file_len {
            break format!(
                "the file ends inside {position}: its payload needs {} bytes, {} are left",
                header.payload_len,
                file_len - offset - BLOCK_HEADER_LEN as u64
            );
        }
        offset = end;
        index += 1;
    };
    TraceError::Truncated {
        path: path.to_path_buf(),
        detail,
    }
}

/// Decodes blocks one at a time; memory is one block.
pub struct BlockStream<'a> {
    path: &'a Path,
    index: &'a [BlockIndexEntry],
    events_end: u64,
    next_block: usize,
    file: BufReader<File>,
    /// Where `file` is, if known, to avoid seeking between adjacent blocks.
    file_position: Option<u64>,
    payload: Vec<u8>,
    events: Vec<Event>,
    decoder: BlockDecoder,
}

impl BlockStream<'_> {
    /// The events of the next block, or `None` at the end.
    pub fn next_block(&mut self) -> Result<Option<&[Event]>, TraceError> {
        let Some(&entry) = self.index.get(self.next_block) else {
            return Ok(None);
        };
        let position = BlockPosition {
            index: self.next_block as u64,
            byte_offset: entry.byte_offset,
        };
        let corrupt = |detail: String| TraceError::CorruptBlock {
            path: self.path.to_path_buf(),
            position,
            detail,
        };
        if self.file_position != Some(entry.byte_offset) {
            self.file
                .seek(SeekFrom::Start(entry.byte_offset))
                .map_err(|source| TraceError::io(self.path, "cannot seek in the trace", source))?;
        }
        let mut header_bytes = [0u8; BLOCK_HEADER_LEN];
        self.file
            .read_exact(&mut header_bytes)
            .map_err(|error| corrupt(format!("cannot read the block header: {error}")))?;
        let header = BlockHeader::parse(&header_bytes).map_err(&corrupt)?;
        if header.event_count != entry.event_count || header.first_time != entry.first_time {
            return Err(corrupt(format!(
                "the block header says {} events from event {}, the index says {} from {}",
                header.event_count, header.first_time, entry.event_count, entry.first_time
            )));
        }
        // A payload needs at most 16 bytes per event and must end before the
        // footer; checked before allocating.
        let payload_end = entry.byte_offset + BLOCK_HEADER_LEN as u64 + header.payload_len as u64;
        if header.payload_len as u64 > 16 * header.event_count as u64
            || payload_end > self.events_end
        {
            return Err(corrupt(format!(
                "implausible payload length {}",
                header.payload_len
            )));
        }
        self.payload.resize(header.payload_len as usize, 0);
        self.file
            .read_exact(&mut self.payload)
            .map_err(|error| corrupt(format!("cannot read the payload: {error}")))?;
        self.file_position = Some(payload_end);
        if format::block_crc(&self.payload, header.event_count, header.first_time) != header.crc
            && !cfg!(fuzzing)
        {
            return Err(corrupt("checksum mismatch".to_string()));
        }
        self.decoder
            .decode(
                &self.payload,
                header.first_time,
                header.event_count,
                &mut self.events,
            )
            .map_err(|error| corrupt(error.to_string()))?;
        self.next_block += 1;
        Ok(Some(&self.events))
    }
}

/// Events one by one, over [`BlockStream`].
pub struct Events<'a> {
    blocks: BlockStream<'a>,
    range: TimeRange,
    position: usize,
    done: bool,
}

impl Iterator for Events<'_> {
    type Item = Result<Event, TraceError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if self.done {
                return None;
            }
            if let Some(event) = self.blocks.events.get(self.position) {
                self.position += 1;
                if event.time >= self.range.end {
                    self.done = true;
                    return None;
                }
                if event.time >= self.range.start {
                    return Some(Ok(*event));
                }
                continue;
            }
            self.position = 0;
            match self.blocks.next_block() {
                Ok(Some(_)) => {}
                Ok(None) => {
                    self.done = true;
                    return None;
                }
                Err(error) => {
                    self.done = true;
                    return Some(Err(error));
                }
            }
        }
    }
}
