//! End-to-end sessions with `proofwright serve`, driven over stdio as an editor drives it, with
//! the random-weight fixture model and the Lean stand-in test double: diagnostics, hover, code
//! lens, code actions, completion, proving a `sorry` and applying the edit, cancellation,
//! configuration changes, shutdown.

mod lsp_support;
mod support;

use lsp_support::{
    file_uri, process_is_gone, stand_in_process_ids, test_model, test_settings, LspClient,
};
use serde_json::{json, Value};
use support::{tiny_prover, StandInProject};

const FLAGGED_PROOF: &str =
    "theorem add_comm' (a b : Nat) : a + b = b + a := by\n  rw [Nat.add_comm]\n";
const SORRY_PROOF: &str = "theorem demo (a b : Nat) : a + b = b + a := by\n  sorry\n";

fn position(uri: &str, line: u32, character: u32) -> Value {
    json!({"textDocument": {"uri": uri}, "position": {"line": line, "character": character}})
}

fn titles(actions: &Value) -> Vec<String> {
    actions
        .as_array()
        .expect("a list")
        .iter()
        .map(|action| action["title"].as_str().unwrap_or("").to_owned())
        .collect()
}

fn lens_titles(client: &mut LspClient, uri: &str) -> Vec<String> {
    client
        .result(
            "textDocument/codeLens",
            json!({"textDocument": {"uri": uri}}),
        )
        .as_array()
        .expect("a list")
        .iter()
        .map(|lens| lens["command"]["title"].as_str().unwrap_or("").to_owned())
        .collect()
}

#[test]
fn neural_flags_are_diagnostics_hover_code_lens_and_code_actions() {
    let mut client = LspClient::start(&[], None, &[]);
    client.initialize(None, test_settings("off"));
    client.wait_for_model();
    let uri = "file:///virtual/Flags.lean";
    client.open(uri, FLAGGED_PROOF);

    let mut diagnostics = client.diagnostics(uri, 1);
    for diagnostic in &mut diagnostics {
        // Raw scores may differ in their last bits between SIMD paths; the message rounds them.
        diagnostic["data"]["score"] = json!("<score>");
    }
    insta::assert_snapshot!(
        "flag_diagnostics",
        serde_json::to_string_pretty(&diagnostics).expect("json")
    );

    let hover = client.result("textDocument/hover", position(uri, 1, 4));
    insta::assert_snapshot!(
        "flag_hover",
        hover["contents"]["value"].as_str().unwrap_or("")
    );
    assert_eq!(
        hover["range"],
        json!({"start": {"line": 1, "character": 2}, "end": {"line": 1, "character": 19}})
    );

    assert_eq!(
        lens_titles(&mut client, uri),
        vec!["proofwright: 1 flagged"]
    );

    let actions = client.result(
        "textDocument/codeAction",
        json!({"textDocument": {"uri": uri},
               "range": {"start": {"line": 1, "character": 4}, "end": {"line": 1, "character": 4}},
               "context": {"diagnostics": []}}),
    );
    assert_eq!(
        titles(&actions),
        vec![
            "Refine this step",
            "Replace with an alternative",
            "Verify this proof"
        ]
    );
    assert_eq!(
        actions[0]["command"],
        json!({"title": "Refine this step", "command": "proofwright.refine",
               "arguments": [{"uri": uri, "position": {"line": 1, "character": 2}}]})
    );

    let verified = client.result(
        "workspace/executeCommand",
        json!({"command": "proofwright.verify", "arguments": [{"uri": uri, "position": {"line": 1, "character": 4}}]}),
    );
    assert_eq!(verified["provenance"], "flagged");
    assert_eq!(verified["flagged"].as_array().map(Vec::len), Some(1));
    assert_eq!(
        verified["flagged"][0]["range"],
        json!({"start": {"line": 1, "character": 2}, "end": {"line": 1, "character": 19}})
    );

    // Completion where a next step is being typed.
    let typing = format!("{FLAGGED_PROOF}  s");
    let version = client.change(uri, &typing);
    client.diagnostics(uri, version);
    let completion = client.result("textDocument/completion", position(uri, 2, 3));
    let items = completion.as_array().expect("a list of items");
    assert!(!items.is_empty(), "no completion items: {completion}");
    for (rank, item) in items.iter().enumerate() {
        let detail = item["detail"].as_str().unwrap_or("");
        assert!(
            detail.starts_with("proofwright 0.") && !detail.contains('✓'),
            "a proposal Lean did not check carries a score and no check mark: {item}"
        );
        assert_eq!(item["sortText"], format!("{rank:04}"));
        assert_eq!(
            item["textEdit"]["range"],
            json!({"start": {"line": 2, "character": 2}, "end": {"line": 2, "character": 3}})
        );
        assert_eq!(item["data"]["proofwright"], true);
    }
    // Outside a tactic proof there is nothing to propose.
    assert_eq!(
        client.result("textDocument/completion", position(uri, 0, 3)),
        Value::Null
    );

    assert!(client.shutdown_and_exit().success());
}

