//! Compact encoding of the events of one block.
//!
//! Both sides run the same predictor. Its slots are *access sites*: a PC and
//! how many events in a row before this one had that PC (an LDM/STM makes
//! several events per PC, and an emulator that reports basic-block PCs makes
//! a whole block's events share one). The next site is the one that followed
//! the previous site last time, and a site's next address is its last
//! address plus its stride (a two-delta stride predictor: the stride changes
//! only when the same new delta is seen twice, so a loop that jumps to the
//! next row mispredicts once, not twice; a new site takes its first
//! delta as its stride). Size and kind are predicted to be the
//! site's last ones. An event that matches all predictions costs a
//! fraction of a byte (runs of up to 128 are one byte); others cost a tag byte
//! plus zigzag LEB128 deltas for what was mispredicted.
//!
//! The predictor is reset at each block, so every block decodes on its own.
//!
//! Tag byte:
//! - `1nnnnnnn`: `n + 1` events that match every prediction.
//! - `0 x s k zz a p`: one event; `p` = PC delta follows (from the previous
//!   PC), `a` = address delta follows (from the predicted address), `zz` =
//!   log2 of the size, `k` = write, `s` = size byte follows instead (`zz` = 0),
//!   `x` must be 0.

use dmo_core::{AccessKind, Address, Event, EventTime};

const TABLE_BITS: u32 = 10;
const TABLE_SIZE: usize = 1 << TABLE_BITS;
// Slot indexes are stored as u16.
const _: () = assert!(TABLE_SIZE <= 1 << 16);
/// Consecutive events with one PC (an LDM/STM, or a whole basic block when
/// the emulator reports block-start PCs) get their own slots up to here.
const MAX_REPEAT: u8 = 63;

const RUN_FLAG: u8 = 0x80;
const MAX_RUN: u32 = 128;
const PC_EXPLICIT: u8 = 0x01;
const ADDRESS_EXPLICIT: u8 = 0x02;
const SIZE_SHIFT: u32 = 2;
const WRITE_FLAG: u8 = 0x10;
const SIZE_BYTE_FOLLOWS: u8 = 0x20;
const RESERVED: u8 = 0x40;

/// What the predictor remembers about one access site: the `repeat`-th of
/// consecutive events with the same PC.
#[derive(Clone, Copy)]
struct Slot {
    pc: u32,
    repeat: u8,
    occupied: bool,
    is_write: bool,
    size: u8,
    next_pc: u32,
    /// The slot index of the site after this one: `index(next_pc, repeat)`
    /// for the repeat `next_pc` gets after this site (kept to save decoding
    /// from hashing on the hot path).
    next_index: u16,
    last_address: u32,
    stride: u32,
    last_delta: u32,
    /// Seen once only: the next delta becomes the stride at once.
    fresh: bool,
}

const EMPTY_SLOT: Slot = Slot {
    pc: 0,
    repeat: 0,
    occupied: false,
    is_write: false,
    size: 0,
    next_pc: 0,
    next_index: 0,
    last_address: 0,
    stride: 0,
    last_delta: 0,
    fresh: false,
};

/// A direct-mapped table of instructions, shared logic of encoder and decoder.
struct Predictor {
    slots: Box<[Slot; TABLE_SIZE]>,
    previous_pc: u32,
    /// How many events before the previous one had its PC, up to `MAX_REPEAT`.
    previous_repeat: u8,
    /// The slot of the previous event: always holds its site, except before
    /// the block's first event, when it is empty.
    previous_index: usize,
    previous_address: u32,
}

/// What the predictor expects the next event to be.
struct Prediction {
    pc: u32,
}

impl Predictor {
    fn new() -> Self {
        Predictor {
            slots: Box::new([EMPTY_SLOT; TABLE_SIZE]),
            previous_pc: 0,
            previous_repeat: 0,
            previous_index: 0,
            previous_address: 0,
        }
    }

    fn reset(&mut self) {
        self.slots.fill(EMPTY_SLOT);
        self.previous_pc = 0;
        self.previous_repeat = 0;
        self.previous_index = 0;
        self.previous_address = 0;
    }

