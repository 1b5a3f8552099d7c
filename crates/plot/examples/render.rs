//! Renders one figure: `cargo run -p dmo-plot --example render TRACE KIND [OP] OUT`.
use dmo_plot::{render_to_file, FigureKind, FigureRequest, OpSelector};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let kind = match args[2].as_str() {
        "access" => FigureKind::Access,
        "liveness" => FigureKind::Liveness,
        "overlap" => FigureKind::Overlap,
        _ => FigureKind::Layout,
    };
    let mut request = FigureRequest::new(kind);
    if args.len() > 4 {
        request.op = Some(OpSelector::parse(&args[3]));
    }
    let reader = dmo_trace::TraceReader::open(&args[1])?;
    let start = std::time::Instant::now();
    let summary = render_to_file(&reader, &request, args.last().unwrap().as_ref(), true)?;
    println!("{summary:?} in {:?}", start.elapsed());
    Ok(())
}
