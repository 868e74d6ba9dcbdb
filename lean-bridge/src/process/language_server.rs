//! A client for Lean's language server (`lake serve` or `lean --server`): LSP over stdio with
//! `Content-Length` framing, one scratch document per process, `textDocument/waitForDiagnostics`
//! to know when a version is checked, and `$/lean/plainGoal` for goals.
//!
//! The client reads the server's output only while it waits for an answer of its own, and on
//! the way it collects `textDocument/publishDiagnostics` for the current version, watches
//! `$/lean/fileProgress`, and answers every server-to-client request so the server never waits.

use serde_json::{json, Value};

use super::child::ManagedChild;
use super::discovery::LaunchCommand;
use super::error::{BackendKind, LeanProcessError};
use super::framing::{encode_language_server_message, read_language_server_message, FramingError};
use super::limits::SCRATCH_DOCUMENT_FILE_NAME;
use super::outcome::{
    validate_declaration_name, AxiomReport, CheckOutcome, CheckRequest, GoalReport, LeanMessage,
    Severity,
};
use super::repl::axiom_check_from_messages;
use super::session::SessionLimits;
use crate::position::{LineIndex, Utf16Position};

const BACKEND: BackendKind = BackendKind::LanguageServer;
const EXPECTED_OUTPUT: &str = "a language-server message (Content-Length framed JSON)";
const METHOD_NOT_FOUND: i64 = -32601;

/// One running language-server process with its scratch document.
pub struct LanguageServerSession {
    child: ManagedChild,
    max_answer_bytes: usize,
    root_uri: String,
    document_uri: String,
    next_request_id: i64,
    /// The version of the open document; `None` before `textDocument/didOpen`.
    document_version: Option<i64>,
    initialized: bool,
    /// The latest diagnostics published for the current version.
    current_diagnostics: Vec<Value>,
    /// A `$/lean/fileProgress` for the current version reported a fatal error.
    current_fatal_error: bool,
}

impl LanguageServerSession {
    pub(crate) fn spawn(
        launch: &LaunchCommand,
        limits: &SessionLimits,
    ) -> Result<LanguageServerSession, LeanProcessError> {
        let child = ManagedChild::spawn(BACKEND, launch, limits.address_space_limit_bytes)?;
        let root = absolute(&launch.working_directory);
        Ok(LanguageServerSession {
            child,
            max_answer_bytes: limits.max_answer_bytes,
            root_uri: file_uri(&root),
            document_uri: file_uri(&root.join(SCRATCH_DOCUMENT_FILE_NAME)),
            next_request_id: 1,
            document_version: None,
            initialized: false,
            current_diagnostics: Vec::new(),
            current_fatal_error: false,
        })
    }

    pub(crate) fn child(&self) -> &ManagedChild {
        &self.child
    }

    pub(crate) fn into_child(self) -> ManagedChild {
        self.child
    }

    /// The URI of the scratch document this process checks texts in.
    pub fn document_uri(&self) -> &str {
        &self.document_uri
    }

    /// The `initialize` / `initialized` handshake.
    pub async fn initialize(&mut self) -> Result<(), LeanProcessError> {
        if self.initialized {
            return Ok(());
        }
        let params = json!({
            "processId": std::process::id(),
            "clientInfo": { "name": "proofwright" },
            "rootUri": self.root_uri,
            "capabilities": {
                "textDocument": { "publishDiagnostics": { "versionSupport": true } },
                "workspace": { "configuration": true }
            }
        });
        self.request("initialize", params).await?;
        self.notify("initialized", json!({})).await?;
        self.initialized = true;
        Ok(())
    }

    /// Checks `request.text` as a new version of the scratch document, with one
    /// `#print axioms` line per requested declaration appended after it.
    pub async fn check(
        &mut self,
        request: &CheckRequest,
    ) -> Result<CheckOutcome, LeanProcessError> {
        for declaration in &request.axiom_declarations {
            validate_declaration_name(declaration)?;
        }
        self.initialize().await?;

        let mut document = request.text.clone();
        if !document.is_empty() && !document.ends_with('\n') {
            document.push('\n');
        }
        let appendix_first_line = document.matches('\n').count();
        for declaration in &request.axiom_declarations {
            document.push_str(&format!("#print axioms {declaration}\n"));
        }

        self.check_version(&document).await?;

        let index = LineIndex::new(&document);
        let mut messages = Vec::new();
        let mut appendix_messages = vec![Vec::new(); request.axiom_declarations.len()];
        for diagnostic in &self.current_diagnostics {
            let Some(message) = diagnostic_to_message(diagnostic, &document, &index) else {
                continue;
            };
            let line = (message.start.line as usize).saturating_sub(1);
            match line.checked_sub(appendix_first_line) {
                Some(appendix_line) if appendix_line < appendix_messages.len() => {
                    appendix_messages[appendix_line].push(message);
                }
                _ => messages.push(message),
            }
        }
        let axioms = request
            .axiom_declarations
            .iter()
            .zip(&appendix_messages)
            .map(|(declaration, messages)| AxiomReport {
                declaration: declaration.clone(),
                check: axiom_check_from_messages(messages),
            })
            .collect();
        let fatal_processing_error = self.current_fatal_error;

        let mut goals = Vec::with_capacity(request.goal_positions.len());
        for &position in &request.goal_positions {
            let offset = index.from_lean(&document, position);
            let Utf16Position { line, character } = index.to_utf16(&document, offset);
            let params = json!({
                "textDocument": { "uri": self.document_uri },
                "position": { "line": line, "character": character }
            });
            let answer = self.request("$/lean/plainGoal", params).await?;
            let goal_list = answer.get("goals").and_then(Value::as_array).map(|goals| {
                goals
                    .iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            });
            goals.push(GoalReport {
                position,
                goals: goal_list,
            });
        }

        Ok(CheckOutcome {
            messages,
            sorries: Vec::new(),
            goals,
            axioms,
            fatal_processing_error,
        })
    }

