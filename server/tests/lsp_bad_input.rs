//! Bad input to `proofwright serve`, over stdio: each case gets the answer LSP asks for, and the
//! server keeps serving afterwards. The answers are a snapshot (a transcript of what was sent and
//! what came back).

mod lsp_support;
mod support;

use lsp_support::{process_is_gone, stand_in_process_ids, test_settings, LspClient};
use serde_json::{json, Value};
use support::StandInProject;

/// The parts of an answer the transcript keeps.
fn answer_summary(answer: &Value) -> Value {
    match answer.get("error") {
        Some(error) => {
            json!({"id": answer["id"], "error": {"code": error["code"], "message": error["message"]}})
        }
        None => json!({"id": answer["id"], "result": answer["result"]}),
    }
}

/// Runs the cases in order and records each answer (or that none came before the next one).
struct Transcript {
    entries: Vec<Value>,
}

impl Transcript {
    fn record(&mut self, case: &str, answer: Value) {
        self.entries
            .push(json!({"case": case, "answer": answer_summary(&answer)}));
    }

    /// Sends raw bytes and records the answer with `id` (null when the message had none).
    fn raw(&mut self, client: &mut LspClient, case: &str, bytes: &[u8], id: Value) {
        client.send_raw(bytes);
        let answer = client.response(&id);
        self.record(case, answer);
    }

    fn request(&mut self, client: &mut LspClient, case: &str, method: &str, params: Value) {
        let answer = client.request(method, params);
        self.record(case, answer);
    }
}

#[test]
fn bad_input_gets_the_lsp_answer_and_the_server_lives_on() {
    let mut client = LspClient::start(&[], None, &[("PROOFWRIGHT_LSP_ENABLE_PANIC_REQUEST", "1")]);
    let mut transcript = Transcript {
        entries: Vec::new(),
    };
    let uri = "file:///virtual/Bad.lean";
    let hover_at = |line: u32| json!({"textDocument": {"uri": uri}, "position": {"line": line, "character": 0}});

    transcript.request(
        &mut client,
        "a request before initialize",
        "textDocument/hover",
        hover_at(0),
    );
    client.notify(
        "textDocument/didOpen",
        json!({"textDocument": {"uri": uri, "languageId": "lean4", "version": 1, "text": "ignored"}}),
    );
    client.initialize(None, test_settings("off"));
    transcript.request(
        &mut client,
        "the notification before initialize was dropped: the document is not open",
        "textDocument/hover",
        hover_at(0),
    );
    transcript.request(
        &mut client,
        "a second initialize",
        "initialize",
        json!({"capabilities": {}}),
    );
    transcript.raw(
        &mut client,
        "a body that is not JSON",
        b"Content-Length: 9\r\n\r\n{\"jsonrpc",
        Value::Null,
    );
    transcript.raw(
        &mut client,
        "a batch",
        b"Content-Length: 3\r\n\r\n[1]",
        Value::Null,
    );
    transcript.raw(
        &mut client,
        "a message without jsonrpc",
        b"Content-Length: 26\r\n\r\n{\"id\":99,\"method\":\"a/b\"}  ",
        json!(99),
    );
    transcript.raw(
        &mut client,
        "no Content-Length",
        b"Content-Type: application/vscode-jsonrpc; charset=utf-8\r\n\r\n{}",
        Value::Null,
    );
    transcript.raw(
        &mut client,
        "a Content-Length that is not a number",
        b"Content-Length: twelve\r\n\r\n{\"jsonrpc\":\"2.0\"}",
        Value::Null,
    );
    // After a bad header the input is skipped up to the next Content-Length, body and all.
    transcript.raw(
        &mut client,
        "a huge Content-Length",
        b"Content-Length: 99999999999999\r\n\r\n{\"jsonrpc\":\"2.0\",\"id\":98,\"method\":\"x\"}",
        Value::Null,
    );
    transcript.request(
        &mut client,
        "an unknown method",
        "proofwright/unknown",
        json!({}),
    );
    transcript.request(&mut client, "an unknown $/ request", "$/unknown", json!({}));
    client.notify("$/unknownNotification", json!({}));
    client.notify("unknown/notification", json!({}));
    transcript.request(
        &mut client,
        "a request with params of the wrong shape",
        "textDocument/hover",
        json!({"textDocument": 5}),
    );
    client.open(uri, "theorem t : True := by\n  trivial\n");
    transcript.request(
        &mut client,
        "a position past the end of the document",
        "textDocument/hover",
        hover_at(40),
    );
    transcript.request(
        &mut client,
        "completion in a document that is not open",
        "textDocument/completion",
        json!({"textDocument": {"uri": "file:///virtual/Closed.lean"}, "position": {"line": 0, "character": 0}}),
    );
    transcript.request(
        &mut client,
        "an unknown command",
        "workspace/executeCommand",
        json!({"command": "proofwright.nothing", "arguments": []}),
    );
    transcript.request(
        &mut client,
        "a command without its argument",
        "workspace/executeCommand",
        json!({"command": "proofwright.prove", "arguments": []}),
    );
    transcript.request(
        &mut client,
        "a command on a document that is not open",
        "workspace/executeCommand",
        json!({"command": "proofwright.verify", "arguments": [{"uri": "file:///virtual/Closed.lean", "position": {"line": 0, "character": 0}}]}),
    );
    transcript.request(
        &mut client,
        "a panic in a request handler",
        "proofwright/debug/panic",
        json!({}),
    );
    transcript.request(
        &mut client,
        "a panic on a worker thread",
        "proofwright/debug/panic",
        json!({"where": "worker"}),
    );
    let status = client.result(
        "workspace/executeCommand",
        json!({"command": "proofwright.status", "arguments": []}),
    );
    assert_eq!(
        status["model"]["state"], "ready",
        "the server still serves: {status}"
    );
    transcript.request(&mut client, "shutdown", "shutdown", Value::Null);
    transcript.request(
        &mut client,
        "a request after shutdown",
        "textDocument/hover",
        hover_at(0),
    );
    client.notify("exit", Value::Null);
    assert!(client.wait_for_exit().success());
    insta::assert_snapshot!(
        "bad_input_transcript",
        serde_json::to_string_pretty(&transcript.entries).expect("json")
    );
}

