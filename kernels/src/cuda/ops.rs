//! The op set on the GPU: embedding gather, RMSNorm, SiLU·mul, bias, the linear layer (a
//! hand-written kernel for decode's few rows, cuBLAS for more), sampling and log-probabilities,
//! and the device-to-device copy bandwidth. Every op checks its buffer sizes first and returns
//! an error naming the op instead of launching out of bounds; launches are asynchronous on the
//! device's one stream.

use super::buffer::{DeviceMatrix, GpuBuffer, GpuView};
use super::device::CudaDevice;
use super::signatures::{DeviceAddress, Kernel, KernelArguments};
use super::sources::{
    AddBiasArguments, ConvertToHalfArguments, EmbeddingArguments, GatherLogProbsArguments,
    GatherRowsArguments, LinearSkinnyArguments, RmsNormArguments, SampleRowsArguments,
    SiluMulArguments, ADD_BIAS, CONVERT_TO_HALF, EMBEDDING, GATHER_LOG_PROBS, GATHER_ROWS,
    LINEAR_SKINNY, RMS_NORM, SAMPLE_ROWS, SILU_MUL,
};
use super::{
    CudaError, BANDWIDTH_MEMORY_MARGIN_BYTES, BANDWIDTH_MIN_BUFFER_BYTES, ELEMENTWISE_MAX_BLOCKS,
    ELEMENTWISE_THREADS, LINEAR_WARPS, NORM_THREADS, SAMPLING_THREADS, SKINNY_MAX_ROWS,
};
use crate::DType;
use cudarc::cublas::sys as cublas;
use cudarc::driver::LaunchConfig;

impl CudaDevice {
    /// Queues `kernel` with `config` on the device's stream. `arguments` is the kernel's
    /// argument struct from `sources.rs`, whose fields are pushed in the order of the C
    /// parameters; CI checks that order and every type against the compiled PTX.
    pub(crate) fn launch<A: KernelArguments>(
        &self,
        kernel: Kernel<A>,
        config: LaunchConfig,
        arguments: &A,
    ) -> Result<(), CudaError> {
        self.bind()?;
        let function = self.function(kernel.name())?;
        let mut builder = self.stream.launch_builder(function);
        arguments.push_onto(&mut builder);
        // SAFETY: the argument types match the kernel's signature (declared once in sources.rs
        // and checked against NVRTC's PTX in kernels/tests/nvrtc_compile.rs), and the caller
        // checked every buffer's size against the kernel's indexing.
        unsafe { builder.launch(config) }
            .map(|_| ())
            .map_err(|error| CudaError::Launch {
                kernel: kernel.name(),
                message: super::error::describe_driver_error(error),
            })
    }
}

/// A grid-stride launch over `total` elements.
pub(crate) fn elementwise_config(total: usize) -> LaunchConfig {
    let blocks = total
        .div_ceil(ELEMENTWISE_THREADS as usize)
        .clamp(1, ELEMENTWISE_MAX_BLOCKS as usize) as u32;
    LaunchConfig {
        grid_dim: (blocks, 1, 1),
        block_dim: (ELEMENTWISE_THREADS, 1, 1),
        shared_mem_bytes: 0,
    }
}

/// One block per row.
pub(crate) fn per_row_config(n_rows: usize, threads: u32) -> LaunchConfig {
    LaunchConfig {
        grid_dim: (n_rows as u32, 1, 1),
        block_dim: (threads, 1, 1),
        shared_mem_bytes: 0,
    }
}

/// Output columns each warp of the decode linear kernel computes; mirrors
/// `columns_per_warp` in kernels/cuda/linear.cu.
pub fn skinny_columns_per_warp(n_rows: usize) -> usize {
    if n_rows <= 2 {
        2
    } else {
        4
    }
}

/// Sampling settings shared by every row of one `sample` call, as the kernel reads them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GpuSamplingParams {
    /// 0 (or less) means greedy.
    pub temperature: f32,
    /// 1 turns top-p off.
    pub top_p: f32,
    /// 0 turns top-k off.
    pub top_k: usize,
}

