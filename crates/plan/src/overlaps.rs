//! Per-layer overlap analysis of a `.tflite` model: the safe offsets of
//! each (input, output) pair from the dmo-ops models or a trace, whether a
//! plan may use them, and the pairs handed to
//! [`plan_buffers`](crate::plan_buffers).

use crate::arena_plan::{lifetimes_forbid_overlap, OverlapCandidate, Unusable};
use crate::lifetimes::{ArenaBuffer, BufferSource};
use crate::operators::{simulation_work, MAX_SIMULATED_ACCESSES};
use crate::pair_offsets::PairOffsets;
use dmo_ops::{KernelFamily, LoopOrders, OverlapModel};
use dmo_tflite::Model;
use rayon::prelude::*;
use serde::Serialize;

/// Why a pair has no safe offsets.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, thiserror::Error)]
pub enum NoOffsets {
    /// The kernel family's model has no exact model of this kernel (dmo-ops'
    /// reason): no overlap is claimed.
    #[error("{reason}")]
    NotModelled { reason: String },
}

/// One activation input of a layer and what may be done with it.
#[derive(Clone, PartialEq, Eq, Debug, Serialize)]
pub struct LayerPair {
    pub input_tensor: usize,
    /// The safe offsets, or why the operator is not modelled.
    pub offsets: Result<PairOffsets, NoOffsets>,
    /// `None` if a plan may overlap this pair, else why not.
    pub unusable_because: Option<Unusable>,
}

/// One operator of the model with its pairs.
#[derive(Clone, PartialEq, Eq, Debug, Serialize)]
pub struct LayerAnalysis {
    pub operator: usize,
    pub kind: String,
    pub output_tensor: Option<usize>,
    pub pairs: Vec<LayerPair>,
    /// Why the operator has no model (then `pairs` is empty).
    pub not_modelled: Option<String>,
}

/// Where a plan's safe offsets come from. A safe offset belongs to a loop
/// order, so every plan names its source.
#[derive(Clone, Copy, Debug)]
pub enum OffsetSource<'a> {
    /// Predicted by dmo-ops' loop-nest simulation of a kernel family.
    Kernels(&'a KernelFamily),
    /// Measured from a trace of the firmware that runs the model.
    Measured(&'a MeasuredOffsets),
}

/// Offsets measured on a trace, already matched to the model's operators.
#[derive(Clone, PartialEq, Eq, Debug, Serialize)]
pub struct MeasuredOffsets {
    /// The trace file, as the user named it.
    pub trace: String,
    /// SHA-256 of the traced firmware ELF, hex.
    pub elf_sha256: String,
    /// Per model operator: what the trace measured, or why nothing.
    pub operators: Vec<Result<MeasuredOperator, NotMeasured>>,
}

/// Why a model operator has no offsets measured on the trace.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, thiserror::Error)]
pub enum NotMeasured {
    /// The next traced op of the operator's kind writes other sizes.
    #[error(
        "size mismatch: the next {kind} op in the trace (#{segment}) writes {} bytes, the model's output tensor `{tensor}` has {}",
        byte_list(written),
        bytes_or_unknown(*wanted)
    )]
    SizeMismatch {
        kind: String,
        segment: usize,
        written: Vec<u32>,
        tensor: String,
        wanted: Option<u64>,
    },
    /// No traced op of the operator's kind is left.
    #[error(
        "missing: no {kind} op in the trace after segment {after} with an output of {} bytes",
        bytes_or_unknown(*wanted)
    )]
    Missing {
        kind: String,
        after: usize,
        wanted: Option<u64>,
    },
    /// The trace's offsets cover fewer operators than the model has.
    #[error("not in the trace")]
    NotInTrace,
}

fn byte_list(sizes: &[u32]) -> String {
    if sizes.is_empty() {
        "no".to_owned()
    } else {
        sizes
            .iter()
            .map(|s| s.to_string())
            .collect::<Vec<_>>()
            .join(" + ")
    }
}

fn bytes_or_unknown(bytes: Option<u64>) -> String {
    bytes.map_or("?".into(), |b| b.to_string())
}

