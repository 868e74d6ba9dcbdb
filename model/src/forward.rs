//! The forward pass with a KV cache: any mix of sequences, each with any number of new tokens,
//! goes through the layers as one matrix, so the weights are read once per pass whether it is a
//! prompt's prefill or one decode step of N samples.
//!
//! Sequences can share a prompt: after the prompt is prefilled its cache is frozen into a
//! [`SharedPrefix`] that every sample reads, and each sample appends only its own positions.

use crate::config::ModelConfig;
use crate::device::{Backend, Device};
use crate::error::{ModelError, Result};
use crate::rope::RotaryFrequencies;
use crate::weights::TransformerWeights;
use proofwright_kernels::cpu;
use rayon::prelude::*;
use std::sync::Arc;

/// Keys and values of one layer for consecutive positions, laid out `[position][kv_dim]`.
#[derive(Debug, Clone, Default)]
struct LayerCache {
    keys: Vec<f32>,
    values: Vec<f32>,
}

/// A frozen cache of a common prompt that several sequences continue from.
#[derive(Debug, Default)]
pub struct SharedPrefix {
    layers: Vec<LayerCache>,
    len: usize,
}

impl SharedPrefix {
    pub fn len(&self) -> usize {
        self.len
    }
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// The state of one sequence: an optional shared prefix and the positions after it.
#[derive(Debug, Clone)]
pub struct SequenceCache {
    prefix: Arc<SharedPrefix>,
    own: Vec<LayerCache>,
    own_len: usize,
}

impl SequenceCache {
    pub fn new(n_layers: usize) -> Self {
        SequenceCache {
            prefix: Arc::new(SharedPrefix::default()),
            own: vec![LayerCache::default(); n_layers],
            own_len: 0,
        }
    }

    /// A sequence that continues from `prefix`.
    pub fn continuing(prefix: Arc<SharedPrefix>) -> Self {
        let n_layers = prefix.layers.len();
        SequenceCache {
            prefix,
            own: vec![LayerCache::default(); n_layers],
            own_len: 0,
        }
    }

    /// Freezes this sequence (prefix and own positions) into a prefix others can share.
    pub fn into_shared_prefix(self) -> Arc<SharedPrefix> {
        if self.prefix.is_empty() {
            return Arc::new(SharedPrefix {
                layers: self.own,
                len: self.own_len,
            });
        }
        let layers = self
            .prefix
            .layers
            .iter()
            .zip(self.own)
            .map(|(shared, own)| LayerCache {
                keys: [shared.keys.as_slice(), &own.keys].concat(),
                values: [shared.values.as_slice(), &own.values].concat(),
            })
            .collect();
        Arc::new(SharedPrefix {
            layers,
            len: self.prefix.len + self.own_len,
        })
    }

    /// Number of positions already in the cache.
    pub fn len(&self) -> usize {
        self.prefix.len + self.own_len
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes the sequence's own positions occupy (the shared prefix is counted once elsewhere).
    pub fn own_bytes(&self) -> usize {
        self.own
            .iter()
            .map(|layer| (layer.keys.len() + layer.values.len()) * 4)
            .sum()
    }
}

/// One sequence's part of a forward pass: its cache and the tokens to append.
pub struct SequenceStep<'a> {
    pub cache: &'a mut SequenceCache,
    pub token_ids: &'a [u32],
}

/// A model ready to run: its configuration and weights, and the device that runs
/// [`Transformer::generate`] and [`Transformer::score`] (the CPU unless it was moved with
/// [`Transformer::to_device`]). [`Transformer::forward`] and [`Transformer::logits`] are the
/// CPU engine's own steps and always run on the CPU.
#[derive(Debug, Clone)]
pub struct Transformer {
    pub config: ModelConfig,
    pub weights: TransformerWeights,
    pub(crate) backend: Backend,
}

impl Transformer {
    pub fn new(config: ModelConfig, weights: TransformerWeights) -> Self {
        Transformer {
            config,
            weights,
            backend: Backend::Cpu,
        }
    }

    /// The same model on `device`: on a GPU its weights are copied to GPU memory (the host
    /// copy stays, for the CPU-only methods).
    pub fn to_device(self, device: &Device) -> Result<Self> {
        let backend = Backend::for_device(device, &self)?;
        Ok(Transformer { backend, ..self })
    }

