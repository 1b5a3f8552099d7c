//! The ELF loader: what `dmo trace` does with a firmware file. Parsing,
//! symbols and the vector table on every input; the memory layout and a
//! short emulation (2,000 instructions) for one input in 16, chosen by a hash
//! of its bytes, since unicorn's set-up costs about a millisecond and
//! parsing a few microseconds.
#![no_main]

use dmo_core::{Address, CountingSink};
use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let Ok(firmware) = dmo_emu::Firmware::parse(Path::new("fuzz.elf"), data) else {
        return;
    };
    let _ = firmware.symbols.describe(Address(0x2000_0000));
    let hash = data.iter().fold(0u32, |h, &b| h.wrapping_mul(31).wrapping_add(b as u32));
    if hash % 16 == 0 {
        let config = dmo_emu::RunConfig {
            max_instructions: 2_000,
            ..dmo_emu::RunConfig::default()
        };
        let _ = dmo_emu::run(&firmware, &config, &mut CountingSink::default());
    }
});
