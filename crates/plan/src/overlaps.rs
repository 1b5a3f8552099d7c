//! Per-layer overlap analysis: the safe offsets of each (input, output) pair
//! from the dmo-ops models, whether a plan may use them, and the allowances
//! that the DMO planner and the checker work with.

use crate::checker::OverlapAllowance;
use crate::lifetimes::{align_up, ArenaBuffer, BufferSource, Scope};
use crate::operators::{simulation_work, MAX_SIMULATED_ACCESSES};
use dmo_ops::{KernelFamily, LoopOrders, OverlapModel};
use dmo_tflite::{BuiltinCode, Model};
use rayon::prelude::*;
use serde::Serialize;

/// Safe offsets of one (input, output) pair, in bytes.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, serde::Deserialize)]
pub struct PairOffsets {
    pub input_bytes: u64,
    pub output_bytes: u64,
    pub s_min: u64,
    pub s_mono: u64,
    pub u_min: u64,
    pub u_mono: u64,
}

impl PairOffsets {
    /// Bytes the pair spans at the better monotone placement (down at
    /// `s_mono` or up at `u_mono`), unaligned, as the paper counts it.
    pub fn footprint(&self) -> u64 {
        let down = self.output_bytes.max(self.s_mono + self.input_bytes);
        let up = self.input_bytes.max(self.u_mono + self.output_bytes);
        down.min(up)
    }

    /// `nI + nO - footprint`.
    pub fn saving(&self) -> u64 {
        self.input_bytes + self.output_bytes - self.footprint()
    }
}

/// One activation input of a layer and what may be done with it.
#[derive(Clone, PartialEq, Eq, Debug, Serialize)]
pub struct LayerPair {
    pub input_tensor: usize,
    /// The safe offsets, or why the operator is not modelled.
    pub offsets: Result<PairOffsets, String>,
    /// `None` if a plan may overlap this pair, else why not.
    pub unusable_because: Option<String>,
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
    pub operators: Vec<Result<MeasuredOperator, String>>,
}

/// One model operator as the trace saw it.
#[derive(Clone, PartialEq, Eq, Debug, Serialize)]
pub struct MeasuredOperator {
    /// The traced op segment's name.
    pub op_name: String,
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
        .unwrap_or_else(|| Err("not in the trace".into()));
    let (Ok(found), Some(output)) = (found, output_tensor) else {
        let reason = match measured.operators.get(index) {
            Some(Err(reason)) => reason.clone(),
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
    let scope = Scope::of_operator(index);
    let pairs = found
        .pairs
        .iter()
        .map(|&(input_tensor, offsets)| LayerPair {
            input_tensor,
            offsets: Ok(offsets),
            unusable_because: usability(model, buffers, buffer_of, scope, input_tensor, output),
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
    let scope = Scope::of_operator(index);
    let output_tensor = described.output_tensor;
    let pairs = results
        .into_iter()
        .map(|result| {
            let input_tensor = described.input_tensors[result.input_index];
            let offsets = match &result.result {
                OverlapModel::Modelled(pair) => Ok(PairOffsets {
                    input_bytes: pair.input_len.0,
                    output_bytes: pair.output_len.0,
                    s_min: pair.s_min.0,
                    s_mono: pair.s_mono.0,
                    u_min: pair.u_min.0,
                    u_mono: pair.u_mono.0,
                }),
                OverlapModel::Analytic(pair) => Ok(PairOffsets {
                    input_bytes: pair.input_len.0,
                    output_bytes: pair.output_len.0,
                    s_min: pair.s_mono.0,
                    s_mono: pair.s_mono.0,
                    u_min: pair.u_mono.0,
                    u_mono: pair.u_mono.0,
                }),
                OverlapModel::NotModelled { reason } => Err(reason.clone()),
            };
            let unusable_because = usability(
                model,
                buffers,
                buffer_of,
                scope,
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

/// Why the output may not overlap this input, if it may not.
fn usability(
    model: &Model,
    buffers: &[ArenaBuffer],
    buffer_of: &[Option<usize>],
    scope: Scope,
    input: usize,
    output: usize,
) -> Option<String> {
    if input == output {
        return Some("input and output are one tensor".into());
    }
    if model.outputs.contains(&input) {
        return Some("input is a model output".into());
    }
    let (Some(input_buffer), Some(output_buffer)) = (buffer_of[input], buffer_of[output]) else {
        return Some("input or output is not planned in the arena".into());
    };
    if buffers[input_buffer].last_scope != scope {
        return Some("input is read by a later operator".into());
    }
    if buffers[output_buffer].first_scope != scope {
        return Some("output is created earlier".into());
    }
    None
}

/// The allowances a DMO plan may use: usable, modelled pairs. `down` and
/// `up` are rounded up to 16; `s_min` is added as an exact offset when it is
/// a multiple of 16 below the rounded `s_mono`. A RESHAPE may only share its
/// input's offset exactly (TFLM then skips the copy).
pub fn allowances(
    model: &Model,
    buffers: &[ArenaBuffer],
    layers: &[LayerAnalysis],
) -> Vec<OverlapAllowance> {
    let buffer_of = tensor_buffer_index(model, buffers);
    let mut allowances = Vec::new();
    for layer in layers {
        let Some(output_tensor) = layer.output_tensor else {
            continue;
        };
        let is_reshape = model.operators[layer.operator].builtin() == Some(BuiltinCode::RESHAPE);
        for pair in &layer.pairs {
            let (Ok(offsets), None) = (&pair.offsets, &pair.unusable_because) else {
                continue;
            };
            let (Some(input), Some(output)) =
                (buffer_of[pair.input_tensor], buffer_of[output_tensor])
            else {
                continue;
            };
            let allowance = if is_reshape {
                if buffers[input].bytes != buffers[output].bytes {
                    continue;
                }
                OverlapAllowance {
                    operator: layer.operator,
                    input,
                    output,
                    down: None,
                    up: None,
                    exact_down: vec![0],
                }
            } else {
                let down = align_up(offsets.s_mono);
                let up = align_up(offsets.u_mono);
                let mut exact_down = Vec::new();
                if offsets.s_min % 16 == 0 && offsets.s_min < down {
                    exact_down.push(offsets.s_min);
                }
                OverlapAllowance {
                    operator: layer.operator,
                    input,
                    output,
                    down: Some(down),
                    up: Some(up),
                    exact_down,
                }
            };
            allowances.push(allowance);
        }
    }
    allowances
}
