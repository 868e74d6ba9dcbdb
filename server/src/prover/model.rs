//! The model as the prover uses it: a loaded checkpoint with its prompt family, its flagging
//! threshold and the worker threads it runs on, and the two things asked of it — sample
//! continuations of a prompt, and teacher-forced log-probabilities of a text with each token's
//! place in that text.

use super::control::WorkControl;
use super::limits::{DEFAULT_FLAG_THRESHOLD, MODEL_SETTINGS_FILE};
use super::settings::TemplateChoice;
use anyhow::{bail, Context};
use proofwright_model::device::Device;
use proofwright_model::{
    ChatMessage, ChatTemplate, FinishReason, GeneratedSample, GenerationRequest, LanguageModel,
    SamplingParams,
};
use serde::Deserialize;
use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};

/// The prompt family used with a checkpoint (docs/prompts.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PromptFamily {
    Completion,
    Chat,
}

impl PromptFamily {
    pub fn name(self) -> &'static str {
        match self {
            PromptFamily::Completion => "completion",
            PromptFamily::Chat => "chat",
        }
    }
}

/// Names of provers trained on completion prompts; a checkpoint whose directory path contains
/// one (a Hugging Face cache path holds the repo name) uses the completion family under `auto`.
const KNOWN_COMPLETION_PROVERS: [&str; 2] = ["DeepSeek-Prover-V1", "tiny-prover"];

/// Proofwright's own settings in a model directory (`proofwright.json`), all optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ModelDirectorySettings {
    /// The fast verifier's flag threshold calibrated for this model.
    verifier_threshold: Option<f32>,
    /// `completion` or `chat`.
    template: Option<TemplateChoice>,
    /// How the threshold was calibrated (not read).
    #[serde(default)]
    #[allow(dead_code)]
    calibration: serde_json::Value,
}

/// One token of a scored text: where it is in the text and how likely the model found it.
#[derive(Debug, Clone, PartialEq)]
pub struct TokenLogprob {
    /// Byte range in the scored continuation.
    pub start: usize,
    pub end: usize,
    pub logprob: f32,
}

/// A loaded model ready for the prover.
pub struct ProverModel {
    /// What the user named: a directory or a repo id.
    pub spec: String,
    pub model_dir: PathBuf,
    pub language_model: LanguageModel,
    pub family: PromptFamily,
    /// The checkpoint's chat template, when the chat family is used.
    chat_template: Option<ChatTemplate>,
    /// The fast verifier's threshold for this model.
    pub flag_threshold: f32,
    /// Where the model runs, for people (`cpu`, `cuda (…)`).
    pub device_description: String,
    threads: rayon::ThreadPool,
    n_threads: usize,
}

impl ProverModel {
    /// Loads the checkpoint in `model_dir` onto the CPU. `threads` defaults to every core.
    pub fn load(
        spec: &str,
        model_dir: &Path,
        template: TemplateChoice,
        threads: Option<NonZeroUsize>,
    ) -> anyhow::Result<ProverModel> {
        ProverModel::load_on(spec, model_dir, template, threads, &Device::Cpu)
    }

    /// Loads the checkpoint in `model_dir` onto `device`. `threads` (the CPU's worker threads)
    /// defaults to every core.
    pub fn load_on(
        spec: &str,
        model_dir: &Path,
        template: TemplateChoice,
        threads: Option<NonZeroUsize>,
        device: &Device,
    ) -> anyhow::Result<ProverModel> {
        let language_model = LanguageModel::load_on(model_dir, device)
            .with_context(|| format!("cannot load the model in {}", model_dir.display()))?;
        let settings_path = model_dir.join(MODEL_SETTINGS_FILE);
        let directory_settings: ModelDirectorySettings = if settings_path.exists() {
            let text = std::fs::read_to_string(&settings_path)
                .with_context(|| format!("cannot read {}", settings_path.display()))?;
            serde_json::from_str(&text)
                .with_context(|| format!("{} is not valid", settings_path.display()))?
        } else {
            ModelDirectorySettings::default()
        };
        let flag_threshold = directory_settings
            .verifier_threshold
            .unwrap_or(DEFAULT_FLAG_THRESHOLD);
        if !(0.0..=1.0).contains(&flag_threshold) {
            bail!(
                "{}: verifier_threshold must lie between 0 and 1, not {flag_threshold}",
                settings_path.display()
            );
        }
        let choice = match template {
            TemplateChoice::Auto => directory_settings.template.unwrap_or(TemplateChoice::Auto),
            explicit => explicit,
        };
        let chat_template = ChatTemplate::from_model_dir(model_dir)
            .with_context(|| format!("cannot read the chat template of {}", model_dir.display()))?;
        let family = choose_family(choice, model_dir, chat_template.is_some())?;
        let n_threads = threads.map_or_else(
            || std::thread::available_parallelism().map_or(1, NonZeroUsize::get),
            NonZeroUsize::get,
        );
        let threads = rayon::ThreadPoolBuilder::new()
            .num_threads(n_threads)
            .thread_name(|idx| format!("proofwright-model-{idx}"))
            .build()
            .context("cannot start the model's worker threads")?;
        Ok(ProverModel {
            spec: spec.to_owned(),
            model_dir: model_dir.to_owned(),
            language_model,
            chat_template: chat_template.filter(|_| family == PromptFamily::Chat),
            family,
            flag_threshold,
            device_description: device.description(),
            threads,
            n_threads,
        })
    }