#[test]
fn proving_a_sorry_applies_the_edit_and_the_proof_becomes_lean_verified() {
    let project = StandInProject::new(None, true);
    let file = project.write("Demo.lean", SORRY_PROOF);
    let uri = file_uri(&file);
    let mut client = LspClient::start(&[], Some(&project), &[]);
    client.initialize(Some(&project.project()), test_settings("auto"));
    client.wait_for_model();
    client.open(&uri, SORRY_PROOF);
    client.diagnostics(&uri, 1);
    assert_eq!(
        lens_titles(&mut client, &uri),
        vec!["proofwright: unproved"]
    );

    let status = client.result(
        "workspace/executeCommand",
        json!({"command": "proofwright.status", "arguments": []}),
    );
    assert_eq!(status["lean"]["state"], "available", "{status}");
    assert!(
        status["lean"]["message"]
            .as_str()
            .is_some_and(|message| message.contains("REPL")),
        "{status}"
    );

    let actions = client.result(
        "textDocument/codeAction",
        json!({"textDocument": {"uri": uri},
               "range": {"start": {"line": 1, "character": 3}, "end": {"line": 1, "character": 3}},
               "context": {"diagnostics": []}}),
    );
    assert_eq!(
        titles(&actions),
        vec!["Prove this sorry", "Verify this proof"]
    );
    let prove = &actions[0]["command"];
    assert_eq!(prove["command"], "proofwright.prove");

    let result = client.result(
        "workspace/executeCommand",
        json!({"command": prove["command"], "arguments": prove["arguments"]}),
    );
    assert_eq!(result["applied"], true, "{result}");
    assert_eq!(result["provenance"], "lean-verified", "{result}");
    assert_eq!(
        result["edit"]["documentChanges"][0]["textDocument"],
        json!({"uri": uri, "version": 1})
    );
    let text = client.text(&uri);
    assert!(!text.contains("sorry"), "the sorry was replaced: {text:?}");
    assert!(text.starts_with("theorem demo (a b : Nat) : a + b = b + a := by\n  "));

    // The server saw the edit as version 2 and verified the proof again.
    client.diagnostics(&uri, 2);
    assert_eq!(
        lens_titles(&mut client, &uri),
        vec!["proofwright: lean-verified"]
    );

    let lean_processes = stand_in_process_ids(&project);
    assert!(!lean_processes.is_empty(), "the stand-in was started");
    assert!(client.shutdown_and_exit().success());
    for process_id in lean_processes {
        assert!(
            process_is_gone(process_id),
            "Lean stand-in {process_id} outlived the server"
        );
    }
}

/// A stand-in script under which Lean never answers about a declaration named `hangs`.
const HANGING_LEAN_SCRIPT: &str = r#"{"rules": [{"when_text_contains": "theorem hangs", "behaviour": "slow", "delay_seconds": 3600}]}"#;

/// How long a cancelled Lean check may take to die: far below the pool's 60 s request timeout,
/// which is what used to end such a check.
const LEAN_KILL_LIMIT: std::time::Duration = std::time::Duration::from_secs(20);

