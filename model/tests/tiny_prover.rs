//! The tiny trained demo prover (`tests/fixtures/tiny-prover`, written by
//! `scripts/tiny-prover/train.py`) in the engine: token ids, teacher-forced log-probabilities
//! and greedy tokens match what transformers computed from the saved checkpoint, and greedy
//! decoding with the checkpoint's own end-of-text settings reproduces the proofs it memorised.

use proofwright_model::{FinishReason, GenerationRequest, LanguageModel, SamplingParams};
use serde::Deserialize;
use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};

const LOGPROB_TOLERANCE: f64 = 1e-3;
/// The reference cases cover every prompt format of docs/prompts.md; fewer means expected.json
/// lost some.
const MIN_REFERENCE_CASES: usize = 8;
/// Enough new tokens for the longest memorised completion in expected.json to reach its end.
const MEMORISED_MAX_NEW_TOKENS: usize = 96;

#[derive(Debug, Deserialize)]
struct Expected {
    architecture: String,
    eos_token_id: u32,
    n_greedy_steps: usize,
    cases: Vec<Case>,
}

#[derive(Debug, Deserialize)]
struct Case {
    label: String,
    prompt: String,
    continuation: String,
    /// The continuation is a proof or review from the training corpus.
    memorised: bool,
    prompt_token_ids: Vec<u32>,
    continuation_token_ids: Vec<u32>,
    logprobs: Vec<f64>,
    /// Up to `n_greedy_steps` argmax tokens, ending early after the end-of-text token; empty when
    /// transformers' choice was a near-tie (then only the log-probabilities are compared).
    greedy_token_ids: Vec<u32>,
    greedy_text: String,
}

fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/tiny-prover")
}

fn load() -> (LanguageModel, Expected) {
    let dir = fixture_dir();
    let model = LanguageModel::load(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    let text = std::fs::read_to_string(dir.join("expected.json")).unwrap();
    let expected: Expected =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("expected.json: {e}"));
    (model, expected)
}

fn greedy_request(prompt_token_ids: &[u32], max_new_tokens: usize, eos: u32) -> GenerationRequest {
    GenerationRequest {
        prompt_token_ids: prompt_token_ids.to_vec(),
        n_samples: NonZeroUsize::new(1).unwrap(),
        max_new_tokens,
        sampling: SamplingParams::greedy(),
        eos_token_ids: vec![eos],
        stop_strings: Vec::new(),
    }
}

#[test]
fn tiny_prover_matches_transformers() {
    let (model, expected) = load();
    assert_eq!(expected.architecture, "Qwen2ForCausalLM");
    assert!(
        expected.cases.len() >= MIN_REFERENCE_CASES,
        "only {} reference cases",
        expected.cases.len()
    );
    let mut failures = Vec::new();
    let mut n_greedy_checked = 0;
    for case in &expected.cases {
        let label = &case.label;
        let prompt_ids = model.encode_prompt(&case.prompt).unwrap();
        let continuation_ids = model.encode_continuation(&case.continuation).unwrap();
        if prompt_ids != case.prompt_token_ids {
            failures.push(format!("{label}: prompt ids differ"));
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
            match got {
                Some(got) if (f64::from(*got) - want).abs() <= LOGPROB_TOLERANCE => {}
                _ => failures.push(format!("{label}: logprob {token_idx}: {got:?} vs {want}")),
            }
        }
        if case.greedy_token_ids.is_empty() {
            continue;
        }
        let request = greedy_request(
            &case.prompt_token_ids,
            expected.n_greedy_steps,
            expected.eos_token_id,
        );
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
        n_greedy_checked += 1;
    }
    assert!(
        n_greedy_checked >= MIN_REFERENCE_CASES,
        "only {n_greedy_checked} greedy cases were checked"
    );
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn tiny_prover_writes_its_memorised_proofs_and_stops_at_end_of_text() {
    let (model, expected) = load();
    // generation_config.json, config.json and tokenizer_config.json must agree on one EOS.
    assert_eq!(model.eos_token_ids(), vec![expected.eos_token_id]);
    let mut n_checked = 0;
    for case in expected.cases.iter().filter(|case| case.memorised) {
        let request = greedy_request(
            &case.prompt_token_ids,
            MEMORISED_MAX_NEW_TOKENS,
            expected.eos_token_id,
        );
        let generated = model
            .transformer
            .generate(&request, &model.tokenizer, &|| false)
            .unwrap_or_else(|e| panic!("{}: {e}", case.label));
        assert_eq!(
            (generated[0].text.as_str(), generated[0].finish_reason),
            (case.continuation.as_str(), FinishReason::Eos),
            "{}",
            case.label
        );
        n_checked += 1;
    }
    assert!(
        n_checked >= MIN_REFERENCE_CASES - 1,
        "only {n_checked} memorised cases"
    );
}
