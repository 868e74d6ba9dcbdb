//! Every kind of broken checkpoint gets an error that names the file and what is wrong, never a
//! panic. Each test starts from a small valid checkpoint written here and breaks one thing.

use proofwright_model::{LanguageModel, ModelError};
use safetensors::tensor::{Dtype, TensorView};
use serde_json::json;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

const HIDDEN: usize = 8;
const INTERMEDIATE: usize = 16;
const VOCAB: usize = 6;
const HEADS: usize = 2;
const KV_HEADS: usize = 1;
const HEAD_DIM: usize = HIDDEN / HEADS;

fn config() -> serde_json::Value {
    json!({
        "architectures": ["LlamaForCausalLM"],
        "hidden_size": HIDDEN,
        "intermediate_size": INTERMEDIATE,
        "num_hidden_layers": 1,
        "num_attention_heads": HEADS,
        "num_key_value_heads": KV_HEADS,
        "vocab_size": VOCAB,
        "max_position_embeddings": 8,
        "rms_norm_eps": 1e-6,
        "rope_theta": 10000.0,
        "torch_dtype": "float32",
        "tie_word_embeddings": false
    })
}

fn tensor_shapes() -> Vec<(String, Vec<usize>)> {
    let layer = |suffix: &str| format!("model.layers.0.{suffix}");
    vec![
        ("model.embed_tokens.weight".into(), vec![VOCAB, HIDDEN]),
        (
            layer("self_attn.q_proj.weight"),
            vec![HEADS * HEAD_DIM, HIDDEN],
        ),
        (
            layer("self_attn.k_proj.weight"),
            vec![KV_HEADS * HEAD_DIM, HIDDEN],
        ),
        (
            layer("self_attn.v_proj.weight"),
            vec![KV_HEADS * HEAD_DIM, HIDDEN],
        ),
        (
            layer("self_attn.o_proj.weight"),
            vec![HIDDEN, HEADS * HEAD_DIM],
        ),
        (layer("mlp.gate_proj.weight"), vec![INTERMEDIATE, HIDDEN]),
        (layer("mlp.up_proj.weight"), vec![INTERMEDIATE, HIDDEN]),
        (layer("mlp.down_proj.weight"), vec![HIDDEN, INTERMEDIATE]),
        (layer("input_layernorm.weight"), vec![HIDDEN]),
        (layer("post_attention_layernorm.weight"), vec![HIDDEN]),
        ("model.norm.weight".into(), vec![HIDDEN]),
        ("lm_head.weight".into(), vec![VOCAB, HIDDEN]),
    ]
}

fn tokenizer_json() -> serde_json::Value {
    json!({
        "version": "1.0",
        "truncation": null,
        "padding": null,
        "added_tokens": [],
        "normalizer": null,
        "pre_tokenizer": {"type": "Whitespace"},
        "post_processor": null,
        "decoder": null,
        "model": {
            "type": "WordLevel",
            "vocab": {"<unk>": 0, "theorem": 1, "by": 2, "simp": 3, ":=": 4, "x": 5},
            "unk_token": "<unk>"
        }
    })
}

fn safetensors_bytes(shapes: &[(String, Vec<usize>)]) -> Vec<u8> {
    let data: Vec<(String, Vec<u8>, Vec<usize>)> = shapes
        .iter()
        .enumerate()
        .map(|(idx, (name, shape))| {
            let count: usize = shape.iter().product();
            let values: Vec<f32> = (0..count)
                .map(|i| ((i * 7 + idx * 3) % 11) as f32 / 11.0 - 0.5)
                .collect();
            (
                name.clone(),
                bytemuck::cast_slice(&values).to_vec(),
                shape.clone(),
            )
        })
        .collect();
    let views: Vec<(String, TensorView)> = data
        .iter()
        .map(|(name, bytes, shape)| {
            (
                name.clone(),
                TensorView::new(Dtype::F32, shape.clone(), bytes).unwrap(),
            )
        })
        .collect();
    safetensors::serialize(views, None).unwrap()
}

/// A complete, loadable checkpoint directory.
fn valid_checkpoint() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    write_json(&dir.path().join("config.json"), &config());
    write_json(&dir.path().join("tokenizer.json"), &tokenizer_json());
    std::fs::write(
        dir.path().join("model.safetensors"),
        safetensors_bytes(&tensor_shapes()),
    )
    .unwrap();
    dir
}

fn write_json(path: &Path, value: &serde_json::Value) {
    std::fs::write(path, serde_json::to_vec_pretty(value).unwrap()).unwrap();
}

fn load_error(dir: &Path) -> (ModelError, String) {
    match LanguageModel::load(dir) {
        Ok(_) => panic!("loading {} should have failed", dir.display()),
        Err(error) => {
            let message = error.to_string();
            (error, message)
        }
    }
}