impl GpuSamplingParams {
    /// The three floats `sample_rows` reads: temperature, top-p, top-k.
    pub fn to_kernel_values(self) -> [f32; 3] {
        [self.temperature, self.top_p, self.top_k as f32]
    }
}

fn invalid(op: &'static str, problem: String) -> CudaError {
    CudaError::InvalidArgument { op, problem }
}

fn as_i32(op: &'static str, what: &str, value: usize) -> Result<i32, CudaError> {
    i32::try_from(value).map_err(|_| invalid(op, format!("{what} ({value}) is too large")))
}

impl CudaDevice {
    /// `out[row] = table[token_ids[row]]` widened to f32, for `n_tokens` rows. Token ids must
    /// be below `table.rows()` (callers check them).
    pub fn embedding(
        &self,
        table: &DeviceMatrix,
        token_ids: GpuView<'_, u32>,
        n_tokens: usize,
        out: &mut GpuBuffer<f32>,
    ) -> Result<(), CudaError> {
        let width = table.cols();
        token_ids.check_len("embedding", "the token ids", n_tokens)?;
        out.check_len("embedding", "the output", n_tokens * width)?;
        if n_tokens == 0 {
            return Ok(());
        }
        self.launch(
            EMBEDDING.for_storage(table.dtype())?,
            per_row_config(n_tokens, NORM_THREADS),
            &EmbeddingArguments {
                table: table.address(),
                token_ids: token_ids.address(),
                out: out.address(),
                width: as_i32("embedding", "the width", width)?,
            },
        )
    }

    /// RMSNorm of `n_rows` rows of `weight.len()` elements.
    pub fn rms_norm(
        &self,
        input: &GpuBuffer<f32>,
        weight: &GpuBuffer<f32>,
        eps: f32,
        n_rows: usize,
        out: &mut GpuBuffer<f32>,
    ) -> Result<(), CudaError> {
        let width = weight.len();
        input.check_len("rms_norm", "the input", n_rows * width)?;
        out.check_len("rms_norm", "the output", n_rows * width)?;
        if n_rows == 0 {
            return Ok(());
        }
        self.launch(
            RMS_NORM,
            per_row_config(n_rows, NORM_THREADS),
            &RmsNormArguments {
                input: input.address(),
                weight: weight.address(),
                output: out.address(),
                width: as_i32("rms_norm", "the width", width)?,
                eps,
            },
        )
    }

    /// For rows `[gate (width) | up (width)]`, `out = silu(gate) · up`, rows of `width`.
    pub fn silu_mul(
        &self,
        gate_up: &GpuBuffer<f32>,
        width: usize,
        n_rows: usize,
        out: &mut GpuBuffer<f32>,
    ) -> Result<(), CudaError> {
        let total = n_rows * width;
        gate_up.check_len("silu_mul", "the gate and up rows", 2 * total)?;
        out.check_len("silu_mul", "the output", total)?;
        if total == 0 {
            return Ok(());
        }
        self.launch(
            SILU_MUL,
            elementwise_config(total),
            &SiluMulArguments {
                gate_up: gate_up.address(),
                out: out.address(),
                width: as_i32("silu_mul", "the width", width)?,
                total: total as i64,
            },
        )
    }

    /// `x[row] += bias` for `n_rows` rows of `bias.len()` elements.
    pub fn add_bias(
        &self,
        x: &mut GpuBuffer<f32>,
        bias: &GpuBuffer<f32>,
        n_rows: usize,
    ) -> Result<(), CudaError> {
        let width = bias.len();
        let total = n_rows * width;
        x.check_len("add_bias", "the rows", total)?;
        if total == 0 {
            return Ok(());
        }
        self.launch(
            ADD_BIAS,
            elementwise_config(total),
            &AddBiasArguments {
                x: x.address(),
                bias: bias.address(),
                width: as_i32("add_bias", "the width", width)?,
                total: total as i64,
            },
        )
    }

