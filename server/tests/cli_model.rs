//! The `generate`, `score` and `bench` commands run as other tools call them: the real binary,
//! its exact JSON lines, determinism, stop strings, and exit status 2 with a clear message on
//! bad input.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

fn fixtures_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../model/tests/fixtures")
}

/// The first fixture whose directory name starts with `prefix`.
fn fixture(prefix: &str) -> PathBuf {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(fixtures_root())
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| {
            path.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with(prefix)
                && path.join("expected.json").exists()
        })
        .collect();
    dirs.sort();
    dirs.into_iter()
        .next()
        .unwrap_or_else(|| panic!("no fixture named {prefix}*"))
}

fn expected(dir: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("expected.json")).unwrap()).unwrap()
}

struct Output {
    status: i32,
    stdout: String,
    stderr: String,
}

fn proofwright(args: &[&str]) -> Output {
    let output = Command::new(env!("CARGO_BIN_EXE_proofwright"))
        .args(args)
        .output()
        .expect("the proofwright binary runs");
    Output {
        status: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8(output.stdout).unwrap(),
        stderr: String::from_utf8(output.stderr).unwrap(),
    }
}

fn json_lines(stdout: &str) -> Vec<Value> {
    stdout
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

#[test]
fn generate_json_prints_one_object_per_sample_and_is_deterministic() {
    let dir = fixture("qwen3");
    let model = dir.to_str().unwrap();
    let args = [
        "generate",
        "--model",
        model,
        "--prompt",
        "theorem foo : ∀ x ∈ S, f x ≤ g x := by",
        "--samples",
        "3",
        "--temperature",
        "0.9",
        "--top-k",
        "40",
        "--top-p",
        "0.95",
        "--seed",
        "7",
        "--max-new-tokens",
        "12",
        "--json",
        "--threads",
        "2",
    ];
    let first = proofwright(&args);
    assert_eq!(first.status, 0, "{}", first.stderr);
    let lines = json_lines(&first.stdout);
    assert_eq!(lines.len(), 3);
    for (idx, line) in lines.iter().enumerate() {
        let object = line.as_object().unwrap();
        let mut keys: Vec<&str> = object.keys().map(String::as_str).collect();
        keys.sort();
        assert_eq!(keys, ["finish_reason", "sample", "text", "token_ids"]);
        assert_eq!(line["sample"], idx);
        assert!(["length", "eos", "stop"].contains(&line["finish_reason"].as_str().unwrap()));
        let n_tokens = line["token_ids"].as_array().unwrap().len();
        assert!((1..=12).contains(&n_tokens));
        if line["finish_reason"] == "length" {
            assert_eq!(n_tokens, 12);
        }
    }
    let again = proofwright(&args);
    assert_eq!(first.stdout, again.stdout, "same seed, same samples");
    let mut other_seed = args.to_vec();
    other_seed[16] = "8";
    assert_ne!(
        first.stdout,
        proofwright(&other_seed).stdout,
        "another seed, other samples"
    );
}

#[test]
fn greedy_generate_matches_transformers_until_eos() {
    for prefix in ["llama", "qwen2"] {
        let dir = fixture(prefix);
        let expected = expected(&dir);
        let case = expected["cases"]
            .as_array()
            .unwrap()
            .iter()
            .find(|case| !case["prompt_token_ids"].as_array().unwrap().is_empty())
            .unwrap();
        let output = proofwright(&[
            "generate",
            "--model",
            dir.to_str().unwrap(),
            "--prompt",
            case["prompt"].as_str().unwrap(),
            "--temperature",
            "0",
            "--max-new-tokens",
            "16",
            "--json",
        ]);
        assert_eq!(output.status, 0, "{}", output.stderr);
        let line = &json_lines(&output.stdout)[0];
        let got = line["token_ids"].as_array().unwrap();
        let want = case["greedy_token_ids"].as_array().unwrap();
        assert_eq!(
            got[..],
            want[..got.len()],
            "{prefix}: greedy tokens are a prefix of transformers'"
        );
        if line["finish_reason"] == "length" {
            assert_eq!(got.len(), 16);
        }
    }
}

#[test]
fn stop_strings_cut_the_text() {
    let dir = fixture("llama");
    let model = dir.to_str().unwrap();
    let base = [
        "generate",
        "--model",
        model,
        "--prompt",
        "theorem",
        "--temperature",
        "0",
        "--max-new-tokens",
        "16",
        "--json",
    ];
    let full = json_lines(&proofwright(&base).stdout).remove(0);
    let text = full["text"].as_str().unwrap().to_owned();
    let chars: Vec<char> = text.chars().collect();
    assert!(
        chars.len() >= 6,
        "greedy text {text:?} is long enough to cut"
    );
    let stop: String = chars[chars.len() / 2..chars.len() / 2 + 2].iter().collect();
    let mut args = base.to_vec();
    args.extend(["--stop", &stop]);
    let output = proofwright(&args);
    assert_eq!(output.status, 0, "{}", output.stderr);
    let cut = json_lines(&output.stdout).remove(0);
    assert_eq!(cut["finish_reason"], "stop");
    let cut_text = cut["text"].as_str().unwrap();
    assert_eq!(cut_text, &text[..text.find(&stop).unwrap()]);
}

#[test]
fn score_json_matches_transformers_and_marks_a_context_free_first_token() {
    let dir = fixture("qwen2");
    let expected = expected(&dir);
    for case in expected["cases"].as_array().unwrap() {
        let output = proofwright(&[
            "score",
            "--model",
            dir.to_str().unwrap(),
            "--prompt",
            case["prompt"].as_str().unwrap(),
            "--continuation",
            case["continuation"].as_str().unwrap(),
            "--json",
        ]);
        assert_eq!(output.status, 0, "{}", output.stderr);
        let document: Value = serde_json::from_str(output.stdout.trim()).unwrap();
        assert_eq!(document["prompt_token_ids"], case["prompt_token_ids"]);
        assert_eq!(
            document["continuation_token_ids"],
            case["continuation_token_ids"]
        );
        let got = document["logprobs"].as_array().unwrap();
        let want = case["logprobs"].as_array().unwrap();
        assert_eq!(got.len(), want.len());
        for (g, w) in got.iter().zip(want) {
            match (g.as_f64(), w.as_f64()) {
                (None, None) => assert!(g.is_null() && w.is_null()),
                (Some(g), Some(w)) => assert!((g - w).abs() < 1e-3, "{g} vs {w}"),
                _ => panic!("{g} vs {w}"),
            }
        }
        if case["prompt"] == "" {
            assert!(
                got[0].is_null(),
                "an empty prompt gives the first token no context"
            );
        }
    }
}

#[test]
fn bench_json_ends_with_the_summary_line() {
    let dir = fixture("llama");
    let output = proofwright(&[
        "bench",
        "--model",
        dir.to_str().unwrap(),
        "--prompt-tokens",
        "4",
        "--new-tokens",
        "3",
        "--samples",
        "2",
        "--threads",
        "1",
        "--json",
    ]);
    assert_eq!(output.status, 0, "{}", output.stderr);
    let last: Value = serde_json::from_str(output.stdout.lines().last().unwrap()).unwrap();
    let mut keys: Vec<&str> = last
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "bandwidth_gb_s",
            "decode_tok_s",
            "peak_rss_bytes",
            "prefill_tok_s",
            "roofline_fraction"
        ]
    );
    for key in keys {
        assert!(last[key].as_f64().unwrap() > 0.0, "{key} is positive");
    }
}