fn assert_mentions(message: &str, needles: &[&str]) {
    for needle in needles {
        assert!(
            message.contains(needle),
            "`{message}` should mention `{needle}`"
        );
    }
}

#[test]
fn the_valid_checkpoint_loads_and_runs() {
    let dir = valid_checkpoint();
    let model = LanguageModel::load(dir.path()).unwrap();
    let logprobs = model.transformer.score(&[1, 2], &[3, 4]).unwrap();
    assert_eq!(logprobs.len(), 2);
    assert!(logprobs
        .iter()
        .all(|lp| lp.is_some_and(|v| v < 0.0 && v.is_finite())));
}

#[test]
fn missing_files_are_named() {
    for (file, needle) in [
        ("config.json", "config.json"),
        ("tokenizer.json", "tokenizer.json"),
        ("model.safetensors", "model.safetensors"),
    ] {
        let dir = valid_checkpoint();
        std::fs::remove_file(dir.path().join(file)).unwrap();
        let (error, message) = load_error(dir.path());
        assert!(matches!(error, ModelError::MissingFile { .. }), "{message}");
        assert_mentions(&message, &[needle]);
    }
    let (_, message) = load_error(Path::new("/nonexistent/model/dir"));
    assert_mentions(&message, &["/nonexistent/model/dir", "directory"]);
}

#[test]
fn unsupported_architecture_lists_the_supported_ones() {
    let dir = valid_checkpoint();
    let mut config = config();
    config["architectures"] = json!(["GPT2LMHeadModel"]);
    write_json(&dir.path().join("config.json"), &config);
    let (error, message) = load_error(dir.path());
    assert!(matches!(error, ModelError::UnsupportedArchitecture { .. }));
    assert_mentions(
        &message,
        &[
            "GPT2LMHeadModel",
            "LlamaForCausalLM",
            "MistralForCausalLM",
            "Qwen2ForCausalLM",
            "Qwen3ForCausalLM",
        ],
    );
}

#[test]
fn config_fields_of_the_wrong_type_are_named() {
    let dir = valid_checkpoint();
    let mut config = config();
    config["hidden_size"] = json!("eight");
    write_json(&dir.path().join("config.json"), &config);
    let (_, message) = load_error(dir.path());
    assert_mentions(&message, &["config.json", "hidden_size"]);

    std::fs::write(dir.path().join("config.json"), "{ not json").unwrap();
    let (error, message) = load_error(dir.path());
    assert!(matches!(error, ModelError::Json { .. }));
    assert_mentions(&message, &["config.json"]);

    let mut config = self::config();
    config["rope_scaling"] = json!({"type": "longrope", "factor": 2.0});
    write_json(&dir.path().join("config.json"), &config);
    let (_, message) = load_error(dir.path());
    assert_mentions(&message, &["rope_scaling", "longrope", "yarn"]);
}

#[test]
fn truncated_safetensors_is_reported() {
    let dir = valid_checkpoint();
    let path = dir.path().join("model.safetensors");
    let bytes = std::fs::read(&path).unwrap();
    for cut in [4, 20, bytes.len() - 3] {
        std::fs::write(&path, &bytes[..cut]).unwrap();
        let (error, message) = load_error(dir.path());
        assert!(matches!(error, ModelError::SafeTensors { .. }), "{message}");
        assert_mentions(&message, &["model.safetensors"]);
    }
}

#[test]
fn header_length_larger_than_the_file_is_reported() {
    let dir = valid_checkpoint();
    let path = dir.path().join("model.safetensors");
    let mut bytes = std::fs::read(&path).unwrap();
    let too_long = (bytes.len() as u64 * 2).to_le_bytes();
    bytes[..8].copy_from_slice(&too_long);
    std::fs::write(&path, &bytes).unwrap();
    let (error, message) = load_error(dir.path());
    assert!(matches!(error, ModelError::SafeTensors { .. }));
    assert_mentions(&message, &["model.safetensors", "header"]);
}

/// Rewrites the safetensors header with `edit` applied to its JSON, keeping the data.
fn rewrite_header(path: &Path, edit: impl FnOnce(&mut serde_json::Map<String, serde_json::Value>)) {
    let bytes = std::fs::read(path).unwrap();
    let header_len = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let mut header: serde_json::Map<String, serde_json::Value> =
        serde_json::from_slice(&bytes[8..8 + header_len]).unwrap();
    edit(&mut header);
    let mut new_header = serde_json::to_vec(&header).unwrap();
    while !new_header.len().is_multiple_of(8) {
        new_header.push(b' ');
    }
    let mut out = (new_header.len() as u64).to_le_bytes().to_vec();
    out.extend(new_header);
    out.extend(&bytes[8 + header_len..]);
    std::fs::write(path, out).unwrap();
}

