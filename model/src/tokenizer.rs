//! Text ↔ token ids through the `tokenizers` crate, with the checkpoint's own special-token
//! rules (a prompt gets what the tokenizer's post-processor adds, as transformers does by
//! default).

use crate::error::{ModelError, Result};
use std::path::Path;

/// A token's byte range in the encoded text, `(start, end)`: `text[start..end]`.
pub type TokenByteRange = (usize, usize);

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

    /// Encodes `text` and gives each token's byte range in `text` (`text[start..end]` is what
    /// the token covers). A token the tokenizer adds, such as BOS, has an empty range; a token
    /// that holds part of a multi-byte character covers the whole character, so ranges always
    /// fall on character boundaries and may overlap there.
    pub fn encode_with_offsets(
        &self,
        text: &str,
        add_special_tokens: bool,
    ) -> Result<(Vec<u32>, Vec<TokenByteRange>)> {
        // The crate's plain `encode` reports byte offsets into the original text (its
        // `encode_char_offsets` would convert them to characters, as the Python binding does).
        let encoding = self
            .inner
            .encode(text, add_special_tokens)
            .map_err(|error| ModelError::Encoding {
                message: error.to_string(),
            })?;
        let offsets = encoding
            .get_offsets()
            .iter()
            .map(|&(start, end)| {
                let start = floor_char_boundary(text, start.min(text.len()));
                let end = ceil_char_boundary(text, end.min(text.len()));
                (start, end.max(start))
            })
            .collect();
        Ok((encoding.get_ids().to_vec(), offsets))
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

fn floor_char_boundary(text: &str, mut index: usize) -> usize {
    while !text.is_char_boundary(index) {
        index -= 1;
    }
    index
}

fn ceil_char_boundary(text: &str, mut index: usize) -> usize {
    while !text.is_char_boundary(index) {
        index += 1;
    }
    index
}

#[cfg(test)]
mod tests {
    use super::{TokenByteRange, Tokenizer};
    use std::path::Path;

    const FORALL_TEXT: &str = "∀ x ∈ S, f x ≤ g x";
    const THEOREM_TEXT: &str = "theorem t : ∀ n : ℕ, n + 0 = n := by\n  intro n; simp";

    fn fixture_tokenizer(fixture: &str) -> Tokenizer {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(fixture)
            .join("tokenizer.json");
        Tokenizer::from_file(&path).unwrap()
    }

    struct OffsetCase {
        fixture: &'static str,
        text: &'static str,
        add_special_tokens: bool,
        ids: &'static [u32],
        ranges: &'static [TokenByteRange],
    }

    // Expected values from the Python `tokenizers` 0.23.3 binding on the same tokenizer.json
    // files: its character offsets, converted to byte offsets with len(text[:i].encode()).
    #[rustfmt::skip]
    const CASES: &[OffsetCase] = &[
        OffsetCase {
            fixture: "llama-default-f32-v5",
            text: FORALL_TEXT,
            add_special_tokens: false,
            ids: &[161, 233, 225, 265, 330, 345, 14, 306, 265, 307, 347, 265],
            ranges: &[
                (0, 3), (0, 3), (0, 3), (3, 5), (5, 9), (9, 11), (11, 12), (12, 14), (14, 16),
                (16, 20), (20, 22), (22, 24),
            ],
        },
        OffsetCase {
            fixture: "llama-default-f32-v5",
            text: FORALL_TEXT,
            add_special_tokens: true,
            ids: &[1, 161, 233, 225, 265, 330, 345, 14, 306, 265, 307, 347, 265],
            ranges: &[
                (0, 0), (0, 3), (0, 3), (0, 3), (3, 5), (5, 9), (9, 11), (11, 12), (12, 14),
                (14, 16), (16, 20), (20, 22), (22, 24),
            ],
        },
        OffsetCase {
            fixture: "llama-default-f32-v5",
            text: THEOREM_TEXT,
            add_special_tokens: false,
            ids: &[
                285, 348, 259, 268, 225, 282, 259, 295, 14, 282, 304, 291, 277, 282, 264, 270,
                262, 315, 325, 282, 29, 355,
            ],
            ranges: &[
                (0, 7), (7, 9), (9, 11), (11, 15), (12, 15), (15, 17), (17, 19), (19, 23),
                (23, 24), (24, 26), (26, 28), (28, 30), (30, 32), (32, 34), (34, 37), (37, 40),
                (40, 42), (42, 45), (45, 48), (48, 50), (50, 51), (51, 56),
            ],
        },
        OffsetCase {
            fixture: "qwen3-default-f32-legacy",
            text: FORALL_TEXT,
            add_special_tokens: true,
            ids: &[158, 230, 222, 261, 328, 345, 11, 303, 261, 304, 347, 261],
            ranges: &[
                (0, 3), (0, 3), (0, 3), (3, 5), (5, 9), (9, 11), (11, 12), (12, 14), (14, 16),
                (16, 20), (20, 22), (22, 24),
            ],
        },
        OffsetCase {
            fixture: "qwen3-default-f32-legacy",
            text: THEOREM_TEXT,
            add_special_tokens: false,
            ids: &[
                282, 348, 256, 373, 279, 256, 292, 11, 279, 301, 220, 15, 274, 279, 260, 267,
                198, 220, 377, 279, 26, 355,
            ],
            ranges: &[
                (0, 7), (7, 9), (9, 11), (11, 15), (15, 17), (17, 19), (19, 23), (23, 24),
                (24, 26), (26, 28), (28, 29), (29, 30), (30, 32), (32, 34), (34, 37), (37, 40),
                (40, 41), (41, 42), (42, 48), (48, 50), (50, 51), (51, 56),
            ],
        },
    ];

    #[test]
    fn offsets_are_byte_ranges_like_the_python_binding_reports() {
        for case in CASES {
            let tokenizer = fixture_tokenizer(case.fixture);
            let label = format!(
                "{} {:?} special={}",
                case.fixture, case.text, case.add_special_tokens
            );
            let (ids, ranges) = tokenizer
                .encode_with_offsets(case.text, case.add_special_tokens)
                .unwrap();
            assert_eq!(ids, case.ids, "{label}");
            assert_eq!(ranges, case.ranges, "{label}");
            assert_eq!(
                ids,
                tokenizer
                    .encode(case.text, case.add_special_tokens)
                    .unwrap(),
                "{label}: encode_with_offsets must give encode's ids"
            );
            for &(start, end) in &ranges {
                // Every range slices the text on character boundaries.
                assert!(
                    case.text.get(start..end).is_some(),
                    "{label}: {start}..{end}"
                );
            }
        }
    }

    #[test]
    fn empty_text_has_no_ranges_beyond_added_tokens() {
        let tokenizer = fixture_tokenizer("llama-default-f32-v5");
        let (ids, ranges) = tokenizer.encode_with_offsets("", true).unwrap();
        assert_eq!(ids, vec![1]);
        assert_eq!(ranges, vec![(0, 0)]);
    }
}
