//! The forward pass on the GPU. The host prepares a pass's small inputs (token ids, cache
//! slots, rotary cos/sin computed exactly as the CPU path computes them, block tables, query
//! tiles or sequence lengths, uniform draws) and uploads them in one copy; then every layer is
//! queued on the stream without touching the host, which is what lets a decode step be
//! captured as a CUDA graph.

use super::{CudaTransformer, KvState, Workspace, GPU_MAX_ROWS, GPU_MAX_SAMPLES};
use crate::error::Result;
use proofwright_kernels::cuda::{
    DecodeAttention, PrefillAttention, PrefillTile, QkvPrepare, KV_BLOCK_SIZE,
};

/// Where each input of a pass sits in the uploaded words (offsets in 32-bit words). The
/// uniform draws come first so that they are 8-byte aligned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct InputLayout {
    pub uniforms: usize,
    pub token_ids: usize,
    pub slots: usize,
    pub seq_lens: usize,
    pub cos: usize,
    pub sin: usize,
    pub tiles: usize,
    pub tables: usize,
    pub total: usize,
    pub rows: usize,
    pub sequences: usize,
    pub half: usize,
    pub table_width: usize,
    pub n_tiles: usize,
}

impl InputLayout {
    pub fn new(
        rows: usize,
        sequences: usize,
        half: usize,
        table_width: usize,
        n_tiles: usize,
    ) -> Self {
        let uniforms = 0;
        let token_ids = uniforms + 2 * sequences;
        let slots = token_ids + rows;
        let seq_lens = slots + rows;
        let cos = seq_lens + sequences;
        let sin = cos + rows * half;
        let tiles = sin + rows * half;
        let tables = tiles + 4 * n_tiles;
        let total = tables + sequences * table_width;
        InputLayout {
            uniforms,
            token_ids,
            slots,
            seq_lens,
            cos,
            sin,
            tiles,
            tables,
            total,
            rows,
            sequences,
            half,
            table_width,
            n_tiles,
        }
    }

    /// Words the largest pass needs: a prefill chunk of [`GPU_MAX_ROWS`] tokens, or a decode
    /// step of [`GPU_MAX_SAMPLES`] sequences.
    pub fn capacity(half: usize, table_width: usize) -> usize {
        let prefill = InputLayout::new(GPU_MAX_ROWS, 1, half, table_width, GPU_MAX_ROWS);
        let decode = InputLayout::new(GPU_MAX_SAMPLES, GPU_MAX_SAMPLES, half, table_width, 0);
        prefill.total.max(decode.total)
    }
}

/// The host side of a pass's inputs, written into words in [`InputLayout`] order.
pub(super) struct PassInputs {
    pub layout: InputLayout,
    pub words: Vec<u32>,
}

impl PassInputs {
    pub fn new(layout: InputLayout) -> Self {
        PassInputs {
            layout,
            words: vec![0; layout.total],
        }
    }

    pub fn set_row(&mut self, row: usize, token_id: u32, slot: u32, cos: &[f32], sin: &[f32]) {
        let layout = self.layout;
        self.words[layout.token_ids + row] = token_id;
        self.words[layout.slots + row] = slot;
        let start = row * layout.half;
        for (idx, (c, s)) in cos.iter().zip(sin).enumerate() {
            self.words[layout.cos + start + idx] = c.to_bits();
            self.words[layout.sin + start + idx] = s.to_bits();
        }
    }

    pub fn set_sequence(&mut self, sequence: usize, blocks: &[u32], length: usize, uniform: f64) {
        let layout = self.layout;
        let row = layout.tables + sequence * layout.table_width;
        self.words[row..row + blocks.len()].copy_from_slice(blocks);
        self.words[layout.seq_lens + sequence] = length as u32;
        let bits = uniform.to_bits();
        self.words[layout.uniforms + 2 * sequence] = bits as u32;
        self.words[layout.uniforms + 2 * sequence + 1] = (bits >> 32) as u32;
    }

    pub fn set_tiles(&mut self, tiles: &[PrefillTile]) {
        let start = self.layout.tiles;
        for (idx, value) in PrefillTile::to_kernel_values(tiles).into_iter().enumerate() {
            self.words[start + idx] = value as u32;
        }
    }
}

