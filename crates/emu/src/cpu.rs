//! Opening unicorn on one of the cores of [`CpuModel`].

use crate::error::EmuError;
use dmo_core::CpuModel;
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
    uc.ctl_set_cpu_model(unicorn_model(cpu) as i32)
        .map_err(|e| EmuError::unicorn(format!("select CPU {cpu}"), e))?;
    Ok(uc)
}

fn unicorn_model(cpu: CpuModel) -> ArmCpuModel {
    match cpu {
        CpuModel::CortexM0 => ArmCpuModel::CORTEX_M0,
        CpuModel::CortexM3 => ArmCpuModel::CORTEX_M3,
        CpuModel::CortexM4 => ArmCpuModel::CORTEX_M4,
        CpuModel::CortexM7 => ArmCpuModel::CORTEX_M7,
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
}
