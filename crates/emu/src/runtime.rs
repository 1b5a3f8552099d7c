//! Known runtimes (`data/runtimes.toml`): which function calls of a firmware
//! are its operators, and their TFLite kinds, so firmware without markers
//! needs no `--ops` pattern. [`OpFunctions`] is what a run is given: rules
//! from a runtime, or the one pattern of `--ops`.

use crate::firmware::Firmware;
use dmo_core::{Symbol, SymbolKind};
use regex::Regex;
use serde::Deserialize;
use std::borrow::Cow;
use std::sync::OnceLock;

const RUNTIMES_TOML: &str = include_str!("../../../data/runtimes.toml");

/// Which functions are ops, and the kind each gets.
#[derive(Clone, Debug)]
pub struct OpFunctions {
    rules: Vec<(Regex, Option<String>)>,
}

impl OpFunctions {
    /// `--ops REGEX`: every function whose raw or demangled name matches;
    /// the op's kind is the demangled name.
    pub fn matching(pattern: Regex) -> OpFunctions {
        OpFunctions {
            rules: vec![(pattern, None)],
        }
    }

    /// The op kind for a call of `symbol`, if it is an op function.
    pub fn kind_of(&self, symbol: &Symbol) -> Option<String> {
        if symbol.kind != SymbolKind::Function {
            return None;
        }
        let demangled = symbol.display_name();
        self.rules.iter().find_map(|(pattern, kind)| {
            let matches =
                pattern.is_match(&demangled) || (kind.is_none() && pattern.is_match(&symbol.name));
            matches.then(|| {
                kind.clone()
                    .unwrap_or_else(|| demangled.clone().into_owned())
            })
        })
    }
}

