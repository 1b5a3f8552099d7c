//! Reading a firmware ELF: loadable segments, the vector table and symbols.

use crate::error::ElfError;
use dmo_core::{describe_address, Address, Symbol, SymbolKind};
use goblin::elf::{header, program_header, section_header, sym, Elf};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Whether `symbol` holds `address`; a zero-sized symbol (a label) holds
/// only its own address.
fn holds(symbol: &Symbol, address: Address) -> bool {
    if symbol.size == 0 {
        address == symbol.address
    } else {
        symbol.contains(address)
    }
}

/// One `PT_LOAD` segment. `virtual_address` is where the program runs it,
/// `load_address` where a flash programmer would put it (they differ for
/// `.data`, which startup code copies from flash to RAM).
#[derive(Clone, Debug)]
pub struct Segment {
    pub virtual_address: Address,
    pub load_address: Address,
    /// Initialised bytes; the rest up to `memory_size` is zero (`.bss`).
    pub data: Vec<u8>,
    pub memory_size: u32,
    pub writable: bool,
    pub executable: bool,
}

impl Segment {
    pub fn virtual_end(&self) -> u64 {
        self.virtual_address.0 as u64 + self.memory_size as u64
    }
}

/// The first two words of a Cortex-M vector table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VectorTable {
    pub initial_stack_pointer: Address,
    /// Reset handler, with the Thumb bit cleared.
    pub reset_handler: Address,
}

/// Symbols sorted by address, for turning addresses into `symbol+offset`.
#[derive(Clone, Debug, Default)]
pub struct SymbolTable {
    by_address: Vec<Symbol>,
    by_name: HashMap<String, usize>,
}

