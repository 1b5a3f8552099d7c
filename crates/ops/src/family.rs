//! Kernel families (`data/kernel_families.toml`): which kernels a firmware
//! runs decides its loop orders, and a safe offset holds for one loop order
//! only. Every offset dmo-ops predicts belongs to the [`LoopOrders`] of one
//! family; a family dmo has no model for says so instead of borrowing
//! another family's offsets.

use serde::Deserialize;
use std::sync::OnceLock;
use thiserror::Error;

/// The catalogue, compiled in so the tool needs no data files at run time.
const FAMILIES_TOML: &str = include_str!("../../../data/kernel_families.toml");

/// The loop orders dmo-ops can simulate.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Deserialize, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum LoopOrders {
    /// TFLM's portable reference kernels (`shared/DESIGN.md`, "Reference
    /// kernel loop orders").
    Reference,
    /// TFLM built with CMSIS-NN, int8 paths of a Cortex-M4/M7 with DSP compiled by GCC
    /// (`docs/methods.md`, "CMSIS-NN loop orders").
    CmsisNn,
}

impl LoopOrders {
    /// The name `data/kernel_families.toml` gives these loop orders.
    pub fn name(self) -> &'static str {
        match self {
            LoopOrders::Reference => "reference",
            LoopOrders::CmsisNn => "cmsis-nn",
        }
    }
}

/// One family of kernels, as the catalogue describes it.
#[derive(Clone, PartialEq, Eq, Debug, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct KernelFamily {
    /// What `--kernels` takes.
    pub name: String,
    /// The runtime and build that runs these kernels.
    pub runtime: String,
    /// How a firmware ends up with them.
    pub selection: String,
    /// The loop orders dmo-ops models for this family, if any.
    pub loop_orders: Option<LoopOrders>,
    pub note: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Catalogue {
    family: Vec<KernelFamily>,
}

/// Why a family cannot be used.
#[derive(Clone, PartialEq, Eq, Debug, Error)]
pub enum KernelFamilyError {
    #[error("unknown kernel family {name:?}; known: {}", known.join(", "))]
    Unknown { name: String, known: Vec<String> },
    #[error("dmo has no model of the {name} kernels' loop orders. {note}")]
    NotModelled { name: String, note: String },
}

/// Every family of `data/kernel_families.toml`, in file order.
pub fn kernel_families() -> &'static [KernelFamily] {
    static FAMILIES: OnceLock<Vec<KernelFamily>> = OnceLock::new();
    FAMILIES.get_or_init(|| {
        // Compiled-in data, checked by `the_catalogue_parses_and_names_are_unique`.
        toml::from_str::<Catalogue>(FAMILIES_TOML)
            .expect("data/kernel_families.toml is valid")
            .family
    })
}

/// The family called `name` (case-insensitive).
pub fn kernel_family(name: &str) -> Result<&'static KernelFamily, KernelFamilyError> {
    kernel_families()
        .iter()
        .find(|family| family.name.eq_ignore_ascii_case(name))
        .ok_or_else(|| KernelFamilyError::Unknown {
            name: name.to_owned(),
            known: kernel_families().iter().map(|f| f.name.clone()).collect(),
        })
}

impl KernelFamily {
    /// The loop orders to simulate for this family, or why there are none.
    pub fn modelled_loop_orders(&self) -> Result<LoopOrders, KernelFamilyError> {
        self.loop_orders
            .ok_or_else(|| KernelFamilyError::NotModelled {
                name: self.name.clone(),
                note: self.note.clone(),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_catalogue_parses_and_names_are_unique() {
        let families = kernel_families();
        let mut names: Vec<String> = families.iter().map(|f| f.name.to_lowercase()).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), families.len());
        // The two families the kernel-plans issue names.
        assert!(names.contains(&"reference".to_string()));
        assert!(names.contains(&"cmsis-nn".to_string()));
    }

    #[test]
    fn only_modelled_families_give_loop_orders() {
        assert_eq!(
            kernel_family("reference").unwrap().modelled_loop_orders(),
            Ok(LoopOrders::Reference)
        );
        assert_eq!(kernel_family("REFERENCE").unwrap().name, "reference");
        assert_eq!(
            kernel_family("cmsis-nn").unwrap().modelled_loop_orders(),
            Ok(LoopOrders::CmsisNn)
        );
        // Control: a family without loop orders refuses, with its note.
        let unmodelled = KernelFamily {
            loop_orders: None,
            ..kernel_family("cmsis-nn").unwrap().clone()
        };
        let error = unmodelled.modelled_loop_orders().unwrap_err().to_string();
        assert!(error.contains("--offsets-from"), "{error}");
        let unknown = kernel_family("arm-ethos").unwrap_err().to_string();
        assert!(unknown.contains("reference, cmsis-nn"), "{unknown}");
    }
}
