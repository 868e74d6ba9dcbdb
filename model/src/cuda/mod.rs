//! The transformer on a GPU (the `cuda` feature): weights in GPU memory in their storage type,
//! a paged KV cache whose prompt blocks N samples share, tiled prefill and split-K decode
//! attention, sampling on the device so logits never cross to the host, and CUDA graphs for
//! the decode step.
//!
//! One request runs at a time per GPU: a request, a weight upload and the freeing of a model
//! each hold the device's exclusive use (`CudaDevice::exclusive_use`) from start to end, because
//! every model on the GPU shares its one stream and another thread's work queued during a graph
//! capture would land in the graph. Ops inside those units never take it. Everything a request
//! needs is sized when it starts, so nothing is allocated while a decode step is captured.

mod forward;
mod generation;

use crate::config::ModelConfig;
use crate::error::{ModelError, Result};
use crate::forward::Transformer;
use crate::weights::TransformerWeights;
use proofwright_kernels::cuda::{
    AttentionShape, CapturedGraph, CudaDevice, CudaError, DecodeScratch, DeviceMatrix, GpuBuffer,
    KvCachePool, KV_BLOCK_SIZE, MAX_HEAD_DIM,
};
use proofwright_kernels::paged::BlockPool;
use std::collections::HashMap;
use std::mem::ManuallyDrop;
use std::sync::{Arc, Mutex, MutexGuard};

/// Most tokens one forward pass takes: longer prompts are prefilled in chunks of this many.
pub const GPU_MAX_ROWS: usize = 512;
/// Most samples decoded together, and rows of logits computed at once while scoring.
pub const GPU_MAX_SAMPLES: usize = 256;
/// Blocks at the start of the KV cache that are never handed out: padding rows of a captured
/// decode step write there.
pub const KV_RESERVED_BLOCKS: usize = 1;
/// GPU memory left free when the KV cache is sized.
pub const KV_MEMORY_HEADROOM_BYTES: usize = 1 << 30;
/// The KV cache grows at least by this factor when a request needs more, so that a series of
/// slightly longer requests does not reallocate it each time.
pub const KV_GROWTH_FACTOR: usize = 2;

/// One layer's weights in GPU memory.
struct GpuLayer {
    input_norm: GpuBuffer<f32>,
    qkv: DeviceMatrix,
    qkv_bias: Option<GpuBuffer<f32>>,
    q_norm: Option<GpuBuffer<f32>>,
    k_norm: Option<GpuBuffer<f32>>,
    o_proj: DeviceMatrix,
    o_bias: Option<GpuBuffer<f32>>,
    post_attention_norm: GpuBuffer<f32>,
    gate_up: DeviceMatrix,
    gate_up_bias: Option<GpuBuffer<f32>>,
    down: DeviceMatrix,
    down_bias: Option<GpuBuffer<f32>>,
}

struct GpuWeights {
    embed_tokens: DeviceMatrix,
    layers: Vec<GpuLayer>,
    final_norm: GpuBuffer<f32>,
    /// `None` when tied to the embeddings.
    lm_head: Option<DeviceMatrix>,
}

impl GpuWeights {
    fn upload(device: &CudaDevice, weights: &TransformerWeights) -> Result<Self> {
        let vector = |values: &Vec<f32>| device.upload(values);
        let optional = |values: &Option<Vec<f32>>| values.as_ref().map(vector).transpose();
        let matrix = |matrix| DeviceMatrix::upload(device, matrix);
        let layers = weights
            .layers
            .iter()
            .map(|layer| {
                Ok(GpuLayer {
                    input_norm: vector(&layer.input_norm)?,
                    qkv: matrix(&layer.qkv)?,
                    qkv_bias: optional(&layer.qkv_bias)?,
                    q_norm: optional(&layer.q_norm)?,
                    k_norm: optional(&layer.k_norm)?,
                    o_proj: matrix(&layer.o_proj)?,
                    o_bias: optional(&layer.o_bias)?,
                    post_attention_norm: vector(&layer.post_attention_norm)?,
                    gate_up: matrix(&layer.gate_up)?,
                    gate_up_bias: optional(&layer.gate_up_bias)?,
                    down: matrix(&layer.down)?,
                    down_bias: optional(&layer.down_bias)?,
                })
            })
            .collect::<std::result::Result<Vec<_>, CudaError>>()?;
        Ok(GpuWeights {
            embed_tokens: matrix(&weights.embed_tokens)?,
            layers,
            final_norm: vector(&weights.final_norm)?,
            lm_head: weights.lm_head.as_ref().map(matrix).transpose()?,
        })
    }

