//! `proofwright serve --proxy-lean`: Lean's own language server (`lake serve`, found by
//! proofwright-lean's toolchain discovery) as a child process. Every request and notification
//! that is Lean's goes to it; its answers, notifications and server-to-client requests go to the
//! editor; requests both servers answer (completion, hover, code actions, code lens) are merged,
//! and diagnostics are merged per document. An editor that runs one server per buffer (eglot)
//! gets both servers through this one.

use super::framing::{encode_frame, FrameReader};
use super::limits::{LEAN_PROXY_EXIT_GRACE, LEAN_PROXY_ID_PREFIX};
use super::settings::{KNOWN_KEYS, SETTINGS_SECTION};
use super::transport::{error_response, Origin, OutputSender};
use proofwright_lean::process::{discover_toolchain, DiscoveryEnvironment};
use serde_json::{json, Map, Value};
use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::io::AsyncWriteExt;
use tokio::process::{Child, Command};
use tokio::sync::{mpsc, oneshot};

/// JSON-RPC's "request failed".
const REQUEST_FAILED: i64 = -32803;
/// The file name whose folder starts toolchain discovery in the workspace root.
const DISCOVERY_FILE_NAME: &str = "Proofwright.lean";

/// How two answers to the same request are combined.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MergeKind {
    Completion,
    Hover,
    /// Code actions, code lenses: both lists.
    List,
    /// Our answer stands (Lean's is awaited so that it shuts down first).
    Shutdown,
}

enum Pending {
    /// Send Lean's answer to the editor as it is.
    Relay,
    /// Give Lean's answer to a merge.
    Merge(oneshot::Sender<Value>),
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Lean's server as a child process.
pub struct LeanProxy {
    to_lean: mpsc::UnboundedSender<Value>,
    pending: Arc<Mutex<HashMap<String, Pending>>>,
    /// Why Lean's server is gone, once it is.
    stopped: Arc<Mutex<Option<String>>>,
    child: tokio::sync::Mutex<Option<Child>>,
    process_id: Option<u32>,
}

fn id_key(id: &Value) -> String {
    id.to_string()
}

impl LeanProxy {
    /// Finds the toolchain for the workspace of `initialize_params` and starts its language
    /// server.
    pub async fn start(
        initialize_params: &Value,
        output: OutputSender,
    ) -> Result<Arc<LeanProxy>, String> {
        let root = workspace_root(initialize_params);
        let environment = DiscoveryEnvironment::from_process_environment();
        let start_file = root.join(DISCOVERY_FILE_NAME);
        let launch = tokio::task::spawn_blocking(move || {
            discover_toolchain(&environment, &start_file)
                .map_err(|error| error.to_string())
                .and_then(|toolchain| {
                    toolchain
                        .language_server_launch()
                        .map_err(|error| error.to_string())
                })
        })
        .await
        .map_err(|error| format!("toolchain discovery failed: {error}"))??;
        let mut command = Command::new(&launch.program);
        command
            .args(&launch.arguments)
            .current_dir(&launch.working_directory)
            .envs(launch.environment.iter().map(|(name, value)| (name, value)))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true);
        #[cfg(unix)]
        command.process_group(0);
        let command_line = std::iter::once(launch.program.as_os_str())
            .chain(launch.arguments.iter().map(|argument| argument.as_os_str()))
            .map(|part| part.to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join(" ");
        let mut child = command
            .spawn()
            .map_err(|error| format!("cannot start {command_line}: {error}"))?;
        tracing::info!(
            "started lean's language server: {command_line} in {}",
            launch.working_directory.display()
        );
        let process_id = child.id();
        let mut stdin = child
            .stdin
            .take()
            .ok_or("lean's language server has no standard input")?;
        let stdout = child
            .stdout
            .take()
            .ok_or("lean's language server has no standard output")?;
        let (to_lean, mut outgoing) = mpsc::unbounded_channel::<Value>();
        tokio::spawn(async move {
            while let Some(message) = outgoing.recv().await {
                let body = message.to_string();
                if stdin
                    .write_all(&encode_frame(body.as_bytes()))
                    .await
                    .is_err()
                    || stdin.flush().await.is_err()
                {
                    return;
                }
            }
        });
        let proxy = Arc::new(LeanProxy {
            to_lean,
            pending: Arc::new(Mutex::new(HashMap::new())),
            stopped: Arc::new(Mutex::new(None)),
            child: tokio::sync::Mutex::new(Some(child)),
            process_id,
        });
        let reader_proxy = proxy.clone();
        tokio::spawn(async move {
            let mut reader = FrameReader::new(stdout);
            loop {
                match reader.next_body().await {
                    Ok(Some(Ok(body))) => match serde_json::from_slice::<Value>(&body) {
                        Ok(message) => reader_proxy.handle_lean_message(message, &output),
                        Err(error) => {
                            tracing::warn!("lean's language server sent invalid JSON: {error}")
                        }
                    },
                    Ok(Some(Err(error))) => {
                        tracing::warn!("lean's language server sent an unreadable message: {error}")
                    }
                    Ok(None) | Err(_) => break,
                }
            }
            reader_proxy.lean_stopped(&output).await;
        });
        Ok(proxy)
    }

