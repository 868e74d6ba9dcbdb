//! Fetching a model by repo id, against a fake Hugging Face hub on 127.0.0.1 that serves the
//! tiny fixture checkpoints the way the hub does: `/{repo}/resolve/{revision}/{file}` answers
//! HEAD and GET with X-Repo-Commit, ETag and Content-Length, and large files (safetensors)
//! redirect to a storage URL with X-Linked-Etag and X-Linked-Size, as the hub's LFS files do.

mod support;

use proofwright_model::hub::{HubRepo, HOW_TO_GET_A_MODEL};
use proofwright_model::{
    resolve_model, DownloadProgress, HubError, HubSettings, LanguageModel, ModelSpec,
};
use serde::Deserialize;
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use support::fake_hub::{fake_hash, FakeHub, Faults, Logged, ServedRepo};

const LOGPROB_TOLERANCE: f64 = 1e-3;
const SHARDED_FIXTURE: &str = "qwen3-default-bf16-v5-sharded";
const SINGLE_FILE_FIXTURE: &str = "llama-default-f32-v5";
const SHARDED_REPO: &str = "proofwright-tests/tiny-qwen3";
const SINGLE_FILE_REPO: &str = "proofwright-tests/tiny-llama";
const SHARDED_COMMIT: &str = "0123456789abcdef0123456789abcdef01234567";
const SINGLE_FILE_COMMIT: &str = "fedcba9876543210fedcba9876543210fedcba98";
/// Written into the single-file repo only: Proofwright's own per-model settings are fetched too.
const PROOFWRIGHT_SETTINGS: &str = r#"{"verifier_threshold": 0.125}"#;
/// Written into the single-file repo only, to check optional files are fetched when present.
const CHAT_TEMPLATE: &str = "{{ bos_token }}{% for m in messages %}{{ m['content'] }}{% endfor %}";

fn fixture_dir(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn served_repos() -> BTreeMap<String, ServedRepo> {
    let mut single_file =
        ServedRepo::from_dir(&fixture_dir(SINGLE_FILE_FIXTURE), SINGLE_FILE_COMMIT);
    single_file.files.insert(
        "chat_template.jinja".into(),
        CHAT_TEMPLATE.as_bytes().to_vec(),
    );
    single_file.files.insert(
        "proofwright.json".into(),
        PROOFWRIGHT_SETTINGS.as_bytes().to_vec(),
    );
    BTreeMap::from([
        (
            SHARDED_REPO.to_owned(),
            ServedRepo::from_dir(&fixture_dir(SHARDED_FIXTURE), SHARDED_COMMIT),
        ),
        (SINGLE_FILE_REPO.to_owned(), single_file),
    ])
}

fn settings(cache_dir: &Path, hub: &FakeHub) -> HubSettings {
    HubSettings {
        cache_dir: cache_dir.to_owned(),
        endpoint: hub.endpoint.clone(),
        offline: false,
        token: None,
    }
}

fn spec(text: &str) -> ModelSpec {
    ModelSpec::parse(text).unwrap()
}

fn no_progress(_: DownloadProgress) {}

/// Every file under `dir`, relative, sorted; symlinks listed, not followed.
fn files_under(dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_owned()];
    while let Some(current) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&current) else {
            continue;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            let metadata = std::fs::symlink_metadata(&path).unwrap();
            if metadata.is_dir() {
                pending.push(path);
            } else {
                found.push(path.strip_prefix(dir).unwrap().display().to_string());
            }
        }
    }
    found.sort();
    found
}

#[derive(Deserialize)]
struct Expected {
    cases: Vec<ExpectedCase>,
}

#[derive(Deserialize)]
struct ExpectedCase {
    prompt_token_ids: Vec<u32>,
    continuation_token_ids: Vec<u32>,
    logprobs: Vec<Option<f64>>,
}

