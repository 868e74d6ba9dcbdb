//! The main loop: reads framed messages from the editor, answers bad input itself, hands good
//! messages to the tower-lsp-server service (or, with `--proxy-lean`, to Lean's server as well),
//! and writes every outgoing message through one writer task.
//!
//! Each message's handler is polled once on the main loop, so that what it reads of the
//! documents is in message order, and then runs as a task of its own: a slow request never holds
//! up the next message. A handler that panics is answered with an internal error and the loop
//! goes on. Every request gets exactly one answer, including `$/`-prefixed ones that nobody
//! handles, which tower-lsp-server would leave unanswered.

use super::backend::{Backend, COMMANDS};
use super::framing::{encode_frame, excerpt, FrameError, FrameReader};
use super::limits::{LEAN_PROXY_ID_PREFIX, LEAN_PROXY_INITIALIZE_TIMEOUT, OUTPUT_FLUSH_TIMEOUT};
use super::present::DATA_MARKER;
use super::proxy::{merge_capabilities, merge_responses, DiagnosticsMerge, LeanProxy, MergeKind};
use super::work_queue::panic_message;
use futures::{FutureExt, SinkExt, StreamExt};
use serde_json::{json, Value};
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::task::Poll;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::sync::{mpsc, oneshot};
use tower::Service;
use tower_lsp_server::jsonrpc::{Request, Response};
use tower_lsp_server::{ClientSocket, LspService};

/// JSON-RPC error codes the loop answers with itself.
const PARSE_ERROR: i64 = -32700;
const INVALID_REQUEST: i64 = -32600;
const METHOD_NOT_FOUND: i64 = -32601;
const INTERNAL_ERROR: i64 = -32603;
const SERVER_NOT_INITIALIZED: i64 = -32002;
const REQUEST_FAILED: i64 = -32803;

/// Where an outgoing message comes from (the proxy merges diagnostics by origin).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    Proofwright,
    Lean,
}

/// What the writer task receives.
pub enum Outgoing {
    Message(Origin, Value),
    /// Write what came before, then stop.
    Close,
}

/// Sends messages to the editor through the writer task.
#[derive(Clone)]
pub struct OutputSender {
    sender: mpsc::UnboundedSender<Outgoing>,
}

impl OutputSender {
    pub fn send(&self, origin: Origin, message: Value) {
        let _ = self.sender.send(Outgoing::Message(origin, message));
    }

    pub fn error(&self, id: Value, code: i64, message: impl Into<String>) {
        self.send(Origin::Proofwright, error_response(id, code, message));
    }
}

pub fn error_response(id: Value, code: i64, message: impl Into<String>) -> Value {
    json!({ "jsonrpc": "2.0", "id": id, "error": { "code": code, "message": message.into() } })
}

/// SIGTERM, SIGINT and SIGHUP end the session as the end of the input does: work is cancelled
/// and every child process is stopped before the server exits.
struct Termination {
    #[cfg(unix)]
    signals: Vec<(&'static str, tokio::signal::unix::Signal)>,
}

impl Termination {
    fn new() -> Termination {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            let signals = [
                ("SIGTERM", SignalKind::terminate()),
                ("SIGINT", SignalKind::interrupt()),
                ("SIGHUP", SignalKind::hangup()),
            ]
            .into_iter()
            .filter_map(|(name, kind)| match signal(kind) {
                Ok(stream) => Some((name, stream)),
                Err(error) => {
                    tracing::warn!("cannot watch for {name}: {error}");
                    None
                }
            })
            .collect();
            Termination { signals }
        }
        #[cfg(not(unix))]
        Termination {}
    }

    /// The name of the first signal received (never returns when none can be watched).
    async fn received(&mut self) -> &'static str {
        #[cfg(unix)]
        {
            if self.signals.is_empty() {
                return std::future::pending().await;
            }
            let waits = self.signals.iter_mut().map(|(name, stream)| {
                Box::pin(async move {
                    stream.recv().await;
                    *name
                })
            });
            futures::future::select_all(waits).await.0
        }
        #[cfg(not(unix))]
        std::future::pending().await
    }
}

/// How a session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionEnd {
    pub exit_received: bool,
}

