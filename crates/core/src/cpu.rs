//! The Cortex-M cores `dmo` emulates and builds firmware for: one list, so
//! `--cpu` means the same core to `dmo trace` and to `dmo firmware`.

use std::fmt;
use std::str::FromStr;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum CpuModel {
    CortexM0,
    CortexM3,
    #[default]
    CortexM4,
    CortexM7,
}

impl CpuModel {
    pub const ALL: [CpuModel; 4] = [
        CpuModel::CortexM0,
        CpuModel::CortexM3,
        CpuModel::CortexM4,
        CpuModel::CortexM7,
    ];

    /// The name `--cpu` takes, gcc's `-mcpu` and a trace's `cpu` field.
    pub fn name(self) -> &'static str {
        match self {
            CpuModel::CortexM0 => "cortex-m0",
            CpuModel::CortexM3 => "cortex-m3",
            CpuModel::CortexM4 => "cortex-m4",
            CpuModel::CortexM7 => "cortex-m7",
        }
    }

    /// Whether the core has a floating-point unit (enabled from reset when
    /// emulated, used with hard-float calls when compiled for).
    pub fn has_fpu(self) -> bool {
        matches!(self, CpuModel::CortexM4 | CpuModel::CortexM7)
    }
}

impl fmt::Display for CpuModel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A `--cpu` name that is none of [`CpuModel::ALL`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown CPU `{name}`; choose one of cortex-m0, cortex-m3, cortex-m4, cortex-m7")]
pub struct UnknownCpu {
    pub name: String,
}

impl FromStr for CpuModel {
    type Err = UnknownCpu;

    /// Accepts `cortex-m4`, `Cortex_M4`, `m4`, ...
    fn from_str(text: &str) -> Result<CpuModel, UnknownCpu> {
        let wanted = text.to_ascii_lowercase().replace(['_', ' '], "-");
        CpuModel::ALL
            .into_iter()
            .find(|cpu| cpu.name() == wanted || cpu.name().trim_start_matches("cortex-") == wanted)
            .ok_or_else(|| UnknownCpu {
                name: text.to_owned(),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_names() {
        assert_eq!("cortex-m7".parse::<CpuModel>(), Ok(CpuModel::CortexM7));
        assert_eq!("M0".parse::<CpuModel>(), Ok(CpuModel::CortexM0));
        assert!("cortex-a53"
            .parse::<CpuModel>()
            .unwrap_err()
            .to_string()
            .contains("cortex-m4"));
        for cpu in CpuModel::ALL {
            assert_eq!(cpu.name().parse::<CpuModel>(), Ok(cpu));
        }
    }
}