#[test]
fn bad_input_exits_2_with_a_message_naming_the_problem() {
    let missing = proofwright(&["generate", "--model", "/no/such/model", "--prompt", "x"]);
    assert_eq!(missing.status, 2);
    assert!(
        missing.stderr.contains("/no/such/model"),
        "{}",
        missing.stderr
    );

    let unknown = proofwright(&["bench", "--synthetic", "gpt-5"]);
    assert_eq!(unknown.status, 2);
    assert!(
        unknown.stderr.contains("gpt-5") && unknown.stderr.contains("qwen2-0.5b"),
        "{}",
        unknown.stderr
    );

    let dir = fixture("llama");
    let bad_temperature = proofwright(&[
        "generate",
        "--model",
        dir.to_str().unwrap(),
        "--prompt",
        "x",
        "--temperature",
        "-1",
    ]);
    assert_eq!(bad_temperature.status, 2);
    assert!(
        bad_temperature.stderr.contains("--temperature"),
        "{}",
        bad_temperature.stderr
    );

    let zero_samples = proofwright(&[
        "generate",
        "--model",
        dir.to_str().unwrap(),
        "--prompt",
        "x",
        "--samples",
        "0",
    ]);
    assert_eq!(zero_samples.status, 2, "{}", zero_samples.stderr);
}
