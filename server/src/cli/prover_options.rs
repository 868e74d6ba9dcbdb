//! The options every command that runs the prover shares (`check`, and the defaults of
//! `serve`): which model, which template, threads, Lean, the verifier, and the search budget.

use super::engine::DeviceArgs;
use crate::prover::limits::{
    DEFAULT_MAX_NEW_TOKENS, DEFAULT_ROUNDS, DEFAULT_SAMPLES, DEFAULT_TEMPERATURE,
};
use crate::prover::{LeanMode, ProverModel, SearchSettings, TemplateChoice, VerifierMode};
use anyhow::bail;
use clap::{Args, ValueEnum};
use std::num::NonZeroUsize;
use std::time::Duration;

/// The model used when none is named: a small public Lean prover the engine runs
/// (Qwen2 architecture, 1.5B parameters, chat template).
pub const DEFAULT_MODEL: &str = "AI-MO/Kimina-Prover-Preview-Distill-1.5B";

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LeanArg {
    Auto,
    Off,
    Require,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum VerifierArg {
    Fast,
    Deep,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TemplateArg {
    Auto,
    Completion,
    Chat,
}

#[derive(Debug, Args)]
pub struct ProverOptions {
    /// A Hugging Face model directory or repo id (fetched into the Hugging Face cache).
    #[arg(long, value_name = "DIR|REPO", default_value = DEFAULT_MODEL)]
    pub model: String,
    /// Prompt family: the checkpoint's chat template or DeepSeek-Prover style completion.
    #[arg(long, value_enum, default_value = "auto")]
    pub template: TemplateArg,
    /// Check candidates with Lean: when installed (auto), never (off), or fail without it.
    #[arg(long = "lean", value_enum, default_value = "auto")]
    pub lean: LeanArg,
    /// Neural verifier: per-step token scores (fast) or model reviews (deep).
    #[arg(long, value_enum, default_value = "fast")]
    pub verifier: VerifierArg,
    /// Flag steps whose score is below this (default: the model's, else 0.25).
    #[arg(long, value_name = "X")]
    pub threshold: Option<f32>,
    /// Candidates sampled per round.
    #[arg(long, value_name = "N", default_value_t = NonZeroUsize::new(DEFAULT_SAMPLES).expect("positive"))]
    pub samples: NonZeroUsize,
    /// Refinement rounds after the first.
    #[arg(long, value_name = "R", default_value_t = DEFAULT_ROUNDS)]
    pub rounds: usize,
    /// Seed of the sampling: the same seed gives the same results.
    #[arg(long, value_name = "S", default_value_t = 0)]
    pub seed: u64,
    /// Tokens per candidate.
    #[arg(long, value_name = "N", default_value_t = NonZeroUsize::new(DEFAULT_MAX_NEW_TOKENS).expect("positive"))]
    pub max_new_tokens: NonZeroUsize,
    /// Sampling temperature of proposals.
    #[arg(long, value_name = "T", default_value_t = DEFAULT_TEMPERATURE)]
    pub temperature: f32,
    /// Wall-clock budget of each search, in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 120.0)]
    pub time_budget: f64,
    /// Worker threads for the model (default: every core).
    #[arg(long, value_name = "N")]
    pub threads: Option<NonZeroUsize>,
    #[command(flatten)]
    pub device: DeviceArgs,
}

impl ProverOptions {
    pub fn lean_mode(&self) -> LeanMode {
        match self.lean {
            LeanArg::Auto => LeanMode::Auto,
            LeanArg::Off => LeanMode::Off,
            LeanArg::Require => LeanMode::Require,
        }
    }

    pub fn search_settings(&self) -> anyhow::Result<SearchSettings> {
        if let Some(threshold) = self.threshold {
            if !(0.0..=1.0).contains(&threshold) {
                bail!("--threshold must lie between 0 and 1, not {threshold}");
            }
        }
        if !(self.temperature >= 0.0 && self.temperature.is_finite()) {
            bail!("--temperature must be 0 or more, not {}", self.temperature);
        }
        if !(self.time_budget > 0.0 && self.time_budget.is_finite()) {
            bail!(
                "--time-budget must be a positive number of seconds, not {}",
                self.time_budget
            );
        }
        Ok(SearchSettings {
            n_samples: self.samples,
            n_rounds: self.rounds,
            max_new_tokens: self.max_new_tokens,
            time_budget: Duration::from_secs_f64(self.time_budget),
            temperature: self.temperature,
            seed: self.seed,
            verifier: match self.verifier {
                VerifierArg::Fast => VerifierMode::Fast,
                VerifierArg::Deep => VerifierMode::Deep,
            },
            flag_threshold: self.threshold,
            ..SearchSettings::default()
        })
    }

    pub fn template_choice(&self) -> TemplateChoice {
        match self.template {
            TemplateArg::Auto => TemplateChoice::Auto,
            TemplateArg::Completion => TemplateChoice::Completion,
            TemplateArg::Chat => TemplateChoice::Chat,
        }
    }

    /// Finds (or fetches) and loads the model.
    pub fn load_model(&self) -> anyhow::Result<ProverModel> {
        let directory = super::model_source::resolve(&self.model)?;
        let device = self.device.select()?;
        ProverModel::load_on(
            &self.model,
            &directory,
            self.template_choice(),
            self.threads,
            &device,
        )
    }
}
