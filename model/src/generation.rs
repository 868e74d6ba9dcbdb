//! Generation and scoring on top of the forward pass: N samples of one prompt decoded as one
//! batch with the prompt prefilled once, and teacher-forced log-probabilities of a continuation.

use crate::error::{ModelError, Result};
use crate::forward::{SequenceCache, SequenceStep, Transformer};
use crate::sampling::{sample, SampleRng, SamplingParams};
use proofwright_kernels::cpu;
use std::num::NonZeroUsize;

/// Rows of logits materialised at once while scoring, bounding memory to
/// `SCORE_LOGIT_ROWS × vocab × 4` bytes.
pub const SCORE_LOGIT_ROWS: usize = 64;

#[derive(Debug, Clone, PartialEq)]
pub struct GenerationRequest {
    pub prompt_token_ids: Vec<u32>,
    pub n_samples: NonZeroUsize,
    pub max_new_tokens: usize,
    pub sampling: SamplingParams,
    /// Tokens that end a sample (kept as its last token id, left out of its text).
    pub eos_token_ids: Vec<u32>,
    /// Texts that end a sample; the text is cut before the first one.
    pub stop_strings: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FinishReason {
    /// `max_new_tokens` or the model's context was reached.
    Length,
    /// An end-of-sequence token was generated.
    Eos,
    /// A stop string appeared in the text.
    Stop,
    /// The caller cancelled the request.
    Cancelled,
}

impl FinishReason {
    pub fn as_str(self) -> &'static str {
        match self {
            FinishReason::Length => "length",
            FinishReason::Eos => "eos",
            FinishReason::Stop => "stop",
            FinishReason::Cancelled => "cancelled",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct GeneratedSample {
    pub sample_idx: usize,
    pub token_ids: Vec<u32>,
    pub text: String,
    pub finish_reason: FinishReason,
}

/// Turns generated ids into text (the tokenizer's job; generation only needs the function).
pub trait Detokenize {
    fn detokenize(&self, token_ids: &[u32]) -> Result<String>;
}

struct Running {
    sample_idx: usize,
    token_ids: Vec<u32>,
    finished: Option<(FinishReason, String)>,
}

/// What generation needs from an engine: every sample's first token after the prompt, then one
/// more token for each running sample per step. The CPU and the GPU engines implement it; the
/// loop around it (stop conditions, cancellation, text) is the same for both.
pub(crate) trait TokenSource {
    /// Prefills the prompt and draws the first token of sample `i` with `rngs[i]`.
    fn start(&mut self, prompt_token_ids: &[u32], rngs: &mut [SampleRng]) -> Result<Vec<u32>>;

    /// Appends `last_tokens[j]` to sample `samples[j]` and draws its next token with
    /// `rngs[samples[j]]`.
    fn step(
        &mut self,
        samples: &[usize],
        last_tokens: &[u32],
        rngs: &mut [SampleRng],
    ) -> Result<Vec<u32>>;
}

/// The CPU engine: the prompt's cache is frozen and shared by every sample.
struct CpuTokens<'a> {
    transformer: &'a Transformer,
    sampling: &'a SamplingParams,
    n_samples: usize,
    caches: Vec<SequenceCache>,
}

impl TokenSource for CpuTokens<'_> {
    fn start(&mut self, prompt_token_ids: &[u32], rngs: &mut [SampleRng]) -> Result<Vec<u32>> {
        let transformer = self.transformer;
        let mut prompt_cache = transformer.new_sequence();
        let hidden = transformer.forward(&mut [SequenceStep {
            cache: &mut prompt_cache,
            token_ids: prompt_token_ids,
        }])?;
        let hidden_size = transformer.config.hidden_size;
        let last_row = &hidden[(prompt_token_ids.len() - 1) * hidden_size..];
        let prompt_logits = transformer.logits(last_row);
        let prefix = prompt_cache.into_shared_prefix();
        self.caches = (0..self.n_samples)
            .map(|_| SequenceCache::continuing(prefix.clone()))
            .collect();
        Ok(rngs
            .iter_mut()
            .map(|rng| sample(&prompt_logits, self.sampling, rng))
            .collect())
    }

