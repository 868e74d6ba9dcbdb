//! proofwright-model: Hugging Face checkpoints (config, safetensors weights, tokenizer),
//! the Llama / Mistral / Qwen2 / Qwen3 decoder architectures, generation and scoring.
//! Its API is text or tokens in, tokens or log-probabilities out; it knows nothing of Lean or LSP.

pub mod chat_template;
pub mod checkpoint;
pub mod config;
#[cfg(feature = "cuda")]
mod cuda;
pub mod device;
mod error;
pub mod forward;
pub mod generation;
pub mod hub;
pub mod rope;
pub mod sampling;
pub mod synthetic;
pub mod tokenizer;
pub mod weights;

pub use chat_template::{ChatMessage, ChatTemplate, ChatTemplateError, SpecialTokens};
pub use config::{Architecture, GenerationDefaults, ModelConfig, TokenizerSettings};
pub use error::{ModelError, Result};
pub use forward::{SequenceCache, SequenceStep, Transformer};
pub use generation::{Detokenize, FinishReason, GeneratedSample, GenerationRequest};
pub use hub::{resolve_model, DownloadProgress, HubError, HubRepo, HubSettings, ModelSpec};
pub use sampling::SamplingParams;
pub use tokenizer::{TokenByteRange, Tokenizer};

use std::path::{Path, PathBuf};

/// A checkpoint loaded for use: the transformer, its tokenizer and its generation defaults.
pub struct LanguageModel {
    pub model_dir: PathBuf,
    pub transformer: Transformer,
    pub tokenizer: Tokenizer,
    pub generation_defaults: GenerationDefaults,
    pub tokenizer_settings: TokenizerSettings,
}

impl LanguageModel {
    /// Loads a Hugging Face model directory.
    pub fn load(model_dir: &Path) -> Result<Self> {
        if !model_dir.is_dir() {
            return Err(ModelError::MissingFile {
                path: model_dir.to_owned(),
                what: "to be a directory (config.json, weights, tokenizer.json)",
            });
        }
        let config_path = model_dir.join("config.json");
        if !config_path.exists() {
            return Err(ModelError::MissingFile {
                path: config_path,
                what: "config.json",
            });
        }
        let config = ModelConfig::from_file(&config_path)?;
        let tokenizer = Tokenizer::from_file(&model_dir.join("tokenizer.json"))?;
        let generation_path = model_dir.join("generation_config.json");
        let generation_defaults = if generation_path.exists() {
            GenerationDefaults::from_file(&generation_path)?
        } else {
            GenerationDefaults::default()
        };
        let tokenizer_config_path = model_dir.join("tokenizer_config.json");
        let tokenizer_settings = if tokenizer_config_path.exists() {
            TokenizerSettings::from_file(&tokenizer_config_path)?
        } else {
            TokenizerSettings::default()
        };
        let files = checkpoint::MappedFiles::open(model_dir)?;
        let tensors = files.parse()?;
        let weights = weights::TransformerWeights::from_tensors(&config, &tensors)?;
        Ok(LanguageModel {
            model_dir: model_dir.to_owned(),
            transformer: Transformer::new(config, weights),
            tokenizer,
            generation_defaults,
            tokenizer_settings,
        })
    }

    /// Every token id that ends generation: generation_config.json's, config.json's and the
    /// tokenizer's `eos_token`.
    pub fn eos_token_ids(&self) -> Vec<u32> {
        let mut ids = self.generation_defaults.eos_token_ids.clone();
        ids.extend(&self.transformer.config.eos_token_ids);
        if let Some(eos) = &self.tokenizer_settings.eos_token {
            ids.extend(self.tokenizer.token_to_id(eos));
        }
        ids.sort_unstable();
        ids.dedup();
        ids
    }

    /// A prompt's ids, with the special tokens the tokenizer adds (BOS for Llama-style ones).
    pub fn encode_prompt(&self, text: &str) -> Result<Vec<u32>> {
        self.tokenizer.encode(text, true)
    }

    /// A continuation's ids, with no special tokens added.
    pub fn encode_continuation(&self, text: &str) -> Result<Vec<u32>> {
        self.tokenizer.encode(text, false)
    }
}

impl Detokenize for Tokenizer {
    fn detokenize(&self, token_ids: &[u32]) -> Result<String> {
        self.decode(token_ids)
    }
}