#[test]
fn exit_without_shutdown_exits_with_status_1() {
    let mut client = LspClient::start(&[], None, &[]);
    client.initialize(None, test_settings("off"));
    client.notify("exit", Value::Null);
    assert_eq!(client.wait_for_exit().code(), Some(1));
}

#[test]
fn the_end_of_input_stops_the_server_and_every_lean_process() {
    let project = StandInProject::new(None, true);
    let text = "theorem t : True := by\n  trivial\n";
    let file = project.write("Closing.lean", text);
    let uri = lsp_support::file_uri(&file);
    let mut client = LspClient::start(&[], Some(&project), &[]);
    client.initialize(Some(&project.project()), test_settings("auto"));
    client.wait_for_model();
    client.open(&uri, text);
    client.diagnostics(&uri, 1);
    let lean_processes = stand_in_process_ids(&project);
    assert!(
        !lean_processes.is_empty(),
        "verification started the stand-in"
    );
    client.close_input();
    assert_eq!(client.wait_for_exit().code(), Some(1));
    for process_id in lean_processes {
        assert!(
            process_is_gone(process_id),
            "Lean stand-in {process_id} outlived the server"
        );
    }
}

#[test]
fn a_terminate_signal_stops_the_server_and_every_lean_process() {
    let project = StandInProject::new(None, true);
    let text = "theorem t : True := by\n  trivial\n";
    let file = project.write("Terminated.lean", text);
    let uri = lsp_support::file_uri(&file);
    let mut client = LspClient::start(&[], Some(&project), &[]);
    client.initialize(Some(&project.project()), test_settings("auto"));
    client.wait_for_model();
    client.open(&uri, text);
    client.diagnostics(&uri, 1);
    let lean_processes = stand_in_process_ids(&project);
    assert!(
        !lean_processes.is_empty(),
        "verification started the stand-in"
    );
    let killed = std::process::Command::new("kill")
        .arg("-TERM")
        .arg(client.process_id().to_string())
        .status()
        .expect("kill runs");
    assert!(killed.success());
    assert_eq!(client.wait_for_exit().code(), Some(1));
    for process_id in lean_processes {
        assert!(
            process_is_gone(process_id),
            "Lean stand-in {process_id} outlived the server"
        );
    }
}