    #[inline(always)]
    fn index(pc: u32, repeat: u8) -> usize {
        let mixed = (pc >> 1) ^ (pc >> (1 + TABLE_BITS)) ^ (repeat as u32).wrapping_mul(0x9e5);
        mixed as usize & (TABLE_SIZE - 1)
    }

    /// The repeat count an event with `pc` gets after the previous event.
    #[inline(always)]
    fn repeat_for(&self, pc: u32) -> u8 {
        if pc == self.previous_pc {
            self.previous_repeat.saturating_add(1).min(MAX_REPEAT)
        } else {
            0
        }
    }

    #[inline(always)]
    fn slot(&self, pc: u32, repeat: u8) -> Option<&Slot> {
        let slot = &self.slots[Self::index(pc, repeat)];
        (slot.occupied && slot.pc == pc && slot.repeat == repeat).then_some(slot)
    }

    #[inline(always)]
    fn predict_pc(&self) -> Prediction {
        let slot = &self.slots[self.previous_index];
        let pc = if slot.occupied {
            slot.next_pc
        } else {
            self.previous_pc
        };
        Prediction { pc }
    }

    /// Predicted address, size and kind for an access by `pc`.
    #[inline(always)]
    fn predict_access(&self, pc: u32) -> (u32, Option<(u8, bool)>) {
        match self.slot(pc, self.repeat_for(pc)) {
            Some(slot) => (
                slot.last_address.wrapping_add(slot.stride),
                Some((slot.size, slot.is_write)),
            ),
            None => (self.previous_address, None),
        }
    }

    /// The event every prediction expects, recorded as [`Self::update`] would
    /// record it (for such an event most of `update`'s writes are no-ops),
    /// or `None` if the predicted instruction has no history.
    #[inline(always)]
    fn advance_predicted(&mut self) -> Option<(u32, u32, u8, bool)> {
        let previous = &self.slots[self.previous_index];
        if !previous.occupied {
            return None;
        }
        let (pc, index) = (previous.next_pc, previous.next_index as usize);
        let repeat = self.repeat_for(pc);
        let slot = &mut self.slots[index];
        if !(slot.occupied && slot.pc == pc && slot.repeat == repeat) {
            return None;
        }
        let address = slot.last_address.wrapping_add(slot.stride);
        slot.last_delta = slot.stride;
        slot.last_address = address;
        slot.fresh = false;
        let shape = (slot.size, slot.is_write);
        self.previous_pc = pc;
        self.previous_repeat = repeat;
        self.previous_index = index;
        self.previous_address = address;
        Some((pc, address, shape.0, shape.1))
    }

    #[inline(always)]
    fn update(&mut self, pc: u32, address: u32, size: u8, is_write: bool) {
        let repeat = self.repeat_for(pc);
        let index = Self::index(pc, repeat);
        let previous_slot = &mut self.slots[self.previous_index];
        if previous_slot.occupied {
            previous_slot.next_pc = pc;
            previous_slot.next_index = index as u16;
        }
        let slot = &mut self.slots[index];
        if slot.occupied && slot.pc == pc && slot.repeat == repeat {
            let delta = address.wrapping_sub(slot.last_address);
            if delta == slot.last_delta || slot.fresh {
                slot.stride = delta;
            }
            slot.fresh = false;
            slot.last_delta = delta;
            slot.last_address = address;
            slot.size = size;
            slot.is_write = is_write;
        } else {
            *slot = Slot {
                pc,
                repeat,
                occupied: true,
                is_write,
                size,
                next_pc: pc,
                next_index: Self::index(pc, repeat.saturating_add(1).min(MAX_REPEAT)) as u16,
                last_address: address,
                stride: 0,
                last_delta: 0,
                fresh: true,
            };
        }
        self.previous_pc = pc;
        self.previous_repeat = repeat;
        self.previous_index = index;
        self.previous_address = address;
    }
}

/// Encodes events into a block payload.
pub(crate) struct BlockEncoder {
    predictor: Predictor,
    pending_run: u32,
}

impl BlockEncoder {
    pub fn new() -> Self {
        BlockEncoder {
            predictor: Predictor::new(),
            pending_run: 0,
        }
    }

