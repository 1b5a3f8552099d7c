//! A TensorFlow Lite model as dmo needs it: subgraph 0's tensors and
//! operators with their options, the metadata entries, and any offline
//! memory plan already in the file.

use crate::error::{FormatError, ModelError};
use crate::flatbuffer::{Bytes, Table};
use crate::schema::{
    BuiltinCode, FusedActivation, OperatorCode, OperatorOptions, Padding, TensorType,
};
use serde::Serialize;
use std::path::Path;

/// Name of the metadata entry holding TFLM's offline memory plan.
pub const OFFLINE_PLAN_METADATA: &str = "OfflineMemoryAllocation";

/// Field ids of the `Model` table in `schema.fbs`.
pub(crate) mod model_field {
    pub const VERSION: usize = 0;
    pub const OPERATOR_CODES: usize = 1;
    pub const SUBGRAPHS: usize = 2;
    pub const DESCRIPTION: usize = 3;
    pub const BUFFERS: usize = 4;
    pub const METADATA_BUFFER: usize = 5;
    pub const METADATA: usize = 6;
    pub const SIGNATURE_DEFS: usize = 7;
    /// Number of fields the schema subset knows.
    pub const COUNT: usize = 8;
}

/// One tensor of subgraph 0.
#[derive(Clone, PartialEq, Debug, Serialize)]
pub struct Tensor {
    pub name: String,
    /// Dimensions; empty for a scalar.
    pub shape: Vec<i32>,
    pub element_type: TensorType,
    /// Index into the model's buffers.
    pub buffer: u32,
    /// Its data is in the file (weights, biases, shapes): TFLM never plans it.
    pub is_constant: bool,
    /// State that persists across invocations (LSTM/SVDF): not in the arena head.
    pub is_variable: bool,
    /// The values of a small constant INT32/INT64 tensor (axes, paddings,
    /// shapes), which decide how some operators walk memory.
    pub integer_values: Option<Vec<i64>>,
}

/// Why a tensor has no size.
#[derive(Clone, PartialEq, Eq, Debug, thiserror::Error)]
pub enum SizeError {
    #[error("dynamic or negative dimension {dimension} in shape {shape:?}")]
    DynamicDimension { dimension: i32, shape: Vec<i32> },
    #[error("shape {0:?} has too many elements")]
    TooManyElements(Vec<i32>),
    #[error("unsupported tensor type {0}")]
    UnsupportedType(String),
    #[error("shape {0:?} is too large")]
    TooLarge(Vec<i32>),
}

impl Tensor {
    /// Number of elements (1 for a scalar).
    pub fn element_count(&self) -> Result<u64, SizeError> {
        self.shape.iter().try_fold(1u64, |product, &dimension| {
            if dimension < 0 {
                return Err(SizeError::DynamicDimension {
                    dimension,
                    shape: self.shape.clone(),
                });
            }
            product
                .checked_mul(dimension as u64)
                .ok_or_else(|| SizeError::TooManyElements(self.shape.clone()))
        })
    }

    /// Size in bytes as TFLM computes it: elements times `TfLiteTypeSizeOf`.
    pub fn byte_size(&self) -> Result<u64, SizeError> {
        let element_bytes = self
            .element_type
            .element_bytes()
            .ok_or_else(|| SizeError::UnsupportedType(self.element_type.name()))?;
        self.element_count()?
            .checked_mul(element_bytes)
            .ok_or_else(|| SizeError::TooLarge(self.shape.clone()))
    }
}

/// One operator of subgraph 0, in execution order.
#[derive(Clone, PartialEq, Debug, Serialize)]
pub struct Operator {
    pub code: OperatorCode,
    /// Input tensor indices; `None` for an omitted optional input (-1).
    pub inputs: Vec<Option<usize>>,
    pub outputs: Vec<usize>,
    pub options: OperatorOptions,
}

impl Operator {
    pub fn builtin(&self) -> Option<BuiltinCode> {
        self.code.builtin()
    }

