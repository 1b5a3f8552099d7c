//! Streams events to a trace file while the emulator runs, with memory bounded
//! by one block.

use crate::codec::BlockEncoder;
use crate::error::TraceError;
use crate::format::{self, BlockHeader, Trailer, FORMAT_VERSION};
use crate::metadata::{BlockIndexEntry, BufferOrigin, Footer, FooterExtension, TraceMetadata};
use crate::{BufferDiscovery, TraceReader};
use dmo_core::{Buffer, Event, EventSink, EventTime, OpSegment, TimeRange};
use dmo_fsio::AtomicFile;
use std::io::{BufWriter, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// How a trace is written.
#[derive(Clone, Copy, Debug)]
pub struct TraceOptions {
    /// Keep a file marked incomplete when the run fails, instead of none.
    pub keep_partial: bool,
    /// Events per block: the unit of checksumming, skipping and memory use.
    pub events_per_block: u32,
    /// Replace an existing (regular) file at the path. Without it the
    /// final rename refuses to replace anything (`dmo_fsio::AtomicFile`).
    pub overwrite: bool,
}

impl Default for TraceOptions {
    fn default() -> Self {
        TraceOptions {
            keep_partial: false,
            events_per_block: 1 << 16,
            overwrite: false,
        }
    }
}

/// What was written.
#[derive(Clone, PartialEq, Debug)]
pub struct TraceSummary {
    pub path: PathBuf,
    pub events: u64,
    pub blocks: u64,
    /// Size of the whole file.
    pub file_bytes: u64,
    /// Bytes of the event blocks (headers and payloads) only.
    pub event_bytes: u64,
    /// Whether the run completed (false for a file kept by `keep_partial`).
    pub complete: bool,
}

impl TraceSummary {
    /// Event block bytes per event.
    pub fn bytes_per_event(&self) -> f64 {
        if self.events == 0 {
            0.0
        } else {
            self.event_bytes as f64 / self.events as f64
        }
    }
}

/// An [`EventSink`] that writes a trace file. Events go to a temporary file
/// beside the final path, which [`TraceWriter::finish`] renames into place; a
/// writer dropped or abandoned without `keep_partial` leaves no file.
///
/// I/O errors on the hot path are kept, make [`EventSink::wants_stop`] true,
/// and are returned by `finish`.
pub struct TraceWriter {
    final_path: PathBuf,
    options: TraceOptions,
    output: Option<BufWriter<AtomicFile>>,
    /// Bytes written so far: the offset of the next block.
    position: u64,
    encoder: BlockEncoder,
    payload: Vec<u8>,
    block_first_time: u64,
    block_event_count: u32,
    next_time: u64,
    blocks: Vec<BlockIndexEntry>,
    segments: Vec<OpSegment>,
    /// Index into `segments` of the op that has begun and not ended.
    open_segment: Option<usize>,
    error: Option<TraceError>,
}

impl TraceWriter {
    /// Starts a trace that will end up at `final_path`.
    pub fn create(final_path: impl AsRef<Path>, options: TraceOptions) -> Result<Self, TraceError> {
        let final_path = final_path.as_ref().to_path_buf();
        // A temporary file beside the final path, removed on failure and on
        // SIGINT/SIGTERM; the rename refuses to clobber without `overwrite`.
        let temporary = AtomicFile::create(&final_path, options.overwrite)?;
        let mut output = BufWriter::with_capacity(1 << 20, temporary);
        output
            .write_all(&format::header_bytes())
            .map_err(|source| {
                TraceError::io(&final_path, "cannot write the trace header", source)
            })?;
        Ok(TraceWriter {
            final_path,
            options: TraceOptions {
                events_per_block: options.events_per_block.max(1),
                ..options
            },
            output: Some(output),
            position: format::HEADER_LEN,
            encoder: BlockEncoder::new(),
            payload: Vec::new(),
            block_first_time: 0,
            block_event_count: 0,
            next_time: 0,
            blocks: Vec::new(),
            segments: Vec::new(),
            open_segment: None,
            error: None,
        })
    }

    /// Events received so far; the time the next event will have.
    pub fn event_count(&self) -> u64 {
        self.next_time
    }

    /// Writes the metadata, syncs and renames the file into place.
    pub fn finish(self, metadata: TraceMetadata) -> Result<TraceSummary, TraceError> {
        self.complete(metadata, true)
    }

    /// Ends a failed run: deletes the temporary file, or with `keep_partial`
    /// finishes a file marked incomplete (its metadata says why the run
    /// failed) and returns its summary.
    pub fn abandon(self, metadata: TraceMetadata) -> Result<Option<TraceSummary>, TraceError> {
        if self.options.keep_partial {
            self.complete(metadata, false).map(Some)
        } else {
            // Dropping the temporary file deletes it.
            Ok(None)
        }
    }

    fn complete(
        mut self,
        metadata: TraceMetadata,
        complete: bool,
    ) -> Result<TraceSummary, TraceError> {
        self.flush_block();
        let end = EventTime(self.next_time);
        self.close_open_segment(end);
        if let Some(error) = self.error.take() {
            return Err(error);
        }
        let event_bytes = self.position - format::HEADER_LEN;
        // Ops without marker buffers (`--ops`, a known runtime) get theirs
        // from one discovery pass over the finished events, stored in the
        // footer so that every reader uses the same buffers.
        let discover = complete
            && !self.segments.is_empty()
            && self.segments.iter().all(|s| s.buffers.is_empty());
        let footer = Footer {
            metadata,
            segments: std::mem::take(&mut self.segments),
            blocks: std::mem::take(&mut self.blocks),
            event_count: self.next_time,
            complete,
        };
        let block_count = footer.blocks.len() as u64;
        let events = footer.event_count;
        let path = self.final_path.clone();
        let declared = footer.segments.iter().any(|s| !s.buffers.is_empty());
        let (footer_bytes, trailer) =
            self.encode_footer(&footer, declared.then_some(BufferOrigin::Markers))?;
        let mut output = self
            .output
            .take()
            .expect("output is present until completion");
        let write_result = output
            .write_all(&footer_bytes)
            .and_then(|_| output.write_all(&trailer.to_bytes()))
            .and_then(|_| output.flush());
        write_result
            .map_err(|source| TraceError::io(&path, "cannot write the trace footer", source))?;
        let mut temporary = output
            .into_inner()
            .map_err(|error| TraceError::io(&path, "cannot flush the trace", error.into_error()))?;
        let mut trailer = trailer;
        if discover {
            let reader = TraceReader::open(temporary.temporary_path())?;
            let segments = BufferDiscovery::of_trace(&reader)?;
            drop(reader);
            let footer = Footer { segments, ..footer };
            let (footer_bytes, new_trailer) =
                self.encode_footer(&footer, Some(BufferOrigin::Discovery))?;
            trailer = new_trailer;
            let file = temporary.file();
            let rewrite = file
                .seek(SeekFrom::Start(trailer.footer_offset))
                .and_then(|_| file.write_all(&footer_bytes))
                .and_then(|_| file.write_all(&trailer.to_bytes()))
                .and_then(|_| {
                    file.set_len(trailer.footer_offset + trailer.footer_len + format::TRAILER_LEN)
                })
                .and_then(|_| file.flush());
            rewrite.map_err(|source| {
                TraceError::io(&path, "cannot store the discovered buffers", source)
            })?;
        }
        temporary.commit()?;
        let file_bytes = trailer.footer_offset + trailer.footer_len + format::TRAILER_LEN;
        Ok(TraceSummary {
            path,
            events,
            blocks: block_count,
            file_bytes,
            event_bytes,
            complete,
        })
    }

    /// The footer's bytes (with its extension) and the trailer that points
    /// at them.
    fn encode_footer(
        &self,
        footer: &Footer,
        buffer_origin: Option<BufferOrigin>,
    ) -> Result<(Vec<u8>, Trailer), TraceError> {
        let encode_error = |error: bincode::error::EncodeError| TraceError::Encode {
            path: self.final_path.clone(),
            detail: error.to_string(),
        };
        let mut footer_bytes = bincode::serde::encode_to_vec(footer, format::bincode_config())
            .map_err(encode_error)?;
        let extension = FooterExtension { buffer_origin };
        footer_bytes.extend(
            bincode::serde::encode_to_vec(&extension, format::bincode_config())
                .map_err(encode_error)?,
        );
        let trailer = Trailer {
            footer_offset: self.position,
            footer_len: footer_bytes.len() as u64,
            footer_crc: crc32fast::hash(&footer_bytes),
            version: FORMAT_VERSION,
        };
        Ok((footer_bytes, trailer))
    }

    fn flush_block(&mut self) {
        if self.block_event_count == 0 {
            return;
        }
        self.encoder.finish_block(&mut self.payload);
        let header =
            BlockHeader::for_payload(&self.payload, self.block_event_count, self.block_first_time);
        self.blocks.push(BlockIndexEntry {
            byte_offset: self.position,
            first_time: self.block_first_time,
            event_count: self.block_event_count,
        });
        if self.error.is_none() {
            let output = self
                .output
                .as_mut()
                .expect("output is present until completion");
            let result = output
                .write_all(&header.to_bytes())
                .and_then(|_| output.write_all(&self.payload));
            if let Err(source) = result {
                self.error = Some(TraceError::io(
                    &self.final_path,
                    "cannot write trace events",
                    source,
                ));
            }
        }
        self.position += (format::BLOCK_HEADER_LEN + self.payload.len()) as u64;
        self.payload.clear();
        self.block_event_count = 0;
        self.block_first_time = self.next_time;
    }

    fn close_open_segment(&mut self, at: EventTime) {
        if let Some(index) = self.open_segment.take() {
            self.segments[index].time.end = at;
        }
    }
}

impl EventSink for TraceWriter {
    #[inline]
    fn event(&mut self, event: &Event) {
        // Times are implicit: the writer numbers events itself.
        debug_assert_eq!(
            event.time.0, self.next_time,
            "events must arrive in time order"
        );
        self.encoder.push(event, &mut self.payload);
        self.block_event_count += 1;
        self.next_time += 1;
        if self.block_event_count == self.options.events_per_block {
            self.flush_block();
        }
    }

    fn op_begin(&mut self, at: EventTime, name: &str, kind: &str) {
        self.close_open_segment(at);
        self.segments.push(OpSegment {
            name: name.to_string(),
            kind: kind.to_string(),
            time: TimeRange::new(at, at),
            buffers: Vec::new(),
            instructions: None,
        });
        self.open_segment = Some(self.segments.len() - 1);
    }

    fn op_buffer(&mut self, buffer: &Buffer) {
        if let Some(index) = self.open_segment {
            self.segments[index].buffers.push(buffer.clone());
        }
    }

    fn op_instructions(&mut self, count: u64) {
        if let Some(index) = self.open_segment {
            self.segments[index].instructions = Some(count);
        }
    }

    fn op_end(&mut self, at: EventTime) {
        self.close_open_segment(at);
    }

    fn wants_stop(&self) -> bool {
        self.error.is_some()
    }
}