/// An edit cancels the background verification of the old version even while Lean is checking
/// it: the Lean process is killed at once (not left to the 60 s request timeout) and the new
/// version is verified.
#[test]
fn an_edit_kills_the_lean_check_of_the_version_it_replaces() {
    let script_folder = tempfile::tempdir().expect("temporary folder");
    let script = script_folder.path().join("hanging.json");
    std::fs::write(&script, HANGING_LEAN_SCRIPT).expect("script");
    let project = StandInProject::new(Some(&script), true);
    let hanging = "theorem hangs (a b : Nat) : a + b = b + a := by\n  sorry\n";
    let file = project.write("Hangs.lean", hanging);
    let uri = file_uri(&file);
    let mut client = LspClient::start(&[], Some(&project), &[]);
    client.initialize(Some(&project.project()), test_settings("auto"));
    client.wait_for_model();
    client.open(&uri, hanging);

    // Wait until Lean is checking version 1 (and will not answer).
    let deadline = std::time::Instant::now() + lsp_support::WAIT_LIMIT;
    while !project.received().iter().any(|request| {
        request["cmd"]
            .as_str()
            .is_some_and(|command| command.contains("theorem hangs"))
    }) {
        assert!(std::time::Instant::now() < deadline, "lean was never asked");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let checking = stand_in_process_ids(&project);
    assert!(!checking.is_empty(), "the stand-in was started");

    let version = client.change(&uri, SORRY_PROOF);
    client.diagnostics(&uri, version);
    let killed_by = std::time::Instant::now() + LEAN_KILL_LIMIT;
    for process_id in checking {
        while !process_is_gone(process_id) {
            assert!(
                std::time::Instant::now() < killed_by,
                "the Lean check of the replaced version ({process_id}) was not stopped"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }
    client.wait_for_idle_queue();
    assert!(client.shutdown_and_exit().success());
}

#[test]
fn a_search_is_cancelled_by_cancel_request_and_by_its_progress_and_answered_once() {
    let mut client = LspClient::start(&[], None, &[]);
    let mut settings = test_settings("off");
    settings["rounds"] = json!(1000);
    client.initialize(None, settings);
    client.wait_for_model();
    let uri = "file:///virtual/Cancel.lean";
    client.open(uri, SORRY_PROOF);
    client.diagnostics(uri, 1);
    let arguments = json!([{"uri": uri, "position": {"line": 1, "character": 3}}]);

    // $/cancelRequest while the search runs.
    let id = client.send_request(
        "workspace/executeCommand",
        json!({"command": "proofwright.prove", "arguments": arguments}),
    );
    let token = client.notification("$/progress", |params| params["value"]["kind"] == "report")
        ["token"]
        .clone();
    client.notify("$/cancelRequest", json!({"id": id}));
    let cancelled = client.response(&id);
    assert_eq!(cancelled["error"]["code"], -32800, "{cancelled}");
    client.notification("$/progress", |params| {
        params["token"] == token && params["value"]["kind"] == "end"
    });

    // The progress's cancel button, on a token the editor made.
    let second = client.send_request(
        "workspace/executeCommand",
        json!({"command": "proofwright.prove", "arguments": arguments, "workDoneToken": "editor-token"}),
    );
    client.notification("$/progress", |params| {
        params["token"] == "editor-token" && params["value"]["kind"] == "report"
    });
    client.notify(
        "window/workDoneProgress/cancel",
        json!({"token": "editor-token"}),
    );
    let stopped = client.response(&second);
    assert_eq!(stopped["result"]["applied"], false, "{stopped}");
    assert!(
        stopped["result"]["message"]
            .as_str()
            .is_some_and(|message| message.ends_with("cancelled)")),
        "{stopped}"
    );

    // Nothing is left running, and nothing is answered twice.
    client.wait_for_idle_queue();
    client.request("shutdown", Value::Null);
    client.notify("exit", Value::Null);
    let later = client.messages_until_end();
    for request_id in [&id, &second] {
        assert!(
            !later
                .iter()
                .any(|message| message.get("id") == Some(request_id)
                    && message.get("method").is_none()),
            "request {request_id} was answered twice"
        );
    }
    assert!(client.wait_for_exit().success());
}

#[test]
fn configuration_comes_from_the_editor_and_follows_its_changes() {
    let mut client = LspClient::start(&[], None, &[]);
    // The editor's configuration names a model that does not exist.
    let mut broken = test_settings("auto");
    broken["model"] = json!("/nonexistent/model-folder");
    client.configuration = Some(broken);
    client.initialize(None, test_settings("auto"));
    let failed = client.notification("proofwright/status", |status| {
        status["model"]["state"] == "failed"
    });
    assert_eq!(failed["model"]["spec"], "/nonexistent/model-folder");
    assert_eq!(failed["lean"]["state"], "unavailable");
    let shown = client.notification("window/showMessage", |params| params["type"] == 1);
    assert!(
        shown["message"]
            .as_str()
            .is_some_and(|message| message.contains("/nonexistent/model-folder failed to load")),
        "{shown}"
    );

    // Work that needs the model says why it cannot be done; the server goes on.
    let uri = "file:///virtual/Config.lean";
    client.open(uri, SORRY_PROOF);
    let refused = client.request(
        "workspace/executeCommand",
        json!({"command": "proofwright.prove", "arguments": [{"uri": uri, "position": {"line": 1, "character": 3}}]}),
    );
    assert_eq!(refused["error"]["code"], -32803, "{refused}");
    assert!(refused["error"]["message"]
        .as_str()
        .is_some_and(|message| message.contains("failed to load")));

    // A pushed change: a good model and a bad value, which is reported and ignored.
    client.notify(
        "workspace/didChangeConfiguration",
        json!({"settings": {"proofwright": {"model": test_model(), "samples": 0}}}),
    );
    let warning = client.notification("window/showMessage", |params| params["type"] == 2);
    assert_eq!(
        warning["message"],
        "Proofwright settings: proofwright.samples: expected a whole number from 1 to 64, got 0; keeping 2"
    );
    client.wait_for_model();

    // A pulled change: the notification carries nothing, the server asks.
    let mut pulled = test_settings("off");
    pulled["model"] = json!(test_model());
    client.configuration = Some(pulled);
    client.notify(
        "workspace/didChangeConfiguration",
        json!({"settings": null}),
    );
    client.notification("proofwright/status", |status| {
        status["lean"]["state"] == "off" && status["model"]["state"] == "ready"
    });
    assert!(client
        .server_requests
        .iter()
        .filter(|request| request["method"] == "workspace/configuration")
        .all(|request| request["params"]["items"] == json!([{"section": "proofwright"}])));
    assert!(client.shutdown_and_exit().success());
}

/// A theorem with two sorries, whose proofs the tiny prover learned.
const TWO_HOLES: &str = "theorem swap_conjunction (p q : Prop) (h : p ∧ q) : q ∧ p := by\n  constructor\n  · sorry\n  · sorry\n";

/// With Lean on, "Prove this sorry" in a theorem with two sorries puts in a proof Lean accepts
/// apart from the other sorry (none can be verified alone), and the second one, filled last, is
/// verified whole.
#[test]
fn sorries_of_one_theorem_are_filled_one_at_a_time_with_lean() {
    let project = StandInProject::new(None, true);
    let file = project.write("Holes.lean", TWO_HOLES);
    let uri = file_uri(&file);
    let mut client = LspClient::start(&[], Some(&project), &[]);
    let mut settings = test_settings("auto");
    settings["model"] = json!(tiny_prover());
    settings["template"] = json!("auto");
    settings["samples"] = json!(1);
    settings["rounds"] = json!(2);
    settings["maxNewTokens"] = json!(48);
    client.initialize(Some(&project.project()), settings);
    client.wait_for_model();
    client.open(&uri, TWO_HOLES);
    client.diagnostics(&uri, 1);

    let prove = |client: &mut LspClient, line: u32| {
        client.result(
            "workspace/executeCommand",
            json!({"command": "proofwright.prove", "arguments": [{"uri": uri, "position": {"line": line, "character": 5}}]}),
        )
    };
    let first = prove(&mut client, 2);
    assert_eq!(first["applied"], true, "{first}");
    assert_eq!(first["provenance"], "flagged", "{first}");
    assert!(
        first["message"]
            .as_str()
            .is_some_and(|message| message.contains("Lean accepts apart from the other sorries")),
        "{first}"
    );
    let text = client.text(&uri);
    assert_eq!(text.matches("sorry").count(), 1, "{text}");
    let line = text
        .lines()
        .position(|line| line.contains("sorry"))
        .expect("the second sorry");

    let second = prove(&mut client, line as u32);
    assert_eq!(second["applied"], true, "{second}");
    assert_eq!(second["provenance"], "lean-verified", "{second}");
    let text = client.text(&uri);
    assert!(!text.contains("sorry"), "{text}");
    assert!(client.shutdown_and_exit().success());
}

#[test]
fn the_tiny_prover_completes_and_proves_a_theorem_it_learned() {
    let mut client = LspClient::start(&[], None, &[]);
    let mut settings = test_settings("off");
    settings["model"] = json!(tiny_prover());
    settings["template"] = json!("auto");
    settings["maxNewTokens"] = json!(96);
    client.initialize(None, settings);
    client.wait_for_model();
    let uri = "file:///virtual/Learned.lean";
    let statement =
        "theorem le_trans_example (a b c : Nat) (h1 : a ≤ b) (h2 : b ≤ c) : a ≤ c := by\n";
    client.open(uri, &format!("{statement}  e"));
    client.diagnostics(uri, 1);
    let completion = client.result("textDocument/completion", position(uri, 1, 3));
    assert_eq!(
        completion[0]["label"], "exact Nat.le_trans h1 h2",
        "{completion}"
    );

    // On the blank, indented line where the first step goes, before anything is typed.
    let version = client.change(uri, &format!("{statement}  "));
    client.diagnostics(uri, version);
    let completion = client.result("textDocument/completion", position(uri, 1, 2));
    assert_eq!(
        completion[0]["label"], "exact Nat.le_trans h1 h2",
        "{completion}"
    );

    let version = client.change(uri, &format!("{statement}  sorry\n"));
    client.diagnostics(uri, version);
    let result = client.result(
        "workspace/executeCommand",
        json!({"command": "proofwright.prove", "arguments": [{"uri": uri, "position": {"line": 1, "character": 3}}]}),
    );
    // Lean is off, so the neural verifier's acceptance is what puts the proof in.
    assert_eq!(result["provenance"], "neural", "{result}");
    assert_eq!(result["applied"], true, "{result}");
    assert_eq!(
        client.text(uri),
        format!("{statement}  exact Nat.le_trans h1 h2\n")
    );
    assert!(client.shutdown_and_exit().success());
}