#[test]
fn overlapping_and_out_of_range_offsets_are_reported() {
    let dir = valid_checkpoint();
    let path = dir.path().join("model.safetensors");
    let original = std::fs::read(&path).unwrap();
    rewrite_header(&path, |header| {
        // Point the norm at the embedding's bytes: two tensors share an offset range.
        let embed = header["model.embed_tokens.weight"]["data_offsets"].clone();
        let start = embed[0].as_u64().unwrap();
        header["model.norm.weight"]["data_offsets"] = json!([start, start + 4 * HIDDEN as u64]);
    });
    let (error, message) = load_error(dir.path());
    assert!(matches!(error, ModelError::SafeTensors { .. }), "{message}");
    assert_mentions(&message, &["model.safetensors"]);

    std::fs::write(&path, &original).unwrap();
    rewrite_header(&path, |header| {
        let data_len = header
            .values()
            .filter_map(|v| v.get("data_offsets"))
            .map(|o| o[1].as_u64().unwrap())
            .max()
            .unwrap();
        let lm_head = header.get_mut("lm_head.weight").unwrap();
        let start = lm_head["data_offsets"][0].as_u64().unwrap();
        lm_head["data_offsets"] = json!([start + 1_000_000, data_len + 1_000_000]);
    });
    let (error, message) = load_error(dir.path());
    assert!(matches!(error, ModelError::SafeTensors { .. }), "{message}");
}

#[test]
fn a_missing_tensor_is_named() {
    let dir = valid_checkpoint();
    let shapes: Vec<_> = tensor_shapes()
        .into_iter()
        .filter(|(name, _)| !name.contains("down_proj"))
        .collect();
    std::fs::write(
        dir.path().join("model.safetensors"),
        safetensors_bytes(&shapes),
    )
    .unwrap();
    let (error, message) = load_error(dir.path());
    assert!(matches!(error, ModelError::MissingTensor { .. }));
    assert_mentions(
        &message,
        &["model.layers.0.mlp.down_proj.weight", "model.safetensors"],
    );
}

#[test]
fn a_tensor_shape_that_disagrees_with_the_config_is_named() {
    let dir = valid_checkpoint();
    let mut config = config();
    config["intermediate_size"] = json!(INTERMEDIATE * 2);
    write_json(&dir.path().join("config.json"), &config);
    let (error, message) = load_error(dir.path());
    assert!(matches!(error, ModelError::TensorShape { .. }));
    assert_mentions(&message, &["mlp.gate_proj.weight", "[16, 8]", "[32, 8]"]);
}

#[test]
fn a_tensor_dtype_that_disagrees_with_the_config_is_named() {
    let dir = valid_checkpoint();
    let mut config = config();
    config["torch_dtype"] = json!("bfloat16");
    write_json(&dir.path().join("config.json"), &config);
    let (error, message) = load_error(dir.path());
    assert!(matches!(error, ModelError::TensorDType { .. }));
    assert_mentions(&message, &["F32", "bfloat16"]);
}

/// Splits the valid checkpoint into two shards with an index whose entry for `lm_head.weight`
/// is `lm_head_file`.
fn sharded_checkpoint(lm_head_file: &str) -> tempfile::TempDir {
    let dir = valid_checkpoint();
    std::fs::remove_file(dir.path().join("model.safetensors")).unwrap();
    let (head, rest): (Vec<_>, Vec<_>) = tensor_shapes()
        .into_iter()
        .partition(|(name, _)| name == "lm_head.weight");
    std::fs::write(
        dir.path().join("model-00001-of-00002.safetensors"),
        safetensors_bytes(&rest),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("model-00002-of-00002.safetensors"),
        safetensors_bytes(&head),
    )
    .unwrap();
    let mut weight_map: HashMap<String, String> = rest
        .iter()
        .map(|(name, _)| (name.clone(), "model-00001-of-00002.safetensors".to_owned()))
        .collect();
    weight_map.insert("lm_head.weight".into(), lm_head_file.to_owned());
    write_json(
        &dir.path().join("model.safetensors.index.json"),
        &json!({"metadata": {}, "weight_map": weight_map}),
    );
    dir
}

#[test]
fn a_sharded_checkpoint_loads() {
    let dir = sharded_checkpoint("model-00002-of-00002.safetensors");
    let sharded = LanguageModel::load(dir.path()).unwrap();
    let single = LanguageModel::load(valid_checkpoint().path()).unwrap();
    assert_eq!(
        sharded.transformer.score(&[1, 2, 3], &[4, 5]).unwrap(),
        single.transformer.score(&[1, 2, 3], &[4, 5]).unwrap()
    );
}

