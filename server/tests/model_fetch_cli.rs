//! `proofwright check --model ORG/NAME` end to end: the binary fetches the tiny trained prover
//! by repo id from a fake Hugging Face hub on 127.0.0.1 (a test double shared with the model
//! crate's fetch tests) into a temporary Hugging Face cache, takes the calibrated threshold from
//! the `proofwright.json` the repo publishes, reports exactly what the local directory gives, and
//! runs again offline from the cache once the hub is gone.

#[path = "../../model/tests/support/fake_hub.rs"]
mod fake_hub;
mod support;

use fake_hub::{FakeHub, Faults, ServedRepo};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Output};
use support::{proofwright_binary, tiny_prover};

const REPO: &str = "proofwright-tests/tiny-prover";
const COMMIT: &str = "00112233445566778899aabbccddeeff00112233";
/// A sorry whose proof the tiny prover memorised.
const LEAN_FILE: &str = "theorem add_zero_example (n : Nat) : n + 0 = n := by sorry\n";
const SEARCH: [&str; 8] = [
    "--samples",
    "2",
    "--rounds",
    "0",
    "--max-new-tokens",
    "48",
    "--seed",
    "5",
];

/// Runs `check` on `file` with `model`, with Lean off and the Hugging Face variables pointing at
/// `hf_home` and `endpoint` (offline when there is none).
fn check(file: &Path, model: &str, hf_home: &Path, endpoint: Option<&str>) -> Output {
    let mut command = Command::new(proofwright_binary());
    command
        .arg("check")
        .arg(file)
        .args(["--model", model, "--lean", "off", "--format", "json"])
        .args(SEARCH)
        .env("HF_HOME", hf_home)
        .env_remove("HF_HUB_CACHE")
        .env_remove("HF_TOKEN")
        .env_remove("HF_ENDPOINT")
        .env_remove("HF_HUB_OFFLINE");
    match endpoint {
        Some(endpoint) => command.env("HF_ENDPOINT", endpoint),
        None => command.env("HF_HUB_OFFLINE", "1"),
    };
    command.output().expect("proofwright runs")
}

fn report(output: &Output) -> Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|error| {
        panic!(
            "check printed no JSON ({error}); stderr: {}",
            String::from_utf8_lossy(&output.stderr)
        )
    })
}

#[test]
fn a_repo_id_is_fetched_into_the_cache_and_checks_like_the_local_directory() {
    let hub = FakeHub::start(
        BTreeMap::from([(
            REPO.to_owned(),
            ServedRepo::from_dir(&tiny_prover(), COMMIT),
        )]),
        Faults::default(),
    );
    let work = tempfile::tempdir().expect("temporary folder");
    let file = work.path().join("Basic.lean");
    std::fs::write(&file, LEAN_FILE).expect("lean file");
    let hf_home = work.path().join("hf-home");

    let fetched = check(&file, REPO, &hf_home, Some(&hub.endpoint));
    let fetched_report = report(&fetched);
    let snapshot = hf_home
        .join("hub")
        .join("models--proofwright-tests--tiny-prover")
        .join("snapshots")
        .join(COMMIT);
    assert_eq!(fetched_report["model"]["spec"], REPO, "{fetched_report:#}");
    assert_eq!(
        Path::new(fetched_report["model"]["directory"].as_str().expect("text")),
        snapshot,
        "{fetched_report:#}"
    );
    assert!(
        snapshot.join("proofwright.json").is_file(),
        "the repo's proofwright.json is fetched"
    );

    let local = check(
        &file,
        tiny_prover().to_str().expect("path"),
        &hf_home,
        Some(&hub.endpoint),
    );
    let local_report = report(&local);
    assert_eq!(
        fetched_report["settings"], local_report["settings"],
        "the fetched model's calibrated threshold is used"
    );
    assert_eq!(
        fetched_report["files"], local_report["files"],
        "the same model gives the same report"
    );
    assert_eq!(fetched.status.code(), local.status.code());
    let best = &fetched_report["files"][0]["sorries"][0]["best"];
    assert!(
        best["new_text"]
            .as_str()
            .is_some_and(|text| !text.contains("sorry")),
        "the fetched prover proposes a proof: {fetched_report:#}"
    );

    drop(hub);
    let offline = check(&file, REPO, &hf_home, None);
    assert_eq!(
        report(&offline)["files"],
        fetched_report["files"],
        "offline, the cached snapshot is used: {}",
        String::from_utf8_lossy(&offline.stderr)
    );
}

#[test]
fn an_unknown_repo_id_is_an_error_that_names_it() {
    let hub = FakeHub::start(BTreeMap::new(), Faults::default());
    let work = tempfile::tempdir().expect("temporary folder");
    let file = work.path().join("Basic.lean");
    std::fs::write(&file, LEAN_FILE).expect("lean file");
    let output = check(
        &file,
        "proofwright-tests/no-such-model",
        &work.path().join("hf-home"),
        Some(&hub.endpoint),
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("proofwright-tests/no-such-model"),
        "the message names the repo: {stderr}"
    );
    assert_eq!(
        std::fs::read_to_string(&file).expect("readable"),
        LEAN_FILE,
        "the file is untouched"
    );
}