    /// `out[r] = input[row_ids[r]]` for `n_rows` rows of `width` elements.
    pub fn gather_rows(
        &self,
        input: &GpuBuffer<f32>,
        row_ids: &GpuBuffer<u32>,
        n_rows: usize,
        width: usize,
        out: &mut GpuBuffer<f32>,
    ) -> Result<(), CudaError> {
        row_ids.check_len("gather_rows", "the row ids", n_rows)?;
        out.check_len("gather_rows", "the output", n_rows * width)?;
        if n_rows == 0 {
            return Ok(());
        }
        self.launch(
            GATHER_ROWS,
            per_row_config(n_rows, NORM_THREADS),
            &GatherRowsArguments {
                input: input.address(),
                row_ids: row_ids.address(),
                out: out.address(),
                width: as_i32("gather_rows", "the width", width)?,
            },
        )
    }

    /// The linear layer `output = input · weightᵀ (+ bias) (+ output when accumulate)` for
    /// `n_rows` rows: the decode kernel for at most [`SKINNY_MAX_ROWS`] rows, cuBLAS otherwise
    /// (F32 weights in f32; BF16/F16 weights with the input rounded to their type into
    /// `scratch`, f32 accumulation). `accumulate` makes a residual add free.
    #[allow(clippy::too_many_arguments)]
    pub fn linear(
        &self,
        input: &GpuBuffer<f32>,
        n_rows: usize,
        weight: &DeviceMatrix,
        bias: Option<&GpuBuffer<f32>>,
        output: &mut GpuBuffer<f32>,
        accumulate: bool,
        scratch: &mut GpuBuffer<u16>,
    ) -> Result<(), CudaError> {
        let (out_features, in_features) = (weight.rows(), weight.cols());
        input.check_len("linear", "the input", n_rows * in_features)?;
        output.check_len("linear", "the output", n_rows * out_features)?;
        if let Some(bias) = bias {
            if bias.len() != out_features {
                return Err(invalid(
                    "linear",
                    format!(
                        "the bias has {} elements but the weight has {out_features} rows",
                        bias.len()
                    ),
                ));
            }
        }
        if n_rows == 0 || out_features == 0 {
            return Ok(());
        }
        if n_rows <= SKINNY_MAX_ROWS {
            return self.linear_skinny(input, n_rows, weight, bias, output, accumulate);
        }
        self.linear_cublas(input, n_rows, weight, output, accumulate, scratch)?;
        if let Some(bias) = bias {
            self.add_bias(output, bias, n_rows)?;
        }
        Ok(())
    }

    fn linear_skinny(
        &self,
        input: &GpuBuffer<f32>,
        n_rows: usize,
        weight: &DeviceMatrix,
        bias: Option<&GpuBuffer<f32>>,
        output: &mut GpuBuffer<f32>,
        accumulate: bool,
    ) -> Result<(), CudaError> {
        let out_features = weight.rows();
        let columns_per_block = LINEAR_WARPS as usize * skinny_columns_per_warp(n_rows);
        let config = LaunchConfig {
            grid_dim: (out_features.div_ceil(columns_per_block) as u32, 1, 1),
            block_dim: (LINEAR_WARPS * 32, 1, 1),
            shared_mem_bytes: 0,
        };
        self.launch(
            LINEAR_SKINNY.for_storage(weight.dtype())?,
            config,
            &LinearSkinnyArguments {
                x: input.address(),
                w: weight.address(),
                bias: bias.map_or(DeviceAddress::NULL, GpuBuffer::address),
                out: output.address(),
                n_rows: as_i32("linear", "the row count", n_rows)?,
                k: as_i32("linear", "in_features", weight.cols())?,
                m: as_i32("linear", "out_features", out_features)?,
                accumulate: i32::from(accumulate),
            },
        )
    }

