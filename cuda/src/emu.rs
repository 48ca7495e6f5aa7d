//! The CPU emulation of the CUDA kernels: the same source as the PTX,
//! compiled as C++ by build.rs (`emu/emu.cpp`), with host memory as device
//! memory. Slow (a block of a synchronising kernel is hundreds of OS
//! threads), exact, and the way the kernels are tested on machines without
//! a GPU.

use crate::device::{Device, Launch, Param};
use crate::error::{Error, Result};
use std::ffi::{CString, c_char, c_int, c_void};
use std::ptr::NonNull;

unsafe extern "C" {
    fn vt_emu_launch(
        name: *const c_char,
        grid: *const u32,
        block: *const u32,
        params: *mut *mut c_void,
        param_kinds: *const u32,
        param_count: usize,
    ) -> c_int;
    fn vt_emu_kernel_count() -> usize;
    fn vt_emu_kernel_name(index: usize) -> *const c_char;
}

/// The emulated device.
#[derive(Debug, Default)]
pub struct EmuDevice;

/// Host memory standing in for device memory: a kernel writes it through
/// its address while Rust holds only this handle, so it is a raw allocation
/// (never a Rust slice a kernel could write behind a shared reference).
#[derive(Debug)]
pub struct EmuBuffer {
    ptr: NonNull<f32>,
    len: usize,
}

// SAFETY: the buffer owns its allocation; kernels, the only other writers,
// run synchronously inside `launch`.
unsafe impl Send for EmuBuffer {}
// SAFETY: as above; shared handles only read through `download`.
unsafe impl Sync for EmuBuffer {}

impl EmuBuffer {
    /// A new buffer, every word a NaN no primitive makes (`0x7FBADBAD`):
    /// device memory starts with whatever was there, so an output element a
    /// kernel failed to write must not read as a plausible `+0` in tests.
    fn new(len: usize) -> Self {
        let slice: Box<[f32]> = vec![f32::from_bits(0x7FBA_DBAD); len.max(1)].into_boxed_slice();
        let ptr = NonNull::from(Box::leak(slice)).cast::<f32>();
        Self { ptr, len }
    }
}

impl Drop for EmuBuffer {
    fn drop(&mut self) {
        let slice = std::ptr::slice_from_raw_parts_mut(self.ptr.as_ptr(), self.len.max(1));
        // SAFETY: allocated in `new` as a boxed slice of this length.
        drop(unsafe { Box::from_raw(slice) });
    }
}

impl EmuDevice {
    /// The kernels the emulator was built with.
    pub fn kernel_names() -> Vec<String> {
        // SAFETY: the emulator's table is static; names are NUL-terminated.
        unsafe {
            (0..vt_emu_kernel_count())
                .map(|i| {
                    std::ffi::CStr::from_ptr(vt_emu_kernel_name(i))
                        .to_string_lossy()
                        .into_owned()
                })
                .collect()
        }
    }
}

impl Device for EmuDevice {
    type Buffer = EmuBuffer;

    fn describe(&self) -> String {
        "emu (the CUDA kernels on the CPU)".into()
    }

    fn alloc(&self, len: usize) -> Result<EmuBuffer> {
        Ok(EmuBuffer::new(len))
    }

    fn upload(&self, data: &[f32]) -> Result<EmuBuffer> {
        let buffer = EmuBuffer::new(data.len());
        // SAFETY: the new buffer holds at least data.len() values.
        unsafe { std::ptr::copy_nonoverlapping(data.as_ptr(), buffer.ptr.as_ptr(), data.len()) };
        Ok(buffer)
    }

    fn download(&self, buffer: &EmuBuffer) -> Result<Vec<f32>> {
        let mut out = vec![0.0; buffer.len];
        // SAFETY: the buffer holds `len` values; no kernel runs outside `launch`.
        unsafe { std::ptr::copy_nonoverlapping(buffer.ptr.as_ptr(), out.as_mut_ptr(), buffer.len) };
        Ok(out)
    }

    fn len(&self, buffer: &EmuBuffer) -> usize {
        buffer.len
    }

    fn address(&self, buffer: &EmuBuffer) -> u64 {
        buffer.ptr.as_ptr() as u64
    }

    fn launch(&self, kernel: &'static str, shape: Launch, params: &[Param]) -> Result<()> {
        let launch_error = |reason: String| Error::Launch {
            device: "emu".into(),
            kernel: kernel.into(),
            reason,
        };
        // Each parameter's value, then a pointer to each (cuLaunchKernel's
        // form). A 32-bit value's upper half is poisoned: a kernel that read
        // 8 bytes there would see garbage, as on a GPU (and the emulator
        // refuses such a launch by the declared kinds first).
        const POISON: u64 = 0xDEAD_BEEF_0000_0000;
        let mut values: Vec<u64> = params
            .iter()
            .map(|param| match *param {
                Param::Ptr(address) => address,
                Param::U32(value) => POISON | u64::from(value),
                Param::F32(value) => POISON | u64::from(value.to_bits()),
            })
            .collect();
        let kinds: Vec<u32> = params
            .iter()
            .map(|param| match param {
                Param::Ptr(_) => 0,
                Param::U32(_) => 1,
                Param::F32(_) => 2,
            })
            .collect();
        let mut pointers: Vec<*mut c_void> = values
            .iter_mut()
            .map(|value| (value as *mut u64).cast::<c_void>())
            .collect();
        let name = CString::new(kernel).map_err(|error| launch_error(error.to_string()))?;
        // SAFETY: the kernel reads its parameters from `pointers` (each a
        // little-endian u64 whose low bytes are a u32 or f32 where the kernel
        // takes one) and the buffers whose addresses they hold, which the
        // caller keeps alive for the call.
        let status = unsafe {
            vt_emu_launch(
                name.as_ptr(),
                shape.grid.as_ptr(),
                shape.block.as_ptr(),
                pointers.as_mut_ptr(),
                kinds.as_ptr(),
                pointers.len(),
            )
        };
        match status {
            0 => Ok(()),
            1 => Err(launch_error("the emulator has no such kernel".into())),
            2 => Err(launch_error(format!(
                "wrong number of parameters ({})",
                params.len()
            ))),
            3 => Err(launch_error(
                "a parameter's type differs from the kernel's C signature".into(),
            )),
            _ => Err(launch_error(format!(
                "grid {:?} × block {:?} is past CUDA's launch limits",
                shape.grid, shape.block
            ))),
        }
    }
}