    /// A message from Lean's server.
    fn handle_lean_message(&self, mut message: Value, output: &OutputSender) {
        let has_method = message.get("method").is_some();
        match (message.get("id").cloned(), has_method) {
            (Some(id), false) => match lock(&self.pending).remove(&id_key(&id)) {
                Some(Pending::Relay) => output.send(Origin::Lean, message),
                Some(Pending::Merge(sender)) => {
                    let _ = sender.send(message);
                }
                None => tracing::warn!("lean's language server answered unknown request {id}"),
            },
            (Some(id), true) => {
                // A request to the editor: give it an id the editor's answer can be routed by.
                message["id"] = Value::String(format!("{LEAN_PROXY_ID_PREFIX}{}", id_key(&id)));
                output.send(Origin::Lean, message);
            }
            (None, _) => output.send(Origin::Lean, message),
        }
    }

    async fn lean_stopped(&self, output: &OutputSender) {
        let status = match self.child.lock().await.as_mut() {
            Some(child) => match tokio::time::timeout(LEAN_PROXY_EXIT_GRACE, child.wait()).await {
                Ok(Ok(status)) => status.to_string(),
                _ => "an unknown status".to_owned(),
            },
            None => "shut down by proofwright".to_owned(),
        };
        let reason = format!("lean's language server stopped ({status})");
        let was_running = lock(&self.stopped).replace(reason.clone()).is_none();
        let pending: Vec<(String, Pending)> = lock(&self.pending).drain().collect();
        for (key, pending) in pending {
            let id: Value = serde_json::from_str(&key).unwrap_or(Value::Null);
            let error = error_response(id, REQUEST_FAILED, reason.clone());
            match pending {
                Pending::Relay => output.send(Origin::Lean, error),
                Pending::Merge(sender) => {
                    let _ = sender.send(error);
                }
            }
        }
        if was_running {
            tracing::warn!("{reason}");
            output.send(
                Origin::Proofwright,
                json!({
                    "jsonrpc": "2.0", "method": "window/showMessage",
                    "params": { "type": 2, "message": format!("Proofwright: {reason}; Proofwright's own features go on") }
                }),
            );
        }
    }

