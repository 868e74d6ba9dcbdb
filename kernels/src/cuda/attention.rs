//! The paged KV cache on the GPU and the attention ops that read it: preparing queries and keys
//! (per-head norm, rotary embedding, cache writes), prefill attention, split-K decode attention
//! and the copy-on-write of shared blocks. Which blocks a sequence owns is decided on the host
//! ([`crate::paged`]); here the blocks are only storage.

use super::buffer::{DeviceStorage, GpuBuffer, GpuView};
use super::device::CudaDevice;
use super::signatures::DeviceAddress;
use super::sources::{
    AttentionDecodeArguments, AttentionDecodeReduceArguments, AttentionPrefillArguments,
    CopyBlocksArguments, QkvPrepareArguments, ATTENTION_DECODE, ATTENTION_DECODE_REDUCE,
    ATTENTION_PREFILL, COPY_BLOCKS, QKV_PREPARE,
};
use super::{
    CudaError, ATTENTION_THREADS, COPY_THREADS, DECODE_PARTITION, KV_BLOCK_SIZE, MAX_GROUP_CHUNK,
    MAX_HEAD_DIM, PREFILL_QUERY_TILE, ROPE_THREADS,
};
use crate::DType;
use cudarc::driver::LaunchConfig;

/// Heads of one attention layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AttentionShape {
    pub n_heads: usize,
    pub n_kv_heads: usize,
    pub head_dim: usize,
}

impl AttentionShape {
    /// Checks that the kernels support this shape.
    pub fn validate(&self) -> Result<(), CudaError> {
        let problem = if self.n_kv_heads == 0 || self.n_heads == 0 {
            Some("there must be at least one attention head and one key/value head".to_owned())
        } else if !self.n_heads.is_multiple_of(self.n_kv_heads) {
            Some(format!(
                "{} attention heads do not divide into {} key/value heads",
                self.n_heads, self.n_kv_heads
            ))
        } else if self.head_dim == 0
            || !self.head_dim.is_multiple_of(2)
            || self.head_dim > MAX_HEAD_DIM
        {
            Some(format!(
                "head_dim {} is not supported on the GPU (even, at most {MAX_HEAD_DIM}); use the \
                 cpu device",
                self.head_dim
            ))
        } else {
            None
        };
        match problem {
            Some(problem) => Err(CudaError::InvalidArgument {
                op: "attention",
                problem,
            }),
            None => Ok(()),
        }
    }

    pub fn q_dim(&self) -> usize {
        self.n_heads * self.head_dim
    }

    pub fn kv_dim(&self) -> usize {
        self.n_kv_heads * self.head_dim
    }

    /// Blocks of decode attention per key/value head (query heads are taken
    /// [`MAX_GROUP_CHUNK`] at a time).
    fn group_chunks(&self) -> usize {
        (self.n_heads / self.n_kv_heads).div_ceil(MAX_GROUP_CHUNK)
    }
}

/// Keys and values of every layer in fixed-size blocks: `[layer][key | value][block][kv_head]
/// [position in block][head_dim]`, in the model's storage type (f32 for F32 checkpoints).
#[derive(Debug)]
pub struct KvCachePool {
    dtype: DType,
    n_layers: usize,
    n_kv_heads: usize,
    head_dim: usize,
    n_blocks: usize,
    storage: DeviceStorage,
}

impl KvCachePool {
    /// Bytes one block takes across every layer, keys and values.
    pub fn bytes_per_block(
        dtype: DType,
        n_layers: usize,
        n_kv_heads: usize,
        head_dim: usize,
    ) -> usize {
        2 * n_layers * n_kv_heads * KV_BLOCK_SIZE * head_dim * dtype.size_in_bytes()
    }

    pub fn new(
        device: &CudaDevice,
        dtype: DType,
        n_layers: usize,
        n_kv_heads: usize,
        head_dim: usize,
        n_blocks: usize,
    ) -> Result<Self, CudaError> {
        let elements = 2 * n_layers * n_blocks * n_kv_heads * KV_BLOCK_SIZE * head_dim;
        let storage = match dtype {
            DType::F32 => DeviceStorage::F32(device.alloc::<f32>(elements)?),
            DType::BF16 | DType::F16 => DeviceStorage::Half(device.alloc::<u16>(elements)?),
        };
        Ok(KvCachePool {
            dtype,
            n_layers,
            n_kv_heads,
            head_dim,
            n_blocks,
            storage,
        })
    }

