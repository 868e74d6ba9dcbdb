//! Finding and loading the CUDA libraries before the first CUDA call. cudarc loads each library
//! by name the first time one of its functions is called and panics when it cannot; loading them
//! here first turns a missing library into an error value that says what to install.
//!
//! Each library is looked for, in order, in the directories of `PROOFWRIGHT_CUDA_LIBRARY_PATH`
//! (separated like `PATH`), in the `lib` folders of the NVIDIA Python wheels of an active
//! virtual or conda environment, in `$CUDA_HOME`/`$CUDA_PATH` and `/usr/local/cuda`, and last
//! through the system loader's own search (`LD_LIBRARY_PATH`, the ldconfig cache). A library
//! found in a directory is opened by its full path. That guarantees that some copy loads, not
//! that cudarc uses this one: cudarc asks the loader for unversioned names (`libnvrtc.so`)
//! before the soname, and the loader matches an already loaded library by soname only, so an
//! unversioned copy elsewhere on the search path can be bound instead. `versions` therefore
//! checks the version of the copy cudarc bound.

use super::CudaError;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Directories searched first for the CUDA libraries, separated like `PATH`.
pub const LIBRARY_PATH_VARIABLE: &str = "PROOFWRIGHT_CUDA_LIBRARY_PATH";

/// A CUDA library the backend needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CudaLibrary {
    /// The driver API (`libcuda`), installed with the NVIDIA driver.
    Driver,
    /// The run-time compiler the kernels are built with.
    Nvrtc,
    /// cuBLAS's matrix-multiply core, which cuBLAS itself loads.
    CublasLt,
    /// cuBLAS, for the large matrix multiplications.
    Cublas,
}

impl CudaLibrary {
    /// Every library the backend needs, in the order they must be loaded.
    pub const ALL: [CudaLibrary; 4] = [
        CudaLibrary::Driver,
        CudaLibrary::Nvrtc,
        CudaLibrary::CublasLt,
        CudaLibrary::Cublas,
    ];

    /// File names to try, the CUDA 12 soname first.
    pub fn file_names(self) -> &'static [&'static str] {
        #[cfg(windows)]
        {
            match self {
                CudaLibrary::Driver => &["nvcuda.dll"],
                CudaLibrary::Nvrtc => &["nvrtc64_120_0.dll", "nvrtc64_12.dll"],
                CudaLibrary::CublasLt => &["cublasLt64_12.dll"],
                CudaLibrary::Cublas => &["cublas64_12.dll"],
            }
        }
        #[cfg(not(windows))]
        {
            match self {
                CudaLibrary::Driver => &["libcuda.so.1", "libcuda.so"],
                CudaLibrary::Nvrtc => &["libnvrtc.so.12", "libnvrtc.so"],
                CudaLibrary::CublasLt => &["libcublasLt.so.12", "libcublasLt.so"],
                CudaLibrary::Cublas => &["libcublas.so.12", "libcublas.so"],
            }
        }
    }

    /// What provides the library, for the message when it is missing.
    pub fn provided_by(self) -> &'static str {
        match self {
            CudaLibrary::Driver => "the NVIDIA driver",
            CudaLibrary::Nvrtc => {
                "the CUDA 12 toolkit or the Python package nvidia-cuda-nvrtc-cu12"
            }
            CudaLibrary::CublasLt | CudaLibrary::Cublas => {
                "the CUDA 12 toolkit or the Python package nvidia-cublas-cu12"
            }
        }
    }

    /// The folder of the NVIDIA Python wheel that ships the library.
    fn wheel_folder(self) -> Option<&'static str> {
        match self {
            CudaLibrary::Driver => None,
            CudaLibrary::Nvrtc => Some("cuda_nvrtc"),
            CudaLibrary::CublasLt | CudaLibrary::Cublas => Some("cublas"),
        }
    }
}

impl std::fmt::Display for CudaLibrary {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(self.file_names()[0])
    }
}

