//! The CUDA C sources under `kernels/cuda/`, embedded in the binary, and the one declaration of
//! every kernel they define: its `extern "C"` name and its parameters in order, with the Rust type
//! each argument must have. From this table come the argument struct every launch site fills in
//! (`RmsNormArguments`, …), the launch handles (`RMS_NORM`, …), and the list the NVRTC test
//! compares with the compiled PTX (`kernels/tests/nvrtc_compile.rs`).
//!
//! Types: `DeviceAddress` for every `T*` (the element type is the caller's to get right), `i32`
//! for `int`, `i64` for `long long` (`i64` in the sources), `f32` for `float`.

use super::signatures::{
    kernel_handle, kernel_names, kernel_sources, storage_type, DeviceAddress, Kernel,
    KernelArgument, KernelArguments, KernelFamily, KernelParameter, KernelVariants,
    SignatureMismatch,
};

/// Name under which `common.cuh` is offered to every source's `#include`.
pub const COMMON_HEADER_NAME: &str = "common.cuh";
/// Helpers every kernel file includes.
pub const COMMON_HEADER: &str = include_str!("../../cuda/common.cuh");

/// One `.cu` file and the `extern "C"` kernels it defines.
#[derive(Debug)]
pub struct KernelSource {
    pub file: &'static str,
    pub text: &'static str,
    pub families: &'static [KernelFamily],
}

impl KernelSource {
    /// The names of every kernel the file defines.
    pub fn kernel_names(&self) -> impl Iterator<Item = &'static str> {
        self.families
            .iter()
            .flat_map(|family| family.names.iter().copied())
    }

    /// How the declared kernels of this file disagree with `ptx`, the file compiled by NVRTC.
    pub fn compare_with_ptx(&self, ptx: &str) -> Vec<SignatureMismatch> {
        super::signatures::compare_with_ptx(self.file, self.families, ptx)
    }
}

