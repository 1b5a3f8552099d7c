//! Runs the C fixture kernels (`fixtures/`, built by `make -C fixtures`)
//! under dmo-emu with their parameters poked to match an `OpDescription`,
//! and mines the trace. Shared by the tests and the benchmark.

#![allow(dead_code)]

use dmo_emu::{run, Firmware, Poke, RunConfig};
use dmo_ops::{OpDescription, OpParams};
use dmo_overlap::PairOverlap;
use dmo_trace::PairMiner;
use std::path::PathBuf;

pub fn fixture_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/build/cortex-m4")
        .join(format!("{name}.elf"))
}

pub fn load_fixture(name: &str) -> Firmware {
    let path = fixture_path(name);
    Firmware::load(&path).unwrap_or_else(|error| {
        panic!(
            "{}: {error} (build the fixtures first: make -C fixtures)",
            path.display()
        )
    })
}

/// The mined pairs of the firmware's one op, in input order.
pub fn traced_pairs(firmware: &Firmware, pokes: Vec<Poke>) -> Vec<PairOverlap> {
    let mut miner = PairMiner::new();
    let config = RunConfig {
        pokes,
        ..RunConfig::default()
    };
    let outcome = run(firmware, &config, &mut miner).expect("emulation runs");
    assert!(
        outcome.status.is_complete(),
        "{}: {:?}",
        firmware.path.display(),
        outcome.status
    );
    let results = miner.finish();
    assert!(
        !results.is_empty(),
        "{}: no op segments",
        firmware.path.display()
    );
    assert!(
        results.iter().all(|result| result.segment_index == 0),
        "{}: one op expected",
        firmware.path.display()
    );
    results.into_iter().map(|result| result.overlap).collect()
}

fn poke(fields: &[u32]) -> Poke {
    let bytes = fields
        .iter()
        .flat_map(|value| value.to_le_bytes())
        .collect();
    Poke {
        symbol: "dmo_params".into(),
        bytes,
        source: "dmo-ops test".into(),
    }
}

/// `dmo_params` of the pool fixtures (layout: fixtures/programs/pool_int8.c:
/// fill_seed, input_start, output_start, then dmo_pool_params) for an int8
/// NHWC input with a square window and the padding TFLite gives.
pub fn pool_poke(op: &OpDescription) -> Poke {
    let dims = op.inputs()[0].dims();
    let output = op.output().dims();
    let OpParams::Pool2d { window } = op.params() else {
        panic!("not a pool: {op:?}");
    };
    let fields = [
        1,                          // fill_seed
        op.output().bytes() as u32, // input_start
        0,                          // output_start
        dims[0] as u32,
        dims[1] as u32,
        dims[2] as u32,
        dims[3] as u32,
        output[1] as u32,
        output[2] as u32,
        window.window.filter_height as u32,
        window.window.filter_width as u32,
        window.window.stride_height as u32,
        window.window.stride_width as u32,
        window.pad_top as u32,
        window.pad_left as u32,
        (-128i32) as u32, // activation_min
        127,              // activation_max
    ];
    poke(&fields)
}

/// `dmo_params` of the conv_int8 / depthwise_int8 fixtures (layout:
/// fixtures/programs/conv_int8.c: fill_seed, input_start, output_start,
/// has_bias, dmo_conv_geometry, input_offset, output_offset, activation
/// min/max) with the output at 0 and the input right after it.
pub fn conv_poke(op: &OpDescription) -> Poke {
    let input = op.inputs()[0].dims();
    let output = op.output().dims();
    let window = match op.params() {
        OpParams::Conv2d { window, .. } | OpParams::DepthwiseConv2d { window, .. } => window,
        other => panic!("not a convolution: {other:?}"),
    };
    let geometry = window.window;
    let fields = [
        1,                          // fill_seed
        op.output().bytes() as u32, // input_start
        0,                          // output_start
        1,                          // has_bias
        input[0] as u32,
        input[1] as u32,
        input[2] as u32,
        input[3] as u32,
        output[1] as u32,
        output[2] as u32,
        output[3] as u32,
        geometry.filter_height as u32,
        geometry.filter_width as u32,
        geometry.stride_height as u32,
        geometry.stride_width as u32,
        geometry.dilation_height as u32,
        geometry.dilation_width as u32,
        window.pad_top as u32,
        window.pad_left as u32,
        5,                // input_offset
        (-3i32) as u32,   // output_offset
        (-128i32) as u32, // activation_min
        127,              // activation_max
    ];
    poke(&fields)
}

/// `dmo_params` of the fully_connected_int8 / fully_connected_cmsis fixtures (layout:
/// fixtures/programs/fully_connected_int8.c: fill_seed, input_start, output_start, has_bias,
/// dmo_fully_connected_params) with the output at 0 and the input right after it, and the
/// fixture's default quantisation.
pub fn fully_connected_poke(op: &OpDescription) -> Poke {
    let OpParams::FullyConnected { accumulation_depth } = op.params() else {
        panic!("not a fully connected op: {op:?}");
    };
    let output = op.output().dims();
    let depth = output[output.len() - 1];
    let batches = op.output().elements() / depth;
    let fields = [
        1,                          // fill_seed
        op.output().bytes() as u32, // input_start
        0,                          // output_start
        1,                          // has_bias
        batches as u32,
        *accumulation_depth as u32,
        depth as u32,
        (-4i32) as u32, // input_offset
        0,              // filter_offset
        6,              // output_offset
        1610612736,     // output_multiplier
        (-9i32) as u32, // output_shift
        (-128i32) as u32,
        127,
    ];
    poke(&fields)
}

/// `dmo_params` of the add_int8 / add_cmsis fixtures (layout: fixtures/programs/add_int8.c:
/// fill_seed, input1_start, input2_start, output_start, dmo_add_params) for two inputs of the
/// output's shape (padded to 4 dimensions): output at 0, input1 and input2 after it, and the
/// fixture's default quantisation.
pub fn add_poke(op: &OpDescription) -> Poke {
    let dims = op.output().dims();
    let mut shape = vec![1u32; 4 - dims.len()];
    shape.extend(dims.iter().map(|&d| d as u32));
    let bytes = op.output().bytes() as u32;
    let mut fields = vec![1, bytes, 2 * bytes, 0];
    fields.extend(&shape);
    fields.extend(&shape);
    fields.extend([
        20,               // left_shift
        3,                // input1_offset
        1073741824,       // input1_multiplier
        (-1i32) as u32,   // input1_shift
        (-7i32) as u32,   // input2_offset
        1073741824,       // input2_multiplier
        0,                // input2_shift
        1,                // output_offset
        1431655765,       // output_multiplier
        (-19i32) as u32,  // output_shift
        (-128i32) as u32, // activation_min
        127,              // activation_max
    ]);
    poke(&fields)
}

/// `dmo_params` of the mul_int8 / mul_cmsis fixtures (layout: fixtures/programs/mul_int8.c:
/// fill_seed, input1_start, input2_start, output_start, dmo_mul_params) for `op`'s element count:
/// output at 0, input1 and input2 after it, and the fixture's default quantisation.
pub fn mul_poke(op: &OpDescription) -> Poke {
    let elements = op.output().elements() as u32;
    let fields = [
        1,
        elements,
        2 * elements,
        0,
        elements,
        3,                // input1_offset
        (-7i32) as u32,   // input2_offset
        1,                // output_offset
        1073741824,       // output_multiplier
        (-1i32) as u32,   // output_shift
        (-128i32) as u32, // activation_min
        127,              // activation_max
    ];
    poke(&fields)
}
