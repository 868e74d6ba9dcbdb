//! Models of real published shapes with random weights, for benchmarks that need no files.

use crate::config::{Architecture, ModelConfig};
use crate::error::{ModelError, Result};
use crate::forward::Transformer;
use crate::rope::{RopeConfig, RopeScaling};
use crate::weights::{LayerWeights, TransformerWeights};
use half::{bf16, f16};
use proofwright_kernels::{DType, Matrix, Storage};
use rayon::prelude::*;

/// A named shape: (name, architecture, hidden, intermediate, layers, heads, kv heads, head_dim,
/// vocab, tied embeddings, what it is the shape of).
struct Shape {
    name: &'static str,
    architecture: Architecture,
    hidden_size: usize,
    intermediate_size: usize,
    num_hidden_layers: usize,
    num_attention_heads: usize,
    num_key_value_heads: usize,
    head_dim: usize,
    vocab_size: usize,
    tie_word_embeddings: bool,
    rope_theta: f64,
    description: &'static str,
}

const SHAPES: &[Shape] = &[
    Shape {
        name: "qwen2-0.5b",
        architecture: Architecture::Qwen2,
        hidden_size: 896,
        intermediate_size: 4864,
        num_hidden_layers: 24,
        num_attention_heads: 14,
        num_key_value_heads: 2,
        head_dim: 64,
        vocab_size: 151936,
        tie_word_embeddings: true,
        rope_theta: 1_000_000.0,
        description: "Qwen2.5-0.5B",
    },
    Shape {
        name: "qwen2-1.5b",
        architecture: Architecture::Qwen2,
        hidden_size: 1536,
        intermediate_size: 8960,
        num_hidden_layers: 28,
        num_attention_heads: 12,
        num_key_value_heads: 2,
        head_dim: 128,
        vocab_size: 151936,
        tie_word_embeddings: true,
        rope_theta: 1_000_000.0,
        description: "Qwen2.5-1.5B, the Kimina-Prover-Preview-Distill-1.5B shape",
    },
    Shape {
        name: "qwen3-1.7b",
        architecture: Architecture::Qwen3,
        hidden_size: 2048,
        intermediate_size: 6144,
        num_hidden_layers: 28,
        num_attention_heads: 16,
        num_key_value_heads: 8,
        head_dim: 128,
        vocab_size: 151936,
        tie_word_embeddings: true,
        rope_theta: 1_000_000.0,
        description: "Qwen3-1.7B",
    },
    Shape {
        name: "llama-7b",
        architecture: Architecture::Llama,
        hidden_size: 4096,
        intermediate_size: 11008,
        num_hidden_layers: 30,
        num_attention_heads: 32,
        num_key_value_heads: 32,
        head_dim: 128,
        vocab_size: 102400,
        tie_word_embeddings: false,
        rope_theta: 10000.0,
        description: "DeepSeek-Prover-V1.5 (DeepSeekMath-7B)",
    },
];

/// Names and descriptions of the known shapes.
pub fn known_shapes() -> Vec<(&'static str, &'static str)> {
    SHAPES
        .iter()
        .map(|shape| (shape.name, shape.description))
        .collect()
}