/// One model operator as the trace saw it.
#[derive(Clone, PartialEq, Eq, Debug, Serialize)]
pub struct MeasuredOperator {
    /// The traced op segment's name.
    pub op_name: String,
    /// Loads and stores the op made in the traced run.
    pub memory_accesses: u64,
    /// Instructions the op ran in the traced run (`None` for a trace from
    /// a `dmo` that did not count them per op).
    pub instructions: Option<u64>,
    /// `(input tensor, offsets)` for each activation input the trace has a
    /// pair for.
    pub pairs: Vec<(usize, PairOffsets)>,
}

/// What a plan's offsets hold for, as printed and as written into the model.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, serde::Deserialize)]
#[serde(tag = "from", rename_all = "kebab-case")]
pub enum OffsetsProvenance {
    /// Predicted for a kernel family (`data/kernel_families.toml`).
    Kernels { family: String, runtime: String },
    /// Measured from a trace of one firmware.
    Trace { trace: String, elf_sha256: String },
}

impl OffsetSource<'_> {
    pub fn provenance(&self) -> OffsetsProvenance {
        match self {
            OffsetSource::Kernels(family) => OffsetsProvenance::Kernels {
                family: family.name.clone(),
                runtime: family.runtime.clone(),
            },
            OffsetSource::Measured(measured) => OffsetsProvenance::Trace {
                trace: measured.trace.clone(),
                elf_sha256: measured.elf_sha256.clone(),
            },
        }
    }
}

impl std::fmt::Display for OffsetsProvenance {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OffsetsProvenance::Kernels { family, runtime } => {
                write!(f, "{family} kernels ({runtime})")
            }
            OffsetsProvenance::Trace { trace, elf_sha256 } => {
                let short = elf_sha256.get(..12).unwrap_or(elf_sha256);
                write!(f, "offsets measured in {trace} (firmware sha256 {short}…)")
            }
        }
    }
}

/// Analyses every operator (in parallel): dmo-ops' loop-nest simulation in
/// the family's loop orders, or the offsets a trace measured.
pub fn analyse_layers(
    model: &Model,
    buffers: &[ArenaBuffer],
    source: OffsetSource<'_>,
) -> Result<Vec<LayerAnalysis>, dmo_ops::KernelFamilyError> {
    let buffer_of = tensor_buffer_index(model, buffers);
    match source {
        OffsetSource::Kernels(family) => {
            let orders = family.modelled_loop_orders()?;
            Ok((0..model.operators.len())
                .into_par_iter()
                .map(|index| analyse_layer(model, buffers, &buffer_of, index, orders))
                .collect())
        }
        OffsetSource::Measured(measured) => Ok((0..model.operators.len())
            .map(|index| measured_layer(model, buffers, &buffer_of, index, measured))
            .collect()),
    }
}

/// A layer from measured offsets: pairs the trace has, in the operator's
/// input order; an operator the trace lacks is planned with no overlap.
fn measured_layer(
    model: &Model,
    buffers: &[ArenaBuffer],
    buffer_of: &[Option<usize>],
    index: usize,
    measured: &MeasuredOffsets,
) -> LayerAnalysis {
    let operator = &model.operators[index];
    let kind = operator.code.to_string();
    let output_tensor = operator.outputs.first().copied();
    let found = measured
        .operators
        .get(index)
        .cloned()
        .unwrap_or(Err(NotMeasured::NotInTrace));
    let (Ok(found), Some(output)) = (found, output_tensor) else {
        let reason = match measured.operators.get(index) {
            Some(Err(reason)) => format!("not measured: {reason}"),
            _ => "operator has no output".into(),
        };
        return LayerAnalysis {
            operator: index,
            kind,
            output_tensor,
            pairs: Vec::new(),
            not_modelled: Some(reason),
        };
    };
    let pairs = found
        .pairs
        .iter()
        .map(|&(input_tensor, offsets)| LayerPair {
            input_tensor,
            offsets: Ok(offsets),
            unusable_because: usability(model, buffers, buffer_of, index, input_tensor, output),
        })
        .collect();
    LayerAnalysis {
        operator: index,
        kind,
        output_tensor,
        pairs,
        not_modelled: None,
    }
}

