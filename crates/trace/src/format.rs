//! The byte layout of a trace file.
//!
//! ```text
//! header   16 B   "DMOTRACE", format version u32 LE, flags u32 (0)
//! block*          "DMOB", payload length u32, event count u32, CRC32 u32,
//!                 first event time u64, payload (see `codec`)
//! footer          bincode 2 (serde, standard config) of `Footer`, then of
//!                 `FooterExtension` (absent in traces from before it)
//! trailer  32 B   footer offset u64, footer length u64, footer CRC32 u32,
//!                 format version u32, "DMOTEND!"
//! ```
//! The version is up front so a wrong version is reported before anything
//! else is read; the footer comes last so the metadata can be written when the
//! run has ended while the events stream out during it. A block's CRC covers
//! its event count, first time and payload.

pub(crate) const FILE_MAGIC: [u8; 8] = *b"DMOTRACE";
pub(crate) const TRAILER_MAGIC: [u8; 8] = *b"DMOTEND!";
pub(crate) const BLOCK_MAGIC: [u8; 4] = *b"DMOB";

/// Bumped whenever the layout or the event encoding changes. 3 added each
/// op's instruction count to the footer's segments.
pub const FORMAT_VERSION: u32 = 3;

/// Older versions the reader still opens (their events are encoded as
/// today's; only the footer differs).
pub const READABLE_VERSIONS: [u32; 2] = [2, FORMAT_VERSION];

pub(crate) const HEADER_LEN: u64 = 16;
pub(crate) const BLOCK_HEADER_LEN: usize = 24;
pub(crate) const TRAILER_LEN: u64 = 32;

pub(crate) fn header_bytes() -> [u8; HEADER_LEN as usize] {
    let mut bytes = [0u8; HEADER_LEN as usize];
    bytes[..8].copy_from_slice(&FILE_MAGIC);
    bytes[8..12].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
    bytes
}

/// The fixed fields in front of a block's payload.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct BlockHeader {
    pub payload_len: u32,
    pub event_count: u32,
    pub crc: u32,
    pub first_time: u64,
}

impl BlockHeader {
    pub fn for_payload(payload: &[u8], event_count: u32, first_time: u64) -> BlockHeader {
        BlockHeader {
            payload_len: payload.len() as u32,
            event_count,
            crc: block_crc(payload, event_count, first_time),
            first_time,
        }
    }

    pub fn to_bytes(self) -> [u8; BLOCK_HEADER_LEN] {
        let mut bytes = [0u8; BLOCK_HEADER_LEN];
        bytes[..4].copy_from_slice(&BLOCK_MAGIC);
        bytes[4..8].copy_from_slice(&self.payload_len.to_le_bytes());
        bytes[8..12].copy_from_slice(&self.event_count.to_le_bytes());
        bytes[12..16].copy_from_slice(&self.crc.to_le_bytes());
        bytes[16..24].copy_from_slice(&self.first_time.to_le_bytes());
        bytes
    }

    /// Parses a block header, or says why it is not one.
    pub fn parse(bytes: &[u8; BLOCK_HEADER_LEN]) -> Result<BlockHeader, String> {
        if bytes[..4] != BLOCK_MAGIC {
            return Err(format!(
                "no block header (found bytes {:02x?} instead of the block magic)",
                &bytes[..4]
            ));
        }
        Ok(BlockHeader {
            payload_len: u32_at(bytes, 4),
            event_count: u32_at(bytes, 8),
            crc: u32_at(bytes, 12),
            first_time: u64_at(bytes, 16),
        })
    }
}

pub(crate) fn block_crc(payload: &[u8], event_count: u32, first_time: u64) -> u32 {
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(&event_count.to_le_bytes());
    hasher.update(&first_time.to_le_bytes());
    hasher.update(payload);
    hasher.finalize()
}

/// Where the footer is; the last bytes of the file.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct Trailer {
    pub footer_offset: u64,
    pub footer_len: u64,
    pub footer_crc: u32,
    pub version: u32,
}

impl Trailer {
    pub fn to_bytes(self) -> [u8; TRAILER_LEN as usize] {
        let mut bytes = [0u8; TRAILER_LEN as usize];
        bytes[..8].copy_from_slice(&self.footer_offset.to_le_bytes());
        bytes[8..16].copy_from_slice(&self.footer_len.to_le_bytes());
        bytes[16..20].copy_from_slice(&self.footer_crc.to_le_bytes());
        bytes[20..24].copy_from_slice(&self.version.to_le_bytes());
        bytes[24..32].copy_from_slice(&TRAILER_MAGIC);
        bytes
    }

    /// The trailer in `bytes`, or `None` if they do not end with the trailer
    /// magic (the file was cut short).
    pub fn parse(bytes: &[u8; TRAILER_LEN as usize]) -> Option<Trailer> {
        if bytes[24..32] != TRAILER_MAGIC {
            return None;
        }
        Some(Trailer {
            footer_offset: u64_at(bytes, 0),
            footer_len: u64_at(bytes, 8),
            footer_crc: u32_at(bytes, 16),
            version: u32_at(bytes, 20),
        })
    }
}

pub(crate) fn bincode_config() -> impl bincode::config::Config {
    // The footer is CRC-checked before decoding; the limit still keeps a
    // forged length from allocating without bound.
    bincode::config::standard().with_limit::<{ 1 << 30 }>()
}

pub(crate) fn u32_at(bytes: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(bytes[at..at + 4].try_into().expect("4 bytes"))
}

pub(crate) fn u64_at(bytes: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(bytes[at..at + 8].try_into().expect("8 bytes"))
}
