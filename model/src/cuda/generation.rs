//! Generation and scoring on the GPU. The prompt is prefilled once into blocks that every sample
//! shares; each decode step appends one position per running sample (copying a shared, partly
//! filled block first), replays the captured graph for the step's size, and reads back only the
//! sampled token ids.

use super::forward::{table_width_for, AttentionPlan, InputLayout, PassInputs};
use super::{
    bucket, CudaTransformer, EngineState, GraphKey, KvState, Workspace, GPU_MAX_ROWS,
    GPU_MAX_SAMPLES, KV_RESERVED_BLOCKS,
};
use crate::error::{ModelError, Result};
use crate::forward::Transformer;
use crate::generation::{GenerationRequest, TokenSource};
use crate::sampling::{SampleRng, SamplingParams};
use proofwright_kernels::cuda::{
    decode_splits, prefill_tiles, GpuSamplingParams, QuerySpan, KV_BLOCK_SIZE,
};
use proofwright_kernels::paged::{BlockCopy, BlockTable};
use std::sync::MutexGuard;

/// Set to `0` to run decode steps without CUDA graphs (to compare the two, or to debug).
pub const GRAPHS_VARIABLE: &str = "PROOFWRIGHT_CUDA_GRAPHS";

fn graphs_enabled() -> bool {
    std::env::var(GRAPHS_VARIABLE).map_or(true, |value| value != "0")
}

/// A decode step of size `key` could not be captured: said once (the size is then marked and
/// never captured again for this KV cache); the step itself already ran without a graph, so the
/// request goes on.
fn capture_failed(key: GraphKey, error: &ModelError) {
    let (padded, table_width) = key;
    tracing::warn!(
        "cannot capture the decode step of {padded} sequences and block tables of \
         {table_width} as a CUDA graph, so steps of that size run without one: {error}"
    );
}

/// Generation state of one request on the GPU.
pub(crate) struct GpuTokens<'a> {
    engine: &'a CudaTransformer,
    workspace: MutexGuard<'a, Workspace>,
    state: MutexGuard<'a, EngineState>,
    sampling: SamplingParams,
    n_samples: usize,
    table_width: usize,
    tables: Vec<BlockTable>,
    use_graphs: bool,
    /// The device's exclusive use, held until the request ends (dropped last).
    _device_use: MutexGuard<'a, ()>,
}