    fn step(
        &mut self,
        samples: &[usize],
        last_tokens: &[u32],
        rngs: &mut [SampleRng],
    ) -> Result<Vec<u32>> {
        let mut steps: Vec<SequenceStep> = self
            .caches
            .iter_mut()
            .enumerate()
            .filter(|(sample_idx, _)| samples.contains(sample_idx))
            .zip(last_tokens)
            .map(|((_, cache), token)| SequenceStep {
                cache,
                token_ids: std::slice::from_ref(token),
            })
            .collect();
        let hidden = self.transformer.forward(&mut steps)?;
        drop(steps);
        let logits = self.transformer.logits(&hidden);
        let vocab = self.transformer.config.vocab_size;
        Ok(samples
            .iter()
            .zip(logits.chunks(vocab))
            .map(|(&sample_idx, row)| sample(row, self.sampling, &mut rngs[sample_idx]))
            .collect())
    }
}

impl Transformer {
    /// Generates `n_samples` continuations of the prompt. `is_cancelled` is polled between
    /// decode steps. Runs on the device the transformer was placed on.
    pub fn generate(
        &self,
        request: &GenerationRequest,
        detokenizer: &dyn Detokenize,
        is_cancelled: &dyn Fn() -> bool,
    ) -> Result<Vec<GeneratedSample>> {
        let prompt_len = request.prompt_token_ids.len();
        if prompt_len == 0 {
            return Err(ModelError::InvalidRequest {
                what: "prompt",
                problem: "it encodes to no tokens, and this tokenizer adds no BOS token; \
                          give the model some text to continue"
                    .to_owned(),
            });
        }
        let context_length = self.config.context_length();
        if prompt_len >= context_length {
            return Err(ModelError::TooLong {
                n_tokens: prompt_len,
                context_length,
            });
        }
        #[cfg(feature = "cuda")]
        if let crate::device::Backend::Cuda(engine) = &self.backend {
            let mut source = engine.token_source(self, request)?;
            return self.generate_with(&mut source, request, detokenizer, is_cancelled);
        }
        let mut source = CpuTokens {
            transformer: self,
            sampling: &request.sampling,
            n_samples: request.n_samples.get(),
            caches: Vec::new(),
        };
        self.generate_with(&mut source, request, detokenizer, is_cancelled)
    }

    fn generate_with(
        &self,
        source: &mut dyn TokenSource,
        request: &GenerationRequest,
        detokenizer: &dyn Detokenize,
        is_cancelled: &dyn Fn() -> bool,
    ) -> Result<Vec<GeneratedSample>> {
        let n_samples = request.n_samples.get();
        let mut rngs: Vec<SampleRng> = (0..n_samples)
            .map(|sample_idx| SampleRng::new(request.sampling.seed, sample_idx))
            .collect();
        let first_tokens = source.start(&request.prompt_token_ids, &mut rngs)?;
        let mut running: Vec<Running> = first_tokens
            .into_iter()
            .enumerate()
            .map(|(sample_idx, first)| Running {
                sample_idx,
                token_ids: vec![first],
                finished: None,
            })
            .collect();
        if request.max_new_tokens == 0 {
            return Ok(running
                .into_iter()
                .map(|run| GeneratedSample {
                    sample_idx: run.sample_idx,
                    token_ids: Vec::new(),
                    text: String::new(),
                    finish_reason: FinishReason::Length,
                })
                .collect());
        }

        loop {
            for run in running.iter_mut().filter(|run| run.finished.is_none()) {
                run.finished = self.finish_check(request, run, detokenizer)?;
            }
            let mut active: Vec<&mut Running> = running
                .iter_mut()
                .filter(|run| run.finished.is_none())
                .collect();
            if active.is_empty() {
                break;
            }
            if is_cancelled() {
                for run in active.iter_mut() {
                    let text = detokenizer.detokenize(&run.token_ids)?;
                    run.finished = Some((FinishReason::Cancelled, text));
                }
                break;
            }
            let samples: Vec<usize> = active.iter().map(|run| run.sample_idx).collect();
            let last_tokens: Vec<u32> = active
                .iter()
                .map(|run| *run.token_ids.last().expect("one token"))
                .collect();
            let next = source.step(&samples, &last_tokens, &mut rngs)?;
            for (run, token) in active.iter_mut().zip(next) {
                run.token_ids.push(token);
            }
        }
        running
            .into_iter()
            .map(|run| {
                let (finish_reason, text) = run.finished.expect("every sample finished");
                Ok(GeneratedSample {
                    sample_idx: run.sample_idx,
                    token_ids: run.token_ids,
                    text,
                    finish_reason,
                })
            })
            .collect()
    }

    /// Whether a sample is done after its latest token, with its final text.
    fn finish_check(
        &self,
        request: &GenerationRequest,
        run: &Running,
        detokenizer: &dyn Detokenize,
    ) -> Result<Option<(FinishReason, String)>> {
        let last = *run.token_ids.last().expect("one token");
        if request.eos_token_ids.contains(&last) {
            let text = detokenizer.detokenize(&run.token_ids[..run.token_ids.len() - 1])?;
            return Ok(Some((FinishReason::Eos, text)));
        }
        if !request.stop_strings.is_empty() {
            let text = detokenizer.detokenize(&run.token_ids)?;
            let first_stop = request
                .stop_strings
                .iter()
                .filter(|stop| !stop.is_empty())
                .filter_map(|stop| text.find(stop.as_str()))
                .min();
            if let Some(cut) = first_stop {
                return Ok(Some((FinishReason::Stop, text[..cut].to_owned())));
            }
        }
        let at_context_end =
            request.prompt_token_ids.len() + run.token_ids.len() >= self.config.context_length();
        if run.token_ids.len() >= request.max_new_tokens || at_context_end {
            let text = detokenizer.detokenize(&run.token_ids)?;
            return Ok(Some((FinishReason::Length, text)));
        }
        Ok(None)
    }