    /// The inputs that are present.
    pub fn present_inputs(&self) -> impl Iterator<Item = usize> + '_ {
        self.inputs.iter().flatten().copied()
    }
}

/// One `metadata` entry: a name, the index of the buffer holding its data,
/// and that data (empty if the buffer index is out of range or the buffer
/// keeps its data outside the flatbuffer).
#[derive(Clone, PartialEq, Eq, Debug, Serialize)]
pub struct MetadataEntry {
    pub name: String,
    pub buffer: u32,
    #[serde(skip)]
    pub data: Vec<u8>,
}

/// A parsed model. Only subgraph 0 is read in detail; `subgraph_tensor_counts`
/// says how many tensors each subgraph has (offline plans cover all of them).
#[derive(Clone, PartialEq, Debug, Serialize)]
pub struct Model {
    pub version: u32,
    pub description: Option<String>,
    pub tensors: Vec<Tensor>,
    pub operators: Vec<Operator>,
    pub inputs: Vec<usize>,
    pub outputs: Vec<usize>,
    pub subgraph_tensor_counts: Vec<usize>,
    pub metadata: Vec<MetadataEntry>,
    /// The offline plan already in the file, if any: one offset per tensor of
    /// all subgraphs (-1 = planned online).
    pub offline_plan: Option<Vec<i32>>,
}

impl Model {
    /// Reads and parses a `.tflite` file; errors name the file.
    pub fn read(path: &Path) -> Result<Model, ModelError> {
        // A regular file of at most MAX_INPUT_BYTES; `/dev/zero` or a FIFO
        // is refused before it is opened.
        let bytes = dmo_fsio::read_input(path, dmo_fsio::MAX_INPUT_BYTES)?;
        Model::parse(&bytes).map_err(|problem| ModelError::Format {
            path: path.to_path_buf(),
            problem,
        })
    }

    /// Parses the bytes of a `.tflite` file. Never panics on bad input.
    pub fn parse(data: &[u8]) -> Result<Model, FormatError> {
        let root = root_table(data)?;
        let bytes = Bytes::new(data);
        let version = root.u32_field(model_field::VERSION, 0)?;
        let description = root.string_field(model_field::DESCRIPTION)?;

        let codes = read_operator_codes(&root)?;
        let buffers = read_buffers(&root)?;

        let subgraphs = root
            .vector_field(model_field::SUBGRAPHS, 4)?
            .ok_or(FormatError::NoSubgraph)?;
        if subgraphs.len == 0 {
            return Err(FormatError::NoSubgraph);
        }
        let mut subgraph_tensor_counts = Vec::with_capacity(subgraphs.len.min(1024));
        for subgraph in subgraphs.tables() {
            let subgraph = subgraph?;
            let count = subgraph.vector_field(0, 4)?.map_or(0, |v| v.len);
            subgraph_tensor_counts.push(count);
        }
        let main = subgraphs.table_at(0)?;
        let tensors = read_tensors(&main, &buffers)?;
        let inputs = tensor_indices(&main, 1, tensors.len(), "subgraph input")?;
        let outputs = tensor_indices(&main, 2, tensors.len(), "subgraph output")?;
        let operators = read_operators(&main, &codes, tensors.len())?;

        let mut metadata = Vec::new();
        if let Some(entries) = root.vector_field(model_field::METADATA, 4)? {
            for entry in entries.tables() {
                let entry = entry?;
                let name = entry.string_field(0)?.unwrap_or_default();
                let buffer = entry.u32_field(1, 0)?;
                let data = buffers
                    .get(buffer as usize)
                    .map_or_else(Vec::new, |b| b.inline.to_vec());
                metadata.push(MetadataEntry { name, buffer, data });
            }
        }
        let offline_plan = match metadata.iter().find(|m| m.name == OFFLINE_PLAN_METADATA) {
            Some(entry) => Some(read_offline_plan(
                bytes,
                &root,
                entry.buffer,
                &subgraph_tensor_counts,
            )?),
            None => None,
        };

        Ok(Model {
            version,
            description,
            tensors,
            operators,
            inputs,
            outputs,
            subgraph_tensor_counts,
            metadata,
            offline_plan,
        })
    }

