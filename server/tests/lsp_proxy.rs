//! `proofwright serve --proxy-lean` with the Lean stand-in test double as Lean's language server
//! (`lake serve`, found by the toolchain discovery): Lean's requests, notifications and
//! server-to-client requests pass through, answers and diagnostics of both servers are merged,
//! and Lean's server does not outlive the session.

mod lsp_support;
mod support;

use lsp_support::{file_uri, process_is_gone, stand_in_process_ids, test_settings, LspClient};
use serde_json::{json, Value};
use support::StandInProject;

const TEXT: &str = "theorem add_comm' (a b : Nat) : a + b = b + a := by\n  rw [Nat.add_comm]\n";

/// A stand-in script: Lean warns about the `rw` step.
const LEAN_SCRIPT: &str = r#"{
  "description": "lsp_proxy: Lean's server reports one warning on the rw step",
  "rules": [{"when_text_contains": "add_comm'", "messages": [{"severity": "warning", "at": "rw", "data": "stand-in: a warning from Lean"}]}]
}"#;

#[test]
fn the_proxy_forwards_lean_and_merges_both_servers() {
    let script_folder = tempfile::tempdir().expect("temporary folder");
    let script = script_folder.path().join("lean-script.json");
    std::fs::write(&script, LEAN_SCRIPT).expect("script");
    let project = StandInProject::new(Some(&script), false);
    let file = project.write("Proxied.lean", TEXT);
    let uri = file_uri(&file);
    let mut client = LspClient::start(&["--proxy-lean"], Some(&project), &[]);
    // Our prover runs without Lean, so that its neural flags show next to Lean's diagnostics.
    let initialized = client.initialize(Some(&project.project()), test_settings("off"));
    insta::assert_snapshot!(
        "proxy_capabilities",
        serde_json::to_string_pretty(&initialized).expect("json")
    );

    // Lean's requests to the editor arrive with ids the proxy can route back.
    let lean_request = client.wait_for("lean's workspace/configuration request", |message| {
        message["method"] == "workspace/configuration"
            && message["params"]["items"] == json!([{"section": "lean"}])
    });
    assert_eq!(lean_request["id"], "lean-proxy:\"stand-in-configuration\"");
    client.wait_for_model();
    client.open(&uri, TEXT);

    // A Lean request passes through; Lean publishes its diagnostics on the way.
    let waited = client.result(
        "textDocument/waitForDiagnostics",
        json!({"uri": uri, "version": 1}),
    );
    assert_eq!(waited, json!({}));
    let merged = client.notification("textDocument/publishDiagnostics", |params| {
        let diagnostics = params["diagnostics"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        params["uri"] == uri.as_str()
            && params["version"] == 1
            && diagnostics
                .iter()
                .any(|diagnostic| diagnostic["source"] == "proofwright")
            && diagnostics
                .iter()
                .any(|diagnostic| diagnostic["message"] == "stand-in: a warning from Lean")
    });
    let lean_messages: Vec<&str> = merged["diagnostics"]
        .as_array()
        .expect("diagnostics")
        .iter()
        .filter(|diagnostic| diagnostic["source"] == "Lean 4")
        .filter_map(|diagnostic| diagnostic["message"].as_str())
        .collect();
    // Had the editor's answers to Lean's requests not reached it, the stand-in would say so.
    assert_eq!(lean_messages, vec!["stand-in: a warning from Lean"]);

    assert_eq!(
        client.result(
            "$/lean/plainGoal",
            json!({"textDocument": {"uri": uri}, "position": {"line": 1, "character": 2}})
        ),
        Value::Null
    );
    let definition = client.request(
        "textDocument/definition",
        json!({"textDocument": {"uri": uri}, "position": {"line": 0, "character": 10}}),
    );
    assert_eq!(
        definition["error"],
        json!({"code": -32601, "message": "stand-in does not simulate textDocument/definition"})
    );

    // Our own features still answer.
    let actions = client.result(
        "textDocument/codeAction",
        json!({"textDocument": {"uri": uri},
               "range": {"start": {"line": 1, "character": 4}, "end": {"line": 1, "character": 4}},
               "context": {"diagnostics": []}}),
    );
    assert_eq!(actions.as_array().map(Vec::len), Some(3), "{actions}");
    let status = client.result(
        "workspace/executeCommand",
        json!({"command": "proofwright.status", "arguments": []}),
    );
    assert_eq!(status["model"]["state"], "ready");

    let lean_processes = stand_in_process_ids(&project);
    assert_eq!(lean_processes.len(), 1, "one Lean server: the proxied one");
    assert!(client.shutdown_and_exit().success());
    let received: Vec<String> = project
        .received()
        .iter()
        .filter_map(|message| message["method"].as_str().map(str::to_owned))
        .collect();
    assert!(
        received.ends_with(&["shutdown".to_owned(), "exit".to_owned()]),
        "Lean's server was shut down: {received:?}"
    );
    for process_id in lean_processes {
        assert!(
            process_is_gone(process_id),
            "Lean's server {process_id} outlived the proxy"
        );
    }
}

#[test]
fn without_lean_the_proxy_serves_its_own_features_and_says_why() {
    let mut client = LspClient::start(&["--proxy-lean"], None, &[]);
    client.initialize(None, test_settings("off"));
    let warning = client.notification("window/showMessage", |params| params["type"] == 2);
    assert!(
        warning["message"].as_str().is_some_and(
            |message| message.contains("only Proofwright's own features are available")
        ),
        "{warning}"
    );
    client.wait_for_model();
    let uri = "file:///virtual/NoLean.lean";
    client.open(uri, TEXT);
    let definition = client.request(
        "textDocument/definition",
        json!({"textDocument": {"uri": uri}, "position": {"line": 0, "character": 10}}),
    );
    assert_eq!(definition["error"]["code"], -32601, "{definition}");
    let lens = client.result(
        "textDocument/codeLens",
        json!({"textDocument": {"uri": uri}}),
    );
    assert_eq!(lens.as_array().map(Vec::len), Some(1));
    assert!(client.shutdown_and_exit().success());
}