    /// Sends an editor message to Lean's server. For a request, Lean's answer goes to `merge`
    /// when given, else straight to the editor. Fails when Lean's server is gone.
    pub fn forward_from_editor(
        &self,
        message: Value,
        merge: Option<oneshot::Sender<Value>>,
    ) -> Result<(), String> {
        if let Some(reason) = lock(&self.stopped).clone() {
            return Err(reason);
        }
        if message.get("method").is_some() {
            if let Some(id) = message.get("id") {
                let pending = match merge {
                    Some(sender) => Pending::Merge(sender),
                    None => Pending::Relay,
                };
                lock(&self.pending).insert(id_key(id), pending);
            }
        }
        self.to_lean
            .send(message)
            .map_err(|_| "lean's language server is gone".to_owned())
    }

    /// The editor's answer to one of Lean's requests: restores Lean's id and passes it on.
    pub fn forward_editor_response(&self, mut message: Value) {
        let original = message
            .get("id")
            .and_then(Value::as_str)
            .and_then(|id| id.strip_prefix(LEAN_PROXY_ID_PREFIX))
            .and_then(|id| serde_json::from_str::<Value>(id).ok());
        match original {
            Some(id) => {
                message["id"] = id;
                let _ = self.to_lean.send(message);
            }
            None => tracing::warn!("an answer to an unknown lean request was dropped"),
        }
    }

    /// Lets Lean's server exit after `exit` (or kills it), then kills its process group.
    pub async fn stop(&self) {
        let mut child = self.child.lock().await;
        if let Some(mut child) = child.take() {
            if tokio::time::timeout(LEAN_PROXY_EXIT_GRACE, child.wait())
                .await
                .is_err()
            {
                tracing::info!("lean's language server did not exit by itself; killing it");
            }
            #[cfg(unix)]
            if let Some(process_id) = self.process_id.and_then(|id| i32::try_from(id).ok()) {
                // SAFETY: killpg only sends a signal; the group is the one the child leads.
                unsafe {
                    libc::killpg(process_id, libc::SIGKILL);
                }
            }
            let _ = child.kill().await;
        }
        lock(&self.stopped).get_or_insert_with(|| "shut down by proofwright".to_owned());
    }
}

/// The workspace folder of `initialize` (the first folder, else `rootUri`, else `rootPath`,
/// else the working folder).
fn workspace_root(params: &Value) -> PathBuf {
    let from_uri = |uri: &str| {
        uri.parse::<tower_lsp_server::ls_types::Uri>()
            .ok()
            .and_then(|uri| uri.to_file_path().map(|path| path.into_owned()))
    };
    params
        .pointer("/workspaceFolders/0/uri")
        .and_then(Value::as_str)
        .and_then(from_uri)
        .or_else(|| {
            params
                .get("rootUri")
                .and_then(Value::as_str)
                .and_then(from_uri)
        })
        .or_else(|| {
            params
                .get("rootPath")
                .and_then(Value::as_str)
                .map(PathBuf::from)
        })
        .or_else(|| std::env::current_dir().ok())
        .unwrap_or_else(|| PathBuf::from("."))
}

/// Removes Proofwright's settings from `initialize` params before Lean's server sees them.
pub fn strip_our_options(params: &mut Value) {
    if let Some(Value::Object(options)) = params.get_mut("initializationOptions") {
        options.remove(SETTINGS_SECTION);
        for key in KNOWN_KEYS {
            options.remove(key);
        }
    }
}

/// The answer to `initialize` with both servers' capabilities: Lean's, plus ours.
pub fn merge_capabilities(ours: Value, lean: &Value) -> Value {
    let mut merged = ours.clone();
    let (Some(our_capabilities), Some(lean_capabilities)) = (
        ours.pointer("/result/capabilities")
            .and_then(Value::as_object),
        lean.pointer("/result/capabilities")
            .and_then(Value::as_object),
    ) else {
        return merged;
    };
    let mut capabilities: Map<String, Value> = lean_capabilities.clone();
    for (name, ours) in our_capabilities {
        let combined = match (name.as_str(), capabilities.get(name)) {
            (_, None) | (_, Some(Value::Null)) | (_, Some(Value::Bool(false))) => ours.clone(),
            // Lean decides how documents are synchronised: both servers get the same changes.
            ("textDocumentSync", Some(lean)) => lean.clone(),
            ("completionProvider", Some(lean)) => {
                let mut combined = lean.clone();
                let mut triggers: Vec<Value> = lean
                    .get("triggerCharacters")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default();
                for trigger in ours
                    .get("triggerCharacters")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    if !triggers.contains(trigger) {
                        triggers.push(trigger.clone());
                    }
                }
                if !triggers.is_empty() {
                    combined["triggerCharacters"] = Value::Array(triggers);
                }
                combined
            }
            ("codeActionProvider", Some(Value::Object(lean))) => {
                let mut combined = Value::Object(lean.clone());
                if let Some(lean_kinds) = lean.get("codeActionKinds").and_then(Value::as_array) {
                    let mut kinds = lean_kinds.clone();
                    for kind in ours
                        .get("codeActionKinds")
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten()
                    {
                        if !kinds.contains(kind) {
                            kinds.push(kind.clone());
                        }
                    }
                    combined["codeActionKinds"] = Value::Array(kinds);
                }
                combined
            }
            ("executeCommandProvider", Some(lean)) => {
                let mut commands: Vec<Value> = lean
                    .get("commands")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default();
                commands.extend(
                    ours.get("commands")
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten()
                        .cloned(),
                );
                json!({ "commands": commands })
            }
            (_, Some(lean)) => lean.clone(),
        };
        capabilities.insert(name.clone(), combined);
    }
    merged["result"]["capabilities"] = Value::Object(capabilities);
    let lean_name = lean
        .pointer("/result/serverInfo/name")
        .and_then(Value::as_str)
        .unwrap_or("lean");
    merged["result"]["serverInfo"]["name"] =
        Value::String(format!("proofwright (with {lean_name})"));
    merged
}

