//! Figures of hand-made traces: numbers derived by hand in the comments,
//! pixel probes where the picture is known, golden SVGs for byte-exact
//! reproducibility (regenerate with `DMO_UPDATE_GOLDEN=1`), and the output
//! file rules.

mod support;

use dmo_plot::{layout_of_trace, render_to_file, FigureKind, FigureRequest, OpSelector, PlotError};
use dmo_trace::TraceReader;
use std::path::{Path, PathBuf};
use support::{write_conv_trace, write_halves_trace};

fn conv_trace(dir: &Path) -> TraceReader {
    let path = dir.join("conv.dmotrace");
    write_conv_trace(&path);
    TraceReader::open(&path).unwrap()
}

fn halves_trace(dir: &Path) -> TraceReader {
    let path = dir.join("halves.dmotrace");
    write_halves_trace(&path);
    TraceReader::open(&path).unwrap()
}

fn render_svg(reader: &TraceReader, request: &FigureRequest, dir: &Path) -> String {
    let path = dir.join(format!("{}.svg", request.kind.as_str()));
    render_to_file(reader, request, &path, true).unwrap();
    std::fs::read_to_string(path).unwrap()
}

#[test]
fn overlap_caption_carries_the_hand_derived_offset() {
    // 1x1 conv, P = 8 pixels, 8 -> 16 channels (DESIGN.md's worked example
    // in small): output byte 16p + 14 is written while input pixel p is
    // still needed for channel 15, so s = 8(P-1) + 15 = 71 is the smallest
    // safe offset. Footprint max(128, 71 + 64) = 135, saving 192 - 135 = 57
    // bytes = 29.7%.
    let dir = tempfile::tempdir().unwrap();
    let reader = conv_trace(dir.path());
    let mut request = FigureRequest::new(FigureKind::Overlap);
    request.op = Some(OpSelector::Name("conv".into()));
    let svg = render_svg(&reader, &request, dir.path());
    for expected in [
        "s_min = 71 B below the input",
        "footprint 135 B instead of 192 B",
        "saving 57 B (29.7%)",
        "s_mono = 71 B",
        "witness at s = 70",
    ] {
        assert!(svg.contains(expected), "missing {expected:?}");
    }
}

#[test]
fn layout_peaks_match_hand_plans() {
    // Buffers: conv.input 64 B (model input, ops 0..0), conv.output 128 B at
    // the base (ops 0..1), relu.output 128 B at base + 0x100 (op 1).
    // Firmware: relu.output ends at 0x100 + 128 = 384.
    // TFLM greedy (sizes 64/128/128): relu.output at 0, conv.output beside
    // it at 128 (both live at op 1), conv.input at 0 -> 256.
    // DMO: conv.output 80 (= ceil16(71)) below conv.input -> 144; relu.output
    // may take conv.output's place exactly (elementwise, s = 0) -> 144.
    let dir = tempfile::tempdir().unwrap();
    let layout = layout_of_trace(&conv_trace(dir.path())).unwrap();
    let names: Vec<&str> = layout.buffers.iter().map(|b| b.name.as_str()).collect();
    assert_eq!(names, ["conv.input", "conv.output", "relu.output"]);
    assert_eq!(layout.buffers[1].last_op, 1);
    assert_eq!(layout.firmware_peak.0, 384);
    assert_eq!(layout.plan.baseline.head.0, 256);
    assert_eq!(layout.plan.dmo.head.0, 144);
}

/// RGB of pixel `(x, y)`.
fn pixel(image: &image::RgbImage, x: i32, y: i32) -> [u8; 3] {
    image.get_pixel(x as u32, y as u32).0
}

#[test]
fn access_png_has_its_size_and_colours_where_the_accesses_are() {
    let dir = tempfile::tempdir().unwrap();
    let reader = halves_trace(dir.path());
    let mut request = FigureRequest::new(FigureKind::Access);
    request.width = 900;
    request.height = 640;
    let path = dir.path().join("access.png");
    let summary = render_to_file(&reader, &request, &path, false).unwrap();
    let image = image::open(&path).unwrap().to_rgb8();
    assert_eq!(image.dimensions(), (900, 640));
    let (left, top, width, height) = summary.plot_area.unwrap();
    let (w, h) = (width as i32, height as i32);
    // Lower half written (dark purple), upper half only read (light orange).
    assert_eq!(pixel(&image, left + w / 2, top + 3 * h / 4), [94, 60, 153]);
    assert_eq!(pixel(&image, left + w / 4, top + h / 4), [253, 184, 99]);
    assert_eq!(pixel(&image, 2, 2), [255, 255, 255]);
    assert_eq!(summary.events_binned, 32768);
}