impl CudaTransformer {
    /// Prepares the GPU for `request`: KV cache and inputs sized for it, sampling settings on
    /// the device.
    pub(crate) fn token_source<'a>(
        &'a self,
        transformer: &Transformer,
        request: &GenerationRequest,
    ) -> Result<GpuTokens<'a>> {
        let n_samples = request.n_samples.get();
        if n_samples > GPU_MAX_SAMPLES {
            return Err(ModelError::InvalidRequest {
                what: "number of samples",
                problem: format!(
                    "{n_samples} samples were asked for but at most {GPU_MAX_SAMPLES} run on the \
                     GPU at once; ask for fewer"
                ),
            });
        }
        let prompt_len = request.prompt_token_ids.len();
        let max_length = (prompt_len + request.max_new_tokens)
            .min(transformer.config.context_length())
            .max(prompt_len);
        let table_width = table_width_for(max_length);
        let prompt_blocks = prompt_len.div_ceil(KV_BLOCK_SIZE);
        let private_blocks = max_length.div_ceil(KV_BLOCK_SIZE) - prompt_len / KV_BLOCK_SIZE;
        let n_blocks = KV_RESERVED_BLOCKS + prompt_blocks + n_samples * (private_blocks + 1);
        let (device_use, mut workspace, mut state) = self.lock();
        self.prepare(&mut state, n_blocks, table_width, bucket(n_samples))?;
        let params = GpuSamplingParams {
            temperature: request.sampling.temperature,
            top_p: request.sampling.top_p,
            top_k: request.sampling.top_k,
        };
        self.device
            .write(&mut workspace.sampling_params, &params.to_kernel_values())?;
        Ok(GpuTokens {
            engine: self,
            workspace,
            state,
            sampling: request.sampling,
            n_samples,
            table_width,
            tables: Vec::new(),
            use_graphs: graphs_enabled(),
            _device_use: device_use,
        })
    }

    /// Prefills `token_ids` into `table` (which must be empty) in chunks of at most
    /// [`GPU_MAX_ROWS`] tokens, calling `after_chunk(first_position, n_tokens)` once each
    /// chunk's final-normed hidden states are in `workspace.normed`.
    fn prefill(
        &self,
        workspace: &mut Workspace,
        kv: &mut KvState,
        table: &mut BlockTable,
        table_width: usize,
        token_ids: &[u32],
        mut after_chunk: impl FnMut(&mut Workspace, usize, usize) -> Result<()>,
    ) -> Result<()> {
        let vocab = self.config.vocab_size;
        if let Some(&token_id) = token_ids.iter().find(|&&id| id as usize >= vocab) {
            return Err(ModelError::TokenOutOfVocabulary {
                token_id,
                vocab_size: vocab,
            });
        }
        let slots = table.append(&mut kv.blocks, token_ids.len(), &mut Vec::new())?;
        // One pass on the CPU covers every token, so its rotary frequencies are those of the
        // last position (this matters for dynamic NTK scaling only).
        let (cos, sin) = self.rotary_tables(0..token_ids.len(), token_ids.len() - 1);
        let half = self.shape.head_dim / 2;
        let mut start = 0;
        while start < token_ids.len() {
            let end = (start + GPU_MAX_ROWS).min(token_ids.len());
            let tiles = prefill_tiles(&[QuerySpan {
                sequence: 0,
                first_row: 0,
                n_tokens: end - start,
                first_position: start,
            }]);
            let layout = InputLayout::new(end - start, 1, half, table_width, tiles.len());
            let mut inputs = PassInputs::new(layout);
            for (row, position) in (start..end).enumerate() {
                inputs.set_row(
                    row,
                    token_ids[position],
                    slots[position],
                    &cos[position * half..(position + 1) * half],
                    &sin[position * half..(position + 1) * half],
                );
            }
            inputs.set_sequence(0, table.blocks(), table.len(), 0.0);
            inputs.set_tiles(&tiles);
            self.upload_inputs(kv, &inputs)?;
            self.queue_layers(workspace, kv, &layout, AttentionPlan::Prefill)?;
            after_chunk(workspace, start, end - start)?;
            start = end;
        }
        Ok(())
    }

    /// Teacher-forced log-probabilities on the GPU; the same contract as
    /// [`Transformer::score`], which checked that the continuation is not empty.
    pub(crate) fn score(
        &self,
        prompt_token_ids: &[u32],
        continuation_token_ids: &[u32],
    ) -> Result<Vec<Option<f32>>> {
        let all: Vec<u32> = [prompt_token_ids, continuation_token_ids].concat();
        let context_length = self.config.context_length();
        if all.len() > context_length {
            return Err(ModelError::TooLong {
                n_tokens: all.len(),
                context_length,
            });
        }
        let table_width = table_width_for(all.len());
        let n_blocks = KV_RESERVED_BLOCKS + all.len().div_ceil(KV_BLOCK_SIZE);
        let (_device_use, mut workspace, mut state) = self.lock();
        self.prepare(&mut state, n_blocks, table_width, 1)?;
        let kv = state.kv.as_mut().expect("prepared above");

        let prompt_len = prompt_token_ids.len();
        let mut logprobs: Vec<Option<f32>> = Vec::with_capacity(continuation_token_ids.len());
        if prompt_len == 0 {
            logprobs.push(None);
        }
        // Row r of the hidden states predicts token r + 1.
        let first_row = prompt_len.saturating_sub(1);
        let last_row = all.len() - 1; // exclusive
        let vocab = self.config.vocab_size;
        let hidden = self.config.hidden_size;
        let device = &*self.device;
        let mut table = BlockTable::new();
        self.prefill(
            &mut workspace,
            kv,
            &mut table,
            table_width,
            &all,
            |workspace, chunk_start, chunk_len| {
                let rows_start = first_row.max(chunk_start);
                let rows_end = last_row.min(chunk_start + chunk_len);
                let mut row = rows_start;
                while row < rows_end {
                    let end = (row + GPU_MAX_SAMPLES).min(rows_end);
                    let local_rows: Vec<u32> =
                        (row..end).map(|r| (r - chunk_start) as u32).collect();
                    let targets: Vec<u32> = (row..end).map(|r| all[r + 1]).collect();
                    let count = end - row;
                    device.write(&mut workspace.row_ids, &local_rows)?;
                    device.write(&mut workspace.targets, &targets)?;
                    let Workspace {
                        normed,
                        gathered,
                        row_ids,
                        ..
                    } = &mut *workspace;
                    device.gather_rows(normed, row_ids, count, hidden, gathered)?;
                    self.queue_logits(workspace, count, true)?;
                    let Workspace {
                        logits,
                        targets,
                        log_probs,
                        ..
                    } = &mut *workspace;
                    device.gather_log_probs(logits, count, vocab, targets, log_probs)?;
                    logprobs.extend(device.read(log_probs, count)?.into_iter().map(Some));
                    row = end;
                }
                Ok(())
            },
        )?;
        Ok(logprobs)
    }
}