/// Fetches `repo_id` into a fresh cache and checks the huggingface_hub layout: refs/main, one
/// blob per file named by its (LFS) etag, relative snapshot symlinks, `.no_exist` markers for
/// the optional files the repo lacks, and progress ending with every byte of every file.
fn fetch_and_check_layout(
    repo_id: &str,
    commit: &str,
    absent_optional_files: &[&str],
) -> (tempfile::TempDir, PathBuf) {
    let hub = FakeHub::start(served_repos(), Faults::default());
    let cache = tempfile::tempdir().unwrap();
    let events = RefCell::new(Vec::new());
    let snapshot = resolve_model(&spec(repo_id), &settings(cache.path(), &hub), &|event| {
        events.borrow_mut().push(event)
    })
    .unwrap();

    let repo_root = cache
        .path()
        .join(format!("models--{}", repo_id.replace('/', "--")));
    assert_eq!(snapshot, repo_root.join("snapshots").join(commit));
    assert_eq!(
        std::fs::read_to_string(repo_root.join("refs/main")).unwrap(),
        commit
    );
    let served = &served_repos()[repo_id];
    for (file, bytes) in &served.files {
        let link = snapshot.join(file);
        assert_eq!(
            std::fs::read_link(&link).unwrap(),
            Path::new("../../blobs").join(served.etag(file)),
            "{file}"
        );
        assert_eq!(&std::fs::read(&link).unwrap(), bytes, "{file}");
    }
    let mut expected_layout: Vec<String> = served
        .files
        .keys()
        .map(|file| format!("snapshots/{commit}/{file}"))
        .chain(
            served
                .files
                .keys()
                .map(|file| format!("blobs/{}", served.etag(file))),
        )
        .chain(["refs/main".to_owned()])
        .chain(
            absent_optional_files
                .iter()
                .map(|file| format!(".no_exist/{commit}/{file}")),
        )
        .collect();
    expected_layout.sort();
    assert_eq!(files_under(&repo_root), expected_layout);

    let mut last_event: BTreeMap<String, DownloadProgress> = BTreeMap::new();
    for event in events.into_inner() {
        assert!(event.bytes_done <= event.bytes_total, "{event:?}");
        last_event.insert(event.file_name.clone(), event);
    }
    assert_eq!(
        last_event.keys().collect::<Vec<_>>(),
        served.files.keys().collect::<Vec<_>>()
    );
    for (file, event) in &last_event {
        let size = served.files[file].len() as u64;
        assert_eq!(
            (event.bytes_done, event.bytes_total),
            (size, size),
            "{file}"
        );
    }
    (cache, snapshot)
}

/// Loads both directories and requires identical log-probabilities, within tolerance of what
/// transformers computed for the fixture.
fn assert_scores_like_the_original(snapshot: &Path, fixture: &str) {
    let fetched = LanguageModel::load(snapshot).unwrap();
    let original = LanguageModel::load(&fixture_dir(fixture)).unwrap();
    let expected_text =
        std::fs::read_to_string(fixture_dir(fixture).join("expected.json")).unwrap();
    let expected: Expected = serde_json::from_str(&expected_text).unwrap();
    let case = &expected.cases[0];
    let fetched_logprobs = fetched
        .transformer
        .score(&case.prompt_token_ids, &case.continuation_token_ids)
        .unwrap();
    let original_logprobs = original
        .transformer
        .score(&case.prompt_token_ids, &case.continuation_token_ids)
        .unwrap();
    assert_eq!(fetched_logprobs, original_logprobs);
    assert_eq!(fetched_logprobs.len(), case.logprobs.len());
    for (got, want) in fetched_logprobs.iter().zip(&case.logprobs) {
        if let (Some(got), Some(want)) = (got, want) {
            assert!((f64::from(*got) - want).abs() <= LOGPROB_TOLERANCE);
        }
    }
}

#[test]
fn first_fetch_writes_the_hub_cache_layout_and_the_model_scores_like_the_original() {
    let (_cache, snapshot) = fetch_and_check_layout(
        SINGLE_FILE_REPO,
        SINGLE_FILE_COMMIT,
        &["special_tokens_map.json"],
    );
    assert_scores_like_the_original(&snapshot, SINGLE_FILE_FIXTURE);
}

#[test]
fn a_sharded_checkpoint_is_fetched_with_every_shard_its_index_lists() {
    fetch_and_check_layout(
        SHARDED_REPO,
        SHARDED_COMMIT,
        &[
            "chat_template.jinja",
            "proofwright.json",
            "special_tokens_map.json",
        ],
    );
}

#[test]
fn a_fetched_sharded_checkpoint_scores_like_the_original() {
    let (_cache, snapshot) = fetch_and_check_layout(
        SHARDED_REPO,
        SHARDED_COMMIT,
        &[
            "chat_template.jinja",
            "proofwright.json",
            "special_tokens_map.json",
        ],
    );
    assert_scores_like_the_original(&snapshot, SHARDED_FIXTURE);
}

