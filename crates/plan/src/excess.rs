//! Where a firmware's measured offsets exceed what a kernel family's model
//! predicts: a plan made for that family would break that firmware there.

use crate::lifetimes::ArenaBuffer;
use crate::overlaps::{analyse_layers, LayerAnalysis, OffsetSource};
use crate::PlanError;
use dmo_tflite::Model;
use serde::Serialize;

/// A pair whose measured offset is larger than a family's model predicts:
/// a plan made for that family would break this firmware there.
#[derive(Clone, PartialEq, Eq, Debug, Serialize)]
pub struct Excess {
    pub operator: usize,
    pub kind: String,
    pub input_tensor: usize,
    pub family: String,
    pub predicted_s_mono: u64,
    pub measured_s_mono: u64,
    pub predicted_u_mono: u64,
    pub measured_u_mono: u64,
}

/// Every pair where `measured` needs a larger down or up offset than
/// `family` predicts.
pub fn excesses(
    model: &Model,
    buffers: &[ArenaBuffer],
    measured: &[LayerAnalysis],
    family: &dmo_ops::KernelFamily,
) -> Result<Vec<Excess>, PlanError> {
    let predicted = analyse_layers(model, buffers, OffsetSource::Kernels(family))?;
    let mut found = Vec::new();
    for (measured, predicted) in measured.iter().zip(&predicted) {
        for pair in &measured.pairs {
            let Ok(got) = pair.offsets else { continue };
            let Some(Ok(expected)) = predicted
                .pairs
                .iter()
                .find(|p| p.input_tensor == pair.input_tensor)
                .map(|p| p.offsets.clone())
            else {
                continue;
            };
            if got.s_mono > expected.s_mono || got.u_mono > expected.u_mono {
                found.push(Excess {
                    operator: measured.operator,
                    kind: measured.kind.clone(),
                    input_tensor: pair.input_tensor,
                    family: family.name.clone(),
                    predicted_s_mono: expected.s_mono,
                    measured_s_mono: got.s_mono,
                    predicted_u_mono: expected.u_mono,
                    measured_u_mono: got.u_mono,
                });
            }
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tflm_baseline;
    use std::path::PathBuf;

    #[test]
    fn only_pairs_needing_more_than_the_family_predicts_are_listed() {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../../../shared/models/kws_ref_model.tflite");
        let model = Model::read(&path).unwrap();
        let reference = dmo_ops::kernel_family("reference").unwrap();
        let buffers = tflm_baseline(&model).unwrap().buffers;
        let mut measured =
            analyse_layers(&model, &buffers, OffsetSource::Kernels(reference)).unwrap();
        // Control: the family's own offsets exceed nothing.
        assert!(excesses(&model, &buffers, &measured, reference)
            .unwrap()
            .is_empty());

        // Op 2 (1x1 CONV_2D, 8000 -> 8000 B; reference s_mono 63) as a
        // CMSIS-NN-like order would measure it: output bytes - 2.
        let pair = &mut measured[2].pairs[0];
        let mut offsets = pair.offsets.clone().unwrap();
        assert_eq!(offsets.s_mono, 63);
        offsets.s_mono = 7998;
        pair.offsets = Ok(offsets);
        let found = excesses(&model, &buffers, &measured, reference).unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!((found[0].operator, found[0].measured_s_mono), (2, 7998));
        assert_eq!(found[0].predicted_s_mono, 63);
    }
}
