//! Real `.tflite` models as Cortex-M firmware.
//!
//! [`generate_source`] turns a quantised model into one C file: weights, biases and
//! requantisation parameters as `const` arrays (flash), one static 16-byte-aligned arena laid
//! out by TFLM's greedy planner (so the firmware's memory looks like a TFLM deployment's), and
//! one call per operator, in model order, to dmo's reference kernels (`fixtures/kernels`), which
//! wrap themselves in the `dmo_markers.h` markers. The quantisation constants are what TFLM's
//! `Prepare` functions compute ([`quantisation`]), so outputs match TFLM's bit for bit.
//! [`build_firmware`] writes that file with the kernel sources into a build folder and links it
//! with `arm-none-eabi-gcc`. The firmware copies its input from the pokeable symbol
//! [`INPUT_SYMBOL`] and prints each output tensor over semihosting as hex and CRC-32.

mod build;
mod cmsis;
mod compare;
mod error;
mod generate;
pub mod quantisation;
mod sources;

pub use build::{build_firmware, compile, BuildOptions, BuiltFirmware};
pub use cmsis::family_name;
pub use compare::{
    compare_methods, CompareError, Comparison, LayerComparison, MethodCosts, MethodResult,
};
pub use error::{FirmwareError, GenerateError};
pub use generate::{
    generate_source, operator_name, GeneratedOperator, GeneratedSource, INPUT_SYMBOL,
};
pub use sources::{LINKER_SCRIPT, SUPPORT_FILES};