    pub fn n_blocks(&self) -> usize {
        self.n_blocks
    }

    pub fn dtype(&self) -> DType {
        self.dtype
    }

    /// Elements of one layer's keys (or values).
    fn plane_elements(&self) -> usize {
        self.n_blocks * self.n_kv_heads * KV_BLOCK_SIZE * self.head_dim
    }

    fn plane_address(&self, plane: usize) -> DeviceAddress {
        let offset = plane * self.plane_elements();
        match &self.storage {
            DeviceStorage::F32(buffer) => buffer.address_at(offset),
            DeviceStorage::Half(buffer) => buffer.address_at(offset),
        }
    }

    fn key_address(&self, layer: usize) -> DeviceAddress {
        self.plane_address(2 * layer)
    }

    fn value_address(&self, layer: usize) -> DeviceAddress {
        self.plane_address(2 * layer + 1)
    }

    fn check(
        &self,
        op: &'static str,
        shape: &AttentionShape,
        layer: usize,
    ) -> Result<(), CudaError> {
        if layer >= self.n_layers
            || shape.n_kv_heads != self.n_kv_heads
            || shape.head_dim != self.head_dim
        {
            return Err(CudaError::InvalidArgument {
                op,
                problem: format!(
                    "layer {layer} with {} key/value heads of {} is outside a cache of {} \
                     layers, {} heads of {}",
                    shape.n_kv_heads, shape.head_dim, self.n_layers, self.n_kv_heads, self.head_dim
                ),
            });
        }
        Ok(())
    }
}

/// A run of consecutive new tokens of one sequence in a forward pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuerySpan {
    /// Row of the sequence's block table.
    pub sequence: usize,
    /// Row of the first token among the pass's rows.
    pub first_row: usize,
    pub n_tokens: usize,
    /// Position of the first token in its sequence.
    pub first_position: usize,
}

/// A prefill work item: up to [`PREFILL_QUERY_TILE`] consecutive tokens of one sequence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PrefillTile {
    pub sequence: usize,
    pub first_row: usize,
    pub rows: usize,
    pub first_position: usize,
}

impl PrefillTile {
    /// The four `int`s of the kernel's `QueryTile` for each tile.
    pub fn to_kernel_values(tiles: &[PrefillTile]) -> Vec<i32> {
        tiles
            .iter()
            .flat_map(|tile| {
                [
                    tile.sequence as i32,
                    tile.first_row as i32,
                    tile.rows as i32,
                    tile.first_position as i32,
                ]
            })
            .collect()
    }
}

/// Splits each span into tiles of at most [`PREFILL_QUERY_TILE`] tokens.
pub fn prefill_tiles(spans: &[QuerySpan]) -> Vec<PrefillTile> {
    let mut tiles = Vec::new();
    for span in spans {
        let mut offset = 0;
        while offset < span.n_tokens {
            let rows = (span.n_tokens - offset).min(PREFILL_QUERY_TILE);
            tiles.push(PrefillTile {
                sequence: span.sequence,
                first_row: span.first_row + offset,
                rows,
                first_position: span.first_position + offset,
            });
            offset += rows;
        }
    }
    tiles
}

/// Splits decode attention uses for sequences of up to `max_length` positions.
pub fn decode_splits(max_length: usize) -> usize {
    max_length.div_ceil(DECODE_PARTITION).max(1)
}

/// Partial results of split-K decode attention, sized for a number of sequences and splits.
#[derive(Debug)]
pub struct DecodeScratch {
    partial_out: GpuBuffer<f32>,
    partial_max: GpuBuffer<f32>,
    partial_sum: GpuBuffer<f32>,
    max_sequences: usize,
    max_splits: usize,
    shape: AttentionShape,
}

impl DecodeScratch {
    pub fn new(
        device: &CudaDevice,
        shape: AttentionShape,
        max_sequences: usize,
        max_splits: usize,
    ) -> Result<Self, CudaError> {
        let partials = max_sequences * shape.n_heads * max_splits;
        Ok(DecodeScratch {
            partial_out: device.alloc(partials * shape.head_dim)?,
            partial_max: device.alloc(partials)?,
            partial_sum: device.alloc(partials)?,
            max_sequences,
            max_splits,
            shape,
        })
    }

