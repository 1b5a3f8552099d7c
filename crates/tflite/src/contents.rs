//! What code generation needs beyond the memory view of [`crate::Model`]:
//! each tensor's quantisation parameters and the bytes of its constant data.

use crate::error::FormatError;
use crate::model::{model_field, root_table};
use serde::Serialize;

/// Affine quantisation of one tensor: `real = scale * (q - zero_point)`, one
/// entry per channel along `quantized_dimension` (per-channel weights) or one
/// entry for the whole tensor.
#[derive(Clone, PartialEq, Debug, Serialize)]
pub struct Quantization {
    pub scale: Vec<f32>,
    pub zero_point: Vec<i64>,
    pub quantized_dimension: i32,
}

/// Quantisation and constant data of one tensor of subgraph 0.
#[derive(Clone, PartialEq, Debug, Default, Serialize)]
pub struct TensorContents {
    pub quantization: Option<Quantization>,
    /// The tensor's buffer bytes (little-endian elements), empty if it has none.
    pub data: Vec<u8>,
}

/// Reads the quantisation parameters and constant data of every tensor of
/// subgraph 0, in tensor-index order. Never panics on bad input.
pub fn tensor_contents(data: &[u8]) -> Result<Vec<TensorContents>, FormatError> {
    let root = root_table(data)?;
    let mut buffers: Vec<&[u8]> = Vec::new();
    if let Some(vector) = root.vector_field(model_field::BUFFERS, 4)? {
        for buffer in vector.tables() {
            let buffer = buffer?;
            buffers.push(match buffer.vector_field(0, 1)? {
                Some(v) => v.raw_bytes()?,
                None => &[],
            });
        }
    }
    let subgraphs = root
        .vector_field(model_field::SUBGRAPHS, 4)?
        .ok_or(FormatError::NoSubgraph)?;
    if subgraphs.len == 0 {
        return Err(FormatError::NoSubgraph);
    }
    let main = subgraphs.table_at(0)?;
    let mut contents = Vec::new();
    let Some(tensors) = main.vector_field(0, 4)? else {
        return Ok(contents);
    };
    for tensor in tensors.tables() {
        let tensor = tensor?;
        let buffer = tensor.u32_field(2, 0)? as usize;
        let data = buffers.get(buffer).map(|b| b.to_vec()).unwrap_or_default();
        let quantization = match tensor.table_field(4)? {
            Some(table) => {
                let scale = match table.vector_field(2, 4)? {
                    Some(v) => v
                        .i32s()?
                        .into_iter()
                        .map(|bits| f32::from_bits(bits as u32))
                        .collect(),
                    None => Vec::new(),
                };
                let zero_point = match table.vector_field(3, 8)? {
                    Some(v) => v
                        .raw_bytes()?
                        .chunks_exact(8)
                        .map(|c| {
                            i64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]])
                        })
                        .collect(),
                    None => Vec::new(),
                };
                let quantized_dimension = table.i32_field(6, 0)?;
                (!scale.is_empty()).then_some(Quantization {
                    scale,
                    zero_point,
                    quantized_dimension,
                })
            }
            None => None,
        };
        contents.push(TensorContents { quantization, data });
    }
    Ok(contents)
}
