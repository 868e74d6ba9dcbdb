//! Compiling `kernels/cuda/*.cu` with NVRTC for one GPU architecture, and the on-disk cache of
//! the results. The cache is keyed by a hash of everything that determines the binary (the
//! sources, the options, NVRTC's version) and by the architecture, so an edited kernel or a new
//! NVRTC is recompiled and nothing stale is ever loaded.
//!
//! This needs only libnvrtc, not a GPU: CI compiles every kernel for every architecture in
//! [`CI_ARCHITECTURES`] so that a kernel that does not compile fails the build.

use super::libraries::{self, CudaLibrary};
use super::sources::{KernelSource, COMMON_HEADER, COMMON_HEADER_NAME, KERNEL_SOURCES};
use super::{constants_for_kernels, CudaError};
use cudarc::nvrtc::sys as nvrtc;
use std::ffi::{CStr, CString};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Architectures the compile test builds every kernel for: Ampere (A100) and Hopper (H100).
pub const CI_ARCHITECTURES: [&str; 2] = ["sm_80", "sm_90"];

/// Overrides the folder of the kernel cache.
pub const CACHE_DIR_VARIABLE: &str = "PROOFWRIGHT_CUDA_CACHE_DIR";

/// The folder under the user's cache directory that holds compiled kernels.
const CACHE_SUBDIRECTORY: &str = "proofwright/cuda-kernels";

/// NVRTC's version, `(major, minor)`.
pub fn nvrtc_version() -> Result<(i32, i32), CudaError> {
    libraries::load(&[CudaLibrary::Nvrtc])?;
    let (mut major, mut minor) = (0, 0);
    // SAFETY: libnvrtc is loaded; the out-pointers are valid.
    let status = unsafe { nvrtc::nvrtcVersion(&mut major, &mut minor) };
    check(status, "reading its version", "(none)")?;
    Ok((major, minor))
}

/// The options every kernel is compiled with for `arch`.
pub fn compile_options(arch: &str) -> Vec<String> {
    let mut options = vec![
        format!("--gpu-architecture={arch}"),
        "--std=c++17".to_owned(),
    ];
    options.extend(
        constants_for_kernels()
            .iter()
            .map(|(name, value)| format!("-D{name}={value}")),
    );
    options
}

/// One kernel file compiled for one architecture: the GPU binary and the PTX it was assembled
/// from (whose `.entry` lines show the parameters as compiled).
#[derive(Debug, Clone)]
pub struct CompiledSource {
    pub cubin: Vec<u8>,
    pub ptx: String,
}

/// Compiles one kernel file for `arch` and returns the GPU binary (a CUBIN).
pub fn compile(source: &KernelSource, arch: &str) -> Result<Vec<u8>, CudaError> {
    compile_program(source, arch)?.cubin(source.file)
}

/// Compiles one kernel file for `arch` and returns both the GPU binary and the PTX (one
/// compilation: NVRTC keeps the PTX of a CUBIN compile).
pub fn compile_with_ptx(source: &KernelSource, arch: &str) -> Result<CompiledSource, CudaError> {
    let program = compile_program(source, arch)?;
    Ok(CompiledSource {
        cubin: program.cubin(source.file)?,
        ptx: program.ptx(source.file)?,
    })
}

fn compile_program(source: &KernelSource, arch: &str) -> Result<Program, CudaError> {
    libraries::load(&[CudaLibrary::Nvrtc])?;
    let file = source.file;
    let nul_free = |text: &str, what: &'static str| {
        CString::new(text).map_err(|_| CudaError::Nvrtc {
            file,
            during: what,
            message: "the text contains a NUL byte".to_owned(),
        })
    };
    let text = nul_free(source.text, "reading the source")?;
    let name = nul_free(file, "reading the source")?;
    let header = nul_free(COMMON_HEADER, "reading common.cuh")?;
    let header_name = nul_free(COMMON_HEADER_NAME, "reading common.cuh")?;
    let options: Vec<CString> = compile_options(arch)
        .iter()
        .map(|option| nul_free(option, "preparing the options"))
        .collect::<Result<_, _>>()?;
    let option_pointers: Vec<*const std::ffi::c_char> =
        options.iter().map(|option| option.as_ptr()).collect();
    let headers = [header.as_ptr()];
    let header_names = [header_name.as_ptr()];

    let mut program: nvrtc::nvrtcProgram = std::ptr::null_mut();
    // SAFETY: every pointer refers to a NUL-terminated string that outlives the call.
    let status = unsafe {
        nvrtc::nvrtcCreateProgram(
            &mut program,
            text.as_ptr(),
            name.as_ptr(),
            1,
            headers.as_ptr(),
            header_names.as_ptr(),
        )
    };
    check(status, "creating the program", file)?;
    let program = Program(program);
    // SAFETY: the program is valid and the option pointers outlive the call.
    let status = unsafe {
        nvrtc::nvrtcCompileProgram(
            program.0,
            option_pointers.len() as i32,
            option_pointers.as_ptr(),
        )
    };
    if status != nvrtc::nvrtcResult::NVRTC_SUCCESS {
        let log = program.log().unwrap_or_else(|| describe(status));
        return Err(CudaError::Compile {
            file,
            arch: arch.to_owned(),
            log,
        });
    }
    Ok(program)
}