    pub fn max_splits(&self) -> usize {
        self.max_splits
    }
}

/// Inputs of [`CudaDevice::qkv_prepare`].
pub struct QkvPrepare<'a> {
    /// `[n_tokens, q_dim + 2 kv_dim]`, biases already added.
    pub qkv: &'a GpuBuffer<f32>,
    pub n_tokens: usize,
    pub q_norm: Option<&'a GpuBuffer<f32>>,
    pub k_norm: Option<&'a GpuBuffer<f32>>,
    pub eps: f32,
    /// `[n_tokens, head_dim / 2]` each.
    pub cos: GpuView<'a, f32>,
    pub sin: GpuView<'a, f32>,
    /// The cache slot of each token (`block · KV_BLOCK_SIZE + offset`).
    pub slots: GpuView<'a, u32>,
    pub layer: usize,
}

/// Inputs of [`CudaDevice::attention_prefill`].
pub struct PrefillAttention<'a> {
    /// `[n_rows, q_dim]`.
    pub queries: &'a GpuBuffer<f32>,
    pub n_rows: usize,
    /// Sequences the tiles refer to (each tile's `sequence` is below this).
    pub n_sequences: usize,
    /// `[n_sequences, table_width]`.
    pub block_tables: GpuView<'a, u32>,
    pub table_width: usize,
    /// [`PrefillTile::to_kernel_values`] of the tiles.
    pub tiles: GpuView<'a, i32>,
    pub n_tiles: usize,
    pub window: Option<usize>,
    pub layer: usize,
}

/// Inputs of [`CudaDevice::attention_decode`].
pub struct DecodeAttention<'a> {
    /// `[n_sequences, q_dim]`: one new token per sequence.
    pub queries: &'a GpuBuffer<f32>,
    pub n_sequences: usize,
    pub block_tables: GpuView<'a, u32>,
    pub table_width: usize,
    /// Positions in the cache per sequence, the new token included.
    pub seq_lens: GpuView<'a, u32>,
    pub n_splits: usize,
    pub window: Option<usize>,
    pub layer: usize,
}

fn window_argument(window: Option<usize>) -> i32 {
    window.map_or(0, |window| i32::try_from(window).unwrap_or(i32::MAX))
}

fn softmax_scale(head_dim: usize) -> f32 {
    1.0 / (head_dim as f32).sqrt()
}

impl CudaDevice {
    /// Per-head norms and rotary embedding of the new tokens' queries and keys; queries go to
    /// `queries` (`[n_tokens, q_dim]`), keys and values to their slots in `cache`.
    pub fn qkv_prepare(
        &self,
        shape: AttentionShape,
        args: &QkvPrepare,
        queries: &mut GpuBuffer<f32>,
        cache: &mut KvCachePool,
    ) -> Result<(), CudaError> {
        const OP: &str = "qkv_prepare";
        shape.validate()?;
        cache.check(OP, &shape, args.layer)?;
        let n_tokens = args.n_tokens;
        let half = shape.head_dim / 2;
        args.qkv.check_len(
            OP,
            "the q|k|v rows",
            n_tokens * (shape.q_dim() + 2 * shape.kv_dim()),
        )?;
        args.cos.check_len(OP, "the cos table", n_tokens * half)?;
        args.sin.check_len(OP, "the sin table", n_tokens * half)?;
        args.slots.check_len(OP, "the slots", n_tokens)?;
        queries.check_len(OP, "the queries", n_tokens * shape.q_dim())?;
        for norm in [args.q_norm, args.k_norm].into_iter().flatten() {
            norm.check_len(OP, "a per-head norm", shape.head_dim)?;
        }
        if n_tokens == 0 {
            return Ok(());
        }
        let config = LaunchConfig {
            grid_dim: (
                n_tokens as u32,
                (shape.n_heads + shape.n_kv_heads) as u32,
                1,
            ),
            block_dim: (ROPE_THREADS, 1, 1),
            shared_mem_bytes: 0,
        };
        self.launch(
            QKV_PREPARE.for_storage(cache.dtype())?,
            config,
            &QkvPrepareArguments {
                qkv: args.qkv.address(),
                q_norm: args.q_norm.map_or(DeviceAddress::NULL, GpuBuffer::address),
                k_norm: args.k_norm.map_or(DeviceAddress::NULL, GpuBuffer::address),
                cos: args.cos.address(),
                sin: args.sin.address(),
                slots: args.slots.address(),
                queries: queries.address(),
                key_cache: cache.key_address(args.layer),
                value_cache: cache.value_address(args.layer),
                n_heads: shape.n_heads as i32,
                n_kv_heads: shape.n_kv_heads as i32,
                head_dim: shape.head_dim as i32,
                eps: args.eps,
            },
        )
    }