kernel_sources! {
    ELEMENTWISE = "elementwise.cu" {
        /// `out[row] = table[token_ids[row]]` as f32; one block per row.
        EMBEDDING = embedding_{f32, bf16, f16} (EmbeddingArguments {
            table: DeviceAddress,
            token_ids: DeviceAddress,
            out: DeviceAddress,
            width: i32,
        })
        /// RMSNorm of each row; one block of `NORM_THREADS` per row.
        RMS_NORM = rms_norm (RmsNormArguments {
            input: DeviceAddress,
            weight: DeviceAddress,
            output: DeviceAddress,
            width: i32,
            eps: f32,
        })
        /// `out = silu(gate) · up` for rows `[gate | up]`; grid-stride.
        SILU_MUL = silu_mul (SiluMulArguments {
            gate_up: DeviceAddress,
            out: DeviceAddress,
            width: i32,
            total: i64,
        })
        /// `x[row] += bias`; grid-stride.
        ADD_BIAS = add_bias (AddBiasArguments {
            x: DeviceAddress,
            bias: DeviceAddress,
            width: i32,
            total: i64,
        })
        /// f32 activations to the weights' 16-bit type, for cuBLAS; grid-stride.
        CONVERT_TO_HALF = convert_to_{bf16, f16} (ConvertToHalfArguments {
            input: DeviceAddress,
            output: DeviceAddress,
            total: i64,
        })
        /// `out[r] = input[row_ids[r]]`; one block per row.
        GATHER_ROWS = gather_rows (GatherRowsArguments {
            input: DeviceAddress,
            row_ids: DeviceAddress,
            out: DeviceAddress,
            width: i32,
        })
    }

    ROPE = "rope.cu" {
        /// Per-head norms, rotary embedding, queries out, keys and values into the cache.
        QKV_PREPARE = qkv_prepare_{f32, bf16, f16} (QkvPrepareArguments {
            qkv: DeviceAddress,
            q_norm: DeviceAddress,
            k_norm: DeviceAddress,
            cos: DeviceAddress,
            sin: DeviceAddress,
            slots: DeviceAddress,
            queries: DeviceAddress,
            key_cache: DeviceAddress,
            value_cache: DeviceAddress,
            n_heads: i32,
            n_kv_heads: i32,
            head_dim: i32,
            eps: f32,
        })
    }

    LINEAR = "linear.cu" {
        /// The decode linear layer for up to `SKINNY_MAX_ROWS` rows.
        LINEAR_SKINNY = linear_skinny_{f32, bf16, f16} (LinearSkinnyArguments {
            x: DeviceAddress,
            w: DeviceAddress,
            bias: DeviceAddress,
            out: DeviceAddress,
            n_rows: i32,
            k: i32,
            m: i32,
            accumulate: i32,
        })
    }

    ATTENTION = "attention.cu" {
        /// Prefill attention over the paged cache, one query tile and head per block.
        ATTENTION_PREFILL = attention_prefill_{f32, bf16, f16} (AttentionPrefillArguments {
            queries: DeviceAddress,
            key_cache: DeviceAddress,
            value_cache: DeviceAddress,
            block_tables: DeviceAddress,
            tiles: DeviceAddress,
            out: DeviceAddress,
            n_heads: i32,
            n_kv_heads: i32,
            head_dim: i32,
            table_width: i32,
            window: i32,
            scale: f32,
        })
        /// Split-K decode attention: the partial results of each partition.
        ATTENTION_DECODE = attention_decode_{f32, bf16, f16} (AttentionDecodeArguments {
            queries: DeviceAddress,
            key_cache: DeviceAddress,
            value_cache: DeviceAddress,
            block_tables: DeviceAddress,
            seq_lens: DeviceAddress,
            partial_out: DeviceAddress,
            partial_max: DeviceAddress,
            partial_sum: DeviceAddress,
            n_heads: i32,
            n_kv_heads: i32,
            head_dim: i32,
            table_width: i32,
            window: i32,
            n_splits: i32,
            scale: f32,
        })
        /// Combines the partitions of split-K decode attention.
        ATTENTION_DECODE_REDUCE = attention_decode_reduce (AttentionDecodeReduceArguments {
            partial_out: DeviceAddress,
            partial_max: DeviceAddress,
            partial_sum: DeviceAddress,
            out: DeviceAddress,
            n_heads: i32,
            head_dim: i32,
            n_splits: i32,
        })
        /// Copy-on-write of shared KV blocks in every layer's key and value planes.
        COPY_BLOCKS = copy_blocks (CopyBlocksArguments {
            pool: DeviceAddress,
            pairs: DeviceAddress,
            block_words: i64,
            plane_words: i64,
        })
    }

    SAMPLING = "sampling.cu" {
        /// One token per row of logits: greedy, or temperature, top-k, top-p and a draw.
        SAMPLE_ROWS = sample_rows (SampleRowsArguments {
            logits: DeviceAddress,
            row_stride: i64,
            vocab: i32,
            params: DeviceAddress,
            uniforms: DeviceAddress,
            out_tokens: DeviceAddress,
        })
        /// The log-probability of one target token per row.
        GATHER_LOG_PROBS = gather_log_probs (GatherLogProbsArguments {
            logits: DeviceAddress,
            vocab: i32,
            targets: DeviceAddress,
            out: DeviceAddress,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn every_kernel_is_declared_once_with_parameters() {
        let mut seen = HashSet::new();
        for source in KERNEL_SOURCES {
            for family in source.families {
                assert!(!family.parameters.is_empty(), "{:?}", family.names);
                let mut parameter_names = HashSet::new();
                for parameter in family.parameters {
                    assert!(
                        parameter_names.insert(parameter.name),
                        "{:?}: parameter `{}` twice",
                        family.names,
                        parameter.name
                    );
                }
            }
            for name in source.kernel_names() {
                assert!(seen.insert(name), "kernel `{name}` is declared twice");
            }
        }
        assert_eq!(seen.len(), 25, "kernels declared");
    }

    #[test]
    fn families_name_their_kernels_from_the_base_and_suffixes() {
        let names: Vec<&str> = ELEMENTWISE.kernel_names().collect();
        assert_eq!(
            names,
            [
                "embedding_f32",
                "embedding_bf16",
                "embedding_f16",
                "rms_norm",
                "silu_mul",
                "add_bias",
                "convert_to_bf16",
                "convert_to_f16",
                "gather_rows",
            ]
        );
        assert_eq!(
            EMBEDDING.for_storage(crate::DType::BF16).unwrap().name(),
            "embedding_bf16"
        );
        assert_eq!(RMS_NORM.name(), "rms_norm");
    }
}
