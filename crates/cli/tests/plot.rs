//! End-to-end tests of `dmo plot` on a traced fixture: every figure kind in
//! both formats, image sizes, the overwrite rule and clear errors.

mod common;

use common::{dmo, fixture, model, text};
use std::path::Path;

/// Width and height from a PNG's IHDR chunk (bytes 16..24, big-endian).
fn png_size(path: &Path) -> (u32, u32) {
    let bytes = std::fs::read(path).unwrap();
    assert_eq!(
        &bytes[..8],
        b"\x89PNG\r\n\x1a\n",
        "{} is not a PNG",
        path.display()
    );
    let word = |at: usize| u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap());
    (word(16), word(20))
}

#[test]
fn every_kind_renders_for_tiny_cnn_in_png_and_svg() {
    let dir = tempfile::tempdir().unwrap();
    let trace = dir.path().join("tiny.dmotrace");
    let trace = trace.to_str().unwrap();
    let run = dmo(&["trace", &fixture("tiny_cnn"), "-o", trace]);
    assert!(run.status.success(), "{}", text(&run.stderr));
    for kind in ["access", "liveness", "overlap", "layout"] {
        let png = dir.path().join(format!("{kind}.png"));
        let run = dmo(&[
            "plot",
            trace,
            "--kind",
            kind,
            "-o",
            png.to_str().unwrap(),
            "--width",
            "800",
            "--height",
            "500",
        ]);
        assert!(run.status.success(), "{kind}: {}", text(&run.stderr));
        assert!(
            text(&run.stdout).starts_with("wrote "),
            "{}",
            text(&run.stdout)
        );
        assert_eq!(png_size(&png), (800, 500), "{kind}");
        let svg = dir.path().join(format!("{kind}.svg"));
        let run = dmo(&[
            "plot",
            trace,
            "--kind",
            kind,
            "--op",
            "conv1",
            "-o",
            svg.to_str().unwrap(),
        ]);
        assert!(run.status.success(), "{kind}: {}", text(&run.stderr));
        let svg_text = std::fs::read_to_string(&svg).unwrap();
        assert!(svg_text.starts_with("<svg"), "{kind}");
        assert!(svg_text.contains("width=\"1200\" height=\"750\""), "{kind}");
    }
    // The overlap figure of conv1 names it in its title.
    let svg = std::fs::read_to_string(dir.path().join("overlap.svg")).unwrap();
    assert!(svg.contains("op #0 conv1 (CONV_2D)"));

    // No overwrite without --force; the old file stays.
    let png = dir.path().join("access.png");
    let before = std::fs::read(&png).unwrap();
    let run = dmo(&[
        "plot",
        trace,
        "--kind",
        "liveness",
        "-o",
        png.to_str().unwrap(),
    ]);
    assert!(!run.status.success());
    assert!(text(&run.stderr).contains("already exists; pass --force to overwrite it"));
    assert_eq!(std::fs::read(&png).unwrap(), before);
    let run = dmo(&[
        "plot",
        trace,
        "--kind",
        "liveness",
        "-o",
        png.to_str().unwrap(),
        "--force",
    ]);
    assert!(run.status.success(), "{}", text(&run.stderr));
    assert_ne!(std::fs::read(&png).unwrap(), before);

    // Unknown op: one clear line naming the trace.
    let run = dmo(&[
        "plot",
        trace,
        "--kind",
        "overlap",
        "--op",
        "99",
        "-o",
        "never.png",
    ]);
    assert!(!run.status.success());
    let message = text(&run.stderr);
    assert!(
        message.contains("tiny.dmotrace: no op named or numbered \"99\" (the trace has 6 ops)"),
        "{message}"
    );
    assert!(!Path::new("never.png").exists());
}

#[test]
fn a_file_that_is_not_a_trace_is_refused_without_output() {
    let dir = tempfile::tempdir().unwrap();
    let bogus = dir.path().join("bogus.dmotrace");
    std::fs::write(&bogus, b"not a trace at all").unwrap();
    let out = dir.path().join("figure.png");
    let run = dmo(&[
        "plot",
        bogus.to_str().unwrap(),
        "--kind",
        "access",
        "-o",
        out.to_str().unwrap(),
    ]);
    assert_eq!(run.status.code(), Some(2));
    assert!(
        text(&run.stderr).contains("bogus.dmotrace"),
        "{}",
        text(&run.stderr)
    );
    assert!(!out.exists());
    assert!(!text(&run.stderr).contains("panicked"));
}

#[test]
fn a_model_alone_gets_the_layout_figure_with_tflms_heads_and_its_kernels() {
    let dir = tempfile::tempdir().unwrap();
    let person = model("person_detect.tflite");
    let svg = dir.path().join("layout.svg");
    let run = dmo(&[
        "plot",
        "--model",
        &person,
        "--kind",
        "layout",
        "--kernels",
        "reference",
        "-o",
        svg.to_str().unwrap(),
    ]);
    assert!(run.status.success(), "{}", text(&run.stderr));
    let figure = std::fs::read_to_string(&svg).unwrap();
    // shared/models/README.md: TFLM's own head for person_detect, and the
    // head of the DMO plan TFLM ran with the reference kernels.
    assert!(
        figure.contains("TFLM greedy 54.0 KB (55296 B)"),
        "TFLM head"
    );
    assert!(figure.contains("DMO plan 36.0 KB (36880 B)"), "DMO head");
    assert!(figure.contains("holds only for: reference kernels"));
    assert!(!figure.contains("(assumed)"));

    // Without --kernels the figure says the kernels are assumed.
    let assumed = dir.path().join("assumed.svg");
    let run = dmo(&[
        "plot",
        "--model",
        &person,
        "--kind",
        "layout",
        "-o",
        assumed.to_str().unwrap(),
    ]);
    assert!(run.status.success(), "{}", text(&run.stderr));
    let figure = std::fs::read_to_string(&assumed).unwrap();
    assert!(figure.contains("reference kernels"));
    assert!(figure.contains("(assumed)"));

    // The CMSIS-NN family: its 1x1 convolutions need s = output bytes - 2,
    // so its DMO head is TFLM's own 55296 B (the kernel-plans issue's
    // measurement), and the caption names the family.
    let cmsis = dir.path().join("cmsis.svg");
    let run = dmo(&[
        "plot",
        "--model",
        &person,
        "--kind",
        "layout",
        "--kernels",
        "cmsis-nn",
        "-o",
        cmsis.to_str().unwrap(),
    ]);
    assert!(run.status.success(), "{}", text(&run.stderr));
    let figure = std::fs::read_to_string(&cmsis).unwrap();
    assert!(
        figure.contains("cmsis-nn kernels"),
        "caption names the family"
    );
    assert!(
        !figure.contains("36880"),
        "the reference head must not appear"
    );

    // Control: an access figure needs a trace; nothing is left behind.
    let out = dir.path().join("access.png");
    let run = dmo(&[
        "plot",
        "--model",
        &person,
        "--kind",
        "access",
        "--kernels",
        "reference",
        "-o",
        out.to_str().unwrap(),
    ]);
    assert_eq!(run.status.code(), Some(2));
    assert!(
        text(&run.stderr).contains("needs a trace"),
        "{}",
        text(&run.stderr)
    );
    assert!(!out.exists());
}
