//! The engine against Hugging Face transformers: for every fixture checkpoint that
//! `scripts/make_fixtures.py` wrote (every architecture, F32 and BF16, both config.json layouts,
//! sharded and not), token ids match the tokenizer's, every teacher-forced log-probability is
//! within `LOGPROB_TOLERANCE`, and 16 greedy tokens are identical.

use proofwright_model::{GenerationRequest, LanguageModel, SamplingParams};
use serde::Deserialize;
use std::collections::BTreeSet;
use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};

const LOGPROB_TOLERANCE: f64 = 1e-3;

#[derive(Debug, Deserialize)]
struct Expected {
    architecture: String,
    dtype: String,
    config_layout: String,
    sharded: bool,
    rope_type: String,
    cases: Vec<Case>,
}

#[derive(Debug, Deserialize)]
struct Case {
    prompt: String,
    continuation: String,
    prompt_token_ids: Vec<u32>,
    continuation_token_ids: Vec<u32>,
    logprobs: Vec<Option<f64>>,
    greedy_token_ids: Vec<u32>,
    greedy_text: String,
}

fn fixture_dirs() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap_or_else(|e| panic!("{}: {e}", root.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.join("expected.json").exists())
        .collect();
    dirs.sort();
    dirs
}

fn expected(dir: &Path) -> Expected {
    let text = std::fs::read_to_string(dir.join("expected.json")).unwrap();
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
}

#[test]
fn fixtures_cover_every_architecture_dtype_layout_and_sharding() {
    let mut seen = BTreeSet::new();
    let mut rope_types = BTreeSet::new();
    for dir in fixture_dirs() {
        let expected = expected(&dir);
        seen.insert((
            expected.architecture.clone(),
            "dtype",
            expected.dtype.clone(),
        ));
        seen.insert((
            expected.architecture.clone(),
            "layout",
            expected.config_layout.clone(),
        ));
        seen.insert((
            expected.architecture.clone(),
            "sharded",
            expected.sharded.to_string(),
        ));
        if expected.architecture == "LlamaForCausalLM" {
            rope_types.insert(expected.rope_type.clone());
        }
    }
    for architecture in [
        "LlamaForCausalLM",
        "MistralForCausalLM",
        "Qwen2ForCausalLM",
        "Qwen3ForCausalLM",
    ] {
        for (kind, value) in [
            ("dtype", "float32"),
            ("dtype", "bfloat16"),
            ("layout", "legacy"),
            ("layout", "v5"),
            ("sharded", "true"),
            ("sharded", "false"),
        ] {
            assert!(
                seen.contains(&(architecture.to_owned(), kind, value.to_owned())),
                "no fixture for {architecture} with {kind} {value}"
            );
        }
    }
    for rope in ["default", "linear", "dynamic", "llama3", "yarn"] {
        assert!(
            rope_types.contains(rope),
            "no Llama fixture with rope {rope}"
        );
    }
}

#[test]
fn logprobs_and_greedy_tokens_match_transformers() {
    let mut failures = Vec::new();
    let mut n_checked = 0;
    for dir in fixture_dirs() {
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        let expected = expected(&dir);
        let model = LanguageModel::load(&dir).unwrap_or_else(|e| panic!("{name}: {e}"));
        for (case_idx, case) in expected.cases.iter().enumerate() {
            let label = format!("{name} case {case_idx} ({:?})", case.prompt);
            let prompt_ids = model.encode_prompt(&case.prompt).unwrap();
            let continuation_ids = model.encode_continuation(&case.continuation).unwrap();
            if prompt_ids != case.prompt_token_ids {
                failures.push(format!(
                    "{label}: prompt ids {prompt_ids:?} vs {:?}",
                    case.prompt_token_ids
                ));
            }
            if continuation_ids != case.continuation_token_ids {
                failures.push(format!(
                    "{label}: continuation ids {continuation_ids:?} vs {:?}",
                    case.continuation_token_ids
                ));
            }
            let logprobs = model
                .transformer
                .score(&case.prompt_token_ids, &case.continuation_token_ids)
                .unwrap_or_else(|e| panic!("{label}: {e}"));
            assert_eq!(logprobs.len(), case.logprobs.len(), "{label}");
            for (token_idx, (got, want)) in logprobs.iter().zip(&case.logprobs).enumerate() {
                match (got, want) {
                    (None, None) => {}
                    (Some(got), Some(want))
                        if (f64::from(*got) - want).abs() <= LOGPROB_TOLERANCE => {}
                    _ => {
                        failures.push(format!("{label}: logprob {token_idx}: {got:?} vs {want:?}"))
                    }
                }
            }
            if case.prompt_token_ids.is_empty() {
                continue;
            }
            let request = GenerationRequest {
                prompt_token_ids: case.prompt_token_ids.clone(),
                n_samples: NonZeroUsize::new(1).unwrap(),
                max_new_tokens: case.greedy_token_ids.len(),
                sampling: SamplingParams::greedy(),
                eos_token_ids: Vec::new(),
                stop_strings: Vec::new(),
            };
            let generated = model
                .transformer
                .generate(&request, &model.tokenizer, &|| false)
                .unwrap_or_else(|e| panic!("{label}: {e}"));
            if generated[0].token_ids != case.greedy_token_ids {
                failures.push(format!(
                    "{label}: greedy {:?} vs {:?}",
                    generated[0].token_ids, case.greedy_token_ids
                ));
            } else if generated[0].text != case.greedy_text {
                failures.push(format!(
                    "{label}: text {:?} vs {:?}",
                    generated[0].text, case.greedy_text
                ));
            }
            n_checked += 1;
        }
    }
    assert!(
        n_checked >= 16 * 3,
        "only {n_checked} greedy cases were checked"
    );
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn batched_samples_match_single_greedy_runs() {
    // N greedy samples of one prompt decoded as one batch must equal one greedy run each: the
    // shared prefix and batched decode change nothing.
    for dir in fixture_dirs().into_iter().take(4) {
        let expected = expected(&dir);
        let model = LanguageModel::load(&dir).unwrap();
        let case = expected
            .cases
            .iter()
            .find(|case| !case.prompt_token_ids.is_empty())
            .unwrap();
        let request = GenerationRequest {
            prompt_token_ids: case.prompt_token_ids.clone(),
            n_samples: NonZeroUsize::new(5).unwrap(),
            max_new_tokens: case.greedy_token_ids.len(),
            sampling: SamplingParams::greedy(),
            eos_token_ids: Vec::new(),
            stop_strings: Vec::new(),
        };
        let samples = model
            .transformer
            .generate(&request, &model.tokenizer, &|| false)
            .unwrap();
        for sample in samples {
            assert_eq!(sample.token_ids, case.greedy_token_ids, "{}", dir.display());
        }
    }
}
