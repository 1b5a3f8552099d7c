//! `dmo firmware --kernels cmsis-nn`: which C kernel runs each operator so that the firmware
//! walks memory in the order TFLM built with CMSIS-NN does (Cortex-M4/M7, DSP, GCC;
//! `docs/methods.md`, "CMSIS-NN loop orders").
//!
//! The path is CMSIS-NN's own selection as `dmo_ops::cmsis_path` models it. Paths with a C
//! kernel in CMSIS-NN's order (`fixtures/kernels/cmsis_order.c`) use it; paths whose order is
//! the reference order run the reference kernel; every other path is refused, naming the
//! operator: running another order would make the firmware's offsets those of another family.

use crate::error::GenerateError;
use dmo_ops::{cmsis_path, describe_tflite_operator, CmsisPath, LoopOrders};
use dmo_tflite::Model;

/// The C kernel an operator runs.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Kernel {
    /// dmo's reference-order kernel of the operator's kind.
    Reference,
    /// `dmo_conv_1x1_int8_cmsis_order`: `arm_convolve_1x1_s8_fast` and `arm_convolve_1x1_s8`.
    Conv1x1,
    /// `dmo_depthwise_3x3_int8_cmsis_order`: `arm_depthwise_conv_3x3_s8`.
    Depthwise3x3,
    /// `dmo_depthwise_mult4_int8_cmsis_order`: `depthwise_conv_s8_mult_4`.
    DepthwiseMult4,
    /// `dmo_depthwise_opt_int8_cmsis_order`: `arm_depthwise_conv_s8_opt`, with its int16
    /// scratch buffer.
    DepthwiseOpt,
    /// `dmo_average_pool_int8_cmsis_order`: `arm_avgpool_s8`, with its int32 scratch buffer.
    AveragePool,
    /// `dmo_conv_int8_cmsis_order`: `arm_convolve_s8`, with its int16 im2col scratch buffer.
    ConvGeneric,
    /// `dmo_fully_connected_int8_cmsis_order`: `arm_fully_connected_s8`.
    FullyConnected,
    /// `dmo_fully_connected_int8_cmsis_conv1x1`: TFLM's FULLY_CONNECTED as
    /// `arm_convolve_1x1_s8_fast`, with its per-channel quantisation scratch buffer.
    FullyConnectedAsConv1x1,
    /// `dmo_add_int8_cmsis_order`: `arm_elementwise_add_s8`.
    Add,
    /// `dmo_mul_int8_cmsis_order`: `arm_elementwise_mul_s8`.
    Mul,
}

/// The name of a kernel family the firmware can run.
pub fn family_name(kernels: LoopOrders) -> &'static str {
    match kernels {
        LoopOrders::Reference => "reference",
        LoopOrders::CmsisNn => "cmsis-nn",
    }
}

/// The kernel operator `index` of `model` runs in a firmware of `kernels`' loop orders, or why
/// the firmware cannot run it in that order.
pub(crate) fn select(
    model: &Model,
    index: usize,
    kernels: LoopOrders,
) -> Result<Kernel, GenerateError> {
    if kernels == LoopOrders::Reference {
        return Ok(Kernel::Reference);
    }
    let kind = model.operators[index].code.to_string();
    let refuse = |problem: String| GenerateError::Unsupported {
        operator: index,
        kind: kind.clone(),
        problem,
    };
    let described = describe_tflite_operator(model, index).map_err(|error| {
        refuse(format!(
            "cannot tell which CMSIS-NN path it takes ({error}); the cmsis-nn firmware runs no \
             kernel in an order it cannot name"
        ))
    })?;
    let other_order = |function: &str| {
        refuse(format!(
            "CMSIS-NN runs it with {function}, whose loop order differs from the reference \
             kernel's, and dmo's cmsis-nn firmware has no C kernel in that order yet \
             (use --kernels reference, or trace your own CMSIS-NN firmware)"
        ))
    };
    match cmsis_path(&described.description) {
        CmsisPath::Conv1x1Fast | CmsisPath::Conv1x1Strided => Ok(Kernel::Conv1x1),
        CmsisPath::Depthwise3x3 => Ok(Kernel::Depthwise3x3),
        CmsisPath::DepthwiseMult4 => Ok(Kernel::DepthwiseMult4),
        CmsisPath::DepthwiseOpt => Ok(Kernel::DepthwiseOpt),
        CmsisPath::AvgPool => Ok(Kernel::AveragePool),
        // arm_convolve_1_x_n_s8 calls arm_convolve_s8 without MVE (docs/methods.md).
        CmsisPath::ConvGeneric | CmsisPath::Conv1xN => Ok(Kernel::ConvGeneric),
        CmsisPath::FullyConnected => Ok(Kernel::FullyConnected),
        CmsisPath::FullyConnectedAsConv1x1 => Ok(Kernel::FullyConnectedAsConv1x1),
        CmsisPath::Elementwise4 if kind == "ADD" => Ok(Kernel::Add),
        CmsisPath::Elementwise4 if kind == "MUL" => Ok(Kernel::Mul),
        // docs/methods.md: depthwise_conv_s8_generic is the reference order exactly; the
        // `Reference` paths run TFLM's reference kernel or one with the reference order.
        CmsisPath::DepthwiseGeneric | CmsisPath::Reference(_) => Ok(Kernel::Reference),
        CmsisPath::Elementwise4 => Err(other_order(
            "arm_elementwise_add_s8 / arm_elementwise_mul_s8 (4 elements a step)",
        )),
        CmsisPath::NotModelled(reason) => Err(refuse(format!(
            "its CMSIS-NN loop order is not modelled ({reason}); the cmsis-nn firmware does not \
             run it in another order"
        ))),
    }
}
