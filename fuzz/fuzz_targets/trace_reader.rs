//! The trace reader and what `report`, `dump` and `info` do with a trace.
//! On every input: open (header, trailer, footer, block index, size
//! checks), decode every block. Replaying, mining and rendering the report
//! (four more passes) for one input in 8, chosen by a hash of its bytes, so
//! that 10^6 inputs fit in a campaign of minutes; the mutation test
//! (crates/cli/tests/mutation.rs) reports on every mutant. Built by cargo-fuzz with
//! `--cfg fuzzing`, under which the reader ignores CRC mismatches so that
//! mutations reach the decoders (the mutation test recomputes them instead).
#![no_main]

use dmo_core::CountingSink;
use libfuzzer_sys::fuzz_target;
use std::path::PathBuf;
use std::sync::OnceLock;

/// One file per process, on tmpfs when there is one: the reader takes a path.
fn scratch() -> &'static PathBuf {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        let directory = if std::path::Path::new("/dev/shm").is_dir() {
            PathBuf::from("/dev/shm")
        } else {
            std::env::temp_dir()
        };
        directory.join(format!("dmo-fuzz-{}.dmotrace", std::process::id()))
    })
}

fuzz_target!(|data: &[u8]| {
    let path = scratch();
    std::fs::write(path, data).unwrap();
    let Ok(reader) = dmo_trace::TraceReader::open(path) else {
        return;
    };
    if let Ok(events) = reader.events() {
        for event in events {
            if event.is_err() {
                break;
            }
        }
    }
    let hash = data
        .iter()
        .fold(0u32, |h, &b| h.wrapping_mul(31).wrapping_add(b as u32));
    if hash % 8 != 0 {
        return;
    }
    let _ = reader.replay(&mut CountingSink::default());
    if let Ok(report) = dmo_report::report_of_trace(&reader, None) {
        let _ = dmo_report::render(&report, dmo_report::Format::Table);
        let _ = dmo_report::render(&report, dmo_report::Format::Json);
    }
});