/// Combines our answer and Lean's (either may be an error, Lean's may be missing).
pub fn merge_responses(kind: MergeKind, ours: Value, lean: Option<Value>) -> Value {
    let Some(lean) = lean else {
        return ours;
    };
    let ours_result = ours.get("result").cloned();
    let lean_result = lean.get("result").cloned();
    let (ours_result, lean_result) = match (ours_result, lean_result) {
        (Some(ours_result), Some(lean_result)) => (ours_result, lean_result),
        (Some(_), None) | (None, None) => return ours,
        (None, Some(lean_result)) => {
            let mut answer = ours.clone();
            if let Some(object) = answer.as_object_mut() {
                object.remove("error");
            }
            answer["result"] = lean_result;
            return answer;
        }
    };
    let result = match kind {
        MergeKind::Shutdown => ours_result,
        MergeKind::List => match (ours_result, lean_result) {
            (Value::Null, Value::Null) => Value::Null,
            (ours, lean) => {
                let mut items = as_list(lean);
                items.extend(as_list(ours));
                Value::Array(items)
            }
        },
        MergeKind::Completion => {
            let (lean_items, lean_incomplete) = completion_items(lean_result);
            let (our_items, our_incomplete) = completion_items(ours_result);
            let mut items = lean_items;
            items.extend(our_items);
            json!({ "isIncomplete": lean_incomplete || our_incomplete, "items": items })
        }
        MergeKind::Hover => match (ours_result, lean_result) {
            (Value::Null, lean) => lean,
            (ours, Value::Null) => ours,
            (ours, lean) => {
                let text = [hover_markdown(&lean), hover_markdown(&ours)]
                    .into_iter()
                    .filter(|text| !text.is_empty())
                    .collect::<Vec<_>>()
                    .join("\n\n---\n\n");
                let mut hover = json!({ "contents": { "kind": "markdown", "value": text } });
                if let Some(range) = lean.get("range").or_else(|| ours.get("range")) {
                    hover["range"] = range.clone();
                }
                hover
            }
        },
    };
    let mut answer = ours;
    answer["result"] = result;
    answer
}