#[test]
fn a_cached_model_needs_one_request_and_none_once_the_hub_is_gone() {
    let hub = FakeHub::start(served_repos(), Faults::default());
    let cache = tempfile::tempdir().unwrap();
    let settings = settings(cache.path(), &hub);
    let first = resolve_model(&spec(SINGLE_FILE_REPO), &settings, &no_progress).unwrap();
    assert_eq!(
        std::fs::read_to_string(first.join("chat_template.jinja")).unwrap(),
        CHAT_TEMPLATE
    );

    // Online with everything cached: only the revision is checked.
    hub.clear_log();
    let second = resolve_model(&spec(SINGLE_FILE_REPO), &settings, &no_progress).unwrap();
    assert_eq!(second, first);
    let requests: Vec<String> = hub
        .requests()
        .iter()
        .map(|request| format!("{} {}", request.method, request.path))
        .collect();
    assert_eq!(
        requests,
        vec![format!("HEAD /{SINGLE_FILE_REPO}/resolve/main/config.json")]
    );

    // The hub stopped: the cache answers, online and offline alike.
    drop(hub);
    let third = resolve_model(&spec(SINGLE_FILE_REPO), &settings, &no_progress).unwrap();
    assert_eq!(third, first);
    let offline = HubSettings {
        offline: true,
        ..settings.clone()
    };
    let fourth = resolve_model(&spec(SINGLE_FILE_REPO), &offline, &no_progress).unwrap();
    assert_eq!(fourth, first);
    let pinned = format!("{SINGLE_FILE_REPO}@{SINGLE_FILE_COMMIT}");
    let fifth = resolve_model(&spec(&pinned), &offline, &no_progress).unwrap();
    assert_eq!(fifth, first);
    LanguageModel::load(&fifth).unwrap();
}

#[test]
fn offline_with_an_empty_cache_explains_how_to_get_a_model() {
    let cache = tempfile::tempdir().unwrap();
    let offline = HubSettings {
        cache_dir: cache.path().to_owned(),
        endpoint: "http://127.0.0.1:9".to_owned(),
        offline: true,
        token: None,
    };
    let error = resolve_model(&spec(SHARDED_REPO), &offline, &no_progress).unwrap_err();
    let message = error
        .to_string()
        .replace(&cache.path().display().to_string(), "<cache>");
    assert_eq!(
        message,
        format!(
            "proofwright-tests/tiny-qwen3@main is not in the Hugging Face cache at <cache> (no \
             <cache>/models--proofwright-tests--tiny-qwen3/refs/main holds its commit) and \
             HF_HUB_OFFLINE is set; {HOW_TO_GET_A_MODEL}"
        )
    );
    for must_mention in [
        "huggingface-cli download ORG/NAME",
        "HF_HOME",
        "pass its path",
    ] {
        assert!(message.contains(must_mention), "{must_mention}: {message}");
    }
}

#[test]
fn unreachable_hub_and_empty_cache_is_an_error_with_the_same_advice() {
    let hub = FakeHub::start(BTreeMap::new(), Faults::default());
    let cache = tempfile::tempdir().unwrap();
    let settings = settings(cache.path(), &hub);
    drop(hub);
    let error = resolve_model(&spec(SHARDED_REPO), &settings, &no_progress).unwrap_err();
    assert!(matches!(error, HubError::Unreachable { .. }), "{error}");
    assert!(error.to_string().contains(HOW_TO_GET_A_MODEL), "{error}");
}

fn assert_nothing_trusted(cache: &Path) {
    let files = files_under(cache);
    assert!(
        files.iter().all(|file| !file.contains("/snapshots/")
            && !file.contains("/blobs/")
            && !file.contains("/refs/")),
        "the cache holds {files:?}"
    );
}

#[test]
fn unknown_repo_and_unknown_revision_are_named() {
    let hub = FakeHub::start(served_repos(), Faults::default());
    let cache = tempfile::tempdir().unwrap();
    let settings = settings(cache.path(), &hub);
    let error = resolve_model(
        &spec("proofwright-tests/no-such-model"),
        &settings,
        &no_progress,
    )
    .unwrap_err();
    assert!(matches!(error, HubError::RepoNotFound { .. }), "{error}");
    assert_eq!(
        error.to_string(),
        format!(
            "repository proofwright-tests/no-such-model was not found at {}; check the \
             spelling, set HF_TOKEN if it is private, or pass an existing directory if you \
             meant a local path",
            hub.endpoint
        )
    );
    let error = resolve_model(
        &spec(&format!("{SHARDED_REPO}@no-such-branch")),
        &settings,
        &no_progress,
    )
    .unwrap_err();
    assert_eq!(
        error.to_string(),
        "repository proofwright-tests/tiny-qwen3 has no revision `no-such-branch`; pass an \
         existing branch, tag or commit"
    );
    assert_nothing_trusted(cache.path());
}

