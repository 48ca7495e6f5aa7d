//! Compiling the kernels to PTX with NVRTC, loaded at run time.
//!
//! The options are what make the bits the reference's: `--fmad=false` (no
//! contraction of a product and a sum into an fma), `--ftz=false` (no
//! flush of subnormals), `--prec-div=true` and `--prec-sqrt=true` (correctly
//! rounded), never `--use_fast_math`. The source writes every float
//! operation as an `_rn` intrinsic besides; the PTX lint checks the result.

use crate::error::{Error, Result};
use crate::source::SOURCE;
use std::path::PathBuf;
use std::sync::OnceLock;

/// The virtual architectures the kernels are compiled and linted for:
/// Ampere (A100) and Hopper (H100, H200). A device of a later architecture
/// runs the compute_90 PTX.
pub const ARCHS: &[&str] = &["compute_80", "compute_90"];

/// The folders searched for `libnvrtc.so.12`, in order: `$VTRAIN_NVRTC_DIR`,
/// then the checkout's `.tools/nvrtc/lib` (scripts/nvrtc.sh installs it
/// there), then the system's library path.
fn candidate_dirs() -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    if let Some(dir) = std::env::var_os("VTRAIN_NVRTC_DIR") {
        dirs.push(PathBuf::from(dir));
    }
    dirs.push(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.tools/nvrtc/lib"));
    dirs
}

/// Loads NVRTC once for the process: from the first candidate folder that
/// has it (its builtins first, so NVRTC's own `dlopen` of them by name finds
/// the loaded copy), else from the library path. Errors say where it looked.
pub fn ensure_loaded() -> Result<()> {
    static LOADED: OnceLock<std::result::Result<(), String>> = OnceLock::new();
    LOADED
        .get_or_init(load)
        .clone()
        .map_err(Error::NvrtcMissing)
}

fn load() -> std::result::Result<(), String> {
    let mut tried = Vec::new();
    for dir in candidate_dirs() {
        let nvrtc = dir.join("libnvrtc.so.12");
        let builtins = dir.join("libnvrtc-builtins.so.12.9");
        if !nvrtc.is_file() || !builtins.is_file() {
            tried.push(dir.display().to_string());
            continue;
        }
        for path in [&builtins, &nvrtc] {
            // SAFETY: NVRTC's libraries run no code at load beyond their
            // own initialisers; they stay loaded for the process (leaked).
            let library = unsafe { libloading::Library::new(path) }
                .map_err(|error| format!("{}: {error}", path.display()))?;
            std::mem::forget(library);
        }
        break;
    }
    // SAFETY: only probes dlopen with NVRTC's library names.
    if unsafe { cudarc::nvrtc::sys::is_culib_present() } {
        Ok(())
    } else {
        Err(format!(
            "not in {} nor on the library path",
            tried.join(", ")
        ))
    }
}

/// NVRTC's version, e.g. `(12, 9)`.
pub fn version() -> Result<(i32, i32)> {
    ensure_loaded()?;
    let (mut major, mut minor) = (0, 0);
    // SAFETY: NVRTC is loaded (above); the call writes two ints.
    let status = unsafe { cudarc::nvrtc::sys::nvrtcVersion(&mut major, &mut minor) };
    status
        .result()
        .map_err(|error| Error::NvrtcMissing(format!("nvrtcVersion: {error:?}")))?;
    Ok((major, minor))
}

/// The kernels' PTX for `arch` (one of [`ARCHS`], or the device's own
/// `compute_XY`).
pub fn compile(arch: &'static str) -> Result<String> {
    compile_source(SOURCE, arch, false)
}

/// Compiles `source` for `arch` with the bit-exact options, or, with
/// `contract`, with NVRTC's defaults for contraction (the lint's own test:
/// it must refuse what plain C operators compile to).
pub fn compile_source(source: &str, arch: &'static str, contract: bool) -> Result<String> {
    ensure_loaded()?;
    let options = cudarc::nvrtc::CompileOptions {
        ftz: Some(false),
        prec_sqrt: Some(true),
        prec_div: Some(true),
        fmad: Some(contract),
        use_fast_math: None,
        arch: Some(arch),
        name: Some("vtrain_kernels.cu".into()),
        // The emulator's dialect too (build.rs), so both read the same C++.
        options: vec!["--std=c++17".into()],
        ..Default::default()
    };
    let ptx = cudarc::nvrtc::compile_ptx_with_opts(source, options).map_err(|error| {
        let log = match error {
            cudarc::nvrtc::CompileError::CompileError { log, .. } => {
                log.to_string_lossy().into_owned()
            }
            other => format!("{other:?}"),
        };
        Error::Compile {
            arch: arch.to_owned(),
            log,
        }
    })?;
    Ok(ptx.to_src())
}

/// The first line of a PTX file written by [`write_ptx`]: the keccak of the
/// source it was compiled from and of the PTX itself, so a file from another
/// version of the kernels, or edited since, is refused.
pub fn ptx_header(ptx: &str) -> String {
    let keccak = |text: &str| vtrain_proof_of_learning::hash::keccak(&[text.as_bytes()]).to_hex();
    format!(
        "// vtrain kernels, source keccak {}, ptx keccak {}",
        keccak(SOURCE),
        keccak(ptx)
    )
}

/// The file [`write_ptx`] writes for `arch` in a folder.
pub fn ptx_file_name(arch: &str) -> String {
    format!("vtrain-{arch}.ptx")
}

/// Compiles the kernels for every architecture of [`ARCHS`] into `dir`, for
/// a machine without NVRTC (the GPU check's machine: its driver JIT-compiles
/// PTX, and it has no NVRTC of this version).
pub fn write_ptx(dir: &std::path::Path) -> Result<Vec<std::path::PathBuf>> {
    std::fs::create_dir_all(dir).map_err(|error| Error::Compile {
        arch: "-".into(),
        log: format!("{}: {error}", dir.display()),
    })?;
    let mut written = Vec::new();
    for &arch in ARCHS {
        let ptx = compile(arch)?;
        let path = dir.join(ptx_file_name(arch));
        std::fs::write(&path, format!("{}\n{ptx}", ptx_header(&ptx))).map_err(|error| {
            Error::Compile {
                arch: arch.into(),
                log: format!("{}: {error}", path.display()),
            }
        })?;
        written.push(path);
    }
    Ok(written)
}

/// The PTX for `arch` from a folder [`write_ptx`] filled; refused if it was
/// compiled from another source.
pub fn read_ptx(dir: &std::path::Path, arch: &str) -> Result<String> {
    let path = dir.join(ptx_file_name(arch));
    let text = std::fs::read_to_string(&path).map_err(|error| Error::Compile {
        arch: arch.into(),
        log: format!("{}: {error}", path.display()),
    })?;
    let (header, ptx) = text.split_once('\n').unwrap_or((&text, ""));
    if header != ptx_header(ptx) {
        return Err(Error::Compile {
            arch: arch.into(),
            log: format!(
                "{} was compiled from other kernels or edited since ({header:?}); write it again \
                 with this build",
                path.display()
            ),
        });
    }
    Ok(ptx.to_owned())
}