impl SymbolTable {
    pub fn new(mut symbols: Vec<Symbol>) -> SymbolTable {
        // Sized symbols first among equals so lookups prefer them.
        symbols.sort_by(|a, b| {
            (a.address, a.size == 0, &a.name).cmp(&(b.address, b.size == 0, &b.name))
        });
        symbols.dedup_by(|a, b| a.address == b.address && a.name == b.name);
        let by_name = symbols
            .iter()
            .enumerate()
            .map(|(index, symbol)| (symbol.name.clone(), index))
            .collect();
        SymbolTable {
            by_address: symbols,
            by_name,
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = &Symbol> {
        self.by_address.iter()
    }

    pub fn by_name(&self, name: &str) -> Option<&Symbol> {
        self.by_name.get(name).map(|&index| &self.by_address[index])
    }

    /// The symbol whose range holds `address`, if any.
    pub fn containing(&self, address: Address) -> Option<&Symbol> {
        let end = self.by_address.partition_point(|s| s.address <= address);
        // Look back a few entries: nested or zero-sized symbols may sit
        // between. A sized symbol that holds the address beats a zero-sized
        // label at it.
        let candidates = || self.by_address[..end].iter().rev().take(16);
        candidates()
            .find(|s| s.size > 0 && holds(s, address))
            .or_else(|| candidates().find(|s| holds(s, address)))
    }

    /// `symbol+0xoffset` for an address, or the bare address.
    pub fn describe(&self, address: Address) -> String {
        describe_address(self.containing(address), address)
    }
}

/// A parsed 32-bit little-endian ARM ELF.
#[derive(Clone, Debug)]
pub struct Firmware {
    pub path: PathBuf,
    pub sha256: [u8; 32],
    /// `e_entry` with the Thumb bit cleared.
    pub entry: Address,
    pub segments: Vec<Segment>,
    pub vector_table: Option<VectorTable>,
    pub symbols: SymbolTable,
}

/// Section names and symbols under which toolchains put the vector table.
const VECTOR_TABLE_SECTIONS: &[&str] =
    &[".isr_vector", ".vectors", ".vector_table", ".isr_vectors"];
const VECTOR_TABLE_SYMBOLS: &[&str] =
    &["__isr_vector", "g_pfnVectors", "__Vectors", "vector_table"];

impl Firmware {
    /// Reads and checks an ELF file: a regular file (a FIFO or device is
    /// refused before it is opened), read up to `dmo_fsio::MAX_INPUT_BYTES`.
    pub fn load(path: &Path) -> Result<Firmware, ElfError> {
        let bytes = dmo_fsio::read_input(path, dmo_fsio::MAX_INPUT_BYTES)?;
        Firmware::parse(path, &bytes)
    }

    /// Parses ELF bytes; `path` is only used in messages.
    pub fn parse(path: &Path, bytes: &[u8]) -> Result<Firmware, ElfError> {
        let path_buf = path.to_owned();
        if bytes.len() < 4 || &bytes[..4] != b"\x7fELF" {
            return Err(ElfError::NotElf {
                path: path_buf,
                what: describe_non_elf(bytes),
            });
        }
        if bytes.len() < 20 {
            return Err(ElfError::TooShort {
                path: path_buf,
                len: bytes.len(),
            });
        }
        // Check class, byte order and machine from the raw header so the
        // message can say what the file is even where goblin would fail.
        let is_64 = bytes[4] == 2;
        let big_endian = bytes[5] == 2;
        let machine = if big_endian {
            u16::from_be_bytes([bytes[18], bytes[19]])
        } else {
            u16::from_le_bytes([bytes[18], bytes[19]])
        };
        if is_64 || big_endian || machine != header::EM_ARM {
            return Err(ElfError::WrongKind {
                path: path_buf,
                is_64_bit: is_64,
                big_endian,
                machine,
            });
        }
        let elf = Elf::parse(bytes).map_err(|source| ElfError::Unparsable {
            path: path_buf.clone(),
            source,
        })?;

        let mut segments = Vec::new();
        for (index, program_header) in elf
            .program_headers
            .iter()
            .enumerate()
            .filter(|(_, ph)| ph.p_type == program_header::PT_LOAD && ph.p_memsz > 0)
        {
            if program_header.p_filesz > program_header.p_memsz {
                // Unicorn would fail later with "WRITE_UNMAPPED", naming
                // neither the file nor the segment.
                return Err(ElfError::FileSizeOverMemorySize {
                    path: path_buf,
                    index,
                    virtual_address: program_header.p_vaddr,
                    file_size: program_header.p_filesz,
                    memory_size: program_header.p_memsz,
                });
            }
            let start = program_header.p_offset as usize;
            let end = start.checked_add(program_header.p_filesz as usize);
            let data = end.and_then(|end| bytes.get(start..end)).ok_or_else(|| {
                ElfError::SegmentPastFileEnd {
                    path: path_buf.clone(),
                    virtual_address: program_header.p_vaddr,
                    file_size: program_header.p_filesz,
                    file_offset: program_header.p_offset,
                    file_len: bytes.len(),
                }
            })?;
            if program_header.p_vaddr + program_header.p_memsz > 1 << 32 {
                return Err(ElfError::SegmentPast4GiB {
                    path: path_buf,
                    virtual_address: program_header.p_vaddr,
                    memory_size: program_header.p_memsz,
                });
            }
            segments.push(Segment {
                virtual_address: Address(program_header.p_vaddr as u32),
                load_address: Address(program_header.p_paddr as u32),
                data: data.to_vec(),
                memory_size: program_header.p_memsz as u32,
                writable: program_header.p_flags & program_header::PF_W != 0,
                executable: program_header.p_flags & program_header::PF_X != 0,
            });
        }
        if segments.is_empty() {
            return Err(ElfError::NoLoadableSegments { path: path_buf });
        }

        let mut symbols = Vec::new();
        for symbol in elf.syms.iter() {
            let kind = match symbol.st_type() {
                sym::STT_FUNC => SymbolKind::Function,
                sym::STT_OBJECT => SymbolKind::Object,
                _ => continue,
            };
            let Some(name) = elf.strtab.get_at(symbol.st_name) else {
                continue;
            };
            if name.is_empty() || symbol.st_shndx == section_header::SHN_UNDEF as usize {
                continue;
            }
            let mut address = symbol.st_value as u32;
            if kind == SymbolKind::Function {
                address &= !1;
            }
            symbols.push(Symbol {
                name: name.to_owned(),
                address: Address(address),
                size: symbol.st_size as u32,
                kind,
            });
        }
        let symbols = SymbolTable::new(symbols);

        let mut firmware = Firmware {
            path: path_buf,
            sha256: Sha256::digest(bytes).into(),
            entry: Address(elf.entry as u32 & !1),
            segments,
            vector_table: None,
            symbols,
        };
        let vector_address = elf
            .section_headers
            .iter()
            .find(|section| {
                elf.shdr_strtab
                    .get_at(section.sh_name)
                    .is_some_and(|name| VECTOR_TABLE_SECTIONS.contains(&name))
            })
            .map(|section| Address(section.sh_addr as u32))
            .or_else(|| {
                VECTOR_TABLE_SYMBOLS
                    .iter()
                    .find_map(|name| firmware.symbols.by_name(name).map(|s| s.address))
            });
        if let Some(address) = vector_address {
            let sp = firmware.read_initial_word(address);
            let reset = firmware.read_initial_word(address.offset(4));
            if let (Some(sp), Some(reset)) = (sp, reset) {
                firmware.vector_table = Some(VectorTable {
                    initial_stack_pointer: Address(sp),
                    reset_handler: Address(reset & !1),
                });
            }
        }
        Ok(firmware)
    }

    /// Hex SHA-256 of the file.
    pub fn sha256_hex(&self) -> String {
        self.sha256.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// A little-endian word of initialised data at a run-time address.
    pub fn read_initial_word(&self, address: Address) -> Option<u32> {
        let bytes = self.read_initial_bytes(address, 4)?;
        Some(u32::from_le_bytes(bytes.try_into().ok()?))
    }

    /// Initialised bytes at a run-time (virtual) address, if a segment holds them.
    pub fn read_initial_bytes(&self, address: Address, len: u32) -> Option<&[u8]> {
        self.segments.iter().find_map(|segment| {
            let offset = address.bytes_above(segment.virtual_address)? as usize;
            segment.data.get(offset..offset.checked_add(len as usize)?)
        })
    }

    /// The segment whose run-time range holds `address`.
    pub fn segment_containing(&self, address: Address) -> Option<&Segment> {
        self.segments.iter().find(|segment| {
            address
                .bytes_above(segment.virtual_address)
                .is_some_and(|offset| offset < segment.memory_size)
        })
    }
}

fn describe_non_elf(bytes: &[u8]) -> String {
    if bytes.is_empty() {
        return "the file is empty".into();
    }
    let head = &bytes[..bytes.len().min(8)];
    let kind = if head.starts_with(b"DMOTRACE") || head.starts_with(b"DMOT") {
        "it looks like a dmo trace, not firmware"
    } else if head.starts_with(b"MZ") {
        "it looks like a Windows executable"
    } else if bytes.len() >= 8 && &bytes[4..8] == b"TFL3" {
        "it looks like a .tflite model; `dmo firmware` turns models into firmware"
    } else if head.starts_with(b":") {
        "it looks like an Intel HEX file; dmo needs the ELF the linker wrote"
    } else if head.iter().all(|b| b.is_ascii()) {
        "it looks like text"
    } else {
        "unknown binary format (a raw .bin image has no symbols; give dmo the .elf)"
    };
    let hex: Vec<String> = head.iter().map(|b| format!("{b:02x}")).collect();
    format!("starts with {}: {kind}", hex.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn symbol(name: &str, address: u32, size: u32) -> Symbol {
        Symbol {
            name: name.into(),
            address: Address(address),
            size,
            kind: SymbolKind::Object,
        }
    }

    #[test]
    fn describe_uses_the_enclosing_symbol() {
        let table = SymbolTable::new(vec![
            symbol("arena", 0x2000_0000, 0x100),
            symbol("marker", 0x2000_0010, 0),
            symbol("after", 0x2000_0200, 4),
        ]);
        assert_eq!(table.describe(Address(0x2000_0000)), "arena");
        assert_eq!(table.describe(Address(0x2000_0020)), "arena+0x20");
        assert_eq!(table.describe(Address(0x2000_0010)), "arena+0x10");
        assert_eq!(table.describe(Address(0x2000_0100)), "0x20000100");
        assert_eq!(table.describe(Address(0x2000_0203)), "after+0x3");
        assert_eq!(table.by_name("after").unwrap().size, 4);
    }

    #[test]
    fn non_elf_inputs_say_what_they_are() {
        let path = Path::new("x.bin");
        let error = Firmware::parse(path, b"").unwrap_err().to_string();
        assert!(
            error.contains("x.bin") && error.contains("empty"),
            "{error}"
        );
        let error = Firmware::parse(path, b"hello world\n")
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("not an ELF") && error.contains("text"),
            "{error}"
        );
        let mut tflite = vec![0x18, 0, 0, 0];
        tflite.extend_from_slice(b"TFL3");
        let error = Firmware::parse(path, &tflite).unwrap_err().to_string();
        assert!(error.contains(".tflite"), "{error}");
    }

    #[test]
    fn wrong_architecture_is_named() {
        // A minimal x86-64 ELF header: class 2, little endian, machine 62.
        let mut header = vec![0u8; 64];
        header[..4].copy_from_slice(b"\x7fELF");
        header[4] = 2;
        header[5] = 1;
        header[18] = 62;
        let error = Firmware::parse(Path::new("host.elf"), &header)
            .unwrap_err()
            .to_string();
        assert!(error.contains("64-bit little-endian ELF for"), "{error}");
        assert!(error.contains("X86_64") || error.contains("x86"), "{error}");
        assert!(error.contains("host.elf"), "{error}");
    }

    #[test]
    fn truncated_header_is_malformed() {
        let error = Firmware::parse(Path::new("t.elf"), b"\x7fELF\x01\x01\x01")
            .unwrap_err()
            .to_string();
        assert!(error.contains("shorter than an ELF header"), "{error}");
    }
}