/// Where an answer from our own service goes.
enum Reply {
    /// Straight to the editor.
    Editor,
    /// To the proxy, which merges it with Lean's.
    Merge(oneshot::Sender<Value>),
}

/// What one incoming message is.
enum Incoming {
    Call(Request, Value),
    Response(Value),
    Invalid { id: Value, message: String },
}

fn classify(value: Value) -> Incoming {
    let Value::Object(object) = &value else {
        let message = if value.is_array() {
            "batched messages are not part of LSP; send one JSON-RPC object per message".to_owned()
        } else {
            format!(
                "a message must be a JSON-RPC object, not {}",
                excerpt(&value.to_string())
            )
        };
        return Incoming::Invalid {
            id: Value::Null,
            message,
        };
    };
    let id = object
        .get("id")
        .filter(|id| id.is_string() || id.is_number())
        .cloned()
        .unwrap_or(Value::Null);
    if object.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
        return Incoming::Invalid {
            id,
            message: "the message has no \"jsonrpc\": \"2.0\" member".to_owned(),
        };
    }
    match object.get("method") {
        Some(Value::String(_)) => match serde_json::from_value::<Request>(value.clone()) {
            Ok(request) => Incoming::Call(request, value),
            Err(error) => Incoming::Invalid {
                id,
                message: format!("the request is not valid JSON-RPC: {error}"),
            },
        },
        Some(_) => Incoming::Invalid {
            id,
            message: "\"method\" must be a string".to_owned(),
        },
        None if object.contains_key("id")
            && (object.contains_key("result") || object.contains_key("error")) =>
        {
            Incoming::Response(value)
        }
        None => Incoming::Invalid {
            id,
            message: "the message is neither a request, a notification nor a response".to_owned(),
        },
    }
}

/// How the proxy treats a message from the editor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Route {
    Ours,
    Lean,
    Both,
    Merged(MergeKind),
}

fn route(method: &str, params: &Value, is_request: bool, lean_capabilities: &Value) -> Route {
    let lean_has = |capability: &str| {
        lean_capabilities
            .get(capability)
            .is_some_and(|value| !value.is_null() && *value != Value::Bool(false))
    };
    if !is_request {
        return match method {
            "initialized"
            | "exit"
            | "$/cancelRequest"
            | "$/setTrace"
            | "window/workDoneProgress/cancel"
            | "workspace/didChangeConfiguration"
            | "workspace/didChangeWorkspaceFolders"
            | "workspace/didChangeWatchedFiles" => Route::Both,
            _ if method.starts_with("textDocument/did")
                || method.starts_with("textDocument/will") =>
            {
                Route::Both
            }
            _ if method.starts_with("proofwright/") => Route::Ours,
            _ => Route::Lean,
        };
    }
    let marked_ours = params
        .get("data")
        .and_then(|data| data.get(DATA_MARKER))
        .is_some();
    match method {
        "shutdown" => Route::Merged(MergeKind::Shutdown),
        "workspace/executeCommand" => {
            let command = params.get("command").and_then(Value::as_str).unwrap_or("");
            if COMMANDS.contains(&command) {
                Route::Ours
            } else {
                Route::Lean
            }
        }
        "textDocument/completion" if lean_has("completionProvider") => {
            Route::Merged(MergeKind::Completion)
        }
        "textDocument/hover" if lean_has("hoverProvider") => Route::Merged(MergeKind::Hover),
        "textDocument/codeAction" if lean_has("codeActionProvider") => {
            Route::Merged(MergeKind::List)
        }
        "textDocument/codeLens" if lean_has("codeLensProvider") => Route::Merged(MergeKind::List),
        "textDocument/completion"
        | "textDocument/hover"
        | "textDocument/codeAction"
        | "textDocument/codeLens" => Route::Ours,
        "completionItem/resolve" | "codeAction/resolve" | "codeLens/resolve" => {
            if marked_ours {
                Route::Ours
            } else {
                Route::Lean
            }
        }
        _ if method.starts_with("proofwright/") => Route::Ours,
        _ => Route::Lean,
    }
}

