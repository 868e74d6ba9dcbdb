//! Text ↔ token ids through the `tokenizers` crate, with the checkpoint's own special-token
//! rules (a prompt gets what the tokenizer's post-processor adds, as transformers does by
//! default).

use crate::error::{ModelError, Result};
use std::path::Path;

pub struct Tokenizer {
    inner: tokenizers::Tokenizer,
}

impl Tokenizer {
    pub fn from_file(path: &Path) -> Result<Self> {
        if !path.exists() {
            return Err(ModelError::MissingFile {
                path: path.to_owned(),
                what: "tokenizer.json",
            });
        }
        let inner =
            tokenizers::Tokenizer::from_file(path).map_err(|error| ModelError::Tokenizer {
                path: path.to_owned(),
                message: error.to_string(),
            })?;
        Ok(Tokenizer { inner })
    }

    /// Encodes `text`; with `add_special_tokens` the post-processor may add BOS and the like.
    pub fn encode(&self, text: &str, add_special_tokens: bool) -> Result<Vec<u32>> {
        let encoding = self
            .inner
            .encode(text, add_special_tokens)
            .map_err(|error| ModelError::Encoding {
                message: error.to_string(),
            })?;
        Ok(encoding.get_ids().to_vec())
    }

    /// Decodes ids to text, leaving out special tokens.
    pub fn decode(&self, token_ids: &[u32]) -> Result<String> {
        self.inner
            .decode(token_ids, true)
            .map_err(|error| ModelError::Encoding {
                message: error.to_string(),
            })
    }

    /// The id of a token given by its text (for `eos_token` in tokenizer_config.json).
    pub fn token_to_id(&self, token: &str) -> Option<u32> {
        self.inner.token_to_id(token)
    }

    pub fn vocab_size(&self) -> usize {
        self.inner.get_vocab_size(true)
    }
}
