//! One GPU ready to run kernels: its context, the one stream every op is queued on, a cuBLAS
//! handle on that stream, and the compiled kernels.
//!
//! Every op of this backend runs on a single stream, so ops are ordered by the stream itself and
//! cudarc's per-buffer event tracking is switched off (it would also get in the way of capturing
//! CUDA graphs).
//!
//! Because that one stream is shared, work that another thread queues while a graph is being
//! captured would land inside the capture (kernels recorded and never run, allocations turned
//! into graph nodes, host copies invalidating the capture). Callers therefore hold
//! [`CudaDevice::exclusive_use`] for the whole of each unit of GPU work (a request, a weight
//! upload, a test); the ops themselves never take it, so holding it while calling them cannot
//! deadlock.

use super::buffer::GpuBuffer;
use super::compile::{cached_compile, default_cache_dir, evict};
use super::sources::{KernelSource, KERNEL_SOURCES};
use super::{probe, CudaError, GpuInfo};
use cudarc::cublas::{sys as cublas_sys, CudaBlas};
use cudarc::driver::{
    CudaContext, CudaFunction, CudaModule, CudaSlice, CudaStream, DeviceRepr, ValidAsZeroBits,
};
use cudarc::nvrtc::Ptx;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, TryLockError};

/// Workspace handed to cuBLAS, so that it allocates nothing while a CUDA graph is captured.
pub const CUBLAS_WORKSPACE_BYTES: usize = 32 << 20;

pub struct CudaDevice {
    info: GpuInfo,
    pub(crate) stream: Arc<CudaStream>,
    pub(crate) blas: CudaBlas,
    _blas_workspace: CudaSlice<u8>,
    functions: HashMap<&'static str, CudaFunction>,
    _modules: Vec<Arc<CudaModule>>,
    context: Arc<CudaContext>,
    /// Held for the whole of one unit of GPU work; see [`CudaDevice::exclusive_use`].
    exclusive: Mutex<()>,
}

impl std::fmt::Debug for CudaDevice {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("CudaDevice")
            .field("info", &self.info)
            .finish_non_exhaustive()
    }
}

impl CudaDevice {
    /// Opens GPU `ordinal`: checks it with [`probe`], creates its context, stream and cuBLAS
    /// handle, and loads every kernel (compiling those not yet in the kernel cache).
    pub fn open(ordinal: usize) -> Result<Arc<Self>, CudaError> {
        let info = probe(ordinal)?;
        let context = CudaContext::new(ordinal).map_err(CudaError::driver("creating a context"))?;
        // SAFETY: every op of this backend runs on the one stream created below, so no
        // cross-stream synchronisation is needed.
        unsafe { context.disable_event_tracking() };
        let stream = context
            .new_stream()
            .map_err(CudaError::driver("creating a stream"))?;
        let blas = CudaBlas::new(stream.clone()).map_err(CudaError::cublas("creating a handle"))?;
        // SAFETY: zeroed bytes are a valid workspace.
        let blas_workspace = stream
            .alloc_zeros::<u8>(CUBLAS_WORKSPACE_BYTES)
            .map_err(CudaError::driver("allocating cuBLAS's workspace"))?;
        {
            let (address, _sync) = cudarc::driver::DevicePtr::device_ptr(&blas_workspace, &stream);
            // SAFETY: the handle and the workspace are valid; the workspace outlives the handle
            // (both are fields of this struct and the handle is dropped first).
            unsafe {
                cublas_sys::cublasSetWorkspace_v2(
                    *blas.handle(),
                    address as *mut std::ffi::c_void,
                    CUBLAS_WORKSPACE_BYTES,
                )
            }
            .result()
            .map_err(CudaError::cublas("setting its workspace"))?;
        }
        let arch = info.arch();
        let cache_dir = default_cache_dir();
        let binaries = compile_all(&arch, cache_dir.as_ref())?;
        let mut functions = HashMap::new();
        let mut modules = Vec::new();
        for (source, binary) in KERNEL_SOURCES.iter().zip(binaries) {
            let module = match context.load_module(Ptx::from_binary(binary)) {
                Ok(module) => module,
                Err(_) if cache_dir.is_some() => {
                    // A cached binary the driver refuses (damaged, or from an incompatible
                    // compiler): drop it and compile afresh.
                    let cache_dir = cache_dir.as_ref().expect("checked above");
                    evict(source, &arch, cache_dir);
                    let binary = cached_compile(source, &arch, Some(cache_dir))?;
                    context
                        .load_module(Ptx::from_binary(binary))
                        .map_err(CudaError::driver("loading compiled kernels"))?
                }
                Err(error) => return Err(CudaError::driver("loading compiled kernels")(error)),
            };
            for name in source.kernel_names() {
                let function = module
                    .load_function(name)
                    .map_err(CudaError::driver("finding a kernel in its module"))?;
                functions.insert(name, function);
            }
            modules.push(module);
        }
        Ok(Arc::new(CudaDevice {
            info,
            stream,
            blas,
            _blas_workspace: blas_workspace,
            functions,
            _modules: modules,
            context,
            exclusive: Mutex::new(()),
        }))
    }