/// Everything the loop owns.
struct Session {
    service: LspService<Backend>,
    output: OutputSender,
    /// With `--proxy-lean`: whether to start Lean, and once started, the proxy.
    proxy_wanted: bool,
    proxy: Option<Arc<LeanProxy>>,
    lean_capabilities: Value,
    /// A message for the editor once it is initialized (why Lean's server did not start).
    proxy_problem: Option<String>,
}

/// Runs one LSP session over `input` and `output` until `exit` or the end of the input.
pub async fn run_session<I, O>(
    input: I,
    output: O,
    service: LspService<Backend>,
    socket: ClientSocket,
    proxy_lean: bool,
) -> SessionEnd
where
    I: AsyncRead + Unpin,
    O: AsyncWrite + Unpin + Send + 'static,
{
    let (sender, receiver) = mpsc::unbounded_channel();
    let merge = proxy_lean.then(DiagnosticsMerge::default);
    let writer = tokio::spawn(write_loop(output, receiver, merge));
    let output = OutputSender { sender };
    let (mut server_requests, mut client_responses) = socket.split();
    let forward_output = output.clone();
    let forwarder = tokio::spawn(async move {
        while let Some(request) = server_requests.next().await {
            match serde_json::to_value(&request) {
                Ok(value) => forward_output.send(Origin::Proofwright, value),
                Err(error) => tracing::error!("cannot encode a message for the editor: {error}"),
            }
        }
    });
    let mut session = Session {
        service,
        output: output.clone(),
        proxy_wanted: proxy_lean,
        proxy: None,
        lean_capabilities: Value::Null,
        proxy_problem: None,
    };
    let mut reader = FrameReader::new(input);
    let mut termination = Termination::new();
    let mut exit_received = false;
    loop {
        let next = tokio::select! {
            next = reader.next_body() => next,
            signal = termination.received() => {
                tracing::info!("{signal}: stopping");
                break;
            }
        };
        let body = match next {
            Ok(Some(Ok(body))) => body,
            Ok(Some(Err(error))) => {
                tracing::warn!("unreadable message: {error}");
                let code = match error {
                    FrameError::ContentLengthTooLarge { .. } => INVALID_REQUEST,
                    _ => PARSE_ERROR,
                };
                output.error(Value::Null, code, error.to_string());
                continue;
            }
            Ok(None) => {
                tracing::info!("the editor closed the input");
                break;
            }
            Err(error) => {
                tracing::error!("cannot read the input: {error}");
                break;
            }
        };
        let value: Value = match serde_json::from_slice(&body) {
            Ok(value) => value,
            Err(error) => {
                output.error(
                    Value::Null,
                    PARSE_ERROR,
                    format!(
                        "the message is not valid JSON ({error}): {}; send one JSON-RPC object per message",
                        excerpt(&String::from_utf8_lossy(&body))
                    ),
                );
                continue;
            }
        };
        match classify(value) {
            Incoming::Invalid { id, message } => output.error(id, INVALID_REQUEST, message),
            Incoming::Response(value) => {
                let proxied = value
                    .get("id")
                    .and_then(Value::as_str)
                    .is_some_and(|id| id.starts_with(LEAN_PROXY_ID_PREFIX));
                if proxied {
                    if let Some(proxy) = &session.proxy {
                        proxy.forward_editor_response(value);
                    }
                    continue;
                }
                match serde_json::from_value::<Response>(value) {
                    Ok(response) => {
                        if client_responses.send(response).await.is_err() {
                            tracing::warn!("a response arrived after the server stopped");
                        }
                    }
                    Err(error) => tracing::warn!("an unreadable response was dropped: {error}"),
                }
            }
            Incoming::Call(request, raw) => {
                let is_exit = request.method() == "exit";
                session.handle(request, raw).await;
                if is_exit {
                    exit_received = true;
                    break;
                }
            }
        }
    }
    if let Some(proxy) = session.proxy.take() {
        proxy.stop().await;
    }
    drop(session);
    forwarder.abort();
    let _ = output.sender.send(Outgoing::Close);
    drop(output);
    if tokio::time::timeout(OUTPUT_FLUSH_TIMEOUT, writer)
        .await
        .is_err()
    {
        tracing::warn!("the output was not flushed in time");
    }
    SessionEnd { exit_received }
}

