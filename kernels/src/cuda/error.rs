//! Errors of the CUDA backend. Each says what failed and what to do about it.

use super::libraries::{CudaLibrary, MissingLibrary};
use cudarc::cublas::result::CublasError;
use cudarc::driver::DriverError;
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum CudaError {
    #[error("{}; {}", list_missing(missing), install_hint(missing))]
    MissingLibraries { missing: Vec<MissingLibrary> },
    #[error("the NVIDIA driver reports no GPU (check `nvidia-smi` and CUDA_VISIBLE_DEVICES)")]
    NoDevice,
    #[error("GPU {ordinal} does not exist: the driver reports {count} GPU(s)")]
    NoSuchDevice { ordinal: usize, count: usize },
    #[error(
        "GPU {name} has compute capability {major}.{minor}; the CUDA backend needs 8.0 \
         (Ampere) or newer, use the cpu device"
    )]
    UnsupportedDevice {
        name: String,
        major: i32,
        minor: i32,
    },
    #[error(
        "the NVIDIA driver supports CUDA {major}.{minor} only; the CUDA backend needs a driver \
         for CUDA 12.0 or newer: update the driver (nvidia-smi shows the CUDA version it \
         supports), or use the cpu device"
    )]
    DriverTooOld { major: i32, minor: i32 },
    #[error(
        "{library} in use reports version {major}.{minor}, but the CUDA backend needs CUDA 12's \
         (copies loaded: {}); cudarc opens the unversioned name (such as libnvrtc.so) first, \
         so remove folders holding another CUDA's libraries (such as \
         /usr/local/cuda-11.8/lib64) from LD_LIBRARY_PATH, or put a CUDA 12 library folder \
         before them",
        list_paths(loaded_copies)
    )]
    WrongLibraryVersion {
        library: CudaLibrary,
        major: i32,
        minor: i32,
        loaded_copies: Vec<PathBuf>,
    },
    #[error("the CUDA driver failed while {during}: {message}")]
    Driver {
        during: &'static str,
        message: String,
    },
    #[error("the CUDA driver could not launch kernel `{kernel}`: {message}")]
    Launch {
        kernel: &'static str,
        message: String,
    },
    #[error("cuBLAS failed while {during}: {source}")]
    Cublas {
        during: &'static str,
        #[source]
        source: CublasError,
    },
    #[error("NVRTC could not compile kernels/cuda/{file} for {arch}:\n{log}")]
    Compile {
        file: &'static str,
        arch: String,
        log: String,
    },
    #[error("NVRTC failed while {during} for kernels/cuda/{file}: {message}")]
    Nvrtc {
        file: &'static str,
        during: &'static str,
        message: String,
    },
    #[error("{path}: cannot use the kernel cache: {source}")]
    Cache {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{op}: {problem}")]
    InvalidArgument { op: &'static str, problem: String },
    #[error(
        "the GPU is out of memory while {during} ({needed_bytes} bytes needed, {free_bytes} \
         free); use a smaller model or fewer samples"
    )]
    OutOfMemory {
        during: &'static str,
        needed_bytes: usize,
        free_bytes: usize,
    },
}

impl CudaError {
    /// Wraps a driver error with what was being done.
    pub fn driver(during: &'static str) -> impl FnOnce(DriverError) -> CudaError {
        move |error| CudaError::Driver {
            during,
            message: describe_driver_error(error),
        }
    }

    /// Wraps a cuBLAS error with what was being done.
    pub fn cublas(during: &'static str) -> impl FnOnce(CublasError) -> CudaError {
        move |source| CudaError::Cublas { during, source }
    }
}

/// The driver's own name and description of an error code.
pub fn describe_driver_error(error: DriverError) -> String {
    let name = error
        .error_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_else(|_| format!("{:?}", error.0));
    match error.error_string() {
        Ok(text) => format!("{name} ({})", text.to_string_lossy()),
        Err(_) => name,
    }
}

fn list_paths(paths: &[PathBuf]) -> String {
    if paths.is_empty() {
        return "not known on this system".to_owned();
    }
    paths
        .iter()
        .map(|path| path.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

fn list_missing(missing: &[MissingLibrary]) -> String {
    missing
        .iter()
        .map(|library| library.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

fn install_hint(missing: &[MissingLibrary]) -> String {
    use super::libraries::LIBRARY_PATH_VARIABLE;
    if missing
        .iter()
        .any(|library| library.library == CudaLibrary::Driver)
    {
        return "install the NVIDIA driver on a machine with an NVIDIA GPU, or use the cpu device"
            .to_owned();
    }
    format!(
        "install the CUDA 12 toolkit, or `pip install nvidia-cuda-nvrtc-cu12 nvidia-cublas-cu12` \
         (found automatically inside an active virtualenv or conda environment), or name the \
         folders holding the libraries in {LIBRARY_PATH_VARIABLE}"
    )
}
