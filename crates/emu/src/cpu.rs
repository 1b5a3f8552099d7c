//! The Cortex-M cores `dmo` can emulate.

use crate::error::EmuError;
use std::fmt;
use std::str::FromStr;
use unicorn_engine::{Arch, ArmCpuModel, Mode, Unicorn};

/// Opens a unicorn engine emulating `cpu`, with `data` for the hooks.
///
/// Unicorn 2.1 ignores the selected model when the engine is opened with
/// `UC_MODE_MCLASS` (it always builds a Cortex-M33, whose FPU is single
/// precision only). Opening in plain Thumb mode and selecting the model gives
/// the real core: the Cortex-M models are M-profile by themselves.
pub(crate) fn open_engine<'a, D: 'a>(cpu: CpuModel, data: D) -> Result<Unicorn<'a, D>, EmuError> {
    let mut uc = Unicorn::new_with_data(Arch::ARM, Mode::THUMB, data)
        .map_err(|e| EmuError::unicorn("open an ARM Thumb engine", e))?;
    uc.ctl_set_cpu_model(cpu.unicorn_model() as i32)
        .map_err(|e| EmuError::unicorn(format!("select CPU {cpu}"), e))?;
    Ok(uc)
}

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

    pub fn name(self) -> &'static str {
        match self {
            CpuModel::CortexM0 => "cortex-m0",
            CpuModel::CortexM3 => "cortex-m3",
            CpuModel::CortexM4 => "cortex-m4",
            CpuModel::CortexM7 => "cortex-m7",
        }
    }

    /// Whether the core has a floating-point unit (enabled from reset here).
    pub fn has_fpu(self) -> bool {
        matches!(self, CpuModel::CortexM4 | CpuModel::CortexM7)
    }

    pub(crate) fn unicorn_model(self) -> ArmCpuModel {
        match self {
            CpuModel::CortexM0 => ArmCpuModel::CORTEX_M0,
            CpuModel::CortexM3 => ArmCpuModel::CORTEX_M3,
            CpuModel::CortexM4 => ArmCpuModel::CORTEX_M4,
            CpuModel::CortexM7 => ArmCpuModel::CORTEX_M7,
        }
    }
}

impl fmt::Display for CpuModel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for CpuModel {
    type Err = String;
    fn from_str(text: &str) -> Result<CpuModel, String> {
        let wanted = text.to_ascii_lowercase().replace(['_', ' '], "-");
        CpuModel::ALL
            .into_iter()
            .find(|cpu| cpu.name() == wanted || cpu.name().trim_start_matches("cortex-") == wanted)
            .ok_or_else(|| {
                format!("unknown CPU `{text}`; choose one of cortex-m0, cortex-m3, cortex-m4, cortex-m7")
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `vmov.f32 s15, #1.0; vcvt.f64.f32 d7, s15`: double precision exists
    /// on the Cortex-M7's FPv5-D16 but not on the Cortex-M4's FPv4-SP.
    #[test]
    fn each_model_is_the_core_it_names() {
        use unicorn_engine::{Prot, RegisterARM};
        let code = [0xf7, 0xee, 0x00, 0x7a, 0xb7, 0xee, 0xe7, 0x7a];
        let run = |cpu| {
            let mut uc = open_engine(cpu, ()).unwrap();
            uc.mem_map(0x1000, 0x1000, Prot::ALL).unwrap();
            uc.mem_write(0x1000, &code).unwrap();
            let result = uc.emu_start(0x1001, 0x1008, 0, 0);
            (result.is_ok(), uc.reg_read(RegisterARM::D7).unwrap())
        };
        assert_eq!(run(CpuModel::CortexM7), (true, 1.0f64.to_bits()));
        assert!(
            !run(CpuModel::CortexM4).0,
            "the M4 has no double-precision FPU"
        );
    }

    #[test]
    fn parses_names() {
        assert_eq!("cortex-m7".parse::<CpuModel>(), Ok(CpuModel::CortexM7));
        assert_eq!("M0".parse::<CpuModel>(), Ok(CpuModel::CortexM0));
        assert!("cortex-a53"
            .parse::<CpuModel>()
            .unwrap_err()
            .contains("cortex-m4"));
    }
}