    fn linear_cublas(
        &self,
        input: &GpuBuffer<f32>,
        n_rows: usize,
        weight: &DeviceMatrix,
        output: &mut GpuBuffer<f32>,
        accumulate: bool,
        scratch: &mut GpuBuffer<u16>,
    ) -> Result<(), CudaError> {
        let (out_features, in_features) = (weight.rows(), weight.cols());
        let (input_address, element_type) = match weight.dtype() {
            DType::F32 => (input.address(), cublas::cudaDataType_t::CUDA_R_32F),
            half_type => {
                let total = n_rows * in_features;
                scratch.check_len("linear", "the 16-bit input scratch", total)?;
                self.launch(
                    CONVERT_TO_HALF.for_storage(half_type)?,
                    elementwise_config(total),
                    &ConvertToHalfArguments {
                        input: input.address(),
                        output: scratch.address(),
                        total: total as i64,
                    },
                )?;
                let element_type = if half_type == DType::BF16 {
                    cublas::cudaDataType_t::CUDA_R_16BF
                } else {
                    cublas::cudaDataType_t::CUDA_R_16F
                };
                (scratch.address(), element_type)
            }
        };
        let alpha = 1.0f32;
        let beta = if accumulate { 1.0f32 } else { 0.0f32 };
        // Row-major out[n, m] = x[n, k] · w[m, k]ᵀ is column-major out[m, n] = wᵀ · x with
        // w seen as a k×m column-major matrix (transposed) and x as k×n.
        let m = as_i32("linear", "out_features", out_features)?;
        let n = as_i32("linear", "the row count", n_rows)?;
        let k = as_i32("linear", "in_features", in_features)?;
        self.bind()?;
        // SAFETY: the sizes were checked by `linear`; the handle runs on this device's stream
        // and every pointer is a live allocation of this device.
        unsafe {
            cudarc::cublas::result::gemm_ex(
                *self.blas.handle(),
                cublas::cublasOperation_t::CUBLAS_OP_T,
                cublas::cublasOperation_t::CUBLAS_OP_N,
                m,
                n,
                k,
                (&alpha as *const f32).cast(),
                weight.address().raw() as *const std::ffi::c_void,
                element_type,
                k,
                input_address.raw() as *const std::ffi::c_void,
                element_type,
                k,
                (&beta as *const f32).cast(),
                output.address().raw() as *mut std::ffi::c_void,
                cublas::cudaDataType_t::CUDA_R_32F,
                m,
                cublas::cublasComputeType_t::CUBLAS_COMPUTE_32F,
                cublas::cublasGemmAlgo_t::CUBLAS_GEMM_DEFAULT,
            )
        }
        .map_err(CudaError::cublas("multiplying matrices (cublasGemmEx)"))
    }

    /// Chooses one token per row of logits (row `r` starts at `r · row_stride`; a stride of 0
    /// samples the same row `n_rows` times). `params` holds [`GpuSamplingParams::to_kernel_values`]
    /// and `uniforms` one draw in `[0, 1)` per row.
    #[allow(clippy::too_many_arguments)]
    pub fn sample(
        &self,
        logits: &GpuBuffer<f32>,
        row_stride: usize,
        n_rows: usize,
        vocab: usize,
        params: &GpuBuffer<f32>,
        uniforms: GpuView<'_, f64>,
        out_tokens: &mut GpuBuffer<u32>,
    ) -> Result<(), CudaError> {
        if n_rows == 0 {
            return Ok(());
        }
        logits.check_len("sample", "the logits", (n_rows - 1) * row_stride + vocab)?;
        params.check_len("sample", "the sampling parameters", 3)?;
        uniforms.check_len("sample", "the uniform draws", n_rows)?;
        out_tokens.check_len("sample", "the output tokens", n_rows)?;
        self.launch(
            SAMPLE_ROWS,
            per_row_config(n_rows, SAMPLING_THREADS),
            &SampleRowsArguments {
                logits: logits.address(),
                row_stride: row_stride as i64,
                vocab: as_i32("sample", "the vocabulary", vocab)?,
                params: params.address(),
                uniforms: uniforms.address(),
                out_tokens: out_tokens.address(),
            },
        )
    }