fn tensor_buffer_index(model: &Model, buffers: &[ArenaBuffer]) -> Vec<Option<usize>> {
    let mut buffer_of = vec![None; model.tensors.len()];
    for (index, buffer) in buffers.iter().enumerate() {
        if let BufferSource::Tensor(tensor) = buffer.source {
            buffer_of[tensor] = Some(index);
        }
    }
    buffer_of
}

fn analyse_layer(
    model: &Model,
    buffers: &[ArenaBuffer],
    buffer_of: &[Option<usize>],
    index: usize,
    orders: LoopOrders,
) -> LayerAnalysis {
    let kind = model.operators[index].code.to_string();
    let described = match dmo_ops::describe_tflite_operator(model, index) {
        Ok(described) if simulation_work(&described.description) > MAX_SIMULATED_ACCESSES => {
            return LayerAnalysis {
                operator: index,
                kind,
                output_tensor: model.operators[index].outputs.first().copied(),
                pairs: Vec::new(),
                not_modelled: Some(format!(
                    "more than {MAX_SIMULATED_ACCESSES} accesses to simulate"
                )),
            }
        }
        Ok(described) => described,
        Err(reason) => {
            return LayerAnalysis {
                operator: index,
                kind,
                output_tensor: model.operators[index].outputs.first().copied(),
                pairs: Vec::new(),
                not_modelled: Some(reason.to_string()),
            }
        }
    };
    let results = dmo_ops::simulate_for(&described.description, orders);
    let output_tensor = described.output_tensor;
    let pairs = results
        .into_iter()
        .map(|result| {
            let input_tensor = described.input_tensors[result.input_index];
            let offsets = match &result.result {
                OverlapModel::Modelled(pair) => Ok(PairOffsets::from(pair)),
                OverlapModel::Analytic(pair) => Ok(PairOffsets {
                    input_bytes: pair.input_len.0,
                    output_bytes: pair.output_len.0,
                    s_min: pair.s_mono.0,
                    s_mono: pair.s_mono.0,
                    u_min: pair.u_mono.0,
                    u_mono: pair.u_mono.0,
                }),
                OverlapModel::NotModelled { reason } => Err(NoOffsets::NotModelled {
                    reason: reason.clone(),
                }),
            };
            let unusable_because = usability(
                model,
                buffers,
                buffer_of,
                index,
                input_tensor,
                output_tensor,
            );
            LayerPair {
                input_tensor,
                offsets,
                unusable_because,
            }
        })
        .collect();
    LayerAnalysis {
        operator: index,
        kind,
        output_tensor: Some(output_tensor),
        pairs,
        not_modelled: None,
    }
}

/// Why the output may not overlap this input, if it may not: the model's
/// own rules, then the lifetime rule every plan obeys.
fn usability(
    model: &Model,
    buffers: &[ArenaBuffer],
    buffer_of: &[Option<usize>],
    operator: usize,
    input: usize,
    output: usize,
) -> Option<Unusable> {
    if input == output {
        return Some(Unusable::SameTensor);
    }
    if model.outputs.contains(&input) {
        return Some(Unusable::ModelOutput);
    }
    let (Some(input_buffer), Some(output_buffer)) = (buffer_of[input], buffer_of[output]) else {
        return Some(Unusable::NotInArena);
    };
    lifetimes_forbid_overlap(buffers, operator, input_buffer, output_buffer)
}

/// The pairs of `layers` a plan may overlap (usable, with offsets), by
/// buffer index, for [`plan_buffers`](crate::plan_buffers).
pub fn overlap_candidates<'a>(
    model: &Model,
    buffers: &[ArenaBuffer],
    layers: &'a [LayerAnalysis],
) -> Vec<OverlapCandidate<'a>> {
    let buffer_of = tensor_buffer_index(model, buffers);
    let mut candidates = Vec::new();
    for layer in layers {
        let Some(output_tensor) = layer.output_tensor else {
            continue;
        };
        for pair in &layer.pairs {
            let (Ok(offsets), None) = (&pair.offsets, &pair.unusable_because) else {
                continue;
            };
            let (Some(input), Some(output)) =
                (buffer_of[pair.input_tensor], buffer_of[output_tensor])
            else {
                continue;
            };
            candidates.push(OverlapCandidate {
                operator: layer.operator,
                operator_kind: &layer.kind,
                input,
                output,
                offsets: *offsets,
            });
        }
    }
    candidates
}
