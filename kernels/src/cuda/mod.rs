//! The CUDA implementation of the op set, behind the `cuda` feature. Every library is loaded at
//! run time (cudarc's dynamic loading), so the crate builds with no CUDA toolkit and a binary
//! runs on machines without a GPU; [`probe`] says whether this one has a usable GPU before any
//! CUDA call is made. Kernels are CUDA C sources under `kernels/cuda/`, compiled by NVRTC for the
//! GPU's own architecture and cached on disk.

mod attention;
mod buffer;
pub mod compile;
mod device;
mod error;
mod graph;
pub mod libraries;
mod ops;
pub mod ptx;
pub mod signatures;
pub mod sources;
pub mod versions;

pub use attention::{
    decode_splits, prefill_tiles, AttentionShape, DecodeAttention, DecodeScratch, KvCachePool,
    PrefillAttention, PrefillTile, QkvPrepare, QuerySpan,
};
pub use buffer::{DeviceMatrix, GpuBuffer, GpuView};
pub use device::CudaDevice;
pub use error::CudaError;
pub use graph::CapturedGraph;
pub use libraries::{CudaLibrary, MissingLibrary};
pub use ops::{skinny_columns_per_warp, GpuSamplingParams};

use cudarc::driver::result as driver;
use cudarc::driver::sys::{CUdevice_attribute, CUresult};

/// Positions per block of the paged KV cache.
pub const KV_BLOCK_SIZE: usize = 16;
/// Largest head dimension the rope and attention kernels support.
pub const MAX_HEAD_DIM: usize = 256;
/// Query heads per key/value head that one decode-attention block handles; larger groups are
/// split across blocks.
pub const MAX_GROUP_CHUNK: usize = 8;
/// Key positions one decode-attention block covers (one split of split-K).
pub const DECODE_PARTITION: usize = 256;
/// Queries per prefill-attention block.
pub const PREFILL_QUERY_TILE: usize = 16;
/// At most this many input rows use the hand-written decode linear kernel; more go to cuBLAS.
pub const SKINNY_MAX_ROWS: usize = 4;
/// Threads per block of each kernel family.
pub const ATTENTION_THREADS: u32 = 128;
pub const NORM_THREADS: u32 = 256;
pub const ROPE_THREADS: u32 = 128;
pub const ELEMENTWISE_THREADS: u32 = 256;
pub const SAMPLING_THREADS: u32 = 1024;
pub const COPY_THREADS: u32 = 256;
/// Warps per block of the decode linear kernel.
pub const LINEAR_WARPS: u32 = 8;
/// Most blocks an element-wise kernel launches (they loop over the rest).
pub const ELEMENTWISE_MAX_BLOCKS: u32 = 4096;
/// The copy-bandwidth measurement's buffers never shrink below this (smaller copies measure
/// launch overhead more than bandwidth)...
pub const BANDWIDTH_MIN_BUFFER_BYTES: usize = 16 << 20;
/// ...and leave this much GPU memory free when they shrink to fit.
pub const BANDWIDTH_MEMORY_MARGIN_BYTES: usize = 64 << 20;

/// The constants above that the CUDA sources use, passed to NVRTC as `-D` options so that both
/// sides always agree.
pub fn constants_for_kernels() -> Vec<(&'static str, String)> {
    vec![
        ("KV_BLOCK_SIZE", KV_BLOCK_SIZE.to_string()),
        ("MAX_HEAD_DIM", MAX_HEAD_DIM.to_string()),
        ("MAX_GROUP_CHUNK", MAX_GROUP_CHUNK.to_string()),
        ("DECODE_PARTITION", DECODE_PARTITION.to_string()),
        ("PREFILL_QUERY_TILE", PREFILL_QUERY_TILE.to_string()),
        ("SKINNY_MAX_ROWS", SKINNY_MAX_ROWS.to_string()),
        ("ATTENTION_THREADS", ATTENTION_THREADS.to_string()),
        ("NORM_THREADS", NORM_THREADS.to_string()),
        ("ROPE_THREADS", ROPE_THREADS.to_string()),
        ("SAMPLING_THREADS", SAMPLING_THREADS.to_string()),
        ("LINEAR_WARPS", LINEAR_WARPS.to_string()),
    ]
}