    /// `out[r] = log_softmax(logits[r])[targets[r]]` for `n_rows` rows of `vocab` logits.
    pub fn gather_log_probs(
        &self,
        logits: &GpuBuffer<f32>,
        n_rows: usize,
        vocab: usize,
        targets: &GpuBuffer<u32>,
        out: &mut GpuBuffer<f32>,
    ) -> Result<(), CudaError> {
        logits.check_len("gather_log_probs", "the logits", n_rows * vocab)?;
        targets.check_len("gather_log_probs", "the targets", n_rows)?;
        out.check_len("gather_log_probs", "the output", n_rows)?;
        if n_rows == 0 {
            return Ok(());
        }
        self.launch(
            GATHER_LOG_PROBS,
            per_row_config(n_rows, SAMPLING_THREADS),
            &GatherLogProbsArguments {
                logits: logits.address(),
                vocab: as_i32("gather_log_probs", "the vocabulary", vocab)?,
                targets: targets.address(),
                out: out.address(),
            },
        )
    }

    /// Device-to-device copy bandwidth in bytes per second, counting bytes read plus bytes
    /// written (as the CPU measurement does): the best of `repetitions` copies of a
    /// `buffer_bytes` buffer, timed with CUDA events. The buffer shrinks to what free memory
    /// holds (two copies of it and [`BANDWIDTH_MEMORY_MARGIN_BYTES`] to spare), but never below
    /// [`BANDWIDTH_MIN_BUFFER_BYTES`]: `bench` measures after its run, with the model and its KV
    /// cache still on the GPU, and the KV cache may have left less than two full buffers free.
    pub fn measure_copy_bandwidth(
        &self,
        buffer_bytes: usize,
        repetitions: usize,
    ) -> Result<f64, CudaError> {
        let (free_bytes, _total) = self.memory_info()?;
        let fitting = free_bytes.saturating_sub(BANDWIDTH_MEMORY_MARGIN_BYTES) / 2;
        let buffer_bytes = buffer_bytes.min(fitting).max(BANDWIDTH_MIN_BUFFER_BYTES);
        let words = (buffer_bytes / 4).max(1);
        let source = self.alloc::<u32>(words)?;
        let mut destination = self.alloc::<u32>(words)?;
        let start = self
            .stream
            .context()
            .new_event(Some(cudarc::driver::sys::CUevent_flags::CU_EVENT_DEFAULT))
            .map_err(CudaError::driver("creating a timing event"))?;
        let end = self
            .stream
            .context()
            .new_event(Some(cudarc::driver::sys::CUevent_flags::CU_EVENT_DEFAULT))
            .map_err(CudaError::driver("creating a timing event"))?;
        let copy = |destination: &mut GpuBuffer<u32>| {
            self.stream
                .memcpy_dtod(&source.slice, &mut destination.slice)
                .map_err(CudaError::driver("copying on the GPU"))
        };
        // The first copy is not timed: it pays for first-touch costs.
        copy(&mut destination)?;
        let mut best_seconds = f64::INFINITY;
        for _ in 0..repetitions.max(1) {
            start
                .record(&self.stream)
                .map_err(CudaError::driver("recording a timing event"))?;
            copy(&mut destination)?;
            end.record(&self.stream)
                .map_err(CudaError::driver("recording a timing event"))?;
            end.synchronize()
                .map_err(CudaError::driver("waiting for a copy"))?;
            let milliseconds = start
                .elapsed_ms(&end)
                .map_err(CudaError::driver("reading a timing event"))?;
            best_seconds = best_seconds.min(f64::from(milliseconds) / 1e3);
        }
        Ok((2 * words * 4) as f64 / best_seconds)
    }
}