    fn output_projection(&self) -> &DeviceMatrix {
        self.lm_head.as_ref().unwrap_or(&self.embed_tokens)
    }
}

/// Activations of one forward pass, sized once for [`GPU_MAX_ROWS`] rows.
struct Workspace {
    residual: GpuBuffer<f32>,
    normed: GpuBuffer<f32>,
    qkv: GpuBuffer<f32>,
    queries: GpuBuffer<f32>,
    attention: GpuBuffer<f32>,
    gate_up: GpuBuffer<f32>,
    activated: GpuBuffer<f32>,
    /// Inputs of cuBLAS rounded to the weights' 16-bit type.
    half_input: GpuBuffer<u16>,
    /// `[GPU_MAX_SAMPLES, vocab]`.
    logits: GpuBuffer<f32>,
    /// Hidden rows whose logits are needed, `[GPU_MAX_SAMPLES, hidden]`.
    gathered: GpuBuffer<f32>,
    row_ids: GpuBuffer<u32>,
    targets: GpuBuffer<u32>,
    log_probs: GpuBuffer<f32>,
    sampling_params: GpuBuffer<f32>,
    sampled: GpuBuffer<u32>,
    copy_pairs: GpuBuffer<u32>,
}

impl Workspace {
    fn new(device: &CudaDevice, config: &ModelConfig) -> Result<Self> {
        let rows = GPU_MAX_ROWS;
        let hidden = config.hidden_size;
        let intermediate = config.intermediate_size;
        let (q_dim, kv_dim) = (config.q_dim(), config.kv_dim());
        let widest_input = hidden.max(intermediate).max(q_dim);
        Ok(Workspace {
            residual: device.alloc(rows * hidden)?,
            normed: device.alloc(rows * hidden)?,
            qkv: device.alloc(rows * (q_dim + 2 * kv_dim))?,
            queries: device.alloc(rows * q_dim)?,
            attention: device.alloc(rows * q_dim)?,
            gate_up: device.alloc(rows * 2 * intermediate)?,
            activated: device.alloc(rows * intermediate)?,
            half_input: device.alloc(rows * widest_input)?,
            logits: device.alloc(GPU_MAX_SAMPLES * config.vocab_size)?,
            gathered: device.alloc(GPU_MAX_SAMPLES * hidden)?,
            row_ids: device.alloc(GPU_MAX_SAMPLES)?,
            targets: device.alloc(GPU_MAX_SAMPLES)?,
            log_probs: device.alloc(GPU_MAX_SAMPLES)?,
            sampling_params: device.alloc(3)?,
            sampled: device.alloc(GPU_MAX_SAMPLES)?,
            copy_pairs: device.alloc(2 * GPU_MAX_SAMPLES)?,
        })
    }
}

/// Key of a captured decode step: the padded number of sequences and the block-table width.
type GraphKey = (usize, usize);

/// The KV cache and everything sized with it. Captured graphs hold these buffers' addresses,
/// so they are dropped together whenever any of them is reallocated.
struct KvState {
    pool: KvCachePool,
    blocks: BlockPool,
    /// Words of step inputs uploaded at once (see `forward::InputLayout`).
    inputs: GpuBuffer<u32>,
    /// The widest block table `inputs` has room for.
    table_width: usize,
    decode: DecodeScratch,
    /// Sequences `decode` has room for.
    decode_sequences: usize,
    /// The captured decode step of each size; `None` for a size whose capture failed, whose
    /// steps run without a graph.
    graphs: HashMap<GraphKey, Option<CapturedGraph>>,
}

