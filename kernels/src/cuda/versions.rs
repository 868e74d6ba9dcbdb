//! Checks that the driver supports CUDA 12 and that the NVRTC and cuBLAS that cudarc actually
//! bound are CUDA 12's. cudarc opens each library by name, trying unversioned names such as
//! `libnvrtc.so` before `libnvrtc.so.12`, so an unversioned copy on `LD_LIBRARY_PATH` or in the
//! ldconfig cache can be bound instead of the copy `libraries.rs` found; asking each library for
//! its version through cudarc reports the copy in use.

use super::libraries::CudaLibrary;
use super::{CudaError, MINIMUM_DRIVER_VERSION, REQUIRED_CUDA_MAJOR};
use cudarc::cublas::sys as cublas_sys;
use std::path::PathBuf;

/// Where the kernel lists the files mapped into this process (Linux).
const PROCESS_MAPS_FILE: &str = "/proc/self/maps";

/// The CUDA version the driver supports, as `cuDriverGetVersion` encodes it (12040 for 12.4).
pub fn driver_version() -> Result<i32, CudaError> {
    let mut version = 0;
    // SAFETY: the driver library is loaded (by `probe`) and the out-pointer is valid.
    unsafe { cudarc::driver::sys::cuDriverGetVersion(&mut version) }
        .result()
        .map_err(CudaError::driver(
            "reading its version (cuDriverGetVersion)",
        ))?;
    Ok(version)
}

/// An error unless the driver supports at least CUDA 12.0.
pub fn check_driver_version(version: i32) -> Result<(), CudaError> {
    if version >= MINIMUM_DRIVER_VERSION {
        Ok(())
    } else {
        Err(CudaError::DriverTooOld {
            major: version / 1000,
            minor: (version % 1000) / 10,
        })
    }
}

/// cuBLAS's version, `(major, minor)`, from the copy cudarc bound.
pub fn cublas_version() -> Result<(i32, i32), CudaError> {
    let property = |kind: cublas_sys::libraryPropertyType| {
        let mut value = 0;
        // SAFETY: libcublas is loaded (by `probe`); the out-pointer is valid. Reading a property
        // needs no handle.
        unsafe { cublas_sys::cublasGetProperty(kind, &mut value) }
            .result()
            .map_err(CudaError::cublas("reading its version (cublasGetProperty)"))?;
        Ok(value)
    };
    Ok((
        property(cublas_sys::libraryPropertyType::MAJOR_VERSION)?,
        property(cublas_sys::libraryPropertyType::MINOR_VERSION)?,
    ))
}

/// An error unless `library`, which reports `(major, minor)`, is from CUDA 12; it names the
/// copies of the library mapped into the process.
pub fn check_library_version(
    library: CudaLibrary,
    (major, minor): (i32, i32),
) -> Result<(), CudaError> {
    if major == REQUIRED_CUDA_MAJOR {
        return Ok(());
    }
    let maps = std::fs::read_to_string(PROCESS_MAPS_FILE).unwrap_or_default();
    Err(CudaError::WrongLibraryVersion {
        library,
        major,
        minor,
        loaded_copies: mapped_copies(&maps, library),
    })
}

/// The files of `library` (any version) in a `/proc/self/maps` listing, each once, in order.
pub fn mapped_copies(maps: &str, library: CudaLibrary) -> Vec<PathBuf> {
    let soname = library.file_names()[0];
    let stem = soname.split(".so").next().unwrap_or(soname);
    let mut copies: Vec<PathBuf> = Vec::new();
    for line in maps.lines() {
        // address perms offset dev inode path: the path is everything after the fifth field.
        let Some(path) = line.splitn(6, char::is_whitespace).nth(5).map(str::trim) else {
            continue;
        };
        let path = PathBuf::from(path);
        let is_library = path.file_name().is_some_and(|name| {
            let name = name.to_string_lossy();
            name.strip_prefix(stem)
                .is_some_and(|rest| rest.starts_with(".so"))
        });
        if is_library && !copies.contains(&path) {
            copies.push(path);
        }
    }
    copies
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drivers_from_cuda_12_on_pass_and_older_ones_are_named() {
        assert!(check_driver_version(12000).is_ok());
        assert!(check_driver_version(13010).is_ok());
        let error = check_driver_version(11080).unwrap_err().to_string();
        assert!(
            error.contains("CUDA 11.8") && error.contains("12.0"),
            "{error}"
        );
    }

    #[test]
    fn a_library_from_cuda_12_passes() {
        assert!(check_library_version(CudaLibrary::Nvrtc, (12, 9)).is_ok());
    }

    #[test]
    fn a_library_from_another_cuda_is_named_with_its_version_and_what_to_do() {
        let error = check_library_version(CudaLibrary::Cublas, (11, 11))
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("libcublas.so.12")
                && error.contains("11.11")
                && error.contains("LD_LIBRARY_PATH"),
            "{error}"
        );
    }

    #[test]
    fn mapped_copies_lists_each_file_of_the_library_once() {
        let maps = "\
7f00-7f10 r--p 00000000 08:01 1          /venv/nvidia/cuda_nvrtc/lib/libnvrtc.so.12
7f10-7f20 r-xp 00010000 08:01 1 /venv/nvidia/cuda_nvrtc/lib/libnvrtc.so.12
7f20-7f30 r--p 00000000 08:01 2 /usr/local/cuda-11.8/lib64/libnvrtc.so
7f30-7f40 r--p 00000000 08:01 3 /venv/nvidia/cuda_nvrtc/lib/libnvrtc-builtins.so.12.9
7f40-7f50 r--p 00000000 08:01 4 /usr/lib/libcublas.so.12
7f50-7f60 rw-p 00000000 00:00 0 
7f60-7f70 r--p 00000000 08:01 5 /opt/my libs/libnvrtc.so.12.4.99
";
        assert_eq!(
            mapped_copies(maps, CudaLibrary::Nvrtc),
            [
                PathBuf::from("/venv/nvidia/cuda_nvrtc/lib/libnvrtc.so.12"),
                PathBuf::from("/usr/local/cuda-11.8/lib64/libnvrtc.so"),
                PathBuf::from("/opt/my libs/libnvrtc.so.12.4.99"),
            ]
        );
        assert_eq!(
            mapped_copies(maps, CudaLibrary::Cublas),
            [PathBuf::from("/usr/lib/libcublas.so.12")]
        );
        assert!(mapped_copies("", CudaLibrary::Driver).is_empty());
    }
}