/// The compiled binary of `source` for `arch`, from the cache in `cache_dir` when present,
/// otherwise compiled and stored there. A cache that cannot be written is not an error (the
/// binary is still returned); `None` disables the cache.
pub fn cached_compile(
    source: &KernelSource,
    arch: &str,
    cache_dir: Option<&Path>,
) -> Result<Vec<u8>, CudaError> {
    let Some(cache_dir) = cache_dir else {
        return compile(source, arch);
    };
    let path = cache_path(cache_dir, source, arch)?;
    if let Ok(binary) = std::fs::read(&path) {
        if !binary.is_empty() {
            return Ok(binary);
        }
    }
    let binary = compile(source, arch)?;
    // Another process may be writing the same entry: write a private file, then rename it into
    // place, so a reader sees either nothing or a whole binary.
    let _ = write_atomically(cache_dir, &path, &binary);
    Ok(binary)
}

/// Removes a cache entry that the driver refused to load, so the next attempt recompiles it.
pub fn evict(source: &KernelSource, arch: &str, cache_dir: &Path) {
    if let Ok(path) = cache_path(cache_dir, source, arch) {
        let _ = std::fs::remove_file(path);
    }
}

/// Where the binary of `source` for `arch` is cached.
pub fn cache_path(
    cache_dir: &Path,
    source: &KernelSource,
    arch: &str,
) -> Result<PathBuf, CudaError> {
    let (major, minor) = nvrtc_version()?;
    let mut key = Fnv64::new();
    key.write(COMMON_HEADER.as_bytes());
    key.write(source.text.as_bytes());
    for option in compile_options(arch) {
        key.write(option.as_bytes());
        key.write(&[0]);
    }
    key.write(format!("nvrtc {major}.{minor}").as_bytes());
    let stem = source.file.trim_end_matches(".cu");
    Ok(cache_dir.join(format!("{stem}-{arch}-{:016x}.cubin", key.finish())))
}

/// The kernel cache folder: `$PROOFWRIGHT_CUDA_CACHE_DIR`, else the user's cache directory
/// (`$XDG_CACHE_HOME`, `~/.cache`, `%LOCALAPPDATA%`) + `proofwright/cuda-kernels`.
pub fn default_cache_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os(CACHE_DIR_VARIABLE).filter(|dir| !dir.is_empty()) {
        return Some(PathBuf::from(dir));
    }
    let base = std::env::var_os("XDG_CACHE_HOME")
        .filter(|dir| !dir.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME")
                .filter(|dir| !dir.is_empty())
                .map(|home| PathBuf::from(home).join(".cache"))
        })
        .or_else(|| std::env::var_os("LOCALAPPDATA").map(PathBuf::from))?;
    Some(base.join(CACHE_SUBDIRECTORY))
}

/// Every kernel file, for callers that compile them all.
pub fn all_sources() -> &'static [KernelSource] {
    KERNEL_SOURCES
}

fn write_atomically(cache_dir: &Path, path: &Path, binary: &[u8]) -> Result<(), CudaError> {
    let cache_error = |source| CudaError::Cache {
        path: cache_dir.to_owned(),
        source,
    };
    std::fs::create_dir_all(cache_dir).map_err(cache_error)?;
    let temporary = cache_dir.join(format!(
        ".{}.{}.tmp",
        path.file_name()
            .map_or_else(String::new, |name| name.to_string_lossy().into_owned()),
        std::process::id()
    ));
    let result = std::fs::File::create(&temporary)
        .and_then(|mut file| file.write_all(binary).and_then(|()| file.sync_all()))
        .and_then(|()| std::fs::rename(&temporary, path));
    if result.is_err() {
        let _ = std::fs::remove_file(&temporary);
    }
    result.map_err(cache_error)
}