    /// Opens the scratch document with just the import header and waits for it, so the
    /// imports are loaded while the process starts (under the startup timeout) rather than
    /// during the first check. Later versions keep the same header, so Lean reuses them.
    pub async fn open_header(&mut self, import_header: &str) -> Result<(), LeanProcessError> {
        self.initialize().await?;
        if self.document_version.is_none() {
            self.check_version(import_header).await?;
        }
        Ok(())
    }

    /// Sends `document` as the next version of the scratch document (`didOpen` the first time,
    /// a full-text `didChange` after) and waits until its diagnostics are out.
    async fn check_version(&mut self, document: &str) -> Result<(), LeanProcessError> {
        let version = self.document_version.map_or(1, |version| version + 1);
        self.document_version = Some(version);
        self.current_diagnostics.clear();
        self.current_fatal_error = false;
        if version == 1 {
            let params = json!({ "textDocument": {
                "uri": self.document_uri, "languageId": "lean4", "version": version, "text": document
            }});
            self.notify("textDocument/didOpen", params).await?;
        } else {
            let params = json!({
                "textDocument": { "uri": self.document_uri, "version": version },
                "contentChanges": [{ "text": document }]
            });
            self.notify("textDocument/didChange", params).await?;
        }
        let params = json!({ "uri": self.document_uri, "version": version });
        self.request("textDocument/waitForDiagnostics", params)
            .await?;
        Ok(())
    }

    async fn notify(&mut self, method: &str, params: Value) -> Result<(), LeanProcessError> {
        let message = json!({ "jsonrpc": "2.0", "method": method, "params": params });
        self.child
            .write_all(&encode_language_server_message(&message))
            .await
    }

    /// Sends a request and reads messages until its answer arrives, handling everything the
    /// server sends in between.
    async fn request(&mut self, method: &str, params: Value) -> Result<Value, LeanProcessError> {
        let id = self.next_request_id;
        self.next_request_id += 1;
        let message = json!({ "jsonrpc": "2.0", "id": id, "method": method, "params": params });
        self.child
            .write_all(&encode_language_server_message(&message))
            .await?;
        loop {
            let incoming = self.read_message().await?;
            let Some(object) = incoming.as_object() else {
                return Err(LeanProcessError::MalformedOutput {
                    backend: BACKEND,
                    expected: EXPECTED_OUTPUT,
                    problem: "a message that is not a JSON object".to_owned(),
                    excerpt: super::framing::excerpt(incoming.to_string().as_bytes()),
                });
            };
            match (
                object.get("method").and_then(Value::as_str),
                object.get("id"),
            ) {
                (Some(server_method), Some(server_id)) => {
                    let server_method = server_method.to_owned();
                    let server_id = server_id.clone();
                    let params = object.get("params").cloned().unwrap_or(Value::Null);
                    self.answer_server_request(&server_method, server_id, &params)
                        .await?;
                }
                (Some(notification), None) => {
                    let notification = notification.to_owned();
                    let params = object.get("params").cloned().unwrap_or(Value::Null);
                    self.handle_notification(&notification, &params);
                }
                (None, Some(answer_id)) if answer_id.as_i64() == Some(id) => {
                    if let Some(error) = object.get("error") {
                        return Err(LeanProcessError::LanguageServerRejected {
                            method: method.to_owned(),
                            code: error.get("code").and_then(Value::as_i64).unwrap_or(0),
                            message: error
                                .get("message")
                                .and_then(Value::as_str)
                                .unwrap_or_default()
                                .to_owned(),
                        });
                    }
                    return Ok(object.get("result").cloned().unwrap_or(Value::Null));
                }
                // An answer to an earlier, abandoned request, or a message of no known kind.
                _ => {}
            }
        }
    }

