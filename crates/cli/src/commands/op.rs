//! `dmo op`: the safe overlap and footprint of one operator, described on the
//! command line (no model, no firmware), for kernel authors.

use anyhow::{bail, Context};
use clap::{Args as ClapArgs, ValueEnum};
use dmo_ops::{
    ActivationInputs, ElementType, InputOverlap, Method, OpDescription, OpKind, OperatorSpec,
    Padding, SliceSpec, TensorShape, Window,
};
use dmo_report::render_op;
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
    about = "Safe input/output overlap of one operator from a kernel family's loop order (default: TFLM's reference kernels)",
    after_help = "Examples:\n  dmo op conv2d --input 1x48x48x8 --output 1x48x48x16 --filter 1x1 --stride 1 --padding same\n  \
                  dmo op depthwise_conv_2d --input 1x48x48x8 --output 1x48x48x8 --filter 3x3 --padding same\n  \
                  dmo op add --input 1x8x8x16 --input 1x1x1x16 --output 1x8x8x16\n  \
                  dmo op dequantize --input 1x10 --output 1x10 --input-type int8 --output-type float32\n  \
                  dmo op transpose --input 1x4x5x3 --output 1x3x4x5 --perm 0,3,1,2\n  \
                  dmo op strided_slice --input 3x4x6 --output 3x3x3 --begin 0,1,0 --end 0,4,0 --strides -1,1,2 --begin-mask 5 --end-mask 5"
)]
pub struct Args {
    /// Operator kind: conv2d, depthwise_conv2d, fully_connected, average_pool2d, max_pool2d, add,
    /// mul, softmax, reshape, pad, concatenation, mean, quantize, dequantize, logistic, tanh,
    /// relu, relu6, svdf, unidirectional_sequence_lstm, transpose, strided_slice (TFLite names
    /// like CONV_2D work too).
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
    /// TRANSPOSE: the input dimension of each output dimension, e.g. 0,3,1,2.
    #[arg(long)]
    pub perm: Option<String>,
    /// STRIDED_SLICE begin per input dimension, comma separated (negative counts from the end).
    #[arg(long, allow_hyphen_values = true)]
    pub begin: Option<String>,
    /// STRIDED_SLICE end per input dimension, comma separated.
    #[arg(long, allow_hyphen_values = true)]
    pub end: Option<String>,
    /// STRIDED_SLICE stride per input dimension, comma separated (non-zero, may be negative).
    #[arg(long, allow_hyphen_values = true)]
    pub strides: Option<String>,
    /// STRIDED_SLICE begin mask (bit d: dimension d starts at its first index, its last for a
    /// negative stride).
    #[arg(long, default_value_t = 0)]
    pub begin_mask: u32,
    /// STRIDED_SLICE end mask (bit d: dimension d runs to its end).
    #[arg(long, default_value_t = 0)]
    pub end_mask: u32,
    /// STRIDED_SLICE shrink-axis mask (bit d: take begin[d] only and drop the dimension).
    #[arg(long, default_value_t = 0)]
    pub shrink_axis_mask: u32,
    /// Which method to run.
    #[arg(long, value_enum, default_value = "simulate")]
    pub method: MethodChoice,
    /// Print the description and results as JSON instead of text.
    #[arg(long)]
    pub json: bool,
    /// Whose loop orders: a kernel family of data/kernel_families.toml (reference,
    /// cmsis-nn). The offsets hold for that family's kernels only.
    #[arg(long, default_value = "reference", value_name = "NAME")]
    pub kernels: String,
}

fn parse_kind(text: &str) -> Result<OpKind, String> {
    OpKind::from_loose_name(text).ok_or_else(|| {
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
    Ok(TensorShape::parse_dims(text, element)?)
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
    let perm = match (kind, args.perm.as_deref()) {
        (OpKind::Transpose, None) => bail!("TRANSPOSE needs --perm, e.g. --perm 0,3,1,2"),
        (_, Some(text)) => Some(
            integers(text, "perm")?
                .into_iter()
                .map(|axis| usize::try_from(axis).context("--perm: axes are not negative"))
                .collect::<anyhow::Result<Vec<_>>>()?,
        ),
        (_, None) => None,
    };
    let slice = match (kind, &args.begin, &args.end, &args.strides) {
        (OpKind::StridedSlice, Some(begin), Some(end), Some(strides)) => Some(SliceSpec {
            begin: integers(begin, "begin")?,
            end: integers(end, "end")?,
            strides: integers(strides, "strides")?,
            begin_mask: args.begin_mask,
            end_mask: args.end_mask,
            shrink_axis_mask: args.shrink_axis_mask,
        }),
        (OpKind::StridedSlice, ..) => {
            bail!("STRIDED_SLICE needs --begin, --end and --strides, one value per input dimension")
        }
        _ => None,
    };
    let spec = OperatorSpec {
        perm,
        slice,
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

/// `a,b,...` as integers (`--perm`, `--begin`, ...).
fn integers(text: &str, what: &str) -> anyhow::Result<Vec<i64>> {
    text.split(',')
        .map(|value| {
            value
                .trim()
                .parse::<i64>()
                .with_context(|| format!("--{what} `{text}`: `{value}` is not an integer"))
        })
        .collect()
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

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let kernels = dmo_ops::kernel_family(&args.kernels)?;
    let orders = kernels.modelled_loop_orders()?;
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
    let results: Vec<(Method, Vec<InputOverlap>)> = methods
        .iter()
        .map(|&method| (method, dmo_ops::evaluate_for(&op, method, orders)))
        .collect();
    if args.json {
        let results: Vec<serde_json::Value> = results
            .iter()
            .map(|(method, inputs)| serde_json::json!({ "method": method, "inputs": inputs }))
            .collect();
        let document = serde_json::json!({ "op": op, "kernels": kernels.name, "results": results });
        println!("{}", serde_json::to_string_pretty(&document)?);
        return Ok(ExitCode::SUCCESS);
    }
    print!("{}", render_op(&op, kernels, &results));
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
    fn builds_transpose_and_strided_slice_from_flags() {
        let op = describe(&parse(
            "transpose --input 1x4x5x3 --output 1x3x4x5 --perm 0,3,1,2",
        ))
        .unwrap();
        assert_eq!(
            op.params(),
            &dmo_ops::OpParams::Transpose {
                perm: vec![0, 3, 1, 2]
            }
        );
        // The fixture's slice x[::-1, 1:4, ::2] of a 3x4x6 tensor: 3x3x3, rows from 2 down.
        let op = describe(&parse(
            "strided_slice --input 3x4x6 --output 3x3x3 --begin 0,1,0 --end 0,4,0 \
             --strides -1,1,2 --begin-mask 5 --end-mask 5",
        ))
        .unwrap();
        let dmo_ops::OpParams::StridedSlice { axes } = op.params() else {
            panic!("{op:?}");
        };
        assert_eq!((axes[0].start, axes[0].stride, axes[0].count), (2, -1, 3));
        // Missing flags and a wrong output are one clear error each.
        let error = describe(&parse("transpose --input 2x3 --output 3x2")).unwrap_err();
        assert!(error.to_string().contains("needs --perm"), "{error}");
        let error = describe(&parse("strided_slice --input 4 --output 2 --begin 0")).unwrap_err();
        assert!(
            error
                .to_string()
                .contains("needs --begin, --end and --strides"),
            "{error}"
        );
        let error = describe(&parse(
            "strided_slice --input 4 --output 3 --begin 1 --end 4 --strides 2",
        ))
        .unwrap_err();
        assert!(
            error
                .to_string()
                .contains("computes from input 4 int8: [2]"),
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