#[test]
fn liveness_png_shows_dead_stores_light_and_initial_data_dark() {
    // Lower half: writes never read (dead stores): share 0, the lightest
    // class. Upper half: initial data read until the end: live from t = 0,
    // share 1, the darkest class.
    let dir = tempfile::tempdir().unwrap();
    let reader = halves_trace(dir.path());
    let path = dir.path().join("liveness.png");
    let summary = render_to_file(
        &reader,
        &FigureRequest::new(FigureKind::Liveness),
        &path,
        false,
    )
    .unwrap();
    let image = image::open(&path).unwrap().to_rgb8();
    assert_eq!(image.dimensions(), (1200, 750));
    let (left, top, width, height) = summary.plot_area.unwrap();
    let (w, h) = (width as i32, height as i32);
    assert_eq!(
        pixel(&image, left + w / 2, top + 3 * h / 4),
        [255, 255, 217]
    );
    assert_eq!(pixel(&image, left + w / 2, top + h / 4), [8, 29, 88]);
}

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/golden/plot")
}

#[test]
fn svg_figures_match_their_golden_files() {
    let dir = tempfile::tempdir().unwrap();
    let reader = conv_trace(dir.path());
    let update = std::env::var_os("DMO_UPDATE_GOLDEN").is_some();
    for kind in [
        FigureKind::Access,
        FigureKind::Liveness,
        FigureKind::Overlap,
        FigureKind::Layout,
    ] {
        let mut request = FigureRequest::new(kind);
        request.width = 960;
        request.height = 600;
        let svg = render_svg(&reader, &request, dir.path());
        // Same input, same bytes out: a second render is identical.
        assert_eq!(svg, render_svg(&reader, &request, dir.path()));
        let golden = golden_dir().join(format!("conv_{}.svg", kind.as_str()));
        if update {
            std::fs::create_dir_all(golden_dir()).unwrap();
            std::fs::write(&golden, &svg).unwrap();
            continue;
        }
        let expected = std::fs::read_to_string(&golden).unwrap_or_else(|_| {
            panic!("{} missing: run with DMO_UPDATE_GOLDEN=1", golden.display())
        });
        assert!(
            svg == expected,
            "{} differs from the render; if the change is intended, rerun with DMO_UPDATE_GOLDEN=1 and review the figure",
            golden.display()
        );
    }
}

#[test]
fn existing_files_are_kept_and_failures_leave_nothing_behind() {
    let dir = tempfile::tempdir().unwrap();
    let reader = conv_trace(dir.path());
    let out = dir.path().join("figures");
    std::fs::create_dir(&out).unwrap();
    let path = out.join("access.png");
    std::fs::write(&path, b"keep me").unwrap();
    let request = FigureRequest::new(FigureKind::Access);
    let error = render_to_file(&reader, &request, &path, false).unwrap_err();
    assert!(
        matches!(error, PlotError::File(dmo_fsio::FsioError::Exists { .. })),
        "{error}"
    );
    assert_eq!(std::fs::read(&path).unwrap(), b"keep me");

    let mut missing_op = FigureRequest::new(FigureKind::Overlap);
    missing_op.op = Some(OpSelector::Name("nope".into()));
    let error = render_to_file(&reader, &missing_op, &out.join("x.svg"), false).unwrap_err();
    assert!(
        error
            .to_string()
            .contains("no op named or numbered \"nope\""),
        "{error}"
    );
    assert!(error.to_string().contains("conv.dmotrace"), "{error}");
    let error = render_to_file(&reader, &request, &out.join("x.jpg"), false).unwrap_err();
    assert!(
        matches!(error, PlotError::UnsupportedFormat { .. }),
        "{error}"
    );
    let entries: Vec<_> = std::fs::read_dir(&out).unwrap().collect();
    assert_eq!(entries.len(), 1, "only the kept file remains");

    render_to_file(&reader, &request, &path, true).unwrap();
    assert_eq!(&std::fs::read(&path).unwrap()[1..4], b"PNG");
}