    /// Exclusive use of this GPU until the guard is dropped. Take it once for the whole of a unit
    /// of work that may capture a graph or must not interleave with another thread's (a model's
    /// request, its weight upload, a test); never take it again on the same thread while holding
    /// it (that deadlocks), and never inside the ops of such a unit. One stream serialises the
    /// GPU's work anyway, so this costs no throughput.
    pub fn exclusive_use(&self) -> MutexGuard<'_, ()> {
        // A panic while the lock was held leaves nothing behind that the next holder depends on:
        // a capture is always ended (see `capture`).
        let guard = self
            .exclusive
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        // Make the context current on this thread for the whole unit of work. The ops bind it
        // themselves, but cudarc frees a dropped buffer without binding: a unit of work that
        // drops a buffer before its first op (the KV cache replaced at the start of a request on
        // a rayon worker thread) would call cuMemFreeAsync with no current context, which fails
        // with CUDA_ERROR_INVALID_CONTEXT, leaks the buffer, and is recorded by cudarc so that
        // the next op on any thread fails with it. A failure to bind here shows up as the first
        // op's own error.
        let _ = self.bind();
        guard
    }

    /// Whether some thread holds [`CudaDevice::exclusive_use`] now.
    pub(crate) fn is_in_exclusive_use(&self) -> bool {
        matches!(self.exclusive.try_lock(), Err(TryLockError::WouldBlock))
    }

    pub fn info(&self) -> &GpuInfo {
        &self.info
    }

    /// Free and total GPU memory in bytes.
    pub fn memory_info(&self) -> Result<(usize, usize), CudaError> {
        self.bind()?;
        self.context
            .mem_get_info()
            .map_err(CudaError::driver("reading free memory"))
    }

    /// Makes this GPU's context current on the calling thread (ops call it themselves).
    pub(crate) fn bind(&self) -> Result<(), CudaError> {
        self.context
            .bind_to_thread()
            .map_err(CudaError::driver("making the context current"))
    }

    /// A zeroed buffer of `len` elements.
    pub fn alloc<T: DeviceRepr + ValidAsZeroBits>(
        &self,
        len: usize,
    ) -> Result<GpuBuffer<T>, CudaError> {
        self.bind()?;
        let bytes = len * std::mem::size_of::<T>();
        self.stream
            .alloc_zeros::<T>(len.max(1))
            .map(|slice| GpuBuffer { slice })
            .map_err(|error| self.allocation_error(error, bytes))
    }

    /// A new buffer holding `values`.
    pub fn upload<T: DeviceRepr>(&self, values: &[T]) -> Result<GpuBuffer<T>, CudaError> {
        self.bind()?;
        if values.is_empty() {
            // SAFETY: a one-element allocation that nothing reads.
            let slice = unsafe { self.stream.alloc::<T>(1) }
                .map_err(|error| self.allocation_error(error, 0))?;
            return Ok(GpuBuffer { slice });
        }
        self.stream
            .clone_htod(values)
            .map(|slice| GpuBuffer { slice })
            .map_err(|error| self.allocation_error(error, std::mem::size_of_val(values)))
    }

    /// Copies `values` to the start of `buffer`.
    pub fn write<T: DeviceRepr>(
        &self,
        buffer: &mut GpuBuffer<T>,
        values: &[T],
    ) -> Result<(), CudaError> {
        buffer.check_len("write", "the destination", values.len())?;
        if values.is_empty() {
            return Ok(());
        }
        self.bind()?;
        let mut destination = buffer.slice.slice_mut(..values.len());
        self.stream
            .memcpy_htod(values, &mut destination)
            .map_err(CudaError::driver("copying to the GPU"))
    }

    /// Copies the first `len` elements of `buffer` to the host (waits for queued work).
    pub fn read<T: DeviceRepr + Default + Clone>(
        &self,
        buffer: &GpuBuffer<T>,
        len: usize,
    ) -> Result<Vec<T>, CudaError> {
        buffer.check_len("read", "the source", len)?;
        let mut values = vec![T::default(); len];
        if len == 0 {
            return Ok(values);
        }
        self.bind()?;
        let source = buffer.slice.slice(..len);
        self.stream
            .memcpy_dtoh(&source, &mut values)
            .map_err(CudaError::driver("copying from the GPU"))?;
        // cudarc does not wait for a copy into a `Vec`; a pageable copy blocks the host with
        // today's drivers, but CUDA only says it "might", so wait here (at no cost when it did).
        self.stream
            .synchronize()
            .map_err(CudaError::driver("copying from the GPU"))?;
        Ok(values)
    }

    /// Waits until every queued op has finished, reporting any error a kernel raised.
    pub fn synchronize(&self) -> Result<(), CudaError> {
        self.bind()?;
        self.stream
            .synchronize()
            .map_err(CudaError::driver("running queued kernels"))
    }

    pub(crate) fn function(&self, name: &'static str) -> Result<&CudaFunction, CudaError> {
        self.functions
            .get(name)
            .ok_or_else(|| CudaError::InvalidArgument {
                op: "launch",
                problem: format!("no kernel named `{name}` was loaded"),
            })
    }

    fn allocation_error(
        &self,
        error: cudarc::driver::DriverError,
        needed_bytes: usize,
    ) -> CudaError {
        use cudarc::driver::sys::CUresult;
        if error.0 == CUresult::CUDA_ERROR_OUT_OF_MEMORY {
            let free_bytes = self
                .context
                .mem_get_info()
                .map(|(free, _)| free)
                .unwrap_or(0);
            CudaError::OutOfMemory {
                during: "allocating a buffer",
                needed_bytes,
                free_bytes,
            }
        } else {
            CudaError::driver("allocating a buffer")(error)
        }
    }
}

/// Compiles (or reads from the cache) every kernel file, the files in parallel.
fn compile_all(arch: &str, cache_dir: Option<&PathBuf>) -> Result<Vec<Vec<u8>>, CudaError> {
    let compile_one = |source: &'static KernelSource| {
        cached_compile(source, arch, cache_dir.map(PathBuf::as_path))
    };
    std::thread::scope(|scope| {
        let handles: Vec<_> = KERNEL_SOURCES
            .iter()
            .map(|source| scope.spawn(move || compile_one(source)))
            .collect();
        handles
            .into_iter()
            .map(|handle| {
                handle.join().unwrap_or_else(|_| {
                    Err(CudaError::InvalidArgument {
                        op: "compile",
                        problem: "a compiler thread panicked".to_owned(),
                    })
                })
            })
            .collect()
    })
}