impl Session {
    async fn handle(&mut self, request: Request, raw: Value) {
        let method = request.method().to_owned();
        let id = raw.get("id").cloned();
        let is_request = id.is_some();
        if self.proxy_wanted && method == "initialize" && self.proxy.is_none() {
            self.initialize_with_lean(request, raw).await;
            return;
        }
        let Some(proxy) = self.proxy.clone() else {
            self.dispatch(request, id, Reply::Editor, method == "initialize")
                .await;
            return;
        };
        let params = raw.get("params").cloned().unwrap_or(Value::Null);
        match route(&method, &params, is_request, &self.lean_capabilities) {
            Route::Ours => self.dispatch(request, id, Reply::Editor, false).await,
            Route::Lean => {
                if let Err(reason) = proxy.forward_from_editor(raw, None) {
                    if let Some(id) = id {
                        self.output.error(
                            id,
                            REQUEST_FAILED,
                            format!("lean's language server is not running ({reason}); this request needs it"),
                        );
                    }
                }
            }
            Route::Both => {
                let _ = proxy.forward_from_editor(raw, None);
                self.dispatch(request, id, Reply::Editor, false).await;
            }
            Route::Merged(kind) => {
                let (lean_sender, lean_answer) = oneshot::channel();
                let lean_running = proxy.forward_from_editor(raw, Some(lean_sender)).is_ok();
                let (ours_sender, ours_answer) = oneshot::channel();
                self.dispatch(request, id.clone(), Reply::Merge(ours_sender), false)
                    .await;
                let output = self.output.clone();
                tokio::spawn(async move {
                    let ours = ours_answer.await.unwrap_or_else(|_| {
                        error_response(
                            id.clone().unwrap_or(Value::Null),
                            INTERNAL_ERROR,
                            "the request was dropped",
                        )
                    });
                    let lean = if lean_running {
                        lean_answer.await.ok()
                    } else {
                        None
                    };
                    output.send(Origin::Proofwright, merge_responses(kind, ours, lean));
                });
            }
        }
    }

    /// `initialize` with `--proxy-lean`: starts Lean's server, initializes both, and answers
    /// with the capabilities of both.
    async fn initialize_with_lean(&mut self, request: Request, raw: Value) {
        let id = raw.get("id").cloned().unwrap_or(Value::Null);
        let params = raw.get("params").cloned().unwrap_or(Value::Null);
        let mut lean_answer = None;
        match LeanProxy::start(&params, self.output.clone()).await {
            Ok(proxy) => {
                let (sender, receiver) = oneshot::channel();
                let mut lean_request = raw.clone();
                if let Some(params) = lean_request.get_mut("params") {
                    super::proxy::strip_our_options(params);
                }
                if proxy
                    .forward_from_editor(lean_request, Some(sender))
                    .is_ok()
                {
                    lean_answer = Some(receiver);
                }
                self.proxy = Some(proxy);
            }
            Err(reason) => {
                tracing::warn!("lean's language server did not start: {reason}");
                self.proxy_problem = Some(reason);
            }
        }
        let (ours_sender, ours_receiver) = oneshot::channel();
        self.dispatch(request, Some(id.clone()), Reply::Merge(ours_sender), true)
            .await;
        let ours = ours_receiver.await.unwrap_or_else(|_| {
            error_response(id.clone(), INTERNAL_ERROR, "initialize was dropped")
        });
        let lean = match lean_answer {
            Some(receiver) => {
                match tokio::time::timeout(LEAN_PROXY_INITIALIZE_TIMEOUT, receiver).await {
                    Ok(Ok(answer)) if answer.get("result").is_some() => Some(answer),
                    Ok(Ok(answer)) => {
                        self.proxy_problem = Some(format!(
                            "lean's language server refused initialize: {}",
                            answer.get("error").cloned().unwrap_or(Value::Null)
                        ));
                        None
                    }
                    _ => {
                        self.proxy_problem = Some(format!(
                            "lean's language server did not answer initialize within {:?}",
                            LEAN_PROXY_INITIALIZE_TIMEOUT
                        ));
                        None
                    }
                }
            }
            None => None,
        };
        let answer = match lean {
            Some(lean) => {
                self.lean_capabilities = lean
                    .pointer("/result/capabilities")
                    .cloned()
                    .unwrap_or(Value::Null);
                merge_capabilities(ours, &lean)
            }
            None => {
                if let Some(proxy) = self.proxy.take() {
                    proxy.stop().await;
                }
                ours
            }
        };
        self.output.send(Origin::Proofwright, answer);
        if let Some(problem) = self.proxy_problem.take() {
            self.output.send(
                Origin::Proofwright,
                json!({
                    "jsonrpc": "2.0", "method": "window/showMessage",
                    "params": { "type": 2, "message": format!("Proofwright: {problem}; only Proofwright's own features are available") }
                }),
            );
        }
    }

