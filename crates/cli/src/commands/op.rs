//! `dmo op`: the safe overlap and footprint of one operator, described on the
//! command line (no model, no firmware), for kernel authors.

use anyhow::{bail, Context};
use clap::{Args as ClapArgs, ValueEnum};
use dmo_ops::{
    ActivationInputs, ElementType, InputOverlap, Method, OpDescription, OpKind, OpParams,
    OperatorSpec, OverlapModel, Padding, TensorShape, Window,
};
use dmo_overlap::{footprint, Direction, PairOverlap, Placement, SafeOffset, Witness};
use dmo_plan::align_up;
use std::process::ExitCode;

/// Which method(s) to run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum MethodChoice {
    Analytic,
    Simulate,
    Both,
}

#[derive(ClapArgs, Debug)]
#[command(
    about = "Safe input/output overlap of one operator from TFLM's reference loop order",
    after_help = "Examples:\n  dmo op conv2d --input 1x48x48x8 --output 1x48x48x16 --filter 1x1 --stride 1 --padding same\n  \
                  dmo op depthwise_conv_2d --input 1x48x48x8 --output 1x48x48x8 --filter 3x3 --padding same\n  \
                  dmo op add --input 1x8x8x16 --input 1x1x1x16 --output 1x8x8x16\n  \
                  dmo op dequantize --input 1x10 --output 1x10 --input-type int8 --output-type float32"
)]
pub struct Args {
    /// Operator kind: conv2d, depthwise_conv2d, fully_connected, average_pool2d, max_pool2d, add,
    /// mul, softmax, reshape, pad, concatenation, mean, quantize, dequantize, logistic, tanh,
    /// relu, relu6 (TFLite names like CONV_2D work too).
    #[arg(value_parser = parse_kind)]
    pub kind: OpKind,
    /// Activation input shape, e.g. 1x48x48x8 (repeat for ADD, MUL, CONCATENATION).
    #[arg(long = "input", required = true)]
    pub inputs: Vec<String>,
    /// Output shape, e.g. 1x48x48x16.
    #[arg(long)]
    pub output: String,
    /// Element type of inputs and output.
    #[arg(long = "type", default_value = "int8")]
    pub element: ElementType,
    /// Element type of the inputs (default: --type).
    #[arg(long)]
    pub input_type: Option<ElementType>,
    /// Element type of the output (default: --type).
    #[arg(long)]
    pub output_type: Option<ElementType>,
    /// Filter size HxW (or one number for a square filter).
    #[arg(long, default_value = "1x1")]
    pub filter: String,
    /// Stride HxW (or one number).
    #[arg(long, default_value = "1")]
    pub stride: String,
    /// Dilation HxW (or one number).
    #[arg(long, default_value = "1")]
    pub dilation: String,
    /// TFLite padding: same or valid.
    #[arg(long, default_value = "same")]
    pub padding: Padding,
    /// DEPTHWISE_CONV_2D depth multiplier.
    #[arg(long, default_value_t = 1)]
    pub depth_multiplier: usize,
    /// CONV_2D input channels per filter (grouped convolution); default: all.
    #[arg(long)]
    pub filter_input_channels: Option<usize>,
    /// FULLY_CONNECTED accumulation depth (the weights' last dimension);
    /// default: the input's last dimension.
    #[arg(long)]
    pub accumulation_depth: Option<usize>,
    /// SVDF: number of filters (the feature weights' first dimension).
    #[arg(long)]
    pub filters: Option<usize>,
    /// SVDF rank (filters per output unit); default 1.
    #[arg(long)]
    pub rank: Option<usize>,
    /// Axis of SOFTMAX (default last) or CONCATENATION (default last);
    /// negative counts from the end.
    #[arg(long, allow_negative_numbers = true)]
    pub axis: Option<i64>,
    /// MEAN axes, comma separated (default 1,2).
    #[arg(long, default_value = "1,2", allow_hyphen_values = true)]
    pub axes: String,
    /// MEAN keeps reduced dimensions.
    #[arg(long)]
    pub keep_dims: bool,
    /// PAD paddings, before:after per dimension, comma separated, e.g. 0:0,1:1,1:1,0:0.
    #[arg(long)]
    pub paddings: Option<String>,
    /// Which method to run.
    #[arg(long, value_enum, default_value = "simulate")]
    pub method: MethodChoice,
    /// Print the description and results as JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

fn parse_kind(text: &str) -> Result<OpKind, String> {
    let normalise = |name: &str| name.to_ascii_lowercase().replace(['_', '-'], "");
    let wanted = normalise(text);
    OpKind::ALL
        .into_iter()
        .find(|kind| normalise(kind.as_tflite_name()) == wanted)
        .ok_or_else(|| {
            let names: Vec<String> = OpKind::ALL
                .iter()
                .map(|kind| kind.as_tflite_name().to_ascii_lowercase())
                .collect();
            format!(
                "unknown operator `{text}` (expected one of {})",
                names.join(", ")
            )
        })
}

/// `HxW` or a single number for both.
fn parse_pair(text: &str, what: &str) -> anyhow::Result<(usize, usize)> {
    let parts: Vec<&str> = text.split(['x', 'X']).collect();
    let number = |part: &str| {
        part.trim()
            .parse::<usize>()
            .with_context(|| format!("--{what} `{text}`: `{part}` is not a number"))
    };
    match parts.as_slice() {
        [both] => {
            let value = number(both)?;
            Ok((value, value))
        }
        [height, width] => Ok((number(height)?, number(width)?)),
        _ => bail!("--{what} `{text}` must be N or HxW"),
    }
}

fn shape(text: &str, element: ElementType) -> anyhow::Result<TensorShape> {
    TensorShape::parse_dims(text, element).map_err(anyhow::Error::msg)
}

fn describe(args: &Args) -> anyhow::Result<OpDescription> {
    let input_type = args.input_type.unwrap_or(args.element);
    let output_type = args.output_type.unwrap_or(args.element);
    let inputs = args
        .inputs
        .iter()
        .map(|text| shape(text, input_type))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let output = shape(&args.output, output_type)?;
    let (filter_height, filter_width) = parse_pair(&args.filter, "filter")?;
    let (stride_height, stride_width) = parse_pair(&args.stride, "stride")?;
    let (dilation_height, dilation_width) = parse_pair(&args.dilation, "dilation")?;
    let window = Window {
        filter_height,
        filter_width,
        stride_height,
        stride_width,
        dilation_height,
        dilation_width,
        padding: args.padding,
    };
    let kind = args.kind;
    // The registry owns the rule; this only phrases it in terms of flags.
    match kind.activation_inputs() {
        ActivationInputs::Exactly(expected) if inputs.len() != expected => {
            bail!("{kind} takes {expected} --input, got {}", inputs.len())
        }
        _ => {}
    }
    let paddings = match (kind, args.paddings.as_deref()) {
        (OpKind::Pad, None) => bail!("PAD needs --paddings before:after,..."),
        (OpKind::Pad, Some(text)) => Some(parse_paddings(text)?),
        _ => None,
    };
    let axes = match kind {
        OpKind::Mean => Some(
            args.axes
                .split(',')
                .map(|axis| {
                    axis.trim()
                        .parse::<i64>()
                        .with_context(|| format!("--axes `{}`", args.axes))
                })
                .collect::<anyhow::Result<Vec<_>>>()?,
        ),
        _ => None,
    };
    let spec = OperatorSpec {
        window: Some(window),
        depth_multiplier: Some(args.depth_multiplier),
        filter_input_channels: args.filter_input_channels,
        accumulation_depth: args.accumulation_depth,
        filters: args.filters,
        rank: args.rank,
        axis: args.axis,
        axes,
        keep_dims: args.keep_dims,
        paddings,
        ..OperatorSpec::new(kind, inputs, output)
    };
    Ok(spec.describe()?)
}

/// `before:after,...`, one pair per dimension.
fn parse_paddings(text: &str) -> anyhow::Result<Vec<(usize, usize)>> {
    text.split(',')
        .map(|pair| {
            let (before, after) = pair
                .split_once(':')
                .with_context(|| format!("--paddings `{pair}` is not before:after"))?;
            let number = |part: &str| {
                part.trim()
                    .parse::<usize>()
                    .with_context(|| format!("--paddings `{pair}`"))
            };
            Ok((number(before)?, number(after)?))
        })
        .collect()
}

fn direction_word(placement: &Placement) -> String {
    match placement.direction {
        Direction::Down => format!("output {} below input", placement.offset.0),
        Direction::Up => format!("output {} above input", placement.offset.0),
    }
}

fn witness_line(label: &str, witness: &Option<Witness>) {
    if let Some(witness) = witness {
        println!(
            "    {label}: output byte {} first accessed at {} <= last read {} of input byte {}",
            witness.output_byte,
            witness.output_first_access,
            witness.input_last_read,
            witness.input_byte
        );
    }
}

fn print_pair(pair: &PairOverlap) {
    let naive = pair.naive().0;
    println!(
        "    s_min {}  s_mono {}  u_min {}  u_mono {}",
        pair.s_min.0, pair.s_mono.0, pair.u_min.0, pair.u_mono.0
    );
    println!(
        "    best (exact offset): {}, footprint {} B of {naive} B, saves {} B ({:.1}%)",
        direction_word(&pair.best),
        pair.best.footprint.0,
        pair.saving().0,
        pair.saving_percent()
    );
    let monotone = pair.best_monotone();
    println!(
        "    best (at or beyond the offset): {}, footprint {} B, saves {} B",
        direction_word(&monotone),
        monotone.footprint.0,
        naive - monotone.footprint.0
    );
    // What a 16-byte aligned planner (TFLM's) gets from s_mono / u_mono.
    let (down, up) = (align_up(pair.s_mono.0), align_up(pair.u_mono.0));
    let aligned = |direction, offset| {
        footprint(
            pair.input_len,
            pair.output_len,
            direction,
            SafeOffset(offset),
        )
        .0
    };
    println!(
        "    16-byte aligned: down {down} -> footprint {} B, up {up} -> footprint {} B",
        aligned(Direction::Down, down),
        aligned(Direction::Up, up)
    );
    witness_line("why not s_mono - 1", &pair.witness_down_mono);
    if pair.s_min != pair.s_mono {
        witness_line("why not s_min - 1", &pair.witness_down);
    }
    witness_line("why not u_mono - 1", &pair.witness_up_mono);
}

fn print_results(method: Method, op: &OpDescription, results: &[InputOverlap]) {
    for result in results {
        println!(
            "{method}, input {} ({}):",
            result.input_index,
            op.inputs()[result.input_index]
        );
        match &result.result {
            OverlapModel::Modelled(pair) => print_pair(pair),
            OverlapModel::Analytic(analytic) => {
                println!(
                    "    s_mono {}  u_mono {}",
                    analytic.s_mono.0, analytic.u_mono.0
                );
                if let Some(placement) = result.result.best_monotone() {
                    let naive = analytic.input_len.0 + analytic.output_len.0;
                    println!(
                        "    best (at or beyond the offset): {}, footprint {} B of {naive} B, saves {} B",
                        direction_word(&placement),
                        placement.footprint.0,
                        naive - placement.footprint.0
                    );
                }
            }
            OverlapModel::NotModelled { reason } => {
                println!("    not modelled: no overlap claimed ({reason})")
            }
        }
    }
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let op = describe(&args)?;
    // Bounded cost: an op too large to model is bad input, not a long run.
    if let Err(dmo_ops::NotModelled { reason }) = dmo_ops::check_cost(&op) {
        anyhow::bail!("{}: too large to model: {reason}", op.kind());
    }
    let methods: &[Method] = match args.method {
        MethodChoice::Analytic => &[Method::Analytic],
        MethodChoice::Simulate => &[Method::Simulate],
        MethodChoice::Both => &[Method::Analytic, Method::Simulate],
    };
    if args.json {
        let results: Vec<serde_json::Value> = methods
            .iter()
            .map(|&method| {
                serde_json::json!({ "method": method, "inputs": dmo_ops::evaluate(&op, method) })
            })
            .collect();
        let document = serde_json::json!({ "op": op, "results": results });
        println!("{}", serde_json::to_string_pretty(&document)?);
        return Ok(ExitCode::SUCCESS);
    }
    let inputs: Vec<String> = op
        .inputs()
        .iter()
        .map(|input| format!("{input} ({} B)", input.bytes()))
        .collect();
    println!(
        "{}: input {} -> output {} ({} B)",
        op.kind(),
        inputs.join(", "),
        op.output(),
        op.output().bytes()
    );
    match op.params() {
        OpParams::Conv2d { window, .. }
        | OpParams::DepthwiseConv2d { window, .. }
        | OpParams::Pool2d { window } => println!(
            "  padding {}: pad_top {}, pad_left {}",
            window.window.padding, window.pad_top, window.pad_left
        ),
        _ => {}
    }
    for &method in methods {
        print_results(method, &op, &dmo_ops::evaluate(&op, method));
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Wrapper {
        #[command(flatten)]
        args: Args,
    }

    fn parse(line: &str) -> Args {
        Wrapper::try_parse_from(std::iter::once("op").chain(line.split_whitespace()))
            .expect("arguments parse")
            .args
    }

    #[test]
    fn kind_names_are_forgiving() {
        for name in ["conv2d", "CONV_2D", "conv-2d"] {
            assert_eq!(parse_kind(name), Ok(OpKind::Conv2d));
        }
        assert_eq!(parse_kind("depthwise_conv2d"), Ok(OpKind::DepthwiseConv2d));
        assert!(parse_kind("lstm")
            .unwrap_err()
            .contains("unknown operator `lstm`"));
    }

    #[test]
    fn builds_keyword_scrambleds_svdf() {
        let op = describe(&parse("svdf --input 1x96 --output 1x64 --filters 64")).unwrap();
        assert_eq!(
            op.params(),
            &dmo_ops::OpParams::Svdf {
                filters: 64,
                rank: 1
            }
        );
        // Without --filters the registry says what is missing.
        let error = describe(&parse("svdf --input 1x96 --output 1x64")).unwrap_err();
        assert!(
            error.to_string().contains("needs the number of filters"),
            "{error}"
        );
    }

    #[test]
    fn builds_the_design_md_conv() {
        let args = parse(
            "conv2d --input 1x48x48x8 --output 1x48x48x16 --filter 1x1 --stride 1 --padding same",
        );
        let op = describe(&args).unwrap();
        assert_eq!(op.kind(), OpKind::Conv2d);
        assert_eq!(op.output().bytes(), 36864);
    }

    #[test]
    fn bad_input_gives_one_clear_error() {
        let error = describe(&parse("add --input 1x4 --output 1x4")).unwrap_err();
        assert_eq!(error.to_string(), "ADD takes 2 --input, got 1");
        let error = describe(&parse(
            "conv2d --input 1x4x4x2 --output 1x4x4x2 --stride 2x",
        ))
        .unwrap_err();
        assert!(error.to_string().contains("--stride `2x`"), "{error}");
        let error = describe(&parse("pad --input 4 --output 6 --paddings 1-1")).unwrap_err();
        assert!(
            error.to_string().contains("`1-1` is not before:after"),
            "{error}"
        );
        let error = describe(&parse("reshape --input 1x4 --output 1x5")).unwrap_err();
        assert!(
            error.to_string().starts_with("RESHAPE: input 1x4 int8"),
            "{error}"
        );
    }
}