    async fn read_message(&mut self) -> Result<Value, LeanProcessError> {
        match read_language_server_message(self.child.stdout(), self.max_answer_bytes).await {
            Ok(message) => Ok(message),
            Err(FramingError::EndOfStream) => Err(self.child.crash_error().await),
            Err(FramingError::TooLarge) => Err(LeanProcessError::AnswerTooLarge {
                backend: BACKEND,
                limit_bytes: self.max_answer_bytes,
            }),
            Err(FramingError::Malformed { problem, excerpt }) => {
                Err(LeanProcessError::MalformedOutput {
                    backend: BACKEND,
                    expected: EXPECTED_OUTPUT,
                    problem,
                    excerpt,
                })
            }
            Err(FramingError::Io(source)) => Err(LeanProcessError::Io {
                backend: BACKEND,
                source,
            }),
        }
    }

    /// Answers a server-to-client request: empty settings for `workspace/configuration`,
    /// acceptance for registrations and progress tokens, "method not found" for the rest.
    async fn answer_server_request(
        &mut self,
        method: &str,
        id: Value,
        params: &Value,
    ) -> Result<(), LeanProcessError> {
        let answer = match method {
            "workspace/configuration" => {
                let items = params
                    .get("items")
                    .and_then(Value::as_array)
                    .map_or(0, Vec::len);
                json!({ "jsonrpc": "2.0", "id": id, "result": vec![Value::Null; items] })
            }
            "client/registerCapability"
            | "client/unregisterCapability"
            | "window/workDoneProgress/create"
            | "window/showMessageRequest" => {
                json!({ "jsonrpc": "2.0", "id": id, "result": Value::Null })
            }
            "workspace/applyEdit" => {
                json!({ "jsonrpc": "2.0", "id": id, "result": { "applied": false } })
            }
            _ => json!({
                "jsonrpc": "2.0",
                "id": id,
                "error": { "code": METHOD_NOT_FOUND, "message": format!("proofwright does not handle {method}") }
            }),
        };
        self.child
            .write_all(&encode_language_server_message(&answer))
            .await
    }

    fn handle_notification(&mut self, method: &str, params: &Value) {
        let is_current = |uri: Option<&Value>, version: Option<&Value>| {
            uri.and_then(Value::as_str) == Some(self.document_uri.as_str())
                && version
                    .and_then(Value::as_i64)
                    .is_none_or(|version| Some(version) == self.document_version)
        };
        match method {
            "textDocument/publishDiagnostics"
                if is_current(params.get("uri"), params.get("version")) =>
            {
                self.current_diagnostics = params
                    .get("diagnostics")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default();
            }
            "$/lean/fileProgress" => {
                let document = params.get("textDocument");
                let current = is_current(
                    document.and_then(|document| document.get("uri")),
                    document.and_then(|document| document.get("version")),
                );
                let fatal = params
                    .get("processing")
                    .and_then(Value::as_array)
                    .is_some_and(|processing| {
                        processing
                            .iter()
                            .any(|item| item.get("kind").and_then(Value::as_i64) == Some(2))
                    });
                if current && fatal {
                    self.current_fatal_error = true;
                }
            }
            _ => {}
        }
    }
}

fn diagnostic_to_message(
    diagnostic: &Value,
    document: &str,
    index: &LineIndex,
) -> Option<LeanMessage> {
    let range = diagnostic.get("range")?;
    let position = |value: Option<&Value>| -> Option<Utf16Position> {
        let value = value?;
        Some(Utf16Position {
            line: u32::try_from(value.get("line")?.as_u64()?).ok()?,
            character: u32::try_from(value.get("character")?.as_u64()?).ok()?,
        })
    };
    let to_lean =
        |position: Utf16Position| index.to_lean(document, index.from_utf16(document, position));
    let start = to_lean(position(range.get("start"))?);
    let end = position(range.get("end")).map(to_lean);
    let severity = match diagnostic.get("severity").and_then(Value::as_i64) {
        Some(1) => Severity::Error,
        Some(2) => Severity::Warning,
        Some(4) => Severity::Trace,
        _ => Severity::Information,
    };
    let text = match diagnostic.get("message") {
        Some(Value::String(text)) => text.clone(),
        Some(other) => other.to_string(),
        None => String::new(),
    };
    Some(LeanMessage {
        severity,
        start,
        end,
        text,
    })
}

fn absolute(path: &std::path::Path) -> std::path::PathBuf {
    if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir()
            .map(|current| current.join(path))
            .unwrap_or_else(|_| path.to_path_buf())
    }
}

/// A `file://` URI for an absolute path, percent-encoding every byte outside the unreserved set.
pub(crate) fn file_uri(path: &std::path::Path) -> String {
    let text = path.to_string_lossy();
    let mut uri = String::from("file://");
    if !text.starts_with('/') {
        uri.push('/');
    }
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'/' => {
                uri.push(byte as char)
            }
            b'\\' => uri.push('/'),
            _ => uri.push_str(&format!("%{byte:02X}")),
        }
    }
    uri
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_uris_are_percent_encoded() {
        assert_eq!(
            file_uri(std::path::Path::new("/tmp/My Proofs/α.lean")),
            "file:///tmp/My%20Proofs/%CE%B1.lean"
        );
    }
}
