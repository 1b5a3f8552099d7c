//! Writing the generated C with its support files into a build folder and linking it with
//! `arm-none-eabi-gcc`, with the fixtures' flags (fixtures/Makefile).

use crate::error::FirmwareError;
use crate::generate::{generate_source, GeneratedSource};
use crate::sources::{LINKER_SCRIPT, SUPPORT_FILES};
use dmo_core::CpuModel;
use std::path::{Path, PathBuf};
use std::process::Command;

/// gcc's CPU flags for `cpu`, as fixtures/Makefile (hard float where the
/// core has an FPU).
fn compiler_flags(cpu: CpuModel) -> &'static [&'static str] {
    match cpu {
        CpuModel::CortexM0 => &["-mcpu=cortex-m0", "-mthumb", "-mfloat-abi=soft"],
        CpuModel::CortexM3 => &["-mcpu=cortex-m3", "-mthumb", "-mfloat-abi=soft"],
        CpuModel::CortexM4 => &[
            "-mcpu=cortex-m4",
            "-mthumb",
            "-mfpu=fpv4-sp-d16",
            "-mfloat-abi=hard",
        ],
        CpuModel::CortexM7 => &[
            "-mcpu=cortex-m7",
            "-mthumb",
            "-mfpu=fpv5-d16",
            "-mfloat-abi=hard",
        ],
    }
}

/// How to build one firmware.
#[derive(Clone, Debug)]
pub struct BuildOptions {
    pub cpu: CpuModel,
    /// The ELF to write.
    pub output: PathBuf,
    /// Where the C sources go; default: `<output without extension>.src/` beside the ELF.
    pub source_folder: Option<PathBuf>,
    /// The compiler (default `arm-none-eabi-gcc`).
    pub compiler: String,
    /// Place tensors at these offsets (an `OfflineMemoryAllocation`: one per
    /// tensor of all subgraphs) instead of TFLM's greedy plan.
    pub offline_plan: Option<Vec<i32>>,
    /// The loop orders of the kernels: `Reference` (dmo's reference kernels) or `CmsisNn`
    /// (CMSIS-NN-order kernels where CMSIS-NN's order differs; `crate::cmsis`).
    pub kernels: dmo_ops::LoopOrders,
    /// Replace an existing ELF (a regular file only). Without it the final
    /// rename refuses to replace anything (`dmo_fsio::AtomicFile`).
    pub overwrite: bool,
}

impl BuildOptions {
    pub fn new(cpu: CpuModel, output: PathBuf) -> BuildOptions {
        BuildOptions {
            cpu,
            output,
            source_folder: None,
            compiler: "arm-none-eabi-gcc".to_owned(),
            offline_plan: None,
            kernels: dmo_ops::LoopOrders::Reference,
            overwrite: false,
        }
    }
}

/// A linked firmware and what was generated for it.
#[derive(Clone, Debug)]
pub struct BuiltFirmware {
    pub elf: PathBuf,
    pub source_folder: PathBuf,
    pub generated: GeneratedSource,
}

/// Reads `model`, generates its C, writes it and the support files into the source folder and
/// links the ELF. The ELF appears only if the link succeeds.
pub fn build_firmware(
    model: &Path,
    options: &BuildOptions,
) -> Result<BuiltFirmware, FirmwareError> {
    let parsed = dmo_tflite::Model::read(model)?;
    let bytes = dmo_fsio::read_input(model, dmo_fsio::MAX_INPUT_BYTES)?;
    let contents = dmo_tflite::tensor_contents(&bytes).map_err(|problem| {
        FirmwareError::Read(dmo_tflite::ModelError::Format {
            path: model.to_path_buf(),
            problem,
        })
    })?;
    let generated = generate_source(
        &parsed,
        &contents,
        options.offline_plan.as_deref(),
        options.kernels,
    )
    .map_err(|source| FirmwareError::Generate {
        path: model.to_path_buf(),
        problem: source,
    })?;
    let source_folder = options
        .source_folder
        .clone()
        .unwrap_or_else(|| options.output.with_extension("src"));
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| FirmwareError::Io {
            path,
            problem: source,
        }
    };
    std::fs::create_dir_all(&source_folder).map_err(io(&source_folder))?;
    for (name, text) in SUPPORT_FILES {
        let path = source_folder.join(name);
        std::fs::write(&path, text).map_err(io(&path))?;
    }
    let linker_script = source_folder.join("cortex-m.ld");
    std::fs::write(&linker_script, LINKER_SCRIPT).map_err(io(&linker_script))?;
    let model_source = source_folder.join("model.c");
    std::fs::write(&model_source, &generated.c_source).map_err(io(&model_source))?;
    if let Some(parent) = options
        .output
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
    {
        std::fs::create_dir_all(parent).map_err(io(parent))?;
    }
    compile(&source_folder, options)?;
    Ok(BuiltFirmware {
        elf: options.output.clone(),
        source_folder,
        generated,
    })
}

/// Compiles and links every `.c` file of `source_folder` with its `cortex-m.ld` into
/// `options.output` (via a temporary file, so a failed link leaves no ELF behind).
pub fn compile(source_folder: &Path, options: &BuildOptions) -> Result<(), FirmwareError> {
    let mut sources: Vec<PathBuf> = SUPPORT_FILES
        .iter()
        .filter(|(name, _)| name.ends_with(".c"))
        .map(|(name, _)| source_folder.join(name))
        .collect();
    sources.push(source_folder.join("model.c"));
    // A random temporary name beside the ELF, removed if the link fails or
    // on SIGINT/SIGTERM; the compiler writes it by path.
    let partial = dmo_fsio::AtomicFile::create(&options.output, options.overwrite)?;
    let result = Command::new(&options.compiler)
        .args(compiler_flags(options.cpu))
        .args([
            "-std=c11",
            "-O2",
            "-g",
            "-Wall",
            "-Wextra",
            "-ffp-contract=off",
        ])
        .args(["-ffunction-sections", "-fdata-sections"])
        .arg("-I")
        .arg(source_folder)
        .arg("-T")
        .arg(source_folder.join("cortex-m.ld"))
        .args(["-nostartfiles", "--specs=rdimon.specs", "-Wl,--gc-sections"])
        .args(&sources)
        .arg("-lm")
        .arg("-o")
        .arg(partial.temporary_path())
        .output();
    let output = match result {
        Ok(output) => output,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            return Err(FirmwareError::CompilerMissing {
                compiler: options.compiler.clone(),
            })
        }
        Err(source) => {
            return Err(FirmwareError::Io {
                path: PathBuf::from(&options.compiler),
                problem: source,
            })
        }
    };
    if !output.status.success() {
        // Dropping `partial` removes whatever the compiler left.
        return Err(FirmwareError::CompilerFailed {
            compiler: options.compiler.clone(),
            output: options.output.clone(),
            status: output.status.to_string(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        });
    }
    Ok(partial.commit()?)
}
