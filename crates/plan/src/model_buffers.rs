//! The buffers TFLM places in the arena head of a `.tflite` model, with
//! their lifetimes, exactly as TFLM's allocator feeds them to its planner
//! (`shared/DESIGN.md`, "Arena planning").

use crate::error::PlanError;
use crate::lifetimes::{ArenaBuffer, BufferSource, Scope};
use dmo_core::ByteCount;
use dmo_ops::LoopOrders;
use dmo_tflite::{BuiltinCode, Model, TensorType};

/// The arena buffers in TFLM's order: planned tensors in tensor-index order,
/// then scratch buffers in request order, for TFLM's reference kernels.
pub fn arena_buffers(model: &Model) -> Result<Vec<ArenaBuffer>, PlanError> {
    arena_buffers_for(model, LoopOrders::Reference)
}

/// [`arena_buffers`] with the scratch buffers the kernels of `orders` request.
pub fn arena_buffers_for(model: &Model, orders: LoopOrders) -> Result<Vec<ArenaBuffer>, PlanError> {
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
            problem: problem.to_string(),
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
        for (request, bytes) in scratch_requests_for(model, operator, orders)?
            .into_iter()
            .enumerate()
        {
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

/// Scratch buffers (bytes, in request order) the kernel of `operator` asks for
/// under `orders`. CMSIS-NN: CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED and
/// AVERAGE_POOL_2D request what `dmo_ops::cmsis_scratch_bytes` says (Cortex-M4/M7,
/// DSP, GCC); every other kind runs a reference kernel there, or a CMSIS-NN one that
/// requests what the reference kernel does (int8 SVDF: TFLM's cmsis_nn `svdf.cc` asks for
/// batch x filters and batch x units int32, and none for the kernel sums with DSP). LSTM is a
/// CMSIS-NN kernel whose requests are not modelled: the reference sizes are used.
pub fn scratch_requests_for(
    model: &Model,
    operator_index: usize,
    orders: LoopOrders,
) -> Result<Vec<u64>, PlanError> {
    let cmsis_kinds = [
        BuiltinCode::CONV_2D,
        BuiltinCode::DEPTHWISE_CONV_2D,
        BuiltinCode::FULLY_CONNECTED,
        BuiltinCode::AVERAGE_POOL_2D,
    ];
    let code = model.operators[operator_index].builtin();
    match orders {
        LoopOrders::CmsisNn if code.is_some_and(|code| cmsis_kinds.contains(&code)) => {
            let described =
                dmo_ops::describe_tflite_operator(model, operator_index).map_err(|error| {
                    PlanError::Operator {
                        operator: operator_index,
                        problem: format!("cannot size its CMSIS-NN scratch buffer: {error}"),
                    }
                })?;
            Ok(dmo_ops::cmsis_scratch_bytes(&described.description))
        }
        _ => scratch_requests(model, operator_index),
    }
}

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
    let elements = |t: &dmo_tflite::Tensor| t.element_count().map_err(|e| bad(e.to_string()));
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
            let cell_bytes = cell.byte_size().map_err(|e| bad(e.to_string()))?;
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

#[cfg(test)]
mod family_scratch_tests {
    use super::*;

    fn model(name: &str) -> Model {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../../shared/models")
            .join(name);
        Model::read(&path).unwrap()
    }

    fn scratch(model: &Model, orders: LoopOrders) -> Vec<(usize, u64)> {
        arena_buffers_for(model, orders)
            .unwrap()
            .into_iter()
            .filter_map(|buffer| match buffer.source {
                BufferSource::Scratch { operator, .. } => Some((operator, buffer.bytes.0)),
                BufferSource::Tensor(_) => None,
            })
            .collect()
    }

    #[test]
    fn cmsis_nn_kernels_request_their_scratch_buffers() {
        // person_detect: only AVERAGE_POOL_2D (op 27, 256 channels) asks, for one int32 per
        // channel (arm_avgpool_s8_get_buffer_size_dsp): 1024 B. Its 1x1 convs take the GCC
        // arm_convolve_1x1_s8_fast path (no buffer) and its depthwise convs are 3x3 with
        // padding <= 1 (no buffer) or multiplier 8 (no buffer).
        let person = model("person_detect.tflite");
        assert_eq!(scratch(&person, LoopOrders::CmsisNn), vec![(27, 1024)]);
        // Control: the reference kernels request none.
        assert_eq!(scratch(&person, LoopOrders::Reference), vec![]);
        // kws_ref_model: the first conv (10x4 filter on 1 channel) is arm_convolve_s8 with
        // 2 columns of 40 int16 = 160 B; the average pool (64 channels) 256 B.
        let kws = model("kws_ref_model.tflite");
        let requests = scratch(&kws, LoopOrders::CmsisNn);
        assert_eq!(requests.first(), Some(&(0, 160)), "{requests:?}");
        assert!(
            requests.contains(&(requests.last().unwrap().0, 256)),
            "{requests:?}"
        );
    }
}