impl GpuTokens<'_> {
    /// One uniform draw per sample when sampling (none when greedy, as on the CPU).
    fn uniform(&self, rng: &mut SampleRng) -> f64 {
        if self.sampling.is_greedy() {
            0.0
        } else {
            rng.next_uniform()
        }
    }
}

impl TokenSource for GpuTokens<'_> {
    fn start(&mut self, prompt_token_ids: &[u32], rngs: &mut [SampleRng]) -> Result<Vec<u32>> {
        // Every sample draws its first token from the prompt's one row of logits. The prefill
        // draws nothing, so taking the draws first keeps the CPU engine's order.
        let uniforms: Vec<f64> = rngs.iter_mut().map(|rng| self.uniform(rng)).collect();
        let engine = self.engine;
        let device = &*engine.device;
        let table_width = self.table_width;
        let prompt_len = prompt_token_ids.len();
        let hidden = engine.config.hidden_size;
        let vocab = engine.config.vocab_size;
        let workspace = &mut *self.workspace;
        let kv = self.state.kv.as_mut().expect("prepared in token_source");
        let mut prompt = BlockTable::new();
        let last_row = prompt_len - 1;
        engine.prefill(
            workspace,
            kv,
            &mut prompt,
            table_width,
            prompt_token_ids,
            |workspace, chunk_start, chunk_len| {
                if (chunk_start..chunk_start + chunk_len).contains(&last_row) {
                    device.write(&mut workspace.row_ids, &[(last_row - chunk_start) as u32])?;
                    let Workspace {
                        normed,
                        gathered,
                        row_ids,
                        ..
                    } = &mut *workspace;
                    device.gather_rows(normed, row_ids, 1, hidden, gathered)?;
                    engine.queue_logits(workspace, 1, true)?;
                }
                Ok(())
            },
        )?;

        let n_samples = self.n_samples;
        let mut words = vec![0u32; 2 * n_samples];
        for (sample_idx, uniform) in uniforms.iter().enumerate() {
            let bits = uniform.to_bits();
            words[2 * sample_idx] = bits as u32;
            words[2 * sample_idx + 1] = (bits >> 32) as u32;
        }
        device.write(&mut kv.inputs, &words)?;
        let uniforms_view = kv.inputs.view_as::<f64>(0, n_samples)?;
        let Workspace {
            logits,
            sampling_params,
            sampled,
            ..
        } = workspace;
        device.sample(
            logits,
            0,
            n_samples,
            vocab,
            sampling_params,
            uniforms_view,
            sampled,
        )?;
        let first_tokens = device.read(sampled, n_samples)?;

        self.tables = (0..n_samples)
            .map(|_| prompt.fork(&mut kv.blocks))
            .collect();
        prompt.release(&mut kv.blocks);
        Ok(first_tokens)
    }

    fn step(
        &mut self,
        samples: &[usize],
        last_tokens: &[u32],
        rngs: &mut [SampleRng],
    ) -> Result<Vec<u32>> {
        let engine = self.engine;
        let device = &*engine.device;
        let vocab = engine.config.vocab_size;
        let half = engine.shape.head_dim / 2;
        let n_active = samples.len();
        let padded = bucket(n_active);
        let table_width = self.table_width;
        let uniforms: Vec<f64> = samples
            .iter()
            .map(|&sample_idx| self.uniform(&mut rngs[sample_idx]))
            .collect();
        let kv = self.state.kv.as_mut().expect("prepared in token_source");

        // Room for one more position per running sample, copying shared partial blocks.
        let mut copies: Vec<BlockCopy> = Vec::new();
        let mut slots = Vec::with_capacity(n_active);
        for &sample_idx in samples {
            slots.push(self.tables[sample_idx].append(&mut kv.blocks, 1, &mut copies)?[0]);
        }
        if !copies.is_empty() {
            let pairs: Vec<u32> = copies
                .iter()
                .flat_map(|copy| [copy.source, copy.destination])
                .collect();
            device.write(&mut self.workspace.copy_pairs, &pairs)?;
            device.copy_blocks(&mut kv.pool, &self.workspace.copy_pairs, copies.len())?;
        }

        let layout = InputLayout::new(padded, padded, half, table_width, 0);
        let mut inputs = PassInputs::new(layout);
        for (row, (&sample_idx, &token_id)) in samples.iter().zip(last_tokens).enumerate() {
            let table = &self.tables[sample_idx];
            let position = table.len() - 1;
            // On the CPU a decode pass's rotary frequencies are those of the sequence's own
            // last position.
            let (cos, sin) = engine.rotary_tables(position..position + 1, position);
            inputs.set_row(row, token_id, slots[row], &cos, &sin);
            inputs.set_sequence(row, table.blocks(), table.len(), uniforms[row]);
        }
        // Padding rows of a captured step read and write only the reserved block 0.
        let zeros = vec![0.0f32; half];
        for row in n_active..padded {
            inputs.set_row(row, 0, (row % KV_BLOCK_SIZE) as u32, &zeros, &zeros);
            inputs.set_sequence(row, &[0], 1, 0.5);
        }
        engine.upload_inputs(kv, &inputs)?;

        let n_splits = decode_splits(table_width * KV_BLOCK_SIZE);
        let workspace = &mut *self.workspace;
        let queue_step = |workspace: &mut Workspace, kv: &mut KvState| -> Result<()> {
            engine.queue_layers(workspace, kv, &layout, AttentionPlan::Decode { n_splits })?;
            engine.queue_logits(workspace, padded, false)?;
            let uniforms_view = kv.inputs.view_as::<f64>(layout.uniforms, padded)?;
            let Workspace {
                logits,
                sampling_params,
                sampled,
                ..
            } = workspace;
            device.sample(
                logits,
                vocab,
                padded,
                vocab,
                sampling_params,
                uniforms_view,
                sampled,
            )?;
            Ok(())
        };
        let key = (padded, table_width);
        match kv.graphs.get_mut(&key) {
            Some(Some(graph)) if self.use_graphs => graph.launch(device)?,
            Some(None) => queue_step(workspace, kv)?,
            _ => {
                // The first step of a size runs directly (which also lets cuBLAS and the driver
                // finish any lazy set-up outside a capture); it is then recorded for the steps
                // after it.
                queue_step(workspace, kv)?;
                if self.use_graphs {
                    let mut recorded: Result<()> = Ok(());
                    let graph = device.capture(|_| {
                        recorded = queue_step(workspace, kv);
                        Ok(())
                    });
                    let captured = match (recorded, graph) {
                        (Ok(()), Ok(graph)) => Some(graph),
                        (Err(error), _) => {
                            capture_failed(key, &error);
                            None
                        }
                        (Ok(()), Err(error)) => {
                            capture_failed(key, &error.into());
                            None
                        }
                    };
                    kv.graphs.insert(key, captured);
                }
            }
        }
        Ok(device.read(&workspace.sampled, n_active)?)
    }
}