#[derive(Default)]
struct EngineState {
    kv: Option<KvState>,
}

/// A transformer whose `generate` and `score` run on a GPU.
pub(crate) struct CudaTransformer {
    device: Arc<CudaDevice>,
    config: ModelConfig,
    shape: AttentionShape,
    // GPU memory is freed in `Drop`, under the device's exclusive use.
    weights: ManuallyDrop<GpuWeights>,
    workspace: ManuallyDrop<Mutex<Workspace>>,
    state: ManuallyDrop<Mutex<EngineState>>,
}

/// The locks one request holds, taken in this order: the device's exclusive use, then the
/// model's own buffers.
type RequestLocks<'a> = (
    MutexGuard<'a, ()>,
    MutexGuard<'a, Workspace>,
    MutexGuard<'a, EngineState>,
);

impl Drop for CudaTransformer {
    fn drop(&mut self) {
        // Freeing queues work on the shared stream, which must not happen during another
        // thread's capture; the synchronisations make sure no work of this model is still
        // running and return the freed memory to the driver at once.
        let _device_use = self.device.exclusive_use();
        let _ = self.device.synchronize();
        // SAFETY: each field is dropped once, here, and never used again.
        unsafe {
            ManuallyDrop::drop(&mut self.state);
            ManuallyDrop::drop(&mut self.workspace);
            ManuallyDrop::drop(&mut self.weights);
        }
        let _ = self.device.synchronize();
    }
}

impl CudaTransformer {
    pub(crate) fn new(device: Arc<CudaDevice>, transformer: &Transformer) -> Result<Self> {
        let config = transformer.config.clone();
        let shape = AttentionShape {
            n_heads: config.num_attention_heads,
            n_kv_heads: config.num_key_value_heads,
            head_dim: config.head_dim,
        };
        shape
            .validate()
            .map_err(|error| ModelError::DeviceUnavailable {
                reason: format!("this model's attention shape is not supported: {error}"),
            })?;
        debug_assert!(config.head_dim <= MAX_HEAD_DIM);
        let device_use = device.exclusive_use();
        let weights = GpuWeights::upload(&device, &transformer.weights)?;
        let workspace = Workspace::new(&device, &config)?;
        drop(device_use);
        Ok(CudaTransformer {
            device,
            config,
            shape,
            weights: ManuallyDrop::new(weights),
            workspace: ManuallyDrop::new(Mutex::new(workspace)),
            state: ManuallyDrop::new(Mutex::new(EngineState::default())),
        })
    }

    pub(crate) fn device(&self) -> &Arc<CudaDevice> {
        &self.device
    }

    /// The KV cache's element type: the weights' own (F32 checkpoints keep f32 keys and values).
    fn kv_dtype(&self) -> proofwright_kernels::DType {
        self.weights.embed_tokens.dtype()
    }