    /// Number of subgraphs; dmo plans subgraph 0 only.
    pub fn subgraph_count(&self) -> usize {
        self.subgraph_tensor_counts.len()
    }

    /// Tensors of all subgraphs: the length of an offline plan.
    pub fn total_tensor_count(&self) -> usize {
        self.subgraph_tensor_counts.iter().sum()
    }

    /// The data of the first metadata entry called `name`.
    pub fn metadata_data(&self, name: &str) -> Option<&[u8]> {
        self.metadata
            .iter()
            .find(|entry| entry.name == name)
            .map(|entry| entry.data.as_slice())
    }
}

/// The root `Model` table, after checking size and file identifier.
pub(crate) fn root_table(data: &[u8]) -> Result<Table<'_>, FormatError> {
    if data.len() < 8 {
        return Err(FormatError::TooShort { len: data.len() });
    }
    if &data[4..8] != b"TFL3" {
        return Err(FormatError::WrongIdentifier {
            found: String::from_utf8_lossy(&data[4..8]).into_owned(),
        });
    }
    Bytes::new(data).table_at_offset(0)
}

/// What the reader needs of one `Buffer`: whether it holds data, and the
/// inline data itself.
#[derive(Clone, Copy)]
struct BufferInfo<'a> {
    has_data: bool,
    inline: &'a [u8],
}

/// Constant integer tensors up to this many elements have their values read.
const MAX_INTEGER_VALUES: usize = 1024;

fn read_buffers<'a>(root: &Table<'a>) -> Result<Vec<BufferInfo<'a>>, FormatError> {
    let mut buffers = Vec::new();
    if let Some(vector) = root.vector_field(model_field::BUFFERS, 4)? {
        for buffer in vector.tables() {
            let buffer = buffer?;
            let inline = match buffer.vector_field(0, 1)? {
                Some(v) => v.raw_bytes()?,
                None => &[],
            };
            // Models over 2 GB keep data outside the flatbuffer: offset > 1.
            let external_offset = buffer.u64_field(1, 0)?;
            buffers.push(BufferInfo {
                has_data: !inline.is_empty() || external_offset > 1,
                inline,
            });
        }
    }
    Ok(buffers)
}

fn read_operator_codes(root: &Table<'_>) -> Result<Vec<OperatorCode>, FormatError> {
    let mut codes = Vec::new();
    if let Some(vector) = root.vector_field(model_field::OPERATOR_CODES, 4)? {
        for code in vector.tables() {
            let code = code?;
            // schema.fbs: the real code is the larger of the two fields.
            let deprecated = code.i8_field(0, 0)? as i32;
            let builtin = code.i32_field(3, 0)?;
            let value = builtin.max(deprecated);
            if value == BuiltinCode::CUSTOM.0 {
                let name = code.string_field(1)?.unwrap_or_default();
                codes.push(OperatorCode::Custom(name));
            } else {
                codes.push(OperatorCode::Builtin(BuiltinCode(value)));
            }
        }
    }
    Ok(codes)
}