    /// Natural-log probability of each continuation token given the prompt and the
    /// continuation before it, from one teacher-forced pass. The first entry is `None` when the
    /// prompt is empty (that token has no context).
    pub fn score(
        &self,
        prompt_token_ids: &[u32],
        continuation_token_ids: &[u32],
    ) -> Result<Vec<Option<f32>>> {
        let all: Vec<u32> = [prompt_token_ids, continuation_token_ids].concat();
        if continuation_token_ids.is_empty() {
            return Ok(Vec::new());
        }
        #[cfg(feature = "cuda")]
        if let crate::device::Backend::Cuda(engine) = &self.backend {
            return engine.score(prompt_token_ids, continuation_token_ids);
        }
        let mut cache = self.new_sequence();
        let hidden = self.forward(&mut [SequenceStep {
            cache: &mut cache,
            token_ids: &all,
        }])?;
        let hidden_size = self.config.hidden_size;
        let prompt_len = prompt_token_ids.len();
        let mut logprobs: Vec<Option<f32>> = Vec::with_capacity(continuation_token_ids.len());
        if prompt_len == 0 {
            logprobs.push(None);
        }
        // Row r of the hidden states predicts token r + 1.
        let first_row = prompt_len.saturating_sub(1);
        let last_row = all.len() - 1; // exclusive
        let mut row = first_row;
        while row < last_row {
            let end = (row + SCORE_LOGIT_ROWS).min(last_row);
            let mut logits = self.logits(&hidden[row * hidden_size..end * hidden_size]);
            for (offset, row_logits) in logits.chunks_mut(self.config.vocab_size).enumerate() {
                cpu::log_softmax_in_place(row_logits);
                let target = all[row + offset + 1];
                logprobs.push(Some(row_logits[target as usize]));
            }
            row = end;
        }
        Ok(logprobs)
    }
}

/// What [`Transformer::measure_speed`] measured.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SpeedMeasurement {
    /// The prompt's prefill and its first token.
    pub prefill_seconds: f64,
    /// Every decode step after it.
    pub decode_seconds: f64,
}

impl Transformer {
    /// Times what generation does, on the transformer's device: the prefill of `prompt`
    /// (with the first greedy token of every sample), then `new_tokens` greedy decode steps of
    /// `n_samples` samples that share the prompt, never stopping early. This is the `bench`
    /// command's measurement.
    pub fn measure_speed(
        &self,
        prompt: &[u32],
        n_samples: NonZeroUsize,
        new_tokens: usize,
    ) -> Result<SpeedMeasurement> {
        let request = GenerationRequest {
            prompt_token_ids: prompt.to_vec(),
            n_samples,
            max_new_tokens: new_tokens,
            sampling: SamplingParams::greedy(),
            eos_token_ids: Vec::new(),
            stop_strings: Vec::new(),
        };
        if prompt.is_empty() || prompt.len() + new_tokens > self.config.context_length() {
            return Err(ModelError::TooLong {
                n_tokens: prompt.len() + new_tokens,
                context_length: self.config.context_length(),
            });
        }
        #[cfg(feature = "cuda")]
        if let crate::device::Backend::Cuda(engine) = &self.backend {
            let mut source = engine.token_source(self, &request)?;
            return time_tokens(&mut source, &request, new_tokens);
        }
        let mut source = CpuTokens {
            transformer: self,
            sampling: &request.sampling,
            n_samples: n_samples.get(),
            caches: Vec::new(),
        };
        time_tokens(&mut source, &request, new_tokens)
    }
}

fn time_tokens(
    source: &mut dyn TokenSource,
    request: &GenerationRequest,
    new_tokens: usize,
) -> Result<SpeedMeasurement> {
    let n_samples = request.n_samples.get();
    let mut rngs: Vec<SampleRng> = (0..n_samples)
        .map(|sample_idx| SampleRng::new(request.sampling.seed, sample_idx))
        .collect();
    let start = std::time::Instant::now();
    let mut last_tokens = source.start(&request.prompt_token_ids, &mut rngs)?;
    let prefill_seconds = start.elapsed().as_secs_f64();
    let samples: Vec<usize> = (0..n_samples).collect();
    let start = std::time::Instant::now();
    for _ in 0..new_tokens {
        last_tokens = source.step(&samples, &last_tokens, &mut rngs)?;
    }
    Ok(SpeedMeasurement {
        prefill_seconds,
        decode_seconds: start.elapsed().as_secs_f64(),
    })
}