/// A library that could not be loaded, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MissingLibrary {
    pub library: CudaLibrary,
    /// Directories that were searched besides the system loader's own search.
    pub searched: Vec<PathBuf>,
    /// The system loader's last message.
    pub loader_message: String,
}

impl std::fmt::Display for MissingLibrary {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            formatter,
            "{} (from {}) was not found",
            self.library,
            self.library.provided_by()
        )
    }
}

/// Libraries opened so far; kept open for the life of the process so cudarc finds them.
static LOADED: Mutex<Vec<(CudaLibrary, libloading::Library)>> = Mutex::new(Vec::new());

/// Loads `libraries` (those already loaded are skipped). Every missing one is reported, not only
/// the first.
pub fn load(libraries: &[CudaLibrary]) -> Result<(), CudaError> {
    let mut loaded = LOADED
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let mut missing = Vec::new();
    for &library in libraries {
        if loaded.iter().any(|(done, _)| *done == library) {
            continue;
        }
        match open(library) {
            Ok(handle) => loaded.push((library, handle)),
            Err(problem) => missing.push(problem),
        }
    }
    if missing.is_empty() {
        Ok(())
    } else {
        Err(CudaError::MissingLibraries { missing })
    }
}

/// Whether a library can be loaded, loading it if so.
pub fn is_loadable(library: CudaLibrary) -> bool {
    load(&[library]).is_ok()
}

fn open(library: CudaLibrary) -> Result<libloading::Library, MissingLibrary> {
    let directories = search_directories(library);
    for directory in &directories {
        for file_name in library.file_names() {
            let path = directory.join(file_name);
            if path.is_file() {
                // SAFETY: loading a CUDA library runs its initialisers, which have no
                // preconditions on our side.
                if let Ok(handle) = unsafe { libloading::Library::new(&path) } {
                    return Ok(handle);
                }
            }
        }
    }
    let mut loader_message = String::new();
    for file_name in library.file_names() {
        // SAFETY: as above.
        match unsafe { libloading::Library::new(*file_name) } {
            Ok(handle) => return Ok(handle),
            Err(error) => {
                if loader_message.is_empty() {
                    loader_message = error.to_string();
                }
            }
        }
    }
    Err(MissingLibrary {
        library,
        searched: directories,
        loader_message,
    })
}

/// The directories searched before the system loader's own search, in order.
pub fn search_directories(library: CudaLibrary) -> Vec<PathBuf> {
    let mut directories: Vec<PathBuf> = Vec::new();
    if let Some(paths) = std::env::var_os(LIBRARY_PATH_VARIABLE) {
        directories.extend(std::env::split_paths(&paths).filter(|p| !p.as_os_str().is_empty()));
    }
    if let Some(folder) = library.wheel_folder() {
        for variable in ["VIRTUAL_ENV", "CONDA_PREFIX"] {
            if let Some(prefix) = std::env::var_os(variable) {
                directories.extend(wheel_library_directories(Path::new(&prefix), folder));
            }
        }
    }
    for variable in ["CUDA_HOME", "CUDA_PATH"] {
        if let Some(root) = std::env::var_os(variable) {
            let root = PathBuf::from(root);
            directories.push(root.join("lib64"));
            directories.push(root.join("lib"));
        }
    }
    directories.push(PathBuf::from("/usr/local/cuda/lib64"));
    directories
}

/// `PREFIX/lib/python3.*/site-packages/nvidia/FOLDER/lib`, for each Python of the environment.
fn wheel_library_directories(prefix: &Path, folder: &str) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(prefix.join("lib")) else {
        return Vec::new();
    };
    let mut found: Vec<PathBuf> = entries
        .filter_map(|entry| entry.ok())
        .filter(|entry| entry.file_name().to_string_lossy().starts_with("python3"))
        .map(|entry| {
            entry
                .path()
                .join("site-packages/nvidia")
                .join(folder)
                .join("lib")
        })
        .filter(|path| path.is_dir())
        .collect();
    found.sort();
    found
}
