//! Nothing the user had is overwritten unless they ask (--force): checked
//! for every command that writes a file other than through -o of a report.

mod common;

use common::{dmo, model, text};

#[test]
fn plan_and_firmware_keep_existing_files() {
    let dir = tempfile::tempdir().unwrap();
    let existing = dir.path().join("mine.tflite");
    std::fs::write(&existing, b"the user's file").unwrap();
    let hello = model("hello_world_int8.tflite");

    let run = dmo(&[
        "plan",
        &hello,
        "--kernels",
        "reference",
        "--emit-tflite",
        existing.to_str().unwrap(),
    ]);
    assert_eq!(run.status.code(), Some(2));
    assert!(
        text(&run.stderr).contains("--force"),
        "{}",
        text(&run.stderr)
    );
    assert_eq!(std::fs::read(&existing).unwrap(), b"the user's file");

    let run = dmo(&[
        "plan",
        &hello,
        "--kernels",
        "reference",
        "--emit-tflite",
        existing.to_str().unwrap(),
        "--force",
    ]);
    assert!(run.status.success(), "{}", text(&run.stderr));
    assert_eq!(&std::fs::read(&existing).unwrap()[4..8], b"TFL3");

    let elf = dir.path().join("mine.elf");
    std::fs::write(&elf, b"the user's firmware").unwrap();
    let run = dmo(&["firmware", &hello, "-o", elf.to_str().unwrap()]);
    assert_eq!(run.status.code(), Some(2));
    assert!(
        text(&run.stderr).contains("--force"),
        "{}",
        text(&run.stderr)
    );
    assert_eq!(std::fs::read(&elf).unwrap(), b"the user's firmware");
    assert!(!dir.path().join("mine.src").exists());
}