/// Oldest compute capability the kernels are written for (Ampere: BF16 tensor cores in cuBLAS).
pub const MINIMUM_COMPUTE_CAPABILITY: (i32, i32) = (8, 0);
/// The CUDA major version NVRTC and cuBLAS must come from.
pub const REQUIRED_CUDA_MAJOR: i32 = 12;
/// The oldest driver, as `cuDriverGetVersion` encodes it: CUDA 12.0.
pub const MINIMUM_DRIVER_VERSION: i32 = 12000;

/// What the driver reports about one GPU.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GpuInfo {
    pub ordinal: usize,
    pub name: String,
    pub compute_capability: (i32, i32),
    pub total_memory_bytes: usize,
    pub multiprocessor_count: usize,
}

impl GpuInfo {
    /// The NVRTC architecture name of this GPU, such as `sm_90`.
    pub fn arch(&self) -> String {
        let (major, minor) = self.compute_capability;
        format!("sm_{major}{minor}")
    }
}

/// Whether GPU `ordinal` can run the backend: the driver and every library load, the driver
/// starts and supports CUDA 12, the NVRTC and cuBLAS in use are CUDA 12's, and the GPU exists
/// and is new enough. No other CUDA call is made before this succeeds.
pub fn probe(ordinal: usize) -> Result<GpuInfo, CudaError> {
    libraries::load(&[CudaLibrary::Driver])?;
    match driver::init() {
        Ok(()) => {}
        Err(error) if error.0 == CUresult::CUDA_ERROR_NO_DEVICE => return Err(CudaError::NoDevice),
        Err(error) => return Err(CudaError::driver("starting (cuInit)")(error)),
    }
    versions::check_driver_version(versions::driver_version()?)?;
    let count = driver::device::get_count()
        .map_err(CudaError::driver("counting GPUs"))?
        .max(0) as usize;
    if count == 0 {
        return Err(CudaError::NoDevice);
    }
    if ordinal >= count {
        return Err(CudaError::NoSuchDevice { ordinal, count });
    }
    let device = driver::device::get(ordinal as i32)
        .map_err(CudaError::driver("opening the GPU (cuDeviceGet)"))?;
    let attribute = |attribute: CUdevice_attribute| {
        // SAFETY: `device` is a valid handle from cuDeviceGet.
        unsafe { driver::device::get_attribute(device, attribute) }
            .map_err(CudaError::driver("reading the GPU's attributes"))
    };
    let major = attribute(CUdevice_attribute::CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR)?;
    let minor = attribute(CUdevice_attribute::CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR)?;
    let multiprocessor_count =
        attribute(CUdevice_attribute::CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT)?.max(1) as usize;
    let name = driver::device::get_name(device).map_err(CudaError::driver("naming the GPU"))?;
    // SAFETY: as above.
    let total_memory_bytes = unsafe { driver::device::total_mem(device) }
        .map_err(CudaError::driver("reading the GPU's memory size"))?;
    if (major, minor) < MINIMUM_COMPUTE_CAPABILITY {
        return Err(CudaError::UnsupportedDevice { name, major, minor });
    }
    libraries::load(&[
        CudaLibrary::Nvrtc,
        CudaLibrary::CublasLt,
        CudaLibrary::Cublas,
    ])?;
    // What cudarc bound may be another copy than the one loaded above (see `versions`).
    versions::check_library_version(CudaLibrary::Nvrtc, compile::nvrtc_version()?)?;
    versions::check_library_version(CudaLibrary::Cublas, versions::cublas_version()?)?;
    Ok(GpuInfo {
        ordinal,
        name,
        compute_capability: (major, minor),
        total_memory_bytes,
        multiprocessor_count,
    })
}