#[test]
fn weight_map_entries_outside_the_model_directory_are_refused() {
    let outside = tempfile::tempdir().unwrap();
    let outside_file: PathBuf = outside.path().join("evil.safetensors");
    std::fs::write(&outside_file, safetensors_bytes(&tensor_shapes())).unwrap();

    let dir = sharded_checkpoint(outside_file.to_str().unwrap());
    let (error, message) = load_error(dir.path());
    assert!(matches!(error, ModelError::WeightMapEntry { .. }));
    assert_mentions(
        &message,
        &["absolute", "lm_head.weight", "model.safetensors.index.json"],
    );

    let dir = sharded_checkpoint("../evil.safetensors");
    let (_, message) = load_error(dir.path());
    assert_mentions(&message, &["..", "lm_head.weight"]);

    let dir = sharded_checkpoint("link.safetensors");
    std::os::unix::fs::symlink(&outside_file, dir.path().join("link.safetensors")).unwrap();
    let (_, message) = load_error(dir.path());
    assert_mentions(&message, &["symlink", "outside", "link.safetensors"]);

    // A Hugging Face cache snapshot may link into its repo's `blobs` folder, but nowhere else.
    let cache = tempfile::tempdir().unwrap();
    let repo = cache.path().join("models--org--name");
    let snapshot = repo.join("snapshots").join("0123abcd");
    std::fs::create_dir_all(&snapshot).unwrap();
    std::fs::create_dir_all(repo.join("blobs")).unwrap();
    let template = sharded_checkpoint("link.safetensors");
    for entry in std::fs::read_dir(template.path()).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), snapshot.join(entry.file_name())).unwrap();
    }
    std::os::unix::fs::symlink(&outside_file, snapshot.join("link.safetensors")).unwrap();
    let (_, message) = load_error(&snapshot);
    assert_mentions(&message, &["symlink", "outside", "link.safetensors"]);

    let dir = sharded_checkpoint("missing.safetensors");
    let (_, message) = load_error(dir.path());
    assert_mentions(&message, &["missing.safetensors", "does not exist"]);
}

#[test]
fn an_invalid_tokenizer_is_named() {
    let dir = valid_checkpoint();
    std::fs::write(
        dir.path().join("tokenizer.json"),
        r#"{"model": {"type": "Nonsense"}}"#,
    )
    .unwrap();
    let (error, message) = load_error(dir.path());
    assert!(matches!(error, ModelError::Tokenizer { .. }));
    assert_mentions(&message, &["tokenizer.json"]);
}

#[test]
fn a_prompt_longer_than_the_context_is_an_error() {
    let dir = valid_checkpoint();
    let model = LanguageModel::load(dir.path()).unwrap();
    let too_long = vec![1u32; 9];
    let error = model.transformer.score(&too_long, &[2]).unwrap_err();
    assert!(
        matches!(
            error,
            ModelError::TooLong {
                n_tokens: 10,
                context_length: 8
            }
        ),
        "{error}"
    );
    assert_mentions(&error.to_string(), &["10 tokens", "8"]);

    let request = proofwright_model::GenerationRequest {
        prompt_token_ids: too_long,
        n_samples: std::num::NonZeroUsize::new(2).unwrap(),
        max_new_tokens: 4,
        sampling: proofwright_model::SamplingParams::greedy(),
        eos_token_ids: vec![],
        stop_strings: vec![],
    };
    let error = model
        .transformer
        .generate(&request, &model.tokenizer, &|| false)
        .unwrap_err();
    assert!(matches!(error, ModelError::TooLong { .. }));

    let error = model.transformer.score(&[1, 99], &[2]).unwrap_err();
    assert!(matches!(
        error,
        ModelError::TokenOutOfVocabulary { token_id: 99, .. }
    ));
}

#[test]
fn generation_stops_at_the_context_end() {
    let dir = valid_checkpoint();
    let model = LanguageModel::load(dir.path()).unwrap();
    let request = proofwright_model::GenerationRequest {
        prompt_token_ids: vec![1, 2, 3],
        n_samples: std::num::NonZeroUsize::new(3).unwrap(),
        max_new_tokens: 100,
        sampling: proofwright_model::SamplingParams {
            temperature: 1.0,
            top_k: 0,
            top_p: 1.0,
            seed: 5,
        },
        eos_token_ids: vec![],
        stop_strings: vec![],
    };
    let samples = model
        .transformer
        .generate(&request, &model.tokenizer, &|| false)
        .unwrap();
    assert_eq!(samples.len(), 3);
    for sample in samples {
        assert_eq!(
            sample.token_ids.len(),
            5,
            "3 prompt tokens + 5 new fill the context of 8"
        );
        assert_eq!(
            sample.finish_reason,
            proofwright_model::FinishReason::Length
        );
    }
}