#[test]
fn a_truncated_download_is_an_error_that_keeps_nothing_and_a_rerun_recovers() {
    let served = served_repos();
    let shard = "model-00002-of-00002.safetensors";
    let faults = Faults {
        truncate: Some((shard.to_owned(), 1000)),
        status_for_everything: None,
    };
    let hub = FakeHub::start(served.clone(), faults);
    let cache = tempfile::tempdir().unwrap();
    let error = resolve_model(
        &spec(SHARDED_REPO),
        &settings(cache.path(), &hub),
        &no_progress,
    )
    .unwrap_err();
    let shard_size = served[SHARDED_REPO].files[shard].len() as u64;
    match &error {
        HubError::Interrupted {
            file,
            bytes_total,
            bytes_done,
            ..
        } => {
            assert_eq!((file.as_str(), *bytes_total), (shard, shard_size));
            assert!(*bytes_done <= 1000);
        }
        HubError::SizeMismatch {
            file,
            bytes_received,
            bytes_announced,
        } => assert_eq!(
            (file.as_str(), *bytes_received, *bytes_announced),
            (shard, 1000, shard_size)
        ),
        other => panic!("unexpected error: {other}"),
    }
    assert!(error
        .to_string()
        .contains("nothing was kept, run again to retry"));
    let repo_root = cache.path().join("models--proofwright-tests--tiny-qwen3");
    let shard_blob = served[SHARDED_REPO].etag(shard);
    let files = files_under(&repo_root);
    assert!(
        !files.iter().any(|file| file.contains(&shard_blob)
            || file.ends_with(".incomplete")
            || file.ends_with(shard)),
        "a partial shard was kept: {files:?}"
    );
    // The files that did arrive are whole, and no ref claims the snapshot is complete.
    assert!(!repo_root.join("refs/main").exists());
    drop(hub);

    let hub = FakeHub::start(served.clone(), Faults::default());
    let snapshot = resolve_model(
        &spec(SHARDED_REPO),
        &settings(cache.path(), &hub),
        &no_progress,
    )
    .unwrap();
    for (file, bytes) in &served[SHARDED_REPO].files {
        assert_eq!(
            &std::fs::read(snapshot.join(file)).unwrap(),
            bytes,
            "{file}"
        );
    }
}

#[test]
fn a_server_error_is_reported_with_its_status_and_keeps_nothing() {
    let faults = Faults {
        truncate: None,
        status_for_everything: Some(503),
    };
    let hub = FakeHub::start(served_repos(), faults);
    let cache = tempfile::tempdir().unwrap();
    let error = resolve_model(
        &spec(SHARDED_REPO),
        &settings(cache.path(), &hub),
        &no_progress,
    )
    .unwrap_err();
    assert_eq!(
        error.to_string(),
        format!(
            "the hub answered HTTP 503 for {}/{SHARDED_REPO}/resolve/main/config.json; the \
             server failed, try again later",
            hub.endpoint
        )
    );
    assert_nothing_trusted(cache.path());

    // With the model cached, a failing hub is no reason to refuse it.
    let working_hub = FakeHub::start(served_repos(), Faults::default());
    let cached = resolve_model(
        &spec(SHARDED_REPO),
        &settings(cache.path(), &working_hub),
        &no_progress,
    )
    .unwrap();
    let again = resolve_model(
        &spec(SHARDED_REPO),
        &settings(cache.path(), &hub),
        &no_progress,
    )
    .unwrap();
    assert_eq!(again, cached);
}

#[test]
fn a_repo_without_safetensors_weights_is_named() {
    let mut repos = served_repos();
    let repo = repos.get_mut(SINGLE_FILE_REPO).unwrap();
    repo.files.remove("model.safetensors");
    let hub = FakeHub::start(repos, Faults::default());
    let cache = tempfile::tempdir().unwrap();
    let error = resolve_model(
        &spec(SINGLE_FILE_REPO),
        &settings(cache.path(), &hub),
        &no_progress,
    )
    .unwrap_err();
    assert_eq!(
        error.to_string(),
        "proofwright-tests/tiny-llama@main has neither model.safetensors nor \
         model.safetensors.index.json; only safetensors checkpoints are supported"
    );
}