fn read_tensors(
    subgraph: &Table<'_>,
    buffers: &[BufferInfo<'_>],
) -> Result<Vec<Tensor>, FormatError> {
    let mut tensors = Vec::new();
    let Some(vector) = subgraph.vector_field(0, 4)? else {
        return Ok(tensors);
    };
    for (index, tensor) in vector.tables().enumerate() {
        let tensor = tensor?;
        let shape = match tensor.vector_field(0, 4)? {
            Some(v) => v.i32s()?,
            None => Vec::new(),
        };
        let element_type = TensorType::from_code(tensor.i8_field(1, 0)?);
        let buffer = tensor.u32_field(2, 0)?;
        let name = tensor.string_field(3)?.unwrap_or_default();
        let is_variable = tensor.bool_field(5)?;
        let info = buffers.get(buffer as usize);
        let is_constant = match info {
            Some(info) => info.has_data,
            None if buffers.is_empty() && buffer == 0 => false,
            None => {
                return Err(FormatError::BadTensor {
                    tensor: index,
                    name,
                    problem: format!(
                        "buffer index {buffer} out of range (only {})",
                        buffers.len()
                    ),
                })
            }
        };
        let integer_values = info.and_then(|info| integer_values(element_type, info.inline));
        tensors.push(Tensor {
            name,
            shape,
            element_type,
            buffer,
            is_constant,
            is_variable,
            integer_values,
        });
    }
    Ok(tensors)
}

fn integer_values(element_type: TensorType, data: &[u8]) -> Option<Vec<i64>> {
    let width = match element_type {
        TensorType::Int32 => 4,
        TensorType::Int64 => 8,
        _ => return None,
    };
    if data.is_empty() || data.len() % width != 0 || data.len() / width > MAX_INTEGER_VALUES {
        return None;
    }
    Some(
        data.chunks_exact(width)
            .map(|c| match width {
                4 => i32::from_le_bytes([c[0], c[1], c[2], c[3]]) as i64,
                _ => i64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]),
            })
            .collect(),
    )
}

fn tensor_indices(
    table: &Table<'_>,
    field: usize,
    tensor_count: usize,
    what: &'static str,
) -> Result<Vec<usize>, FormatError> {
    let Some(vector) = table.vector_field(field, 4)? else {
        return Ok(Vec::new());
    };
    vector
        .i32s()?
        .into_iter()
        .map(|index| checked_index(index, tensor_count, what))
        .collect()
}

fn checked_index(index: i32, count: usize, what: &'static str) -> Result<usize, FormatError> {
    if index < 0 || index as usize >= count {
        return Err(FormatError::BadIndex {
            what,
            index: index as i64,
            count,
        });
    }
    Ok(index as usize)
}

fn read_operators(
    subgraph: &Table<'_>,
    codes: &[OperatorCode],
    tensor_count: usize,
) -> Result<Vec<Operator>, FormatError> {
    let mut operators = Vec::new();
    let Some(vector) = subgraph.vector_field(3, 4)? else {
        return Ok(operators);
    };
    for (index, operator) in vector.tables().enumerate() {
        let operator = operator?;
        let bad = |problem: String| FormatError::BadOperator {
            operator: index,
            problem,
        };
        let code_index = operator.u32_field(0, 0)? as usize;
        let code = codes.get(code_index).cloned().ok_or_else(|| {
            bad(format!(
                "operator code index {code_index} out of range (only {})",
                codes.len()
            ))
        })?;
        let mut inputs = Vec::new();
        if let Some(v) = operator.vector_field(1, 4)? {
            for raw in v.i32s()? {
                if raw == -1 {
                    inputs.push(None);
                } else {
                    inputs.push(Some(checked_index(raw, tensor_count, "operator input")?));
                }
            }
        }
        let outputs = tensor_indices(&operator, 2, tensor_count, "operator output")?;
        let options_type = operator.u8_field(3, 0)?;
        let options_table = operator.table_field(4)?;
        let options = read_options(&code, options_type, options_table).map_err(|e| match e {
            FormatError::Unsupported(problem) => bad(problem),
            other => other,
        })?;
        operators.push(Operator {
            code,
            inputs,
            outputs,
            options,
        });
    }
    Ok(operators)
}

/// `BuiltinOptions` union type codes of the option tables dmo reads.
mod options_type {
    pub const CONV_2D: u8 = 1;
    pub const DEPTHWISE_CONV_2D: u8 = 2;
    pub const POOL_2D: u8 = 5;
    pub const SVDF: u8 = 6;
    pub const FULLY_CONNECTED: u8 = 8;
    pub const SOFTMAX: u8 = 9;
    pub const CONCATENATION: u8 = 10;
    pub const ADD: u8 = 11;
    pub const RESHAPE: u8 = 17;
    pub const STRIDED_SLICE: u8 = 32;
    pub const MUL: u8 = 21;
    pub const UNIDIRECTIONAL_SEQUENCE_LSTM: u8 = 71;
    pub const REDUCER: u8 = 27;
    pub const SUB: u8 = 28;
    pub const DIV: u8 = 29;
}