    #[inline]
    pub fn push(&mut self, event: &Event, out: &mut Vec<u8>) {
        let pc = event.pc.0;
        let address = event.address.0;
        let is_write = event.kind == AccessKind::Write;
        let predicted_pc = self.predictor.predict_pc().pc;
        let (predicted_address, predicted_shape) = self.predictor.predict_access(pc);
        let pc_hit = pc == predicted_pc;
        let address_hit = address == predicted_address;
        let shape_hit = predicted_shape == Some((event.size, is_write));
        if pc_hit && address_hit && shape_hit {
            self.pending_run += 1;
            if self.pending_run == MAX_RUN {
                self.flush_run(out);
            }
        } else {
            self.flush_run(out);
            let mut tag = 0u8;
            if !pc_hit {
                tag |= PC_EXPLICIT;
            }
            if !address_hit {
                tag |= ADDRESS_EXPLICIT;
            }
            if is_write {
                tag |= WRITE_FLAG;
            }
            let size_code = match event.size {
                1 => Some(0u8),
                2 => Some(1),
                4 => Some(2),
                8 => Some(3),
                _ => None,
            };
            match size_code {
                Some(code) => tag |= code << SIZE_SHIFT,
                None => tag |= SIZE_BYTE_FOLLOWS,
            }
            out.push(tag);
            if size_code.is_none() {
                out.push(event.size);
            }
            if !pc_hit {
                write_signed(out, pc.wrapping_sub(self.predictor.previous_pc));
            }
            if !address_hit {
                write_signed(out, address.wrapping_sub(predicted_address));
            }
        }
        self.predictor.update(pc, address, event.size, is_write);
    }

    fn flush_run(&mut self, out: &mut Vec<u8>) {
        if self.pending_run > 0 {
            out.push(RUN_FLAG | (self.pending_run - 1) as u8);
            self.pending_run = 0;
        }
    }

    /// Ends the block: writes what is pending and resets the predictor.
    pub fn finish_block(&mut self, out: &mut Vec<u8>) {
        self.flush_run(out);
        self.predictor.reset();
    }
}

/// Why a payload could not be decoded.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum DecodeError {
    UnexpectedEnd { at: usize },
    BadTag { at: usize, tag: u8 },
    RunWithoutHistory { at: usize },
    CountMismatch { expected: u32, found: u64 },
}

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DecodeError::UnexpectedEnd { at } => {
                write!(f, "payload ends inside an event (payload byte {at})")
            }
            DecodeError::BadTag { at, tag } => {
                write!(f, "invalid event tag 0x{tag:02x} at payload byte {at}")
            }
            DecodeError::RunWithoutHistory { at } => write!(
                f,
                "run of predicted events at payload byte {at} before its instruction was seen"
            ),
            DecodeError::CountMismatch { expected, found } => {
                write!(f, "header says {expected} events, payload holds {found}")
            }
        }
    }
}

/// Decodes block payloads. Keeps its predictor table between calls to avoid
/// reallocating it.
pub(crate) struct BlockDecoder {
    predictor: Predictor,
}

impl BlockDecoder {
    pub fn new() -> Self {
        BlockDecoder {
            predictor: Predictor::new(),
        }
    }