/// A model of the named shape with random weights stored as `dtype`.
pub fn synthetic_transformer(name: &str, dtype: DType, seed: u64) -> Result<Transformer> {
    let shape = SHAPES
        .iter()
        .find(|shape| shape.name == name)
        .ok_or_else(|| ModelError::UnknownSyntheticShape {
            name: name.to_owned(),
            known: SHAPES.iter().map(|s| s.name).collect::<Vec<_>>().join(", "),
        })?;
    let config = ModelConfig {
        architecture: shape.architecture,
        hidden_size: shape.hidden_size,
        intermediate_size: shape.intermediate_size,
        num_hidden_layers: shape.num_hidden_layers,
        num_attention_heads: shape.num_attention_heads,
        num_key_value_heads: shape.num_key_value_heads,
        head_dim: shape.head_dim,
        vocab_size: shape.vocab_size,
        max_position_embeddings: 32768,
        rms_norm_eps: 1e-6,
        rope: RopeConfig {
            theta: shape.rope_theta,
            head_dim: shape.head_dim,
            max_position_embeddings: 32768,
            scaling: RopeScaling::Default,
        },
        tie_word_embeddings: shape.tie_word_embeddings,
        qkv_bias: shape.architecture == Architecture::Qwen2,
        o_bias: false,
        mlp_bias: false,
        qk_norm: shape.architecture == Architecture::Qwen3,
        layer_sliding_window: vec![None; shape.num_hidden_layers],
        dtype: Some(dtype),
        bos_token_id: None,
        eos_token_ids: Vec::new(),
    };
    let mut stream = 0u64;
    let mut next_seed = || {
        stream += 1;
        seed.wrapping_mul(0x9E37_79B9_7F4A_7C15)
            .wrapping_add(stream)
    };
    let hidden = config.hidden_size;
    let std = 1.0 / (hidden as f32).sqrt();
    let matrix = |rows: usize, cols: usize, seed: u64| random_matrix(rows, cols, dtype, std, seed);
    let ones = |len: usize| vec![1.0f32; len];
    let layers = (0..config.num_hidden_layers)
        .map(|_| {
            let qkv_rows = config.q_dim() + 2 * config.kv_dim();
            LayerWeights {
                input_norm: ones(hidden),
                qkv: matrix(qkv_rows, hidden, next_seed()),
                qkv_bias: config.qkv_bias.then(|| vec![0.01; qkv_rows]),
                q_norm: config.qk_norm.then(|| ones(config.head_dim)),
                k_norm: config.qk_norm.then(|| ones(config.head_dim)),
                o_proj: matrix(hidden, config.q_dim(), next_seed()),
                o_bias: None,
                post_attention_norm: ones(hidden),
                gate_up: matrix(2 * config.intermediate_size, hidden, next_seed()),
                gate_up_bias: None,
                down: matrix(hidden, config.intermediate_size, next_seed()),
                down_bias: None,
            }
        })
        .collect();
    let weights = TransformerWeights {
        embed_tokens: matrix(config.vocab_size, hidden, next_seed()),
        layers,
        final_norm: ones(hidden),
        lm_head: (!config.tie_word_embeddings)
            .then(|| matrix(config.vocab_size, hidden, next_seed())),
    };
    Ok(Transformer::new(config, weights))
}

/// Uniform values in `[-std·√3, std·√3]` from a per-chunk xorshift generator, filled in
/// parallel (a 7B model has billions of weights).
fn random_matrix(rows: usize, cols: usize, dtype: DType, std: f32, seed: u64) -> Matrix {
    const CHUNK: usize = 1 << 16;
    let len = rows * cols;
    let amplitude = std * 3f32.sqrt();
    let fill = |chunk_idx: usize, out: &mut [f32]| {
        let mut state = seed ^ (chunk_idx as u64).wrapping_mul(0xD1B5_4A32_D192_ED03) | 1;
        for v in out {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let unit = (state >> 40) as f32 / (1u64 << 24) as f32;
            *v = (unit * 2.0 - 1.0) * amplitude;
        }
    };
    let storage = match dtype {
        DType::F32 => {
            let mut values = vec![0.0f32; len];
            values
                .par_chunks_mut(CHUNK)
                .enumerate()
                .for_each(|(idx, out)| fill(idx, out));
            Storage::F32(values)
        }
        DType::BF16 | DType::F16 => {
            let mut values = vec![0u16; len];
            values
                .par_chunks_mut(CHUNK)
                .enumerate()
                .for_each(|(idx, out)| {
                    let mut buffer = vec![0.0f32; out.len()];
                    fill(idx, &mut buffer);
                    for (dst, src) in out.iter_mut().zip(buffer) {
                        *dst = if dtype == DType::BF16 {
                            bf16::from_f32(src).to_bits()
                        } else {
                            f16::from_f32(src).to_bits()
                        };
                    }
                });
            if dtype == DType::BF16 {
                Storage::BF16(bytemuck::cast_vec(values))
            } else {
                Storage::F16(bytemuck::cast_vec(values))
            }
        }
    };
    Matrix::new(rows, cols, storage).expect("sizes match by construction")
}
