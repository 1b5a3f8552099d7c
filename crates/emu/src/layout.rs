//! The emulated memory map: what is mapped where, with which bytes, before
//! the first instruction runs. Pure computation, so it can be tested without
//! unicorn.

use crate::config::RunConfig;
use crate::error::EmuError;
use crate::firmware::Firmware;
use dmo_core::{Address, MemoryRegion, RegionKind, SymbolKind};
use std::collections::BTreeMap;

const PAGE: u64 = 0x1000;
/// Where RAM starts on every Cortex-M (the SRAM region of the ARMv7-M map).
pub const DEFAULT_RAM_START: u32 = 0x2000_0000;
/// End of the ARMv7-M Code region, where flash lives.
const CODE_REGION_END: u64 = 0x2000_0000;
/// RAM size when the vector table does not tell.
pub const DEFAULT_RAM_SIZE: u32 = 1 << 20;

/// One `mem_map` call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mapping {
    pub start: u32,
    pub len: u32,
    pub writable: bool,
}

/// Everything needed to set up the address space.
#[derive(Clone, Debug)]
pub struct MemoryLayout {
    pub mappings: Vec<Mapping>,
    /// Bytes to write after mapping, in order (later writes win).
    pub initial_bytes: Vec<(Address, Vec<u8>)>,
    pub regions: Vec<MemoryRegion>,
    pub initial_stack_pointer: Address,
    /// Reset handler, or the ELF entry when there is no vector table.
    pub start: Address,
    /// `SYS_HEAPINFO`: heap base, heap limit, stack base, stack limit.
    pub heap_info: [u32; 4],
}

/// The ranges answered by stubs instead of memory, as (name, start, length):
/// reads return 0, writes are dropped, and accesses are counted, not traced.
/// The only place these ranges are written down.
const STUBS: [(&str, u32, u32); 2] = [
    ("peripherals", 0x4000_0000, 0x2000_0000),
    ("system", 0xe000_0000, 0x2000_0000),
];

/// The stub range that `[start, end)` overlaps, if any.
fn in_stub(start: u64, end: u64) -> Option<&'static str> {
    STUBS
        .iter()
        .find(|(_, stub_start, len)| {
            start < *stub_start as u64 + *len as u64 && end > *stub_start as u64
        })
        .map(|(name, _, _)| *name)
}

/// Whether an access at `address` goes to a stub: the memory hook's test,
/// on every access, so two subtractions and two comparisons.
#[inline]
pub(crate) fn is_stub(address: u32) -> bool {
    STUBS
        .iter()
        .any(|&(_, start, len)| address.wrapping_sub(start) < len)
}

