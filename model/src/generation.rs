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
    cache: SequenceCache,
    rng: SampleRng,
    token_ids: Vec<u32>,
    finished: Option<(FinishReason, String)>,
}

impl Transformer {
    /// Generates `n_samples` continuations of the prompt. `is_cancelled` is polled between
    /// decode steps.
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
        let mut prompt_cache = self.new_sequence();
        let hidden = self.forward(&mut [SequenceStep {
            cache: &mut prompt_cache,
            token_ids: &request.prompt_token_ids,
        }])?;
        let hidden_size = self.config.hidden_size;
        let last_row = &hidden[(prompt_len - 1) * hidden_size..];
        let prompt_logits = self.logits(last_row);
        let prefix = prompt_cache.into_shared_prefix();

        let mut running: Vec<Running> = (0..request.n_samples.get())
            .map(|sample_idx| {
                let mut rng = SampleRng::new(request.sampling.seed, sample_idx);
                let first = sample(&prompt_logits, &request.sampling, &mut rng);
                Running {
                    sample_idx,
                    cache: SequenceCache::continuing(prefix.clone()),
                    rng,
                    token_ids: vec![first],
                    finished: None,
                }
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
            let last_tokens: Vec<u32> = active
                .iter()
                .map(|run| *run.token_ids.last().expect("one token"))
                .collect();
            let mut steps: Vec<SequenceStep> = active
                .iter_mut()
                .zip(&last_tokens)
                .map(|(run, token)| SequenceStep {
                    cache: &mut run.cache,
                    token_ids: std::slice::from_ref(token),
                })
                .collect();
            let hidden = self.forward(&mut steps)?;
            drop(steps);
            let logits = self.logits(&hidden);
            let vocab = self.config.vocab_size;
            for (run, row) in active.iter_mut().zip(logits.chunks(vocab)) {
                let next = sample(row, &request.sampling, &mut run.rng);
                run.token_ids.push(next);
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
