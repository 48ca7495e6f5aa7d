//! Where kernels run: a CUDA GPU ([`crate::CudaDevice`]) or the CPU
//! emulation of the same kernel source ([`crate::EmuDevice`]). The executor
//! is written once against this trait, so the emulated runs test its
//! dispatch (which kernel, which arguments, which grid) as well as the
//! kernels.

use crate::error::Result;

/// A kernel parameter, passed by value as `cuLaunchKernel` takes it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Param {
    /// A device address (a buffer).
    Ptr(u64),
    /// An unsigned 32-bit integer (a size).
    U32(u32),
    /// A float constant.
    F32(f32),
}

/// A launch's grid and block shape.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Launch {
    /// Blocks per grid dimension.
    pub grid: [u32; 3],
    /// Threads per block dimension.
    pub block: [u32; 3],
}

impl Launch {
    /// A one-dimensional grid-stride launch over `n` items: `block` threads
    /// a block, at most `max_blocks` blocks.
    pub fn linear(n: usize, block: u32, max_blocks: u32) -> Self {
        let blocks = n
            .div_ceil(block.max(1) as usize)
            .clamp(1, max_blocks.max(1) as usize);
        Self {
            grid: [blocks as u32, 1, 1],
            block: [block, 1, 1],
        }
    }
}

/// Memory and kernel launches on one device. Buffers hold 32-bit words
/// (f32 values, or u32 indices stored by their bits).
pub trait Device: Send + Sync + std::fmt::Debug {
    /// A buffer of device memory.
    type Buffer: Send + Sync;

    /// The device, for logs and errors (`cuda:0 (NVIDIA H200)`, `emu`).
    fn describe(&self) -> String;
    /// A buffer of `len` words with unspecified contents.
    fn alloc(&self, len: usize) -> Result<Self::Buffer>;
    /// A buffer holding `data`.
    fn upload(&self, data: &[f32]) -> Result<Self::Buffer>;
    /// The buffer's contents (after every launch before it has finished).
    fn download(&self, buffer: &Self::Buffer) -> Result<Vec<f32>>;
    /// The buffer's length in words.
    fn len(&self, buffer: &Self::Buffer) -> usize;
    /// The buffer's device address, to pass as a [`Param::Ptr`].
    fn address(&self, buffer: &Self::Buffer) -> u64;
    /// Makes the device current on the calling thread (before buffers are
    /// freed from a thread that may never have used it).
    fn bind(&self) -> Result<()> {
        Ok(())
    }
    /// Launches `kernel` (a name in [`crate::source::kernels`]).
    fn launch(&self, kernel: &'static str, shape: Launch, params: &[Param]) -> Result<()>;
}

/// A `u32` slice as the f32 words that hold its bits, for [`Device::upload`].
pub fn words_of(values: &[u32]) -> Vec<f32> {
    values.iter().map(|&v| f32::from_bits(v)).collect()
}
