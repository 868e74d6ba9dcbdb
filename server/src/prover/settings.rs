//! What a caller chooses about a search: budgets, sampling, the verifier, Lean and the prompt
//! template. Plain data; the CLI and the language server fill it from their own options.

use super::limits::{
    DEFAULT_CONTEXT_TOKEN_BUDGET, DEFAULT_DEEP_REVIEWS, DEFAULT_MAX_NEW_TOKENS, DEFAULT_ROUNDS,
    DEFAULT_SAMPLES, DEFAULT_TEMPERATURE, DEFAULT_TIME_BUDGET, DEFAULT_TOP_P,
};
use serde::{Deserialize, Serialize};
use std::num::NonZeroUsize;
use std::time::Duration;

/// Whether candidates are checked with Lean.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LeanMode {
    /// Use Lean when a toolchain is found; otherwise go on with the neural verifier alone.
    #[default]
    Auto,
    /// Never start Lean.
    Off,
    /// Fail when Lean is not available.
    Require,
}

/// How the neural verifier judges a proof.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum VerifierMode {
    /// Every step scored from teacher-forced token log-probabilities: one prefill, no generation.
    #[default]
    Fast,
    /// The model reviews the whole proof, several times, and answers with issues and a score.
    Deep,
}

/// Which prompt family to use with a checkpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TemplateChoice {
    /// Chat when the checkpoint has a chat template and is not a known completion-style prover.
    #[default]
    Auto,
    /// DeepSeek-Prover style: the model continues Lean code.
    Completion,
    /// The checkpoint's own chat template.
    Chat,
}

/// Budgets and parameters of one search (and of verification).
#[derive(Debug, Clone, PartialEq)]
pub struct SearchSettings {
    /// Candidates sampled per round, decoded as one batch that shares the prompt.
    pub n_samples: NonZeroUsize,
    /// Refinement rounds after the first round; 0 proposes once and stops.
    pub n_rounds: usize,
    pub max_new_tokens: NonZeroUsize,
    /// Wall-clock budget of the whole search, Lean included.
    pub time_budget: Duration,
    pub temperature: f32,
    pub top_p: f32,
    /// Searches are deterministic for a seed (unless the time budget cuts them short).
    pub seed: u64,
    pub verifier: VerifierMode,
    /// Steps scoring below are flagged; `None` takes the model's threshold.
    pub flag_threshold: Option<f32>,
    /// Reviews per proof in deep mode.
    pub deep_reviews: NonZeroUsize,
    /// Tokens of preceding declarations given to the model as context.
    pub context_token_budget: usize,
}

impl Default for SearchSettings {
    fn default() -> Self {
        SearchSettings {
            n_samples: NonZeroUsize::new(DEFAULT_SAMPLES).expect("positive"),
            n_rounds: DEFAULT_ROUNDS,
            max_new_tokens: NonZeroUsize::new(DEFAULT_MAX_NEW_TOKENS).expect("positive"),
            time_budget: DEFAULT_TIME_BUDGET,
            temperature: DEFAULT_TEMPERATURE,
            top_p: DEFAULT_TOP_P,
            seed: 0,
            verifier: VerifierMode::Fast,
            flag_threshold: None,
            deep_reviews: NonZeroUsize::new(DEFAULT_DEEP_REVIEWS).expect("positive"),
            context_token_budget: DEFAULT_CONTEXT_TOKEN_BUDGET,
        }
    }
}