fn padding(code: u8) -> Result<Padding, FormatError> {
    match code {
        0 => Ok(Padding::Same),
        1 => Ok(Padding::Valid),
        other => Err(FormatError::Unsupported(format!(
            "unknown padding code {other}"
        ))),
    }
}

fn read_options(
    code: &OperatorCode,
    type_code: u8,
    table: Option<Table<'_>>,
) -> Result<OperatorOptions, FormatError> {
    let Some(t) = table else {
        return Ok(OperatorOptions::None);
    };
    let activation = |id: usize| -> Result<FusedActivation, FormatError> {
        Ok(FusedActivation::from_code(t.i8_field(id, 0)?))
    };
    let expected = |wanted: u8| -> Result<(), FormatError> {
        if type_code == wanted {
            Ok(())
        } else {
            Err(FormatError::Unsupported(format!(
                "{code} has options of type {type_code}, expected {wanted}"
            )))
        }
    };
    let builtin = code.builtin().unwrap_or(BuiltinCode::CUSTOM);
    let options = match builtin {
        BuiltinCode::CONV_2D => {
            expected(options_type::CONV_2D)?;
            OperatorOptions::Conv2D {
                padding: padding(t.u8_field(0, 0)?)?,
                stride_w: t.i32_field(1, 0)?,
                stride_h: t.i32_field(2, 0)?,
                activation: activation(3)?,
                dilation_w: t.i32_field(4, 1)?,
                dilation_h: t.i32_field(5, 1)?,
            }
        }
        BuiltinCode::DEPTHWISE_CONV_2D => {
            expected(options_type::DEPTHWISE_CONV_2D)?;
            OperatorOptions::DepthwiseConv2D {
                padding: padding(t.u8_field(0, 0)?)?,
                stride_w: t.i32_field(1, 0)?,
                stride_h: t.i32_field(2, 0)?,
                depth_multiplier: t.i32_field(3, 0)?,
                activation: activation(4)?,
                dilation_w: t.i32_field(5, 1)?,
                dilation_h: t.i32_field(6, 1)?,
            }
        }
        BuiltinCode::AVERAGE_POOL_2D | BuiltinCode::MAX_POOL_2D | BuiltinCode::L2_POOL_2D => {
            expected(options_type::POOL_2D)?;
            OperatorOptions::Pool2D {
                padding: padding(t.u8_field(0, 0)?)?,
                stride_w: t.i32_field(1, 0)?,
                stride_h: t.i32_field(2, 0)?,
                filter_w: t.i32_field(3, 0)?,
                filter_h: t.i32_field(4, 0)?,
                activation: activation(5)?,
            }
        }
        BuiltinCode::FULLY_CONNECTED => {
            expected(options_type::FULLY_CONNECTED)?;
            OperatorOptions::FullyConnected {
                activation: activation(0)?,
                keep_num_dims: t.bool_field(2)?,
            }
        }
        BuiltinCode::ADD | BuiltinCode::MUL | BuiltinCode::SUB | BuiltinCode::DIV => {
            let wanted = match builtin {
                BuiltinCode::ADD => options_type::ADD,
                BuiltinCode::MUL => options_type::MUL,
                BuiltinCode::SUB => options_type::SUB,
                _ => options_type::DIV,
            };
            expected(wanted)?;
            OperatorOptions::Elementwise {
                activation: activation(0)?,
            }
        }
        BuiltinCode::CONCATENATION => {
            expected(options_type::CONCATENATION)?;
            OperatorOptions::Concatenation {
                axis: t.i32_field(0, 0)?,
                activation: activation(1)?,
            }
        }
        BuiltinCode::SOFTMAX => {
            expected(options_type::SOFTMAX)?;
            OperatorOptions::Softmax {
                beta: t.f32_field(0, 0.0)?,
            }
        }
        BuiltinCode::MEAN
        | BuiltinCode::SUM
        | BuiltinCode::REDUCE_MAX
        | BuiltinCode::REDUCE_MIN
        | BuiltinCode::REDUCE_PROD
        | BuiltinCode::REDUCE_ANY
        | BuiltinCode::REDUCE_ALL => {
            expected(options_type::REDUCER)?;
            OperatorOptions::Reducer {
                keep_dims: t.bool_field(0)?,
            }
        }
        BuiltinCode::SVDF => {
            expected(options_type::SVDF)?;
            OperatorOptions::Svdf {
                rank: t.i32_field(0, 0)?,
                activation: activation(1)?,
            }
        }
        BuiltinCode::UNIDIRECTIONAL_SEQUENCE_LSTM => {
            expected(options_type::UNIDIRECTIONAL_SEQUENCE_LSTM)?;
            OperatorOptions::UnidirectionalSequenceLstm {
                activation: activation(0)?,
                cell_clip: t.f32_field(1, 0.0)?,
                time_major: t.bool_field(3)?,
            }
        }
        BuiltinCode::STRIDED_SLICE => {
            expected(options_type::STRIDED_SLICE)?;
            OperatorOptions::StridedSlice {
                begin_mask: t.i32_field(0, 0)?,
                end_mask: t.i32_field(1, 0)?,
                ellipsis_mask: t.i32_field(2, 0)?,
                new_axis_mask: t.i32_field(3, 0)?,
                shrink_axis_mask: t.i32_field(4, 0)?,
                offset: t.bool_field(5)?,
            }
        }
        BuiltinCode::RESHAPE => {
            expected(options_type::RESHAPE)?;
            let new_shape = match t.vector_field(0, 4)? {
                Some(v) => Some(v.i32s()?),
                None => None,
            };
            OperatorOptions::Reshape { new_shape }
        }
        _ => OperatorOptions::NotRead {
            options_type: type_code,
        },
    };
    Ok(options)
}