/// Plans the address space for `firmware` under `config`.
pub fn plan_layout(firmware: &Firmware, config: &RunConfig) -> Result<MemoryLayout, EmuError> {
    // Page index -> writable.
    let mut pages: BTreeMap<u64, bool> = BTreeMap::new();
    let mut add_range = |start: u64, end: u64, writable: bool| {
        let mut page = start / PAGE;
        while page * PAGE < end {
            let entry = pages.entry(page).or_insert(false);
            *entry |= writable;
            page += 1;
        }
    };
    let mut initial_bytes = Vec::new();
    let mut regions = Vec::new();

    for segment in &firmware.segments {
        let start = segment.virtual_address.0 as u64;
        let end = segment.virtual_end();
        // Executable segments in the Code region (below 0x2000_0000) are
        // flash, even where the linker marked them writable (it does when
        // `.init_array` shares their segment).
        let writable = segment.writable && !(segment.executable && end <= CODE_REGION_END);
        if let Some(stub) = in_stub(start, end) {
            return Err(EmuError::SegmentInStub {
                firmware: firmware.path.clone(),
                segment: segment.virtual_address,
                stub,
            });
        }
        add_range(start, end, writable);
        initial_bytes.push((segment.virtual_address, segment.data.clone()));
        regions.push(MemoryRegion {
            name: if writable { "data" } else { "flash" }.into(),
            start: segment.virtual_address,
            len: segment.memory_size,
            kind: if writable {
                RegionKind::Ram
            } else {
                RegionKind::Flash
            },
        });
        // Initialised data also lives at its load address in flash, where
        // startup code copies it from.
        if segment.load_address != segment.virtual_address && !segment.data.is_empty() {
            let load_start = segment.load_address.0 as u64;
            let load_end = load_start + segment.data.len() as u64;
            if in_stub(load_start, load_end).is_none() {
                add_range(load_start, load_end, false);
                initial_bytes.push((segment.load_address, segment.data.clone()));
                regions.push(MemoryRegion {
                    name: "flash (data image)".into(),
                    start: segment.load_address,
                    len: segment.data.len() as u32,
                    kind: RegionKind::Flash,
                });
            }
        }
    }

    let vector_stack = firmware
        .vector_table
        .map(|table| table.initial_stack_pointer)
        .filter(|sp| sp.0 != 0);
    let (ram_start, ram_len) = match config.ram {
        Some((start, len)) => (start, len),
        None => match vector_stack {
            Some(sp) if sp.0 > DEFAULT_RAM_START && sp.0 <= 0x4000_0000 => {
                let len = (sp.0 - DEFAULT_RAM_START) as u64;
                (
                    Address(DEFAULT_RAM_START),
                    len.div_ceil(PAGE) as u32 * PAGE as u32,
                )
            }
            _ => (Address(DEFAULT_RAM_START), DEFAULT_RAM_SIZE),
        },
    };
    let ram_end = ram_start.0 as u64 + ram_len as u64;
    if ram_len == 0 || ram_end > 1 << 32 {
        return Err(EmuError::RamOutOfRange {
            start: ram_start,
            len: ram_len,
        });
    }
    if let Some(stub) = in_stub(ram_start.0 as u64, ram_end) {
        return Err(EmuError::RamOverlapsStub {
            start: ram_start,
            len: ram_len,
            stub,
        });
    }
    add_range(ram_start.0 as u64, ram_end, true);
    regions.push(MemoryRegion {
        name: "ram".into(),
        start: ram_start,
        len: ram_len,
        kind: RegionKind::Ram,
    });
    for (name, start, len) in STUBS {
        regions.push(MemoryRegion {
            name: name.into(),
            start: Address(start),
            len,
            kind: RegionKind::MmioStub,
        });
    }

    let initial_stack_pointer = match vector_stack {
        Some(sp)
            if config.ram.is_none()
                || (sp.0 as u64 > ram_start.0 as u64 && sp.0 as u64 <= ram_end) =>
        {
            sp
        }
        _ => Address((ram_end & !7) as u32),
    };

    for poke in &config.pokes {
        let symbol =
            firmware
                .symbols
                .by_name(&poke.symbol)
                .ok_or_else(|| EmuError::PokeUnknownSymbol {
                    symbol: poke.symbol.clone(),
                    file: poke.source.clone(),
                    firmware: firmware.path.clone(),
                })?;
        if symbol.kind != SymbolKind::Object {
            return Err(EmuError::PokeNotAnObject {
                symbol: poke.symbol.clone(),
                file: poke.source.clone(),
            });
        }
        if poke.bytes.len() as u64 > symbol.size as u64 {
            return Err(EmuError::PokeTooLong {
                symbol: poke.symbol.clone(),
                file: poke.source.clone(),
                bytes: poke.bytes.len(),
                capacity: symbol.size,
            });
        }
        initial_bytes.push((symbol.address, poke.bytes.clone()));
        // Startup code copies `.data` from flash: poke the flash copy too.
        if let Some(segment) = firmware.segment_containing(symbol.address) {
            if segment.load_address != segment.virtual_address {
                let offset = symbol.address.0 - segment.virtual_address.0;
                if (offset as usize) < segment.data.len() {
                    initial_bytes.push((segment.load_address.offset(offset), poke.bytes.clone()));
                }
            }
        }
    }

    // Coalesce pages into mappings.
    let mut mappings: Vec<Mapping> = Vec::new();
    for (&page, &writable) in &pages {
        let start = page * PAGE;
        match mappings.last_mut() {
            Some(last)
                if last.start as u64 + last.len as u64 == start && last.writable == writable =>
            {
                last.len += PAGE as u32;
            }
            _ => mappings.push(Mapping {
                start: start as u32,
                len: PAGE as u32,
                writable,
            }),
        }
    }

    let heap_base = firmware
        .segments
        .iter()
        .filter(|s| {
            s.writable
                && s.virtual_address.0 as u64 >= ram_start.0 as u64
                && s.virtual_end() <= ram_end
        })
        .map(|s| s.virtual_end())
        .max()
        .unwrap_or(ram_start.0 as u64);
    let heap_base = (heap_base + 7) & !7;
    let stack_reserve =
        ((initial_stack_pointer.0 as u64).saturating_sub(heap_base) / 4).min(64 * 1024);
    let stack_limit = initial_stack_pointer.0 as u64 - stack_reserve;
    let start = firmware
        .vector_table
        .map(|table| table.reset_handler)
        .filter(|reset| reset.0 != 0)
        .unwrap_or(firmware.entry);
    Ok(MemoryLayout {
        mappings,
        initial_bytes,
        regions,
        initial_stack_pointer,
        start,
        heap_info: [
            heap_base as u32,
            stack_limit as u32,
            initial_stack_pointer.0,
            stack_limit as u32,
        ],
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Poke;
    use crate::firmware::{Segment, SymbolTable, VectorTable};
    use dmo_core::Symbol;
    use std::path::PathBuf;

    fn firmware() -> Firmware {
        Firmware {
            path: PathBuf::from("test.elf"),
            sha256: [0; 32],
            entry: Address(0x100),
            segments: vec![
                Segment {
                    virtual_address: Address(0),
                    load_address: Address(0),
                    data: vec![1; 0x1800],
                    memory_size: 0x1800,
                    writable: false,
                    executable: true,
                },
                Segment {
                    virtual_address: Address(0x2000_0000),
                    load_address: Address(0x1800),
                    data: vec![2; 0x10],
                    memory_size: 0x40,
                    writable: true,
                    executable: false,
                },
            ],
            vector_table: Some(VectorTable {
                initial_stack_pointer: Address(0x2000_8000),
                reset_handler: Address(0x100),
            }),
            symbols: SymbolTable::new(vec![Symbol {
                name: "params".into(),
                address: Address(0x2000_0004),
                size: 8,
                kind: SymbolKind::Object,
            }]),
        }
    }

    #[test]
    fn ram_ends_at_the_vector_table_stack() {
        let layout = plan_layout(&firmware(), &RunConfig::default()).unwrap();
        assert_eq!(layout.initial_stack_pointer, Address(0x2000_8000));
        assert_eq!(layout.start, Address(0x100));
        // Flash: 0x0000-0x2000 (two pages: the code and the data image);
        // RAM: 0x20000000-0x20008000.
        assert_eq!(
            layout.mappings,
            vec![
                Mapping {
                    start: 0,
                    len: 0x2000,
                    writable: false
                },
                Mapping {
                    start: 0x2000_0000,
                    len: 0x8000,
                    writable: true
                },
            ]
        );
        assert_eq!(layout.heap_info[0], 0x2000_0040);
        assert_eq!(layout.heap_info[2], 0x2000_8000);
    }

    #[test]
    fn pokes_land_in_ram_and_in_the_flash_image() {
        let config = RunConfig {
            pokes: vec![Poke {
                symbol: "params".into(),
                bytes: vec![9; 8],
                source: PathBuf::from("p.bin"),
            }],
            ..RunConfig::default()
        };
        let layout = plan_layout(&firmware(), &config).unwrap();
        let pokes: Vec<_> = layout
            .initial_bytes
            .iter()
            .filter(|(_, b)| b == &vec![9; 8])
            .collect();
        assert_eq!(pokes.len(), 2);
        assert_eq!(pokes[0].0, Address(0x2000_0004));
        assert_eq!(pokes[1].0, Address(0x1804));
    }

    #[test]
    fn oversized_or_unknown_pokes_are_refused() {
        let poke = |symbol: &str, len| RunConfig {
            pokes: vec![Poke {
                symbol: symbol.into(),
                bytes: vec![0; len],
                source: PathBuf::from("p.bin"),
            }],
            ..RunConfig::default()
        };
        let error = plan_layout(&firmware(), &poke("params", 9))
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("9 bytes do not fit") && error.contains("holds 8"),
            "{error}"
        );
        let error = plan_layout(&firmware(), &poke("nope", 1))
            .unwrap_err()
            .to_string();
        assert!(error.contains("no symbol `nope`"), "{error}");
    }

    #[test]
    fn ram_in_the_peripheral_range_is_refused() {
        let config = RunConfig {
            ram: Some((Address(0x4000_0000), 0x1000)),
            ..RunConfig::default()
        };
        let error = plan_layout(&firmware(), &config).unwrap_err().to_string();
        assert!(error.contains("peripherals"), "{error}");
    }

    #[test]
    fn stub_ranges() {
        assert!(is_stub(0x4000_0000));
        assert!(is_stub(0x5fff_ffff));
        assert!(!is_stub(0x6000_0000));
        assert!(is_stub(0xe000_ed88));
        assert!(is_stub(0xffff_ffff));
        assert!(!is_stub(0x2000_0000));
        assert!(!is_stub(0x3fff_ffff));
    }
}