#[test]
fn the_token_goes_to_the_hub_as_a_bearer_header() {
    let hub = FakeHub::start(served_repos(), Faults::default());
    let cache = tempfile::tempdir().unwrap();
    let with_token = HubSettings {
        token: Some("hf_test_token".to_owned()),
        ..settings(cache.path(), &hub)
    };
    resolve_model(&spec(SINGLE_FILE_REPO), &with_token, &no_progress).unwrap();
    let resolve_requests: Vec<Logged> = hub
        .requests()
        .into_iter()
        .filter(|request| request.path.contains("/resolve/"))
        .collect();
    assert!(!resolve_requests.is_empty());
    for request in resolve_requests {
        assert_eq!(
            request.authorization.as_deref(),
            Some("Bearer hf_test_token"),
            "{} {}",
            request.method,
            request.path
        );
    }
}

/// A cache laid out by huggingface_hub (Python) by hand: refs/main, snapshot symlinks into
/// blobs. Offline resolution must find it.
#[test]
fn a_model_cached_by_huggingface_hub_is_found_offline() {
    let cache = tempfile::tempdir().unwrap();
    let repo_root = cache.path().join("models--deepseek-ai--tiny-prover");
    let commit = "a".repeat(40);
    let snapshot = repo_root.join("snapshots").join(&commit);
    std::fs::create_dir_all(&snapshot).unwrap();
    std::fs::create_dir_all(repo_root.join("blobs")).unwrap();
    std::fs::create_dir_all(repo_root.join("refs")).unwrap();
    std::fs::write(repo_root.join("refs/main"), &commit).unwrap();
    for entry in std::fs::read_dir(fixture_dir(SINGLE_FILE_FIXTURE)).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let bytes = std::fs::read(&path).unwrap();
        let blob = fake_hash(&bytes, 64);
        std::fs::write(repo_root.join("blobs").join(&blob), &bytes).unwrap();
        std::os::unix::fs::symlink(format!("../../blobs/{blob}"), snapshot.join(&name)).unwrap();
    }
    let offline = HubSettings {
        cache_dir: cache.path().to_owned(),
        endpoint: "http://127.0.0.1:9".to_owned(),
        offline: true,
        token: None,
    };
    let found = resolve_model(&spec("deepseek-ai/tiny-prover"), &offline, &no_progress).unwrap();
    assert_eq!(found, snapshot);
    LanguageModel::load(&found).unwrap();

    // A snapshot missing a file is not complete: the error says which.
    std::fs::remove_file(snapshot.join("tokenizer.json")).unwrap();
    let error =
        resolve_model(&spec("deepseek-ai/tiny-prover"), &offline, &no_progress).unwrap_err();
    assert!(
        error.to_string().contains("lacks tokenizer.json"),
        "{error}"
    );
}

#[test]
fn model_specs_are_directories_or_repo_ids() {
    let fixture = fixture_dir(SINGLE_FILE_FIXTURE);
    assert_eq!(
        ModelSpec::parse(fixture.to_str().unwrap()).unwrap(),
        ModelSpec::Directory(fixture.clone())
    );
    let repo = |repo_id: &str, revision: &str| {
        ModelSpec::HubRepo(HubRepo {
            repo_id: repo_id.to_owned(),
            revision: revision.to_owned(),
        })
    };
    for (text, expected) in [
        (
            "deepseek-ai/DeepSeek-Prover-V2-7B",
            repo("deepseek-ai/DeepSeek-Prover-V2-7B", "main"),
        ),
        (
            "Goedel-LM/Goedel-Prover-V2-8B@v1.0",
            repo("Goedel-LM/Goedel-Prover-V2-8B", "v1.0"),
        ),
        (
            "AI-MO/Kimina-Prover-Distill-1.7B@refs/pr/3",
            repo("AI-MO/Kimina-Prover-Distill-1.7B", "refs/pr/3"),
        ),
        (
            "org/name.v2_x@0123456789abcdef0123456789abcdef01234567",
            repo("org/name.v2_x", "0123456789abcdef0123456789abcdef01234567"),
        ),
    ] {
        assert_eq!(ModelSpec::parse(text).unwrap(), expected, "{text}");
    }
    let rejected = [
        ("", "it is empty"),
        (
            "gpt2",
            "a repo id has exactly one `/` (ORG/NAME), `gpt2` has 0",
        ),
        (
            "a/b/c",
            "a repo id has exactly one `/` (ORG/NAME), `a/b/c` has 2",
        ),
        ("/no/such/dir", "no such directory"),
        ("./models/missing", "no such directory"),
        (
            "org/na me",
            "` ` is not allowed in a repo id (letters, digits, `-`, `_` and `.` are)",
        ),
        ("org/name@", "the revision after `@` is empty"),
        (
            "org/-name",
            "ORG and NAME must not start or end with `-` or `.`",
        ),
        ("org/na--me", "`--` and `..` are not allowed in a repo id"),
        (
            "org/name@a/../b",
            "`a/../b` is not a branch, tag or commit name",
        ),
    ];
    for (text, problem) in rejected {
        let error = ModelSpec::parse(text).unwrap_err();
        assert_eq!(
            error.to_string(),
            format!(
                "`{text}` is neither an existing model directory nor a Hugging Face repo id: \
                 {problem}; pass a directory holding config.json, or ORG/NAME or \
                 ORG/NAME@REVISION"
            ),
            "{text}"
        );
    }
}

