//! Helpers shared by the end-to-end tests: run the built `dmo`, find the
//! fixtures and the shared models.
#![allow(dead_code)] // each test file uses a subset

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Runs the `dmo` binary under test.
pub fn dmo(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_dmo"))
        .args(args)
        .output()
        .expect("run dmo")
}

/// A Cortex-M4 fixture ELF built by `make -C fixtures`.
pub fn fixture(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/build/cortex-m4")
        .join(format!("{name}.elf"));
    assert!(
        path.exists(),
        "{} missing: run `make -C fixtures`",
        path.display()
    );
    path.to_string_lossy().into_owned()
}

/// A model from `../shared/models`, beside the repository.
pub fn model(name: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/models")
        .join(name)
        .display()
        .to_string()
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}