/// How the attention of a pass runs.
#[derive(Debug, Clone, Copy)]
pub(super) enum AttentionPlan {
    /// Any number of new tokens of the layout's sequences, in tiles.
    Prefill,
    /// One new token per sequence, in `n_splits` partitions.
    Decode { n_splits: usize },
}

impl CudaTransformer {
    /// Uploads a pass's inputs in one copy.
    pub(super) fn upload_inputs(&self, kv: &mut KvState, inputs: &PassInputs) -> Result<()> {
        Ok(self.device.write(&mut kv.inputs, &inputs.words)?)
    }

    /// Queues the whole model for `layout.rows` rows whose inputs were uploaded with
    /// `layout`: embedding, every layer (keys and values appended to the cache), final norm.
    /// The final-normed hidden states are left in `workspace.normed`.
    pub(super) fn queue_layers(
        &self,
        workspace: &mut Workspace,
        kv: &mut KvState,
        layout: &InputLayout,
        plan: AttentionPlan,
    ) -> Result<()> {
        let device = &*self.device;
        let config = &self.config;
        let shape = self.shape;
        let n_rows = layout.rows;
        let KvState {
            pool,
            inputs,
            decode,
            ..
        } = kv;
        let token_ids = inputs.view_as::<u32>(layout.token_ids, n_rows)?;
        let slots = inputs.view_as::<u32>(layout.slots, n_rows)?;
        let cos = inputs.view_as::<f32>(layout.cos, n_rows * layout.half)?;
        let sin = inputs.view_as::<f32>(layout.sin, n_rows * layout.half)?;
        let tables = inputs.view_as::<u32>(layout.tables, layout.sequences * layout.table_width)?;
        let seq_lens = inputs.view_as::<u32>(layout.seq_lens, layout.sequences)?;
        let tiles = inputs.view_as::<i32>(layout.tiles, 4 * layout.n_tiles)?;
        let Workspace {
            residual,
            normed,
            qkv,
            queries,
            attention,
            gate_up,
            activated,
            half_input,
            ..
        } = workspace;

        device.embedding(&self.weights.embed_tokens, token_ids, n_rows, residual)?;
        for (layer_idx, layer) in self.weights.layers.iter().enumerate() {
            device.rms_norm(
                residual,
                &layer.input_norm,
                config.rms_norm_eps,
                n_rows,
                normed,
            )?;
            device.linear(
                normed,
                n_rows,
                &layer.qkv,
                layer.qkv_bias.as_ref(),
                qkv,
                false,
                half_input,
            )?;
            device.qkv_prepare(
                shape,
                &QkvPrepare {
                    qkv,
                    n_tokens: n_rows,
                    q_norm: layer.q_norm.as_ref(),
                    k_norm: layer.k_norm.as_ref(),
                    eps: config.rms_norm_eps,
                    cos,
                    sin,
                    slots,
                    layer: layer_idx,
                },
                queries,
                pool,
            )?;
            let window = config.layer_sliding_window[layer_idx];
            match plan {
                AttentionPlan::Prefill => device.attention_prefill(
                    shape,
                    &PrefillAttention {
                        queries,
                        n_rows,
                        n_sequences: layout.sequences,
                        block_tables: tables,
                        table_width: layout.table_width,
                        tiles,
                        n_tiles: layout.n_tiles,
                        window,
                        layer: layer_idx,
                    },
                    pool,
                    attention,
                )?,
                AttentionPlan::Decode { n_splits } => device.attention_decode(
                    shape,
                    &DecodeAttention {
                        queries,
                        n_sequences: n_rows,
                        block_tables: tables,
                        table_width: layout.table_width,
                        seq_lens,
                        n_splits,
                        window,
                        layer: layer_idx,
                    },
                    pool,
                    decode,
                    attention,
                )?,
            }
            device.linear(
                attention,
                n_rows,
                &layer.o_proj,
                layer.o_bias.as_ref(),
                residual,
                true,
                half_input,
            )?;
            device.rms_norm(
                residual,
                &layer.post_attention_norm,
                config.rms_norm_eps,
                n_rows,
                normed,
            )?;
            device.linear(
                normed,
                n_rows,
                &layer.gate_up,
                layer.gate_up_bias.as_ref(),
                gate_up,
                false,
                half_input,
            )?;
            device.silu_mul(gate_up, config.intermediate_size, n_rows, activated)?;
            device.linear(
                activated,
                n_rows,
                &layer.down,
                layer.down_bias.as_ref(),
                residual,
                true,
                half_input,
            )?;
        }
        device.rms_norm(
            residual,
            &self.weights.final_norm,
            config.rms_norm_eps,
            n_rows,
            normed,
        )?;
        Ok(())
    }