fn as_list(value: Value) -> Vec<Value> {
    match value {
        Value::Array(items) => items,
        _ => Vec::new(),
    }
}

fn completion_items(value: Value) -> (Vec<Value>, bool) {
    match value {
        Value::Array(items) => (items, false),
        Value::Object(mut list) => (
            match list.remove("items") {
                Some(Value::Array(items)) => items,
                _ => Vec::new(),
            },
            list.get("isIncomplete")
                .and_then(Value::as_bool)
                .unwrap_or(false),
        ),
        _ => (Vec::new(), false),
    }
}

/// A hover's contents (MarkupContent, MarkedString or a list of them) as Markdown.
fn hover_markdown(hover: &Value) -> String {
    fn marked(value: &Value) -> String {
        match value {
            Value::String(text) => text.clone(),
            Value::Object(object) => match (object.get("language"), object.get("value")) {
                (Some(Value::String(language)), Some(Value::String(text))) => {
                    format!("```{language}\n{text}\n```")
                }
                (_, Some(Value::String(text))) => text.clone(),
                _ => String::new(),
            },
            Value::Array(items) => items
                .iter()
                .map(marked)
                .filter(|text| !text.is_empty())
                .collect::<Vec<_>>()
                .join("\n\n"),
            _ => String::new(),
        }
    }
    hover.get("contents").map(marked).unwrap_or_default()
}

/// Diagnostics per document from both servers: each publication replaces that server's part
/// and the editor gets the union.
#[derive(Default)]
pub struct DiagnosticsMerge {
    by_uri: HashMap<String, [Vec<Value>; 2]>,
}