    /// Takes what one request holds from start to end (see [`RequestLocks`]).
    fn lock(&self) -> RequestLocks<'_> {
        let device_use = self.device.exclusive_use();
        // A panic while the lock was held leaves buffers whose contents do not matter between
        // requests: every request rewrites what it reads.
        let workspace = self
            .workspace
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let state = self
            .state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        (device_use, workspace, state)
    }

    /// Makes sure the KV cache has `n_blocks` blocks (reserved ones included), the step inputs
    /// room for block tables of `table_width`, and the decode scratch room for `n_sequences`
    /// sequences; then frees every block for the new request.
    fn prepare(
        &self,
        state: &mut EngineState,
        n_blocks: usize,
        table_width: usize,
        n_sequences: usize,
    ) -> Result<()> {
        let needed = KvCapacity {
            n_blocks,
            table_width,
            decode_sequences: n_sequences,
        };
        let current = state.kv.as_ref().map(KvState::capacity);
        match plan_kv(current, needed) {
            KvPlan::Reuse => {}
            KvPlan::GrowScratch {
                table_width,
                decode_sequences,
            } => {
                let kv = state.kv.as_mut().expect("planned from an existing cache");
                // The graphs hold the addresses of the buffers replaced here.
                kv.graphs.clear();
                kv.inputs = self.alloc_inputs(table_width)?;
                kv.decode = self.alloc_decode_scratch(table_width, decode_sequences)?;
                kv.table_width = table_width;
                kv.decode_sequences = decode_sequences;
            }
            KvPlan::GrowPool {
                min_blocks,
                wanted_blocks,
                table_width,
                decode_sequences,
            } => {
                // Free the old cache before allocating the new one, and wait until the memory
                // is back: freed memory stays reserved in the stream's pool until the stream
                // synchronises, so free memory would be under-counted and the new, larger cache
                // could not reuse it.
                drop(state.kv.take());
                self.device.synchronize()?;
                let n_blocks = self.affordable_blocks(wanted_blocks)?.max(min_blocks);
                let pool = KvCachePool::new(
                    &self.device,
                    self.kv_dtype(),
                    self.config.num_hidden_layers,
                    self.shape.n_kv_heads,
                    self.shape.head_dim,
                    n_blocks,
                )?;
                let blocks = BlockPool::new(n_blocks, KV_BLOCK_SIZE, KV_RESERVED_BLOCKS)?;
                state.kv = Some(KvState {
                    pool,
                    blocks,
                    inputs: self.alloc_inputs(table_width)?,
                    table_width,
                    decode: self.alloc_decode_scratch(table_width, decode_sequences)?,
                    decode_sequences,
                    graphs: HashMap::new(),
                });
            }
        }
        state.kv.as_mut().expect("allocated above").blocks.reset();
        Ok(())
    }

    /// The step inputs for block tables up to `table_width` wide.
    fn alloc_inputs(&self, table_width: usize) -> Result<GpuBuffer<u32>> {
        Ok(self.device.alloc(forward::InputLayout::capacity(
            self.shape.head_dim / 2,
            table_width,
        ))?)
    }

    /// Decode-attention scratch for `decode_sequences` sequences of up to `table_width` blocks.
    fn alloc_decode_scratch(
        &self,
        table_width: usize,
        decode_sequences: usize,
    ) -> Result<DecodeScratch> {
        Ok(DecodeScratch::new(
            &self.device,
            self.shape,
            decode_sequences,
            proofwright_kernels::cuda::decode_splits(table_width * KV_BLOCK_SIZE),
        )?)
    }

    /// `wanted` blocks if they fit in free GPU memory with headroom to spare, else as many as
    /// fit; an error when even `KV_RESERVED_BLOCKS + 1` would not.
    fn affordable_blocks(&self, wanted: usize) -> Result<usize> {
        let (free, _total) = self.device.memory_info()?;
        let per_block = KvCachePool::bytes_per_block(
            self.kv_dtype(),
            self.config.num_hidden_layers,
            self.shape.n_kv_heads,
            self.shape.head_dim,
        );
        let affordable = free.saturating_sub(KV_MEMORY_HEADROOM_BYTES) / per_block.max(1);
        Ok(wanted.min(affordable))
    }
}

/// What a KV state has room for, or what a request needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct KvCapacity {
    /// Blocks of the pool, reserved ones included.
    n_blocks: usize,
    /// The widest block table the step inputs hold.
    table_width: usize,
    /// Sequences the decode scratch holds.
    decode_sequences: usize,
}

impl KvState {
    fn capacity(&self) -> KvCapacity {
        KvCapacity {
            n_blocks: self.pool.n_blocks(),
            table_width: self.table_width,
            decode_sequences: self.decode_sequences,
        }
    }
}

/// What `prepare` does to the KV state for a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KvPlan {
    /// Everything fits.
    Reuse,
    /// The blocks fit: only the small step inputs and decode scratch are reallocated, to these
    /// sizes (and the graphs dropped).
    GrowScratch {
        table_width: usize,
        decode_sequences: usize,
    },
    /// The pool is reallocated with `wanted_blocks` if free memory allows, and never fewer than
    /// `min_blocks`; the step inputs and scratch with it, to these sizes.
    GrowPool {
        min_blocks: usize,
        wanted_blocks: usize,
        table_width: usize,
        decode_sequences: usize,
    },
}

