//! An LSP client for the end-to-end tests: it starts the real `proofwright serve` binary and
//! talks to it over stdio as an editor does (Content-Length framing, requests with ids, answers
//! to the server's own requests), keeping every notification it receives.

#![allow(dead_code)]

use crate::support::{proofwright_binary, random_fixture, StandInProject};
use serde_json::{json, Value};
use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

/// A safety net for every wait: far longer than anything takes, so that a broken server fails
/// the test instead of hanging it. Nothing is timed.
pub const WAIT_LIMIT: Duration = Duration::from_secs(180);

/// The random-weight fixture the tests run (it proposes noise, quickly and deterministically).
pub fn test_model() -> PathBuf {
    random_fixture("qwen2-default-f32-v5-sharded")
}

/// Settings for tests: the fixture model, small budgets, no debounce.
pub fn test_settings(lean: &str) -> Value {
    json!({
        "model": test_model(),
        "template": "completion",
        "samples": 2,
        "rounds": 0,
        "maxNewTokens": 12,
        "lean": lean,
        "debounceMs": 0,
        "threads": 1,
    })
}

/// A running `proofwright serve` and the client side of its session.
pub struct LspClient {
    child: Child,
    stdin: Option<ChildStdin>,
    messages: Receiver<Value>,
    /// Messages received and not yet taken by a wait.
    backlog: VecDeque<Value>,
    /// Every notification received, in order.
    pub notifications: Vec<Value>,
    /// Every request the server sent, in order.
    pub server_requests: Vec<Value>,
    next_id: i64,
    /// Open documents: uri → (version, text), kept up to date when edits are applied.
    documents: Vec<(String, i32, String)>,
    /// What the client answers to `workspace/configuration` (and whether it says it can).
    pub configuration: Option<Value>,
    /// Whether `workspace/applyEdit` is applied (and sent back as `didChange`).
    pub apply_edits: bool,
    stderr_path: PathBuf,
    _stderr_folder: tempfile::TempDir,
}

