//! Reads TensorFlow Lite (`.tflite`) models and writes TFLM offline memory
//! plans into them.
//!
//! The reader walks the flatbuffer by hand over the raw bytes: every offset is
//! bounds-checked, so malformed or truncated files give a [`FormatError`],
//! never a panic. It reads the schema subset dmo needs (tensors, operators and
//! the options that decide an operator's memory behaviour, metadata).
//! [`with_offline_plan`] writes the `OfflineMemoryAllocation` metadata that
//! TFLM reads (format in `shared/DESIGN.md`, "Arena planning").

mod contents;
mod emit;
mod error;
mod flatbuffer;
mod model;
mod schema;

pub use contents::{tensor_contents, Quantization, TensorContents};
pub use emit::{with_offline_plan, with_offline_plan_and_metadata, EmitError};
pub use error::{FormatError, ModelError};
pub use model::{MetadataEntry, Model, Operator, SizeError, Tensor, OFFLINE_PLAN_METADATA};
pub use schema::{
    BuiltinCode, FusedActivation, OperatorCode, OperatorOptions, Padding, TensorType,
};