/// Decides how the KV state `current` (none before the first request) must change for a request
/// that `needed`. Sizes never shrink, so alternating requests do not reallocate; the pool grows
/// by at least [`KV_GROWTH_FACTOR`], and only when its blocks do not fit.
fn plan_kv(current: Option<KvCapacity>, needed: KvCapacity) -> KvPlan {
    let current = current.unwrap_or(KvCapacity {
        n_blocks: 0,
        table_width: 0,
        decode_sequences: 0,
    });
    let needed_sequences = needed.decode_sequences.min(GPU_MAX_SAMPLES);
    let table_width = needed.table_width.max(current.table_width);
    let decode_sequences = needed_sequences.max(current.decode_sequences);
    if current.n_blocks < needed.n_blocks {
        return KvPlan::GrowPool {
            min_blocks: needed.n_blocks,
            wanted_blocks: needed.n_blocks.max(current.n_blocks * KV_GROWTH_FACTOR),
            table_width,
            decode_sequences,
        };
    }
    if current.table_width < needed.table_width || current.decode_sequences < needed_sequences {
        return KvPlan::GrowScratch {
            table_width,
            decode_sequences,
        };
    }
    KvPlan::Reuse
}

/// The smallest power of two that is at least `value` (and at least 1).
fn bucket(value: usize) -> usize {
    value.max(1).next_power_of_two()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn capacity(n_blocks: usize, table_width: usize, decode_sequences: usize) -> KvCapacity {
        KvCapacity {
            n_blocks,
            table_width,
            decode_sequences,
        }
    }

    #[test]
    fn the_first_request_allocates_what_it_needs() {
        assert_eq!(
            plan_kv(None, capacity(40, 4, 8)),
            KvPlan::GrowPool {
                min_blocks: 40,
                wanted_blocks: 40,
                table_width: 4,
                decode_sequences: 8
            }
        );
    }

    #[test]
    fn a_request_that_fits_reuses_the_cache() {
        assert_eq!(
            plan_kv(Some(capacity(100, 8, 16)), capacity(100, 8, 16)),
            KvPlan::Reuse
        );
        assert_eq!(
            plan_kv(Some(capacity(100, 8, 16)), capacity(3, 1, 1)),
            KvPlan::Reuse
        );
    }

    #[test]
    fn a_wider_table_or_more_sequences_reallocate_only_the_scratch() {
        assert_eq!(
            plan_kv(Some(capacity(100, 8, 16)), capacity(50, 16, 4)),
            KvPlan::GrowScratch {
                table_width: 16,
                decode_sequences: 16
            }
        );
        assert_eq!(
            plan_kv(Some(capacity(100, 8, 16)), capacity(50, 2, 32)),
            KvPlan::GrowScratch {
                table_width: 8,
                decode_sequences: 32
            }
        );
    }

    #[test]
    fn the_pool_grows_by_the_growth_factor_only_when_its_blocks_do_not_fit() {
        assert_eq!(
            plan_kv(Some(capacity(100, 8, 16)), capacity(101, 4, 1)),
            KvPlan::GrowPool {
                min_blocks: 101,
                wanted_blocks: 100 * KV_GROWTH_FACTOR,
                table_width: 8,
                decode_sequences: 16
            }
        );
        assert_eq!(
            plan_kv(Some(capacity(100, 8, 16)), capacity(500, 32, 64)),
            KvPlan::GrowPool {
                min_blocks: 500,
                wanted_blocks: 500,
                table_width: 32,
                decode_sequences: 64
            }
        );
    }

    #[test]
    fn decode_scratch_never_exceeds_the_sample_limit() {
        let plan = plan_kv(None, capacity(10, 1, GPU_MAX_SAMPLES * 2));
        assert!(matches!(
            plan,
            KvPlan::GrowPool {
                decode_sequences: GPU_MAX_SAMPLES,
                ..
            }
        ));
        assert_eq!(
            plan_kv(
                Some(capacity(10, 1, GPU_MAX_SAMPLES)),
                capacity(10, 1, GPU_MAX_SAMPLES * 2)
            ),
            KvPlan::Reuse
        );
    }
}