fn read_offline_plan(
    bytes: Bytes<'_>,
    root: &Table<'_>,
    buffer_index: u32,
    subgraph_tensor_counts: &[usize],
) -> Result<Vec<i32>, FormatError> {
    let _ = bytes;
    let buffers = root
        .vector_field(model_field::BUFFERS, 4)?
        .ok_or(FormatError::BadIndex {
            what: "metadata buffer",
            index: buffer_index as i64,
            count: 0,
        })?;
    if buffer_index as usize >= buffers.len {
        return Err(FormatError::BadIndex {
            what: "metadata buffer",
            index: buffer_index as i64,
            count: buffers.len,
        });
    }
    let buffer = buffers.table_at(buffer_index as usize)?;
    let data = buffer
        .vector_field(0, 1)?
        .map(|v| v.raw_bytes())
        .transpose()?
        .unwrap_or(&[]);
    let bad =
        |problem: String| FormatError::Unsupported(format!("{OFFLINE_PLAN_METADATA}: {problem}"));
    if data.len() % 4 != 0 || data.len() < 12 {
        return Err(bad(format!(
            "{} bytes is not a plan header plus int32 offsets",
            data.len()
        )));
    }
    let values: Vec<i32> = data
        .chunks_exact(4)
        .map(|c| i32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    let total: usize = subgraph_tensor_counts.iter().sum();
    if values[0] != 1 {
        return Err(bad(format!("version {} (only 1 is known)", values[0])));
    }
    if values[1] as i64 != subgraph_tensor_counts.len() as i64 {
        return Err(bad(format!(
            "{} subgraphs, the model has {}",
            values[1],
            subgraph_tensor_counts.len()
        )));
    }
    if values[2] as i64 != total as i64 || values.len() != 3 + total {
        return Err(bad(format!(
            "{} offsets, the model has {total} tensors",
            values.len() - 3
        )));
    }
    Ok(values[3..].to_vec())
}