/// One known runtime.
#[derive(Clone, Debug)]
pub struct Runtime {
    pub name: String,
    pub description: String,
    detect: Vec<Regex>,
    kernels: Vec<(Regex, String)>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RuntimesFile {
    runtime: Vec<RuntimeEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RuntimeEntry {
    name: String,
    description: String,
    detect: Vec<String>,
    #[serde(default)]
    include: Option<String>,
    kernels: Vec<KernelEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KernelEntry {
    symbol: String,
    kind: String,
}

/// A `--runtime` that `data/runtimes.toml` does not list.
#[derive(Clone, PartialEq, Eq, Debug, thiserror::Error)]
#[error("unknown runtime `{name}`; known: {}", known.join(", "))]
pub struct UnknownRuntime {
    pub name: String,
    pub known: Vec<String>,
}

impl Runtime {
    /// Every runtime of `data/runtimes.toml`, in file order (the order
    /// detection tries them).
    pub fn all() -> &'static [Runtime] {
        static RUNTIMES: OnceLock<Vec<Runtime>> = OnceLock::new();
        RUNTIMES.get_or_init(|| parse(RUNTIMES_TOML).expect("data/runtimes.toml is valid"))
    }

    /// The runtime called `name`; the error lists the known ones.
    pub fn named(name: &str) -> Result<&'static Runtime, UnknownRuntime> {
        Runtime::all()
            .iter()
            .find(|runtime| runtime.name == name)
            .ok_or_else(|| UnknownRuntime {
                name: name.to_owned(),
                known: Runtime::all().iter().map(|r| r.name.clone()).collect(),
            })
    }

    /// The first runtime whose detection patterns match a function of
    /// `firmware`, with the function that matched.
    pub fn detect(firmware: &Firmware) -> Option<(&'static Runtime, String)> {
        let functions: Vec<(Cow<'_, str>, &Symbol)> = firmware
            .symbols
            .iter()
            .filter(|symbol| symbol.kind == SymbolKind::Function)
            .map(|symbol| (symbol.display_name(), symbol))
            .collect();
        Runtime::all().iter().find_map(|runtime| {
            functions.iter().find_map(|(name, _)| {
                runtime
                    .detect
                    .iter()
                    .any(|pattern| pattern.is_match(name))
                    .then(|| (runtime, name.to_string()))
            })
        })
    }

    /// The op functions of this runtime.
    pub fn op_functions(&self) -> OpFunctions {
        OpFunctions {
            rules: self
                .kernels
                .iter()
                .map(|(pattern, kind)| (pattern.clone(), Some(kind.clone())))
                .collect(),
        }
    }

    /// `(pattern, kind)` of every kernel, in the order they are tried.
    pub fn kernels(&self) -> impl Iterator<Item = (&str, &str)> {
        self.kernels
            .iter()
            .map(|(pattern, kind)| (pattern.as_str(), kind.as_str()))
    }
}

fn parse(text: &str) -> Result<Vec<Runtime>, String> {
    let file: RuntimesFile = toml::from_str(text).map_err(|e| e.to_string())?;
    let compile = |pattern: &str| Regex::new(pattern).map_err(|e| format!("{pattern}: {e}"));
    let mut runtimes = Vec::new();
    for entry in &file.runtime {
        let mut kernels = Vec::new();
        for kernel in &entry.kernels {
            kernels.push((compile(&kernel.symbol)?, kernel.kind.clone()));
        }
        if let Some(included) = &entry.include {
            let other = file
                .runtime
                .iter()
                .find(|r| &r.name == included)
                .ok_or_else(|| format!("{}: includes unknown runtime {included}", entry.name))?;
            for kernel in &other.kernels {
                kernels.push((compile(&kernel.symbol)?, kernel.kind.clone()));
            }
        }
        runtimes.push(Runtime {
            name: entry.name.clone(),
            description: entry.description.clone(),
            detect: entry
                .detect
                .iter()
                .map(|p| compile(p))
                .collect::<Result<_, _>>()?,
            kernels,
        });
    }
    Ok(runtimes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use dmo_core::Address;

    fn function(name: &str) -> Symbol {
        Symbol {
            name: name.to_string(),
            address: Address(0x100),
            size: 0x40,
            kind: SymbolKind::Function,
        }
    }

    #[test]
    fn the_data_file_parses_and_names_tflm_kernels() {
        let reference = Runtime::named("tflm-reference").unwrap();
        let ops = reference.op_functions();
        // TFLM's real mangled names (conv.cc, reshape.cc, quantize_common.cc).
        assert_eq!(
            ops.kind_of(&function(
                "_ZN6tflite12_GLOBAL__N_18ConvEvalEP13TfLiteContextP10TfLiteNode"
            ))
            .as_deref(),
            Some("CONV_2D")
        );
        assert_eq!(
            ops.kind_of(&function(
                "_ZN6tflite12_GLOBAL__N_120EvalReshapeReferenceEP13TfLiteContextP10TfLiteNode"
            ))
            .as_deref(),
            Some("RESHAPE")
        );
        assert_eq!(
            ops.kind_of(&function(
                "_ZN6tflite21EvalQuantizeReferenceEP13TfLiteContextP10TfLiteNode"
            ))
            .as_deref(),
            Some("QUANTIZE")
        );
        // A helper with a kernel-like name is not an op.
        assert_eq!(
            ops.kind_of(&function("_ZN6tflite13reference_ops4ConvEv")),
            None
        );
        let cmsis = Runtime::named("tflm-cmsis-nn").unwrap();
        let ops = cmsis.op_functions();
        assert_eq!(
            ops.kind_of(&function("arm_convolve_wrapper_s8")).as_deref(),
            Some("CONV_2D")
        );
        // Included from the reference runtime.
        assert_eq!(
            ops.kind_of(&function(
                "_ZN6tflite12_GLOBAL__N_120EvalReshapeReferenceEP13TfLiteContextP10TfLiteNode"
            ))
            .as_deref(),
            Some("RESHAPE")
        );
        assert!(Runtime::named("tvm")
            .unwrap_err()
            .to_string()
            .contains("tflm-reference"));
    }

    #[test]
    fn ops_pattern_matches_raw_or_demangled_and_kind_is_demangled() {
        let ops = OpFunctions::matching(Regex::new("ConvEval").unwrap());
        assert_eq!(
            ops.kind_of(&function(
                "_ZN6tflite12_GLOBAL__N_18ConvEvalEP13TfLiteContextP10TfLiteNode"
            ))
            .as_deref(),
            Some("tflite::ConvEval")
        );
        let raw = OpFunctions::matching(Regex::new("EP13TfLiteContext").unwrap());
        assert!(raw
            .kind_of(&function(
                "_ZN6tflite12_GLOBAL__N_18ConvEvalEP13TfLiteContextP10TfLiteNode"
            ))
            .is_some());
    }
}
