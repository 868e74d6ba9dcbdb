//! The weights of a decoder-only transformer, read by their Hugging Face names and fused where
//! one pass over the input can serve several projections (q|k|v and gate|up).

use crate::checkpoint::Tensors;
use crate::config::ModelConfig;
use crate::error::{ModelError, Result};
use proofwright_kernels::{DType, Matrix};
use std::path::Path;

#[derive(Debug, Clone)]
pub struct LayerWeights {
    pub input_norm: Vec<f32>,
    /// `[q_dim + 2·kv_dim, hidden]`: the q, k and v projections stacked.
    pub qkv: Matrix,
    pub qkv_bias: Option<Vec<f32>>,
    pub q_norm: Option<Vec<f32>>,
    pub k_norm: Option<Vec<f32>>,
    pub o_proj: Matrix,
    pub o_bias: Option<Vec<f32>>,
    pub post_attention_norm: Vec<f32>,
    /// `[2·intermediate, hidden]`: the gate and up projections stacked.
    pub gate_up: Matrix,
    pub gate_up_bias: Option<Vec<f32>>,
    pub down: Matrix,
    pub down_bias: Option<Vec<f32>>,
}

#[derive(Debug, Clone)]
pub struct TransformerWeights {
    pub embed_tokens: Matrix,
    pub layers: Vec<LayerWeights>,
    pub final_norm: Vec<f32>,
    /// `None` when the output projection is tied to the embeddings.
    pub lm_head: Option<Matrix>,
}

impl TransformerWeights {
    pub fn from_tensors(config: &ModelConfig, tensors: &Tensors) -> Result<Self> {
        let dtype = config.dtype;
        let hidden = config.hidden_size;
        let (q_dim, kv_dim) = (config.q_dim(), config.kv_dim());
        let intermediate = config.intermediate_size;
        let fuse = |parts: Vec<Matrix>, names: &str| {
            Matrix::concat_rows(parts).map_err(|error| ModelError::SafeTensors {
                path: Path::new(names).to_owned(),
                problem: error.to_string(),
            })
        };
        let mut layers = Vec::with_capacity(config.num_hidden_layers);
        for layer_idx in 0..config.num_hidden_layers {
            let name = |suffix: &str| format!("model.layers.{layer_idx}.{suffix}");
            let attention = |proj: &str, rows: usize, cols: usize| {
                tensors.matrix(
                    &name(&format!("self_attn.{proj}.weight")),
                    [rows, cols],
                    dtype,
                )
            };
            let bias = |module: &str, len: usize| {
                tensors.vector(&name(&format!("{module}.bias")), len, dtype)
            };
            let qkv = fuse(
                vec![
                    attention("q_proj", q_dim, hidden)?,
                    attention("k_proj", kv_dim, hidden)?,
                    attention("v_proj", kv_dim, hidden)?,
                ],
                &name("self_attn.{q,k,v}_proj"),
            )?;
            let qkv_bias = if config.qkv_bias {
                let mut fused = bias("self_attn.q_proj", q_dim)?;
                fused.extend(bias("self_attn.k_proj", kv_dim)?);
                fused.extend(bias("self_attn.v_proj", kv_dim)?);
                Some(fused)
            } else {
                None
            };
            let (q_norm, k_norm) = if config.qk_norm {
                let head_dim = config.head_dim;
                (
                    Some(tensors.vector(&name("self_attn.q_norm.weight"), head_dim, dtype)?),
                    Some(tensors.vector(&name("self_attn.k_norm.weight"), head_dim, dtype)?),
                )
            } else {
                (None, None)
            };
            let mlp = |proj: &str, rows: usize, cols: usize| {
                tensors.matrix(&name(&format!("mlp.{proj}.weight")), [rows, cols], dtype)
            };
            let gate_up = fuse(
                vec![
                    mlp("gate_proj", intermediate, hidden)?,
                    mlp("up_proj", intermediate, hidden)?,
                ],
                &name("mlp.{gate,up}_proj"),
            )?;
            let (gate_up_bias, down_bias) = if config.mlp_bias {
                let mut fused = bias("mlp.gate_proj", intermediate)?;
                fused.extend(bias("mlp.up_proj", intermediate)?);
                (Some(fused), Some(bias("mlp.down_proj", hidden)?))
            } else {
                (None, None)
            };
            layers.push(LayerWeights {
                input_norm: tensors.vector(&name("input_layernorm.weight"), hidden, dtype)?,
                qkv,
                qkv_bias,
                q_norm,
                k_norm,
                o_proj: attention("o_proj", hidden, q_dim)?,
                o_bias: if config.o_bias {
                    Some(bias("self_attn.o_proj", hidden)?)
                } else {
                    None
                },
                post_attention_norm: tensors.vector(
                    &name("post_attention_layernorm.weight"),
                    hidden,
                    dtype,
                )?,
                gate_up,
                gate_up_bias,
                down: mlp("down_proj", hidden, intermediate)?,
                down_bias,
            });
        }
        let embed_tokens = tensors.matrix(
            "model.embed_tokens.weight",
            [config.vocab_size, hidden],
            dtype,
        )?;
        // Tied checkpoints usually omit lm_head; some store a copy, which is then identical.
        let lm_head = if config.tie_word_embeddings {
            None
        } else {
            Some(tensors.matrix("lm_head.weight", [config.vocab_size, hidden], dtype)?)
        };
        Ok(TransformerWeights {
            embed_tokens,
            layers,
            final_norm: tensors.vector("model.norm.weight", hidden, dtype)?,
            lm_head,
        })
    }

    /// The matrix that maps hidden states to logits.
    pub fn output_projection(&self) -> &Matrix {
        self.lm_head.as_ref().unwrap_or(&self.embed_tokens)
    }

    /// Bytes of weights one decode step reads: every layer's matrices, the output projection
    /// and the small vectors. The embedding table is not counted unless it doubles as the
    /// output projection (a decode step reads one row of it).
    pub fn bytes_read_per_token(&self) -> usize {
        let vector_bytes = |v: &Option<Vec<f32>>| v.as_ref().map_or(0, |v| v.len() * 4);
        let layers: usize = self
            .layers
            .iter()
            .map(|layer| {
                layer.qkv.size_in_bytes()
                    + layer.o_proj.size_in_bytes()
                    + layer.gate_up.size_in_bytes()
                    + layer.down.size_in_bytes()
                    + (layer.input_norm.len() + layer.post_attention_norm.len()) * 4
                    + vector_bytes(&layer.qkv_bias)
                    + vector_bytes(&layer.o_bias)
                    + vector_bytes(&layer.gate_up_bias)
                    + vector_bytes(&layer.down_bias)
                    + vector_bytes(&layer.q_norm)
                    + vector_bytes(&layer.k_norm)
            })
            .sum();
        layers + self.output_projection().size_in_bytes() + self.final_norm.len() * 4
    }

    pub fn dtype(&self) -> DType {
        self.embed_tokens.dtype()
    }
}
