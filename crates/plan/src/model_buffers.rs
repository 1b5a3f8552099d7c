//! The buffers TFLM places in the arena head of a `.tflite` model, with
//! their lifetimes, exactly as TFLM's allocator feeds them to its planner
//! (`shared/DESIGN.md`, "Arena planning").

use crate::error::PlanError;
use crate::lifetimes::{ArenaBuffer, BufferSource, Scope};
use dmo_core::ByteCount;
use dmo_tflite::{BuiltinCode, Model, TensorType};

/// The arena buffers in TFLM's order: planned tensors in tensor-index order,
/// then scratch buffers in request order.
pub fn arena_buffers(model: &Model) -> Result<Vec<ArenaBuffer>, PlanError> {
    let tensor_count = model.tensors.len();
    let mut first: Vec<Option<u32>> = vec![None; tensor_count];
    let mut last: Vec<Option<u32>> = vec![None; tensor_count];
    for &input in &model.inputs {
        first[input].get_or_insert(0);
    }
    for (index, operator) in model.operators.iter().enumerate() {
        let scope = Scope::of_operator(index).0;
        for input in operator.present_inputs() {
            last[input] = Some(scope);
        }
        for &output in &operator.outputs {
            first[output].get_or_insert(scope);
        }
    }
    let final_scope = model.operators.len() as u32;
    for &output in &model.outputs {
        last[output] = Some(final_scope);
    }

    let mut buffers = Vec::new();
    for (index, tensor) in model.tensors.iter().enumerate() {
        if tensor.is_constant || tensor.is_variable {
            continue;
        }
        let bytes = tensor.byte_size().map_err(|problem| PlanError::Tensor {
            tensor: index,
            name: tensor.name.clone(),
            problem,
        })?;
        if bytes == 0 {
            continue;
        }
        if bytes > MAX_BUFFER_BYTES {
            return Err(PlanError::Tensor {
                tensor: index,
                name: tensor.name.clone(),
                problem: format!("{bytes} bytes does not fit a 32-bit address space"),
            });
        }
        let Some(first_scope) = first[index] else {
            // Neither a model input nor any operator's output: TFLM never
            // writes it, so it needs no space (and would fail to allocate).
            if last[index].is_some() {
                return Err(PlanError::Tensor {
                    tensor: index,
                    name: tensor.name.clone(),
                    problem: "is read but never written (not a model input nor an operator output)"
                        .into(),
                });
            }
            continue;
        };
        // A tensor written but never read still occupies its producer's scope.
        let last_scope = last[index].unwrap_or(first_scope).max(first_scope);
        buffers.push(ArenaBuffer {
            source: BufferSource::Tensor(index),
            bytes: ByteCount(bytes),
            first_scope: Scope(first_scope),
            last_scope: Scope(last_scope),
        });
    }
    for (operator, _) in model.operators.iter().enumerate() {
        for (request, bytes) in scratch_requests(model, operator)?.into_iter().enumerate() {
            if bytes > MAX_BUFFER_BYTES {
                return Err(PlanError::Operator {
                    operator,
                    problem: format!(
                        "scratch buffer of {bytes} bytes does not fit a 32-bit address space"
                    ),
                });
            }
            let scope = Scope::of_operator(operator);
            buffers.push(ArenaBuffer {
                source: BufferSource::Scratch { operator, request },
                bytes: ByteCount(bytes),
                first_scope: scope,
                last_scope: scope,
            });
        }
    }
    Ok(buffers)
}

fn product(factors: &[u64]) -> Option<u64> {
    factors.iter().try_fold(1u64, |p, &f| p.checked_mul(f))
}

/// Arena buffers larger than this cannot exist on a 32-bit MCU.
const MAX_BUFFER_BYTES: u64 = u32::MAX as u64;

/// Scratch buffers (bytes, in request order) the reference kernel of
/// `operator` asks for (`shared/DESIGN.md`).
pub fn scratch_requests(model: &Model, operator_index: usize) -> Result<Vec<u64>, PlanError> {
    let operator = &model.operators[operator_index];
    let tensor = |slot: usize| -> Result<&dmo_tflite::Tensor, PlanError> {
        operator
            .inputs
            .get(slot)
            .copied()
            .flatten()
            .map(|index| &model.tensors[index])
            .ok_or_else(|| PlanError::Operator {
                operator: operator_index,
                problem: format!("{} lacks input {slot}", operator.code),
            })
    };
    let bad = |problem: String| PlanError::Operator {
        operator: operator_index,
        problem,
    };
    let elements = |t: &dmo_tflite::Tensor| t.element_count().map_err(bad);
    let too_large = || bad("scratch buffer size overflows".into());
    let Some(code) = operator.builtin() else {
        return Ok(Vec::new());
    };
    let requests = match code {
        BuiltinCode::SVDF => {
            // Inputs: input [B, in], weights_feature [filters, in], weights_time,
            // bias, state.
            let input = tensor(0)?;
            let weights_feature = tensor(1)?;
            let dimension = |value: Option<&i32>, what: &str| -> Result<u64, PlanError> {
                match value {
                    Some(&d) if d >= 0 => Ok(d as u64),
                    _ => Err(bad(format!("SVDF {what} dimension missing or negative"))),
                }
            };
            let batch = dimension(input.shape.first(), "batch")?;
            let filters = dimension(weights_feature.shape.first(), "filter")?;
            let rank = match &operator.options {
                dmo_tflite::OperatorOptions::Svdf { rank, .. } if *rank > 0 => *rank as u64,
                _ => return Err(bad("SVDF without a positive rank".into())),
            };
            let mut requests = vec![product(&[batch, filters, 4]).ok_or_else(too_large)?];
            if input.element_type == TensorType::Int8 {
                requests.push(product(&[batch, filters / rank, 4]).ok_or_else(too_large)?);
            }
            requests
        }
        BuiltinCode::UNIDIRECTIONAL_SEQUENCE_LSTM => {
            // Four buffers of batch * cell units in the cell state's type; the
            // cell state (input 19, a variable tensor) has exactly that shape.
            let cell = tensor(19)?;
            let cell_bytes = cell.byte_size().map_err(bad)?;
            vec![cell_bytes; 4]
        }
        BuiltinCode::MEAN | BuiltinCode::SUM => {
            let input = tensor(0)?;
            let axis = tensor(1)?;
            let mut requests = Vec::new();
            if matches!(input.element_type, TensorType::Int8 | TensorType::Int16) {
                let output = &model.tensors[*operator
                    .outputs
                    .first()
                    .ok_or_else(|| bad("no output".into()))?];
                requests.push(product(&[4, elements(output)?]).ok_or_else(too_large)?);
            }
            requests.push(4 * input.shape.len() as u64);
            requests.push(product(&[4, elements(axis)?]).ok_or_else(too_large)?);
            requests
        }
        BuiltinCode::REDUCE_MAX
        | BuiltinCode::REDUCE_MIN
        | BuiltinCode::REDUCE_PROD
        | BuiltinCode::REDUCE_ANY
        | BuiltinCode::REDUCE_ALL => {
            let input = tensor(0)?;
            let axis = tensor(1)?;
            vec![
                4 * input.shape.len() as u64,
                product(&[4, elements(axis)?]).ok_or_else(too_large)?,
            ]
        }
        _ => Vec::new(),
    };
    Ok(requests)
}