/// Owns an NVRTC program and destroys it when dropped.
struct Program(nvrtc::nvrtcProgram);

impl Program {
    /// The GPU binary of a compiled program.
    fn cubin(&self, file: &'static str) -> Result<Vec<u8>, CudaError> {
        let mut size = 0usize;
        // SAFETY: the program compiled; `size` is a valid out-pointer.
        let status = unsafe { nvrtc::nvrtcGetCUBINSize(self.0, &mut size) };
        check(status, "reading the binary's size", file)?;
        let mut binary = vec![0u8; size];
        // SAFETY: `binary` holds exactly the size NVRTC reported.
        let status = unsafe { nvrtc::nvrtcGetCUBIN(self.0, binary.as_mut_ptr().cast()) };
        check(status, "reading the binary", file)?;
        Ok(binary)
    }

    /// The PTX of a compiled program.
    fn ptx(&self, file: &'static str) -> Result<String, CudaError> {
        let mut size = 0usize;
        // SAFETY: the program compiled; `size` is a valid out-pointer.
        let status = unsafe { nvrtc::nvrtcGetPTXSize(self.0, &mut size) };
        check(status, "reading the PTX's size", file)?;
        let mut text = vec![0u8; size];
        // SAFETY: `text` holds exactly the size NVRTC reported.
        let status = unsafe { nvrtc::nvrtcGetPTX(self.0, text.as_mut_ptr().cast()) };
        check(status, "reading the PTX", file)?;
        let text = CStr::from_bytes_until_nul(&text)
            .map(CStr::to_bytes)
            .unwrap_or(&text);
        String::from_utf8(text.to_vec()).map_err(|_| CudaError::Nvrtc {
            file,
            during: "reading the PTX",
            message: "the PTX is not UTF-8".to_owned(),
        })
    }

    fn log(&self) -> Option<String> {
        let mut size = 0usize;
        // SAFETY: the program is valid; `size` is a valid out-pointer.
        let status = unsafe { nvrtc::nvrtcGetProgramLogSize(self.0, &mut size) };
        if status != nvrtc::nvrtcResult::NVRTC_SUCCESS || size == 0 {
            return None;
        }
        let mut log = vec![0u8; size];
        // SAFETY: `log` holds exactly the size NVRTC reported.
        let status = unsafe { nvrtc::nvrtcGetProgramLog(self.0, log.as_mut_ptr().cast()) };
        if status != nvrtc::nvrtcResult::NVRTC_SUCCESS {
            return None;
        }
        let text = CStr::from_bytes_until_nul(&log).ok()?.to_string_lossy();
        Some(text.trim_end().to_owned())
    }
}

impl Drop for Program {
    fn drop(&mut self) {
        // SAFETY: the program was created by nvrtcCreateProgram and is destroyed once.
        unsafe { nvrtc::nvrtcDestroyProgram(&mut self.0) };
    }
}

fn check(
    status: nvrtc::nvrtcResult,
    during: &'static str,
    file: &'static str,
) -> Result<(), CudaError> {
    if status == nvrtc::nvrtcResult::NVRTC_SUCCESS {
        Ok(())
    } else {
        Err(CudaError::Nvrtc {
            file,
            during,
            message: describe(status),
        })
    }
}

fn describe(status: nvrtc::nvrtcResult) -> String {
    // SAFETY: nvrtcGetErrorString returns a static NUL-terminated string for every code.
    let text = unsafe { nvrtc::nvrtcGetErrorString(status) };
    if text.is_null() {
        format!("{status:?}")
    } else {
        // SAFETY: checked non-null above; the string is static.
        unsafe { CStr::from_ptr(text) }
            .to_string_lossy()
            .into_owned()
    }
}

/// FNV-1a, 64 bits: a stable hash for cache keys (std's hasher may change between releases).
struct Fnv64(u64);

impl Fnv64 {
    const OFFSET_BASIS: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;

    fn new() -> Self {
        Fnv64(Self::OFFSET_BASIS)
    }

    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.0 = (self.0 ^ u64::from(byte)).wrapping_mul(Self::PRIME);
        }
    }

    fn finish(&self) -> u64 {
        self.0
    }
}