    /// Logits of the first `n_rows` rows of `workspace.normed` (`from_gathered = false`) or
    /// `workspace.gathered`, into `workspace.logits`.
    pub(super) fn queue_logits(
        &self,
        workspace: &mut Workspace,
        n_rows: usize,
        from_gathered: bool,
    ) -> Result<()> {
        let Workspace {
            normed,
            gathered,
            logits,
            half_input,
            ..
        } = workspace;
        let input = if from_gathered { &*gathered } else { &*normed };
        self.device.linear(
            input,
            n_rows,
            self.weights.output_projection(),
            None,
            logits,
            false,
            half_input,
        )?;
        Ok(())
    }

    /// Cos and sin of every position in `positions`, with the rotary frequencies of a pass
    /// whose largest position is `max_position` (only dynamic NTK scaling depends on it), laid
    /// out `[position][head_dim / 2]`.
    pub(super) fn rotary_tables(
        &self,
        positions: std::ops::Range<usize>,
        max_position: usize,
    ) -> (Vec<f32>, Vec<f32>) {
        let half = self.shape.head_dim / 2;
        let frequencies = self.config.rope.frequencies(max_position);
        let mut cos = vec![0.0f32; positions.len() * half];
        let mut sin = vec![0.0f32; positions.len() * half];
        for (row, position) in positions.enumerate() {
            frequencies.cos_sin_at(
                position,
                &mut cos[row * half..(row + 1) * half],
                &mut sin[row * half..(row + 1) * half],
            );
        }
        (cos, sin)
    }
}

/// The block-table width a request whose sequences reach `max_length` positions uses.
pub(super) fn table_width_for(max_length: usize) -> usize {
    super::bucket(max_length.div_ceil(KV_BLOCK_SIZE))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inputs_are_laid_out_without_overlap_and_uniforms_aligned() {
        let layout = InputLayout::new(3, 2, 4, 5, 1);
        let regions = [
            (layout.uniforms, 2 * 2),
            (layout.token_ids, 3),
            (layout.slots, 3),
            (layout.seq_lens, 2),
            (layout.cos, 3 * 4),
            (layout.sin, 3 * 4),
            (layout.tiles, 4),
            (layout.tables, 2 * 5),
        ];
        let mut end = 0;
        for (start, len) in regions {
            assert_eq!(start, end, "regions follow each other");
            end = start + len;
        }
        assert_eq!(layout.total, end);
        assert_eq!(layout.uniforms % 2, 0);

        let mut inputs = PassInputs::new(layout);
        inputs.set_row(1, 42, 7, &[1.0, 2.0, 3.0, 4.0], &[5.0, 6.0, 7.0, 8.0]);
        inputs.set_sequence(1, &[9, 10], 20, 0.25);
        assert_eq!(inputs.words[layout.token_ids + 1], 42);
        assert_eq!(inputs.words[layout.slots + 1], 7);
        assert_eq!(f32::from_bits(inputs.words[layout.cos + 4 + 2]), 3.0);
        assert_eq!(f32::from_bits(inputs.words[layout.sin + 4 + 3]), 8.0);
        assert_eq!(
            &inputs.words[layout.tables + 5..layout.tables + 7],
            &[9, 10]
        );
        assert_eq!(inputs.words[layout.seq_lens + 1], 20);
        let bits = u64::from(inputs.words[layout.uniforms + 2])
            | (u64::from(inputs.words[layout.uniforms + 3]) << 32);
        assert_eq!(f64::from_bits(bits), 0.25);
    }

    #[test]
    fn table_widths_are_powers_of_two_blocks() {
        assert_eq!(table_width_for(1), 1);
        assert_eq!(table_width_for(KV_BLOCK_SIZE), 1);
        assert_eq!(table_width_for(KV_BLOCK_SIZE + 1), 2);
        assert_eq!(table_width_for(10 * KV_BLOCK_SIZE), 16);
    }
}