impl DiagnosticsMerge {
    /// Passes `message` on, with a `publishDiagnostics` made into the union of both servers'.
    pub fn filter(&mut self, origin: Origin, mut message: Value) -> Option<Value> {
        if message.get("method").and_then(Value::as_str) != Some("textDocument/publishDiagnostics")
        {
            return Some(message);
        }
        let uri = message.pointer("/params/uri")?.as_str()?.to_owned();
        let diagnostics = message
            .pointer("/params/diagnostics")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let parts = self.by_uri.entry(uri).or_default();
        let slot = match origin {
            Origin::Lean => 0,
            Origin::Proofwright => 1,
        };
        parts[slot] = diagnostics;
        let union: Vec<Value> = parts.iter().flatten().cloned().collect();
        message["params"]["diagnostics"] = Value::Array(union);
        Some(message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capabilities_are_lean_s_plus_ours() {
        let ours = json!({"jsonrpc": "2.0", "id": 0, "result": {
            "capabilities": {
                "textDocumentSync": {"openClose": true, "change": 2},
                "completionProvider": {"resolveProvider": false},
                "hoverProvider": true,
                "codeActionProvider": {"codeActionKinds": ["quickfix", "refactor.rewrite"]},
                "codeLensProvider": {"resolveProvider": false},
                "executeCommandProvider": {"commands": ["proofwright.prove"]}
            },
            "serverInfo": {"name": "proofwright", "version": "0.1.0"}
        }});
        let lean = json!({"jsonrpc": "2.0", "id": 0, "result": {
            "capabilities": {
                "textDocumentSync": 1,
                "completionProvider": {"triggerCharacters": ["."], "resolveProvider": true},
                "codeActionProvider": {"codeActionKinds": ["quickfix"], "resolveProvider": true},
                "definitionProvider": true,
                "executeCommandProvider": {"commands": ["lean.restart"]}
            },
            "serverInfo": {"name": "Lean 4 Server"}
        }});
        let merged = merge_capabilities(ours, &lean);
        assert_eq!(
            merged["result"],
            json!({
                "capabilities": {
                    "textDocumentSync": 1,
                    "completionProvider": {"triggerCharacters": ["."], "resolveProvider": true},
                    "hoverProvider": true,
                    "codeActionProvider": {"codeActionKinds": ["quickfix", "refactor.rewrite"], "resolveProvider": true},
                    "codeLensProvider": {"resolveProvider": false},
                    "definitionProvider": true,
                    "executeCommandProvider": {"commands": ["lean.restart", "proofwright.prove"]}
                },
                "serverInfo": {"name": "proofwright (with Lean 4 Server)", "version": "0.1.0"}
            })
        );
    }

    #[test]
    fn answers_are_merged() {
        let response = |result: Value| json!({"jsonrpc": "2.0", "id": 7, "result": result});
        let failure =
            json!({"jsonrpc": "2.0", "id": 7, "error": {"code": -32603, "message": "bad"}});
        assert_eq!(
            merge_responses(
                MergeKind::Completion,
                response(json!([{"label": "ours"}])),
                Some(response(
                    json!({"isIncomplete": true, "items": [{"label": "lean"}]})
                ))
            )["result"],
            json!({"isIncomplete": true, "items": [{"label": "lean"}, {"label": "ours"}]})
        );
        assert_eq!(
            merge_responses(
                MergeKind::Hover,
                response(json!({"contents": {"kind": "markdown", "value": "score 0.4"}})),
                Some(response(
                    json!({"contents": [{"language": "lean", "value": "Nat"}, "doc"], "range": {"start": {"line": 0, "character": 0}, "end": {"line": 0, "character": 1}}})
                ))
            )["result"],
            json!({
                "contents": {"kind": "markdown", "value": "```lean\nNat\n```\n\ndoc\n\n---\n\nscore 0.4"},
                "range": {"start": {"line": 0, "character": 0}, "end": {"line": 0, "character": 1}}
            })
        );
        assert_eq!(
            merge_responses(
                MergeKind::List,
                response(json!(null)),
                Some(response(json!([1])))
            )["result"],
            json!([1])
        );
        assert_eq!(
            merge_responses(MergeKind::List, failure.clone(), Some(response(json!([1])))),
            response(json!([1]))
        );
        assert_eq!(
            merge_responses(MergeKind::List, response(json!([2])), Some(failure.clone())),
            response(json!([2]))
        );
        assert_eq!(
            merge_responses(MergeKind::Hover, failure.clone(), Some(failure.clone())),
            failure
        );
        assert_eq!(
            merge_responses(MergeKind::Shutdown, response(json!(null)), None),
            response(json!(null))
        );
    }

    #[test]
    fn diagnostics_are_merged_per_document() {
        let publish = |uri: &str, message: &str| {
            json!({"jsonrpc": "2.0", "method": "textDocument/publishDiagnostics",
                   "params": {"uri": uri, "diagnostics": [{"message": message}]}})
        };
        let mut merge = DiagnosticsMerge::default();
        let messages = |value: Option<Value>| -> Vec<String> {
            value.expect("passed on")["params"]["diagnostics"]
                .as_array()
                .expect("diagnostics")
                .iter()
                .map(|diagnostic| diagnostic["message"].as_str().unwrap_or("").to_owned())
                .collect()
        };
        assert_eq!(
            messages(merge.filter(Origin::Lean, publish("a", "lean 1"))),
            vec!["lean 1"]
        );
        assert_eq!(
            messages(merge.filter(Origin::Proofwright, publish("a", "ours 1"))),
            vec!["lean 1", "ours 1"]
        );
        assert_eq!(
            messages(merge.filter(Origin::Lean, publish("a", "lean 2"))),
            vec!["lean 2", "ours 1"]
        );
        assert_eq!(
            messages(merge.filter(Origin::Lean, publish("b", "other"))),
            vec!["other"]
        );
        let other = json!({"jsonrpc": "2.0", "method": "$/lean/fileProgress", "params": {}});
        assert_eq!(merge.filter(Origin::Lean, other.clone()), Some(other));
    }
}