    /// Hands a request or notification to our service; its answer goes where `reply` says.
    async fn dispatch(&mut self, request: Request, id: Option<Value>, reply: Reply, inline: bool) {
        let method = request.method().to_owned();
        let ready = futures::future::poll_fn(|context| match self.service.poll_ready(context) {
            Poll::Pending => Poll::Ready(None),
            Poll::Ready(result) => Poll::Ready(Some(result)),
        })
        .await;
        let output = self.output.clone();
        match ready {
            Some(Ok(())) => {}
            Some(Err(_)) => {
                finish(
                    &output,
                    &method,
                    id,
                    reply,
                    Ok(Some(error_response(
                        Value::Null,
                        INVALID_REQUEST,
                        "the server has exited",
                    ))),
                );
                return;
            }
            None => {
                finish(
                    &output,
                    &method,
                    id,
                    reply,
                    Ok(Some(error_response(
                        Value::Null,
                        SERVER_NOT_INITIALIZED,
                        "the server did not finish initializing; restart it",
                    ))),
                );
                return;
            }
        }
        let mut future = AssertUnwindSafe(self.service.call(request))
            .catch_unwind()
            .map(|outcome| match outcome {
                Ok(Ok(Some(response))) => Ok(serde_json::to_value(response).ok()),
                Ok(Ok(None)) => Ok(None),
                Ok(Err(_)) => Ok(Some(error_response(
                    Value::Null,
                    INVALID_REQUEST,
                    "the server has exited",
                ))),
                Err(payload) => Err(panic_message(payload.as_ref())),
            })
            .boxed();
        // Poll once here, so that the handler reads the documents before later messages
        // change them; the rest runs as its own task.
        match futures::poll!(&mut future) {
            Poll::Ready(outcome) => finish(&output, &method, id, reply, outcome),
            Poll::Pending if inline => {
                let outcome = future.await;
                finish(&output, &method, id, reply, outcome);
            }
            Poll::Pending => {
                tokio::spawn(async move {
                    let outcome = future.await;
                    finish(&output, &method, id, reply, outcome);
                });
            }
        }
    }
}

/// Sends the answer of one handler: the response, "method not found" for a request nobody
/// answered, or an internal error for a panic.
fn finish(
    output: &OutputSender,
    method: &str,
    id: Option<Value>,
    reply: Reply,
    outcome: Result<Option<Value>, String>,
) {
    let answer = match (outcome, &id) {
        (Ok(Some(mut response)), Some(id)) => {
            // Answers the loop made up carry a null id; give them the request's.
            if response.get("id") == Some(&Value::Null) {
                response["id"] = id.clone();
            }
            Some(response)
        }
        (Ok(Some(_)), None) => None,
        (Ok(None), Some(id)) => Some(error_response(
            id.clone(),
            METHOD_NOT_FOUND,
            format!("the server does not handle {method}"),
        )),
        (Ok(None), None) => None,
        (Err(message), id) => {
            tracing::error!("the handler of {method} panicked: {message}");
            id.as_ref().map(|id| {
                error_response(
                    id.clone(),
                    INTERNAL_ERROR,
                    format!(
                        "the server hit a bug while handling {method} ({message}); it keeps running; please report this with the server's log"
                    ),
                )
            })
        }
    };
    match (answer, reply) {
        (Some(answer), Reply::Editor) => output.send(Origin::Proofwright, answer),
        (Some(answer), Reply::Merge(sender)) => {
            let _ = sender.send(answer);
        }
        (None, _) => {}
    }
}