    pub fn n_threads(&self) -> usize {
        self.n_threads
    }

    /// Renders a conversation (role, content) with the checkpoint's chat template, with the
    /// generation prompt added.
    pub fn render_chat(&self, messages: &[(&str, String)]) -> anyhow::Result<String> {
        let Some(template) = &self.chat_template else {
            bail!(
                "the model in {} is used with completion prompts; it has no chat template in use",
                self.model_dir.display()
            );
        };
        let messages: Vec<ChatMessage> = messages
            .iter()
            .map(|(role, content)| ChatMessage::new(*role, content.clone()))
            .collect();
        template.render(&messages, true).with_context(|| {
            format!(
                "cannot render the chat template of {}",
                self.model_dir.display()
            )
        })
    }

    /// Identifies the model in cache keys.
    pub fn cache_identity(&self) -> String {
        format!("{}|{}", self.model_dir.display(), self.family.name())
    }

    /// The longest sequence the model takes (prompt and generated tokens together).
    pub fn context_length(&self) -> usize {
        self.language_model.transformer.config.context_length()
    }

    pub fn count_tokens(&self, text: &str) -> usize {
        self.language_model
            .encode_continuation(text)
            .map_or(text.len() / 4, |ids| ids.len())
    }

    /// Samples `n_samples` continuations of `prompt`, stopping at EOS, at a stop string, at
    /// `max_new_tokens`, or when the work is cancelled or runs out of time.
    #[allow(clippy::too_many_arguments)]
    pub fn generate(
        &self,
        prompt: &str,
        n_samples: NonZeroUsize,
        max_new_tokens: usize,
        sampling: SamplingParams,
        stop_strings: &[&str],
        control: &WorkControl,
    ) -> anyhow::Result<Vec<GeneratedSample>> {
        let prompt_token_ids = self
            .language_model
            .encode_prompt(prompt)
            .context("cannot encode the prompt")?;
        let request = GenerationRequest {
            prompt_token_ids,
            n_samples,
            max_new_tokens,
            sampling,
            eos_token_ids: self.language_model.eos_token_ids(),
            stop_strings: stop_strings.iter().map(|stop| (*stop).to_owned()).collect(),
        };
        let is_interrupted = || control.interruption().is_some();
        let samples = self.threads.install(|| {
            self.language_model.transformer.generate(
                &request,
                &self.language_model.tokenizer,
                &is_interrupted,
            )
        })?;
        Ok(samples)
    }

    /// The log-probability of every token of `continuation` after `prompt`, with each token's
    /// byte range in `continuation`.
    pub fn token_logprobs(
        &self,
        prompt: &str,
        continuation: &str,
    ) -> anyhow::Result<Vec<TokenLogprob>> {
        let prompt_ids = self
            .language_model
            .encode_prompt(prompt)
            .context("cannot encode the prompt")?;
        let (continuation_ids, offsets) = self
            .language_model
            .tokenizer
            .encode_with_offsets(continuation, false)
            .context("cannot encode the text to score")?;
        let logprobs = self.threads.install(|| {
            self.language_model
                .transformer
                .score(&prompt_ids, &continuation_ids)
        })?;
        Ok(logprobs
            .into_iter()
            .zip(offsets)
            .filter_map(|(logprob, (start, end))| {
                Some(TokenLogprob {
                    start,
                    end,
                    logprob: logprob?,
                })
            })
            .collect())
    }
}

/// Whether a sample ended for a reason that leaves a usable text.
pub fn sample_is_complete(sample: &GeneratedSample) -> bool {
    sample.finish_reason != FinishReason::Cancelled
}

fn choose_family(
    choice: TemplateChoice,
    model_dir: &Path,
    has_chat_template: bool,
) -> anyhow::Result<PromptFamily> {
    match choice {
        TemplateChoice::Completion => Ok(PromptFamily::Completion),
        TemplateChoice::Chat if has_chat_template => Ok(PromptFamily::Chat),
        TemplateChoice::Chat => bail!(
            "the model in {} has no chat template (no chat_template.jinja, and tokenizer_config.json has no `chat_template`); use the completion template",
            model_dir.display()
        ),
        TemplateChoice::Auto => {
            let directory_name = model_dir.display().to_string();
            let known_completion = KNOWN_COMPLETION_PROVERS
                .iter()
                .any(|name| directory_name.contains(name));
            Ok(if has_chat_template && !known_completion {
                PromptFamily::Chat
            } else {
                PromptFamily::Completion
            })
        }
    }
}