    /// Decodes `payload`, which must hold exactly `event_count` events, the
    /// first at time `first_time`, appending them to `out` (cleared first).
    pub fn decode(
        &mut self,
        payload: &[u8],
        first_time: u64,
        event_count: u32,
        out: &mut Vec<Event>,
    ) -> Result<(), DecodeError> {
        self.predictor.reset();
        out.clear();
        // The count comes from the file: reserve only what the payload can
        // hold (a run byte stands for at most MAX_RUN events), so a block
        // that claims 2^32 - 1 events costs no more than its payload.
        let holdable = (payload.len() as u64).saturating_mul(MAX_RUN as u64);
        out.reserve((event_count as u64).min(holdable) as usize);
        let mut time = first_time;
        let mut position = 0usize;
        let limit = first_time.saturating_add(event_count as u64);
        while position < payload.len() {
            let tag_at = position;
            let tag = payload[position];
            position += 1;
            if tag & RUN_FLAG != 0 {
                let run = (tag & !RUN_FLAG) as u64 + 1;
                if time.saturating_add(run) > limit {
                    return Err(DecodeError::CountMismatch {
                        expected: event_count,
                        found: time.saturating_add(run) - first_time,
                    });
                }
                for _ in 0..run {
                    let Some((pc, address, size, is_write)) = self.predictor.advance_predicted()
                    else {
                        return Err(DecodeError::RunWithoutHistory { at: tag_at });
                    };
                    out.push(make_event(time, pc, address, size, is_write));
                    time += 1;
                }
                continue;
            }
            if tag & RESERVED != 0 || (tag & SIZE_BYTE_FOLLOWS != 0 && tag & (3 << SIZE_SHIFT) != 0)
            {
                return Err(DecodeError::BadTag { at: tag_at, tag });
            }
            if time >= limit {
                return Err(DecodeError::CountMismatch {
                    expected: event_count,
                    found: time + 1 - first_time,
                });
            }
            let size = if tag & SIZE_BYTE_FOLLOWS != 0 {
                let size = *payload
                    .get(position)
                    .ok_or(DecodeError::UnexpectedEnd { at: position })?;
                position += 1;
                size
            } else {
                1u8 << ((tag >> SIZE_SHIFT) & 3)
            };
            let pc = if tag & PC_EXPLICIT != 0 {
                let delta = read_signed(payload, &mut position)?;
                self.predictor.previous_pc.wrapping_add(delta)
            } else {
                self.predictor.predict_pc().pc
            };
            let (predicted_address, _) = self.predictor.predict_access(pc);
            let address = if tag & ADDRESS_EXPLICIT != 0 {
                predicted_address.wrapping_add(read_signed(payload, &mut position)?)
            } else {
                predicted_address
            };
            let is_write = tag & WRITE_FLAG != 0;
            out.push(make_event(time, pc, address, size, is_write));
            self.predictor.update(pc, address, size, is_write);
            time += 1;
        }
        if time != limit {
            return Err(DecodeError::CountMismatch {
                expected: event_count,
                found: time - first_time,
            });
        }
        Ok(())
    }
}

#[inline(always)]
fn make_event(time: u64, pc: u32, address: u32, size: u8, is_write: bool) -> Event {
    Event {
        time: EventTime(time),
        pc: Address(pc),
        address: Address(address),
        size,
        kind: if is_write {
            AccessKind::Write
        } else {
            AccessKind::Read
        },
    }
}