impl LspClient {
    /// Starts `proofwright serve` with `extra_arguments`, in `working_directory`, configured
    /// for the Lean stand-in project when given (otherwise with no Lean on PATH).
    pub fn start(
        extra_arguments: &[&str],
        project: Option<&StandInProject>,
        environment: &[(&str, &str)],
    ) -> LspClient {
        let stderr_folder = tempfile::tempdir().expect("temporary folder");
        let stderr_path = stderr_folder.path().join("server.log");
        let stderr_file = std::fs::File::create(&stderr_path).expect("log file");
        let mut command = Command::new(proofwright_binary());
        command
            .arg("serve")
            .arg("--stdio")
            .args(extra_arguments)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(stderr_file)
            .env("PROOFWRIGHT_LOG", "info")
            .env("HF_HUB_OFFLINE", "1");
        match project {
            Some(project) => {
                project.configure(&mut command);
                command.current_dir(project.project());
            }
            None => {
                command
                    .env("PATH", "")
                    .env_remove("HOME")
                    .env_remove("ELAN_HOME");
                command.current_dir(stderr_folder.path());
            }
        }
        for (name, value) in environment {
            command.env(name, value);
        }
        let mut child = command.spawn().expect("proofwright serve starts");
        let stdout = child.stdout.take().expect("stdout");
        let (sender, messages) = mpsc::channel();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            while let Some(message) = read_message(&mut reader) {
                if sender.send(message).is_err() {
                    return;
                }
            }
        });
        LspClient {
            stdin: child.stdin.take(),
            child,
            messages,
            backlog: VecDeque::new(),
            notifications: Vec::new(),
            server_requests: Vec::new(),
            next_id: 0,
            documents: Vec::new(),
            configuration: None,
            apply_edits: true,
            stderr_path,
            _stderr_folder: stderr_folder,
        }
    }

    /// What the server logged so far (for failure messages).
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.stderr_path).unwrap_or_default()
    }

    pub fn send_raw(&mut self, bytes: &[u8]) {
        let stdin = self.stdin.as_mut().expect("stdin open");
        stdin.write_all(bytes).expect("write");
        stdin.flush().expect("flush");
    }

    pub fn send(&mut self, message: &Value) {
        let body = message.to_string();
        self.send_raw(format!("Content-Length: {}\r\n\r\n{body}", body.len()).as_bytes());
    }

    pub fn notify(&mut self, method: &str, params: Value) {
        self.send(&json!({"jsonrpc": "2.0", "method": method, "params": params}));
    }

    /// Sends a request and returns its id.
    pub fn send_request(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = json!(self.next_id);
        self.send(&json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}));
        id
    }

    /// Sends a request and waits for its answer (the whole response object).
    pub fn request(&mut self, method: &str, params: Value) -> Value {
        let id = self.send_request(method, params);
        self.response(&id)
    }

    /// The result of a request that must succeed.
    pub fn result(&mut self, method: &str, params: Value) -> Value {
        let response = self.request(method, params);
        match response.get("result") {
            Some(result) => result.clone(),
            None => panic!("{method} failed: {response}\nserver log:\n{}", self.log()),
        }
    }

    /// The server's process id.
    pub fn process_id(&self) -> u32 {
        self.child.id()
    }

    /// Closes the server's input (as an editor that dies would).
    pub fn close_input(&mut self) {
        self.stdin.take();
    }

    /// The next message from the server, answering its requests on the way.
    fn next_message(&mut self, deadline: Instant) -> Option<Value> {
        if let Some(message) = self.backlog.pop_front() {
            return Some(message);
        }
        let remaining = deadline.saturating_duration_since(Instant::now());
        match self.messages.recv_timeout(remaining) {
            Ok(message) => {
                if message.get("method").is_some() && message.get("id").is_some() {
                    self.answer_server_request(&message);
                    self.server_requests.push(message.clone());
                } else if message.get("method").is_some() {
                    self.notifications.push(message.clone());
                }
                Some(message)
            }
            Err(RecvTimeoutError::Timeout) => None,
            Err(RecvTimeoutError::Disconnected) => None,
        }
    }

    /// Waits for the first message that `wanted` accepts; the others stay for later waits.
    pub fn wait_for(&mut self, what: &str, wanted: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + WAIT_LIMIT;
        let mut skipped = Vec::new();
        let found = loop {
            match self.next_message(deadline) {
                Some(message) if wanted(&message) => break Some(message),
                Some(message) => skipped.push(message),
                None => break None,
            }
        };
        for message in skipped.into_iter().rev() {
            self.backlog.push_front(message);
        }
        match found {
            Some(message) => message,
            None => panic!(
                "no {what} from the server; backlog: {:?}\nserver log:\n{}",
                self.backlog,
                self.log()
            ),
        }
    }

    pub fn response(&mut self, id: &Value) -> Value {
        let id = id.clone();
        self.wait_for(&format!("response to request {id}"), move |message| {
            message.get("id") == Some(&id) && message.get("method").is_none()
        })
    }

    pub fn notification(&mut self, method: &str, wanted: impl Fn(&Value) -> bool) -> Value {
        let method = method.to_owned();
        self.wait_for(&format!("{method} notification"), move |message| {
            message.get("method").and_then(Value::as_str) == Some(method.as_str())
                && message.get("id").is_none()
                && wanted(&message["params"])
        })["params"]
            .clone()
    }

    /// Drops every message received so far that no wait has taken.
    pub fn drain_backlog(&mut self) {
        self.backlog.clear();
    }

    /// Every message the server sent until it closed its output.
    pub fn messages_until_end(&mut self) -> Vec<Value> {
        let deadline = Instant::now() + WAIT_LIMIT;
        let mut all: Vec<Value> = self.backlog.drain(..).collect();
        while let Some(message) = self.next_message(deadline) {
            all.push(message);
        }
        all
    }

    fn answer_server_request(&mut self, request: &Value) {
        let id = request["id"].clone();
        let method = request["method"].as_str().unwrap_or("");
        let result = match method {
            "workspace/configuration" => {
                let n_items = request["params"]["items"].as_array().map_or(1, Vec::len);
                Value::Array(vec![
                    self.configuration.clone().unwrap_or(Value::Null);
                    n_items
                ])
            }
            "workspace/applyEdit" => {
                if self.apply_edits {
                    let applied = self.apply_workspace_edit(&request["params"]["edit"]);
                    json!({"applied": applied})
                } else {
                    json!({"applied": false, "failureReason": "the test client refused"})
                }
            }
            _ => Value::Null,
        };
        self.send(&json!({"jsonrpc": "2.0", "id": id, "result": result}));
    }

    /// Applies a workspace edit to the open documents and tells the server with `didChange`.
    fn apply_workspace_edit(&mut self, edit: &Value) -> bool {
        let mut changes: Vec<(String, Option<i64>, Vec<Value>)> = Vec::new();
        if let Some(document_changes) = edit.get("documentChanges").and_then(Value::as_array) {
            for change in document_changes {
                changes.push((
                    change["textDocument"]["uri"]
                        .as_str()
                        .unwrap_or("")
                        .to_owned(),
                    change["textDocument"]["version"].as_i64(),
                    change["edits"].as_array().cloned().unwrap_or_default(),
                ));
            }
        }
        if let Some(map) = edit.get("changes").and_then(Value::as_object) {
            for (uri, edits) in map {
                changes.push((
                    uri.clone(),
                    None,
                    edits.as_array().cloned().unwrap_or_default(),
                ));
            }
        }
        for (uri, version, edits) in changes {
            let Some(document) = self
                .documents
                .iter_mut()
                .find(|(known, _, _)| *known == uri)
            else {
                return false;
            };
            if version.is_some_and(|version| version != i64::from(document.1)) {
                return false;
            }
            // Apply from the end so earlier ranges stay valid.
            let mut edits = edits;
            edits.sort_by_key(|edit| {
                std::cmp::Reverse((
                    edit["range"]["start"]["line"].as_u64(),
                    edit["range"]["start"]["character"].as_u64(),
                ))
            });
            let mut text = document.2.clone();
            for edit in &edits {
                let start = utf16_offset(&text, &edit["range"]["start"]);
                let end = utf16_offset(&text, &edit["range"]["end"]);
                text.replace_range(start..end, edit["newText"].as_str().unwrap_or(""));
            }
            document.1 += 1;
            document.2 = text.clone();
            let version = document.1;
            self.notify(
                "textDocument/didChange",
                json!({
                    "textDocument": {"uri": uri, "version": version},
                    "contentChanges": [{"text": text}],
                }),
            );
        }
        true
    }

    /// `initialize` with typical editor capabilities and `options`, then `initialized`.
    pub fn initialize(&mut self, root: Option<&Path>, options: Value) -> Value {
        let root_uri = root.map(file_uri);
        let result = self.result(
            "initialize",
            json!({
                "processId": null,
                "rootUri": root_uri,
                "workspaceFolders": root_uri.as_ref().map(|uri| json!([{"uri": uri, "name": "project"}])),
                "capabilities": {
                    "workspace": {
                        "applyEdit": true,
                        "configuration": self.configuration.is_some(),
                        "workspaceEdit": {"documentChanges": true},
                        "codeLens": {"refreshSupport": true}
                    },
                    "window": {"workDoneProgress": true},
                    "textDocument": {
                        "completion": {"completionItem": {"documentationFormat": ["markdown", "plaintext"], "labelDetailsSupport": true}},
                        "hover": {"contentFormat": ["markdown", "plaintext"]},
                        "codeAction": {}
                    }
                },
                "initializationOptions": options,
            }),
        );
        self.notify("initialized", json!({}));
        result
    }

    /// Waits until `proofwright/status` says the model is ready.
    pub fn wait_for_model(&mut self) -> Value {
        self.notification("proofwright/status", |status| {
            status["model"]["state"] == "ready"
        })
    }

    /// Asks for the status until no job runs or waits.
    pub fn wait_for_idle_queue(&mut self) {
        let deadline = Instant::now() + WAIT_LIMIT;
        loop {
            let status = self.result(
                "workspace/executeCommand",
                json!({"command": "proofwright.status", "arguments": []}),
            );
            if status["queue"] == json!({"running": 0, "waiting": 0}) {
                return;
            }
            assert!(Instant::now() < deadline, "jobs never finished: {status}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn open(&mut self, uri: &str, text: &str) {
        self.documents.push((uri.to_owned(), 1, text.to_owned()));
        self.notify(
            "textDocument/didOpen",
            json!({"textDocument": {"uri": uri, "languageId": "lean4", "version": 1, "text": text}}),
        );
    }

    /// Replaces a document's text (full sync) and returns the new version.
    pub fn change(&mut self, uri: &str, text: &str) -> i32 {
        let document = self
            .documents
            .iter_mut()
            .find(|(known, _, _)| known == uri)
            .expect("document open");
        document.1 += 1;
        document.2 = text.to_owned();
        let version = document.1;
        self.notify(
            "textDocument/didChange",
            json!({"textDocument": {"uri": uri, "version": version}, "contentChanges": [{"text": text}]}),
        );
        version
    }

    pub fn text(&self, uri: &str) -> String {
        self.documents
            .iter()
            .find(|(known, _, _)| known == uri)
            .map(|(_, _, text)| text.clone())
            .expect("document open")
    }

    pub fn version(&self, uri: &str) -> i32 {
        self.documents
            .iter()
            .find(|(known, _, _)| known == uri)
            .map(|(_, version, _)| *version)
            .expect("document open")
    }

    /// Diagnostics published for `uri` at `version`.
    pub fn diagnostics(&mut self, uri: &str, version: i32) -> Vec<Value> {
        let uri = uri.to_owned();
        self.notification("textDocument/publishDiagnostics", move |params| {
            params["uri"] == uri.as_str() && params["version"] == version
        })["diagnostics"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    /// `shutdown`, `exit`, and the exit status.
    pub fn shutdown_and_exit(&mut self) -> ExitStatus {
        let response = self.request("shutdown", Value::Null);
        assert_eq!(
            response["result"],
            Value::Null,
            "shutdown answered {response}"
        );
        self.notify("exit", Value::Null);
        self.wait_for_exit()
    }

    pub fn wait_for_exit(&mut self) -> ExitStatus {
        let deadline = Instant::now() + WAIT_LIMIT;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("the server did not exit\nserver log:\n{}", self.log());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for LspClient {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn file_uri(path: &Path) -> String {
    format!("file://{}", path.display())
}

/// A byte offset for an LSP position in `text`.
pub fn utf16_offset(text: &str, position: &Value) -> usize {
    let line = position["line"].as_u64().unwrap_or(0) as usize;
    let character = position["character"].as_u64().unwrap_or(0) as usize;
    let line_start: usize = text
        .split_inclusive('\n')
        .take(line)
        .map(str::len)
        .sum::<usize>()
        .min(text.len());
    let line_text = text[line_start..].split('\n').next().unwrap_or("");
    let mut units = 0;
    for (idx, ch) in line_text.char_indices() {
        if units >= character {
            return line_start + idx;
        }
        units += ch.len_utf16();
    }
    line_start + line_text.len()
}

/// Reads one framed message; `None` at the end of the stream.
pub fn read_message(reader: &mut impl BufRead) -> Option<Value> {
    let mut length = None;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).ok()? == 0 {
            return None;
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            if name.eq_ignore_ascii_case("content-length") {
                length = value.trim().parse::<usize>().ok();
            }
        }
    }
    let mut body = vec![0u8; length?];
    reader.read_exact(&mut body).ok()?;
    serde_json::from_slice(&body).ok()
}

/// Whether a process is gone (or a zombie, which containers without an init that reaps leave).
pub fn process_is_gone(process_id: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{process_id}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_some_and(|state| state == "Z" || state == "X"),
    }
}

/// The process ids the Lean stand-in logged at its starts.
pub fn stand_in_process_ids(project: &StandInProject) -> Vec<u32> {
    std::fs::read_to_string(project.log_path())
        .unwrap_or_default()
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|entry| entry.get("started").is_some())
        .filter_map(|entry| entry["pid"].as_u64())
        .map(|pid| pid as u32)
        .collect()
}
