//! A CUDA GPU through the driver API (`cudarc`, loaded at run time: the
//! binary builds and starts on machines without CUDA, and says so when asked
//! for a GPU there).

use crate::device::{Device, Launch, Param};
use crate::error::{Error, Result};
use crate::{lint, nvrtc, source};
use cudarc::driver::{
    CudaContext, CudaFunction, CudaSlice, CudaStream, DevicePtr, LaunchConfig, PushKernelArg,
};
use std::collections::HashMap;
use std::sync::Arc;

/// One CUDA device with the kernels loaded.
pub struct CudaDevice {
    label: String,
    context: Arc<CudaContext>,
    stream: Arc<CudaStream>,
    functions: HashMap<&'static str, CudaFunction>,
}

/// Device memory of a logical length (an empty tensor holds one word of
/// allocation, since CUDA allocates none of zero bytes, but is empty).
pub struct CudaBuffer {
    slice: CudaSlice<f32>,
    len: usize,
}

impl std::fmt::Debug for CudaDevice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CudaDevice")
            .field("label", &self.label)
            .finish()
    }
}

impl CudaDevice {
    /// Opens GPU `ordinal`, compiles the kernels for its architecture with
    /// NVRTC, lints the PTX and loads it. Refuses GPUs older than compute
    /// capability 8.0.
    pub fn open(ordinal: usize) -> Result<Self> {
        Self::open_with(ordinal, None)
    }

    /// [`CudaDevice::open`], with the PTX read from `ptx_dir` (written by
    /// [`nvrtc::write_ptx`] from this build's source) instead of compiled.
    pub fn open_with(ordinal: usize, ptx_dir: Option<&std::path::Path>) -> Result<Self> {
        let device = format!("cuda:{ordinal}");
        let fail = |reason: String| Error::Device {
            device: device.clone(),
            reason,
        };
        // SAFETY: only probes dlopen with the driver library's names.
        if !unsafe { cudarc::driver::sys::is_culib_present() } {
            return Err(fail(
                "the CUDA driver (libcuda.so) is not installed on this machine".into(),
            ));
        }
        let context = CudaContext::new(ordinal).map_err(|error| fail(format!("{error:?}")))?;
        let name = context.name().map_err(|error| fail(format!("{error:?}")))?;
        let (major, minor) = context
            .compute_capability()
            .map_err(|error| fail(format!("{error:?}")))?;
        let arch = match major {
            9.. => "compute_90",
            8 => "compute_80",
            _ => {
                return Err(fail(format!(
                    "{name} has compute capability {major}.{minor}; the kernels need 8.0 or later"
                )));
            }
        };
        let ptx = match ptx_dir {
            Some(dir) => nvrtc::read_ptx(dir, arch)?,
            None => nvrtc::compile(arch)?,
        };
        let findings = lint::lint(&ptx);
        if !findings.is_empty() {
            return Err(Error::Lint {
                arch: arch.into(),
                findings: findings
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("\n"),
            });
        }
        // One stream only: the launches read buffers by raw address, so
        // cudarc's per-buffer event tracking (meant for several streams) has
        // nothing to order, and costs two events per allocation.
        // SAFETY: no other stream is ever made on this context.
        unsafe { context.disable_event_tracking() };
        let module = context
            .load_module(cudarc::nvrtc::Ptx::from_src(ptx))
            .map_err(|error| fail(format!("loading the PTX: {error:?}")))?;
        let mut functions = HashMap::new();
        for kernel in source::kernels() {
            let function = module
                .load_function(kernel)
                .map_err(|error| fail(format!("kernel {kernel}: {error:?}")))?;
            functions.insert(kernel, function);
        }
        Ok(Self {
            label: format!("{device} ({name}, sm_{major}{minor}, {arch} PTX)"),
            stream: context.default_stream(),
            context,
            functions,
        })
    }

    fn fail(&self, kernel: &str, error: impl std::fmt::Debug) -> Error {
        Error::Launch {
            device: self.label.clone(),
            kernel: kernel.into(),
            reason: format!("{error:?}"),
        }
    }
}

impl Device for CudaDevice {
    type Buffer = CudaBuffer;

    fn describe(&self) -> String {
        self.label.clone()
    }

    fn alloc(&self, len: usize) -> Result<CudaBuffer> {
        // SAFETY: every kernel writes each element of its output before any
        // read (the executor's contract, held by the emulator's tests, which
        // fill new buffers with a marker NaN), so the contents are never read.
        let slice = unsafe { self.stream.alloc::<f32>(len.max(1)) }
            .map_err(|error| self.fail("alloc", error))?;
        Ok(CudaBuffer { slice, len })
    }

    fn upload(&self, data: &[f32]) -> Result<CudaBuffer> {
        if data.is_empty() {
            return self.alloc(0);
        }
        let slice = self
            .stream
            .clone_htod(data)
            .map_err(|error| self.fail("upload", error))?;
        Ok(CudaBuffer {
            slice,
            len: data.len(),
        })
    }

    fn download(&self, buffer: &CudaBuffer) -> Result<Vec<f32>> {
        let mut values = self
            .stream
            .clone_dtoh(&buffer.slice)
            .map_err(|error| self.fail("download", error))?;
        self.stream
            .synchronize()
            .map_err(|error| self.fail("synchronize", error))?;
        values.truncate(buffer.len);
        Ok(values)
    }

    fn len(&self, buffer: &CudaBuffer) -> usize {
        buffer.len
    }

    fn address(&self, buffer: &CudaBuffer) -> u64 {
        let (address, _sync) = buffer.slice.device_ptr(&self.stream);
        address
    }

    fn bind(&self) -> Result<()> {
        self.context
            .bind_to_thread()
            .map_err(|error| self.fail("bind", error))
    }

    fn launch(&self, kernel: &'static str, shape: Launch, params: &[Param]) -> Result<()> {
        let function = self
            .functions
            .get(kernel)
            .ok_or_else(|| self.fail(kernel, "no such kernel in the module"))?;
        // Typed copies that outlive the builder, which holds pointers to them.
        let (mut addresses, mut words, mut floats) = (Vec::new(), Vec::new(), Vec::new());
        for param in params {
            match *param {
                Param::Ptr(address) => addresses.push(address),
                Param::U32(value) => words.push(value),
                Param::F32(value) => floats.push(value),
            }
        }
        let mut builder = self.stream.launch_builder(function);
        let (mut a, mut w, mut f) = (0, 0, 0);
        for param in params {
            match param {
                Param::Ptr(_) => {
                    builder.arg(&addresses[a]);
                    a += 1;
                }
                Param::U32(_) => {
                    builder.arg(&words[w]);
                    w += 1;
                }
                Param::F32(_) => {
                    builder.arg(&floats[f]);
                    f += 1;
                }
            }
        }
        let config = LaunchConfig {
            grid_dim: (shape.grid[0], shape.grid[1], shape.grid[2]),
            block_dim: (shape.block[0], shape.block[1], shape.block[2]),
            shared_mem_bytes: 0,
        };
        // SAFETY: the executor passes each kernel the parameters its CUDA
        // signature declares, buffers of the lengths it indexes (the
        // emulated runs of the same dispatch check both), and keeps the
        // buffers alive until the stream has run the launch.
        unsafe { builder.launch(config) }.map_err(|error| self.fail(kernel, error))?;
        Ok(())
    }
}