#[test]
fn settings_come_from_the_same_variables_as_huggingface_hub() {
    let settings_from = |pairs: &[(&str, &str)]| {
        let variables: BTreeMap<String, String> = pairs
            .iter()
            .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
            .collect();
        HubSettings::from_variables(|name| variables.get(name).cloned())
    };
    let defaults = settings_from(&[("HOME", "/home/lean")]).unwrap();
    assert_eq!(
        defaults.cache_dir,
        PathBuf::from("/home/lean/.cache/huggingface/hub")
    );
    assert_eq!(defaults.endpoint, "https://huggingface.co");
    assert!(!defaults.offline);
    assert_eq!(defaults.token, None);

    let custom = settings_from(&[
        ("HOME", "/home/lean"),
        ("HF_HOME", "~/hf"),
        ("HF_ENDPOINT", "http://127.0.0.1:8080/"),
        ("HF_HUB_OFFLINE", "1"),
        ("HF_TOKEN", " hf_abc \n"),
    ])
    .unwrap();
    assert_eq!(custom.cache_dir, PathBuf::from("/home/lean/hf/hub"));
    assert_eq!(custom.endpoint, "http://127.0.0.1:8080");
    assert!(custom.offline);
    assert_eq!(custom.token.as_deref(), Some("hf_abc"));

    let hub_cache =
        settings_from(&[("HF_HOME", "/data/hf"), ("HF_HUB_CACHE", "/fast/hub")]).unwrap();
    assert_eq!(hub_cache.cache_dir, PathBuf::from("/fast/hub"));
    let xdg = settings_from(&[("HOME", "/home/lean"), ("XDG_CACHE_HOME", "/xdg")]).unwrap();
    assert_eq!(xdg.cache_dir, PathBuf::from("/xdg/huggingface/hub"));

    let hf_home = tempfile::tempdir().unwrap();
    std::fs::write(hf_home.path().join("token"), "hf_from_file\n").unwrap();
    let from_file = settings_from(&[("HF_HOME", hf_home.path().to_str().unwrap())]).unwrap();
    assert_eq!(from_file.token.as_deref(), Some("hf_from_file"));
    assert_eq!(from_file.cache_dir, hf_home.path().join("hub"));

    let errors: Vec<String> = [
        settings_from(&[]),
        settings_from(&[("HOME", "/h"), ("HF_ENDPOINT", "huggingface.co")]),
        settings_from(&[("HOME", "/h"), ("HF_HUB_OFFLINE", "maybe")]),
    ]
    .into_iter()
    .map(|result| result.unwrap_err().to_string())
    .collect();
    assert_eq!(
        errors,
        vec![
            "cannot find the Hugging Face cache: neither HF_HOME, HF_HUB_CACHE nor HOME is set; \
             set HF_HOME to a writable folder"
                .to_owned(),
            "HF_ENDPOINT=`huggingface.co` is invalid: it must be a URL starting with http:// or \
             https://"
                .to_owned(),
            "HF_HUB_OFFLINE=`maybe` is invalid: use 1 (or true, yes, on) or 0 (or false, no, off)"
                .to_owned(),
        ]
    );
}