    /// Causal attention of the new tokens of several sequences over their cached positions,
    /// written to `out` (`[n_rows, q_dim]`).
    pub fn attention_prefill(
        &self,
        shape: AttentionShape,
        args: &PrefillAttention,
        cache: &KvCachePool,
        out: &mut GpuBuffer<f32>,
    ) -> Result<(), CudaError> {
        const OP: &str = "attention_prefill";
        shape.validate()?;
        cache.check(OP, &shape, args.layer)?;
        args.queries
            .check_len(OP, "the queries", args.n_rows * shape.q_dim())?;
        args.tiles.check_len(OP, "the tiles", 4 * args.n_tiles)?;
        args.block_tables
            .check_len(OP, "the block tables", args.n_sequences * args.table_width)?;
        out.check_len(OP, "the output", args.n_rows * shape.q_dim())?;
        if args.n_tiles == 0 {
            return Ok(());
        }
        let config = LaunchConfig {
            grid_dim: (args.n_tiles as u32, shape.n_heads as u32, 1),
            block_dim: (ATTENTION_THREADS, 1, 1),
            shared_mem_bytes: 0,
        };
        self.launch(
            ATTENTION_PREFILL.for_storage(cache.dtype())?,
            config,
            &AttentionPrefillArguments {
                queries: args.queries.address(),
                key_cache: cache.key_address(args.layer),
                value_cache: cache.value_address(args.layer),
                block_tables: args.block_tables.address(),
                tiles: args.tiles.address(),
                out: out.address(),
                n_heads: shape.n_heads as i32,
                n_kv_heads: shape.n_kv_heads as i32,
                head_dim: shape.head_dim as i32,
                table_width: args.table_width as i32,
                window: window_argument(args.window),
                scale: softmax_scale(shape.head_dim),
            },
        )
    }

    /// Attention of one new token per sequence over its cached positions (split-K), written to
    /// `out` (`[n_sequences, q_dim]`).
    pub fn attention_decode(
        &self,
        shape: AttentionShape,
        args: &DecodeAttention,
        cache: &KvCachePool,
        scratch: &mut DecodeScratch,
        out: &mut GpuBuffer<f32>,
    ) -> Result<(), CudaError> {
        const OP: &str = "attention_decode";
        shape.validate()?;
        cache.check(OP, &shape, args.layer)?;
        if scratch.shape != shape
            || args.n_sequences > scratch.max_sequences
            || args.n_splits > scratch.max_splits
            || args.n_splits == 0
        {
            return Err(CudaError::InvalidArgument {
                op: OP,
                problem: format!(
                    "{} sequences in {} splits do not fit scratch for {} in {}",
                    args.n_sequences, args.n_splits, scratch.max_sequences, scratch.max_splits
                ),
            });
        }
        args.queries
            .check_len(OP, "the queries", args.n_sequences * shape.q_dim())?;
        args.seq_lens
            .check_len(OP, "the sequence lengths", args.n_sequences)?;
        args.block_tables
            .check_len(OP, "the block tables", args.n_sequences * args.table_width)?;
        out.check_len(OP, "the output", args.n_sequences * shape.q_dim())?;
        if args.n_sequences == 0 {
            return Ok(());
        }
        let config = LaunchConfig {
            grid_dim: (
                args.n_splits as u32,
                (shape.n_kv_heads * shape.group_chunks()) as u32,
                args.n_sequences as u32,
            ),
            block_dim: (ATTENTION_THREADS, 1, 1),
            shared_mem_bytes: 0,
        };
        self.launch(
            ATTENTION_DECODE.for_storage(cache.dtype())?,
            config,
            &AttentionDecodeArguments {
                queries: args.queries.address(),
                key_cache: cache.key_address(args.layer),
                value_cache: cache.value_address(args.layer),
                block_tables: args.block_tables.address(),
                seq_lens: args.seq_lens.address(),
                partial_out: scratch.partial_out.address(),
                partial_max: scratch.partial_max.address(),
                partial_sum: scratch.partial_sum.address(),
                n_heads: shape.n_heads as i32,
                n_kv_heads: shape.n_kv_heads as i32,
                head_dim: shape.head_dim as i32,
                table_width: args.table_width as i32,
                window: window_argument(args.window),
                n_splits: args.n_splits as i32,
                scale: softmax_scale(shape.head_dim),
            },
        )?;
        let reduce = LaunchConfig {
            grid_dim: (shape.n_heads as u32, args.n_sequences as u32, 1),
            block_dim: (ATTENTION_THREADS, 1, 1),
            shared_mem_bytes: 0,
        };
        self.launch(
            ATTENTION_DECODE_REDUCE,
            reduce,
            &AttentionDecodeReduceArguments {
                partial_out: scratch.partial_out.address(),
                partial_max: scratch.partial_max.address(),
                partial_sum: scratch.partial_sum.address(),
                out: out.address(),
                n_heads: shape.n_heads as i32,
                head_dim: shape.head_dim as i32,
                n_splits: args.n_splits as i32,
            },
        )
    }