    /// Where `generate` and `score` run, for people: `cpu` or `cuda (GPU name, sm_XY)`.
    pub fn device_description(&self) -> String {
        self.backend.description()
    }

    pub fn new_sequence(&self) -> SequenceCache {
        SequenceCache::new(self.config.num_hidden_layers)
    }

    /// Runs the new tokens of every step through the model, appends their keys and values to
    /// the caches, and returns the final-normed hidden states, `[total new tokens, hidden]`, in
    /// the order of the steps and their tokens.
    pub fn forward(&self, steps: &mut [SequenceStep]) -> Result<Vec<f32>> {
        let config = &self.config;
        let hidden = config.hidden_size;
        let head_dim = config.head_dim;
        let half = head_dim / 2;
        let (q_dim, kv_dim) = (config.q_dim(), config.kv_dim());
        let context_length = config.context_length();

        // Token ids, positions and rotary tables for every new token.
        let mut token_ids = Vec::new();
        let mut positions = Vec::new();
        let mut step_of_token = Vec::new();
        let mut cos = Vec::new();
        let mut sin = Vec::new();
        for (step_idx, step) in steps.iter().enumerate() {
            let start = step.cache.len();
            let end = start + step.token_ids.len();
            if end > context_length {
                return Err(ModelError::TooLong {
                    n_tokens: end,
                    context_length,
                });
            }
            if step.token_ids.is_empty() {
                continue;
            }
            let frequencies: RotaryFrequencies = config.rope.frequencies(end - 1);
            for (offset, &token_id) in step.token_ids.iter().enumerate() {
                if token_id as usize >= config.vocab_size {
                    return Err(ModelError::TokenOutOfVocabulary {
                        token_id,
                        vocab_size: config.vocab_size,
                    });
                }
                token_ids.push(token_id);
                positions.push(start + offset);
                step_of_token.push(step_idx);
                let row = cos.len();
                cos.resize(row + half, 0.0);
                sin.resize(row + half, 0.0);
                frequencies.cos_sin_at(start + offset, &mut cos[row..], &mut sin[row..]);
            }
        }
        let n_tokens = token_ids.len();
        if n_tokens == 0 {
            return Ok(Vec::new());
        }

        let mut residual = vec![0.0f32; n_tokens * hidden];
        for (row, &token_id) in residual.chunks_mut(hidden).zip(&token_ids) {
            self.weights.embed_tokens.row_to_f32(token_id as usize, row);
        }
        let mut normed = vec![0.0f32; n_tokens * hidden];
        let mut qkv = vec![0.0f32; n_tokens * (q_dim + 2 * kv_dim)];
        let mut attention = vec![0.0f32; n_tokens * q_dim];
        let mut projected = vec![0.0f32; n_tokens * hidden];
        let mut gate_up = vec![0.0f32; n_tokens * 2 * config.intermediate_size];
        let mut activated = vec![0.0f32; n_tokens * config.intermediate_size];

        for (layer_idx, layer) in self.weights.layers.iter().enumerate() {
            cpu::rms_norm(
                &residual,
                &layer.input_norm,
                config.rms_norm_eps,
                &mut normed,
            );
            cpu::linear(
                &normed,
                n_tokens,
                &layer.qkv,
                layer.qkv_bias.as_deref(),
                &mut qkv,
            );

            // Per-head norms (Qwen3) and rotation of queries and keys.
            qkv.par_chunks_mut(q_dim + 2 * kv_dim)
                .enumerate()
                .for_each(|(token_idx, row)| {
                    let (queries_and_keys, _values) = row.split_at_mut(q_dim + kv_dim);
                    let cos = &cos[token_idx * half..(token_idx + 1) * half];
                    let sin = &sin[token_idx * half..(token_idx + 1) * half];
                    for (head_idx, head) in queries_and_keys.chunks_mut(head_dim).enumerate() {
                        let norm = if head_idx < config.num_attention_heads {
                            layer.q_norm.as_deref()
                        } else {
                            layer.k_norm.as_deref()
                        };
                        if let Some(norm) = norm {
                            let unnormed = head.to_vec();
                            cpu::rms_norm(&unnormed, norm, config.rms_norm_eps, head);
                        }
                        cpu::apply_rotary_half(head, cos, sin);
                    }
                });

            // Append this pass's keys and values to each sequence, in token order.
            for (token_idx, row) in qkv.chunks(q_dim + 2 * kv_dim).enumerate() {
                let cache = &mut steps[step_of_token[token_idx]].cache;
                let layer_cache = &mut cache.own[layer_idx];
                layer_cache
                    .keys
                    .extend_from_slice(&row[q_dim..q_dim + kv_dim]);
                layer_cache.values.extend_from_slice(&row[q_dim + kv_dim..]);
            }

            let window = config.layer_sliding_window[layer_idx];
            let caches: Vec<(&SharedPrefix, &LayerCache)> = steps
                .iter()
                .map(|step| (&*step.cache.prefix, &step.cache.own[layer_idx]))
                .collect();
            let scale = 1.0 / (head_dim as f32).sqrt();
            let group_size = config.num_attention_heads / config.num_key_value_heads;
            attention
                .par_chunks_mut(head_dim)
                .enumerate()
                .for_each(|(task_idx, output)| {
                    let token_idx = task_idx / config.num_attention_heads;
                    let head_idx = task_idx % config.num_attention_heads;
                    let kv_head = head_idx / group_size;
                    let (prefix, own) = caches[step_of_token[token_idx]];
                    let prefix_cache = prefix.layers.get(layer_idx);
                    let position = positions[token_idx];
                    let first_visible = match window {
                        Some(window) => (position + 1).saturating_sub(window),
                        None => 0,
                    };
                    let row_start = token_idx * (q_dim + 2 * kv_dim) + head_idx * head_dim;
                    let query = &qkv[row_start..row_start + head_dim];
                    let key_value_at = |pos: usize| -> (&[f32], &[f32]) {
                        let (cache, local) = if pos < prefix.len {
                            (prefix_cache.expect("prefix has every layer"), pos)
                        } else {
                            (own, pos - prefix.len)
                        };
                        let start = local * kv_dim + kv_head * head_dim;
                        (
                            &cache.keys[start..start + head_dim],
                            &cache.values[start..start + head_dim],
                        )
                    };
                    let mut scores: Vec<f32> = (first_visible..=position)
                        .map(|pos| cpu::dot(query, key_value_at(pos).0) * scale)
                        .collect();
                    cpu::softmax_in_place(&mut scores);
                    output.fill(0.0);
                    for (pos, weight) in (first_visible..=position).zip(&scores) {
                        cpu::axpy(*weight, key_value_at(pos).1, output);
                    }
                });

            cpu::linear(
                &attention,
                n_tokens,
                &layer.o_proj,
                layer.o_bias.as_deref(),
                &mut projected,
            );
            cpu::add_in_place(&mut residual, &projected);

            cpu::rms_norm(
                &residual,
                &layer.post_attention_norm,
                config.rms_norm_eps,
                &mut normed,
            );
            cpu::linear(
                &normed,
                n_tokens,
                &layer.gate_up,
                layer.gate_up_bias.as_deref(),
                &mut gate_up,
            );
            cpu::silu_mul(&gate_up, config.intermediate_size, &mut activated);
            cpu::linear(
                &activated,
                n_tokens,
                &layer.down,
                layer.down_bias.as_deref(),
                &mut projected,
            );
            cpu::add_in_place(&mut residual, &projected);
        }

        for step in steps.iter_mut() {
            step.cache.own_len += step.token_ids.len();
        }
        cpu::rms_norm(
            &residual,
            &self.weights.final_norm,
            config.rms_norm_eps,
            &mut normed,
        );
        Ok(normed)
    }

    /// Logits `[n_rows, vocab]` for final-normed hidden rows.
    pub fn logits(&self, hidden_rows: &[f32]) -> Vec<f32> {
        let n_rows = hidden_rows.len() / self.config.hidden_size;
        let mut logits = vec![0.0f32; n_rows * self.config.vocab_size];
        cpu::linear(
            hidden_rows,
            n_rows,
            self.weights.output_projection(),
            None,
            &mut logits,
        );
        logits
    }
}