/// Writes a wrapping 32-bit difference as a zigzag LEB128 varint.
#[inline]
fn write_signed(out: &mut Vec<u8>, difference: u32) {
    let signed = difference as i32;
    let mut value = ((signed << 1) ^ (signed >> 31)) as u32;
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

#[inline]
fn read_signed(payload: &[u8], position: &mut usize) -> Result<u32, DecodeError> {
    let mut value = 0u32;
    let mut shift = 0u32;
    loop {
        let byte = *payload
            .get(*position)
            .ok_or(DecodeError::UnexpectedEnd { at: *position })?;
        *position += 1;
        if shift == 28 && byte > 0x0f {
            return Err(DecodeError::BadTag {
                at: *position - 1,
                tag: byte,
            });
        }
        value |= ((byte & 0x7f) as u32) << shift;
        if byte & 0x80 == 0 {
            break;
        }
        shift += 7;
    }
    Ok((value >> 1) ^ (value & 1).wrapping_neg())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(time: u64, pc: u32, address: u32, size: u8, kind: AccessKind) -> Event {
        Event {
            time: EventTime(time),
            pc: Address(pc),
            address: Address(address),
            size,
            kind,
        }
    }

    fn round_trip(events: &[Event]) -> (Vec<u8>, Vec<Event>) {
        let mut encoder = BlockEncoder::new();
        let mut payload = Vec::new();
        for e in events {
            encoder.push(e, &mut payload);
        }
        encoder.finish_block(&mut payload);
        let mut decoded = Vec::new();
        let first = events.first().map_or(0, |e| e.time.0);
        BlockDecoder::new()
            .decode(&payload, first, events.len() as u32, &mut decoded)
            .unwrap();
        (payload, decoded)
    }

    #[test]
    fn a_block_claiming_four_billion_events_allocates_what_its_payload_holds() {
        // Issue 12 case 1: `out.reserve(event_count)` with a forged count of
        // 0xFFFFFFFF asked for 0xFFFFFFFF * 24 B = 103079215080 B and aborted
        // the process. One payload byte holds at most one run of MAX_RUN =
        // 128 events, so 128 events are the most worth reserving; decoding
        // then fails cleanly (a run before any history).
        let mut decoded = Vec::new();
        let error = BlockDecoder::new()
            .decode(&[0x80], 0, u32::MAX, &mut decoded)
            .unwrap_err();
        assert_eq!(error, DecodeError::RunWithoutHistory { at: 0 });
        assert!(decoded.capacity() <= 128, "{}", decoded.capacity());
        // A first time near u64::MAX does not overflow the limit either.
        let error = BlockDecoder::new()
            .decode(&[0x80], u64::MAX - 1, u32::MAX, &mut decoded)
            .unwrap_err();
        assert_eq!(error, DecodeError::RunWithoutHistory { at: 0 });
    }

    #[test]
    fn zigzag_varint_round_trips_extremes() {
        for value in [
            0u32,
            1,
            0xffff_ffff,
            0x7fff_ffff,
            0x8000_0000,
            63,
            64,
            0x1234_5678,
        ] {
            let mut bytes = Vec::new();
            write_signed(&mut bytes, value);
            let mut position = 0;
            assert_eq!(read_signed(&bytes, &mut position), Ok(value));
            assert_eq!(position, bytes.len());
        }
        // Small magnitudes in either direction take one byte.
        let mut bytes = Vec::new();
        write_signed(&mut bytes, (-5i32) as u32);
        assert_eq!(bytes, vec![9]);
    }

    #[test]
    fn strided_loop_costs_a_byte_per_run() {
        // One load instruction sweeping 1000 bytes, every event with the same
        // PC, so repeats 0..=63 each get a slot. Event 0: tag, PC delta 0x800
        // (zigzag 0x1000: 2 bytes), address delta 0x2000_0000 from 0 (zigzag
        // 0x4000_0000: 5 bytes) = 8 bytes. Events 1..=63 meet new slots: tag
        // + address delta 1 from the previous event = 2 bytes each, 126.
        // Event 64 is the second at repeat 63: its stride was 0, 2 bytes,
        // and the stride is now 1. The other 935 form runs of at most 128:
        // ceil(935/128) = 8 bytes.
        let events: Vec<Event> = (0..1000)
            .map(|i| event(i, 0x800, 0x2000_0000 + i as u32, 1, AccessKind::Read))
            .collect();
        let (payload, decoded) = round_trip(&events);
        assert_eq!(decoded, events);
        assert_eq!(payload.len(), 8 + 126 + 2 + 8);
    }

    #[test]
    fn odd_sizes_and_wrapping_addresses_survive() {
        let events = vec![
            event(5, 0xffff_fffe, 0xffff_ffff, 3, AccessKind::Write),
            event(6, 0, 0, 16, AccessKind::Read),
            event(7, 0x1001, 0x8000_0000, 8, AccessKind::Write),
            event(8, 0x1001, 0x8000_0008, 8, AccessKind::Write),
        ];
        let (_, decoded) = round_trip(&events);
        assert_eq!(decoded, events);
    }

    #[test]
    fn wrong_event_count_is_rejected() {
        let events: Vec<Event> = (0..10)
            .map(|i| event(i, 0x800, 4 * i as u32, 4, AccessKind::Write))
            .collect();
        let mut encoder = BlockEncoder::new();
        let mut payload = Vec::new();
        for e in &events {
            encoder.push(e, &mut payload);
        }
        encoder.finish_block(&mut payload);
        let mut out = Vec::new();
        let mut decoder = BlockDecoder::new();
        assert!(matches!(
            decoder.decode(&payload, 0, 9, &mut out),
            Err(DecodeError::CountMismatch { .. })
        ));
        assert!(matches!(
            decoder.decode(&payload, 0, 11, &mut out),
            Err(DecodeError::CountMismatch { .. })
        ));
        assert!(decoder
            .decode(&payload[..payload.len() - 1], 0, 10, &mut out)
            .is_err());
    }
}