    /// Copies blocks `pairs[2i] → pairs[2i + 1]` in every layer's keys and values (the
    /// copy-on-write of a shared, partly filled block).
    pub fn copy_blocks(
        &self,
        cache: &mut KvCachePool,
        pairs: &GpuBuffer<u32>,
        n_pairs: usize,
    ) -> Result<(), CudaError> {
        pairs.check_len("copy_blocks", "the block pairs", 2 * n_pairs)?;
        if n_pairs == 0 {
            return Ok(());
        }
        let block_bytes =
            cache.n_kv_heads * KV_BLOCK_SIZE * cache.head_dim * cache.dtype.size_in_bytes();
        let config = LaunchConfig {
            grid_dim: (n_pairs as u32, (2 * cache.n_layers) as u32, 1),
            block_dim: (COPY_THREADS, 1, 1),
            shared_mem_bytes: 0,
        };
        self.launch(
            COPY_BLOCKS,
            config,
            &CopyBlocksArguments {
                pool: cache.plane_address(0),
                pairs: pairs.address(),
                block_words: (block_bytes / 4) as i64,
                plane_words: (cache.n_blocks * block_bytes / 4) as i64,
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_split_into_tiles_of_at_most_the_tile_size() {
        let spans = [
            QuerySpan {
                sequence: 0,
                first_row: 0,
                n_tokens: PREFILL_QUERY_TILE + 3,
                first_position: 5,
            },
            QuerySpan {
                sequence: 1,
                first_row: PREFILL_QUERY_TILE + 3,
                n_tokens: 1,
                first_position: 40,
            },
        ];
        let tiles = prefill_tiles(&spans);
        assert_eq!(
            tiles,
            vec![
                PrefillTile {
                    sequence: 0,
                    first_row: 0,
                    rows: PREFILL_QUERY_TILE,
                    first_position: 5
                },
                PrefillTile {
                    sequence: 0,
                    first_row: PREFILL_QUERY_TILE,
                    rows: 3,
                    first_position: 5 + PREFILL_QUERY_TILE
                },
                PrefillTile {
                    sequence: 1,
                    first_row: PREFILL_QUERY_TILE + 3,
                    rows: 1,
                    first_position: 40
                },
            ]
        );
        assert_eq!(
            PrefillTile::to_kernel_values(&tiles[2..]),
            vec![1, PREFILL_QUERY_TILE as i32 + 3, 1, 40]
        );
    }

    #[test]
    fn decode_uses_one_split_per_partition() {
        assert_eq!(decode_splits(0), 1);
        assert_eq!(decode_splits(1), 1);
        assert_eq!(decode_splits(DECODE_PARTITION), 1);
        assert_eq!(decode_splits(DECODE_PARTITION + 1), 2);
    }

    #[test]
    fn unsupported_shapes_are_errors() {
        let shape = |n_heads, n_kv_heads, head_dim| AttentionShape {
            n_heads,
            n_kv_heads,
            head_dim,
        };
        assert!(shape(8, 2, 128).validate().is_ok());
        assert!(shape(8, 3, 128).validate().is_err());
        assert!(shape(8, 2, 2 * MAX_HEAD_DIM).validate().is_err());
        assert!(shape(8, 2, 7).validate().is_err());
        assert!(shape(8, 0, 128).validate().is_err());
    }
}