async fn write_loop<O: AsyncWrite + Unpin>(
    mut output: O,
    mut receiver: mpsc::UnboundedReceiver<Outgoing>,
    mut merge: Option<DiagnosticsMerge>,
) {
    while let Some(outgoing) = receiver.recv().await {
        let (origin, message) = match outgoing {
            Outgoing::Message(origin, message) => (origin, message),
            Outgoing::Close => break,
        };
        let message = match merge.as_mut() {
            Some(merge) => match merge.filter(origin, message) {
                Some(message) => message,
                None => continue,
            },
            None => message,
        };
        let body = match serde_json::to_vec(&message) {
            Ok(body) => body,
            Err(error) => {
                tracing::error!("cannot encode a message for the editor: {error}");
                continue;
            }
        };
        if let Err(error) = output.write_all(&encode_frame(&body)).await {
            tracing::error!("cannot write to the editor: {error}");
            return;
        }
        if let Err(error) = output.flush().await {
            tracing::error!("cannot write to the editor: {error}");
            return;
        }
    }
    let _ = output.flush().await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_classified() {
        let cases = [
            (json!([1]), "invalid: batched messages are not part of LSP; send one JSON-RPC object per message"),
            (json!(5), "invalid: a message must be a JSON-RPC object, not 5"),
            (json!({"id": 1, "method": "x"}), "invalid: the message has no \"jsonrpc\": \"2.0\" member"),
            (json!({"jsonrpc": "2.0", "id": 1, "method": 3}), "invalid: \"method\" must be a string"),
            (json!({"jsonrpc": "2.0", "id": 1}), "invalid: the message is neither a request, a notification nor a response"),
            (json!({"jsonrpc": "2.0", "id": 1, "result": null}), "response"),
            (json!({"jsonrpc": "2.0", "id": 1, "method": "a/b"}), "call a/b"),
            (json!({"jsonrpc": "2.0", "method": "a/b", "params": {}}), "call a/b"),
        ];
        for (value, expected) in cases {
            let got = match classify(value.clone()) {
                Incoming::Call(request, _) => format!("call {}", request.method()),
                Incoming::Response(_) => "response".to_owned(),
                Incoming::Invalid { message, .. } => format!("invalid: {message}"),
            };
            assert_eq!(got, expected, "{value}");
        }
    }

    #[test]
    fn the_proxy_routes_by_method_and_capability() {
        let lean =
            json!({"completionProvider": {}, "hoverProvider": true, "codeActionProvider": false});
        let cases = [
            ("textDocument/didOpen", false, json!({}), Route::Both),
            ("$/lean/fileProgress", false, json!({}), Route::Lean),
            (
                "textDocument/completion",
                true,
                json!({}),
                Route::Merged(MergeKind::Completion),
            ),
            (
                "textDocument/hover",
                true,
                json!({}),
                Route::Merged(MergeKind::Hover),
            ),
            ("textDocument/codeAction", true, json!({}), Route::Ours),
            ("textDocument/codeLens", true, json!({}), Route::Ours),
            ("textDocument/definition", true, json!({}), Route::Lean),
            ("$/lean/plainGoal", true, json!({}), Route::Lean),
            (
                "workspace/executeCommand",
                true,
                json!({"command": "proofwright.prove"}),
                Route::Ours,
            ),
            (
                "workspace/executeCommand",
                true,
                json!({"command": "lean4.restart"}),
                Route::Lean,
            ),
            (
                "completionItem/resolve",
                true,
                json!({"data": {"proofwright": true}}),
                Route::Ours,
            ),
            (
                "completionItem/resolve",
                true,
                json!({"data": {"lean": 1}}),
                Route::Lean,
            ),
            (
                "shutdown",
                true,
                json!(null),
                Route::Merged(MergeKind::Shutdown),
            ),
        ];
        for (method, is_request, params, expected) in cases {
            assert_eq!(
                route(method, &params, is_request, &lean),
                expected,
                "{method}"
            );
        }
    }
}
