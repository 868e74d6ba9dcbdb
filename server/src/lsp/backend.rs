//! The request and notification handlers (tower-lsp-server's `LanguageServer`). Handlers never
//! wait on the model or Lean on the main loop: text sync is a string edit, and anything slow is
//! a job on the work queue that the handler's future awaits, cancelled when the request is.

use super::documents::{DocumentError, DocumentSnapshot, DocumentStore};
use super::engine::{Engine, EngineEvent, ModelLoader, ModelState, ProverUnavailable};
use super::limits::{
    APPLY_EDIT_TIMEOUT, COMPLETION_PROPOSALS, CONFIGURATION_REQUEST_TIMEOUT,
    PANIC_REQUEST_VARIABLE, PROGRESS_CREATE_TIMEOUT, STATUS_NOTIFICATION_INTERVAL,
    WORKER_STOP_TIMEOUT, WORKER_THREADS, WORK_QUEUE_CAPACITY,
};
use super::present::{
    completion_items, plain_text, status_title, DocumentFindings, SearchNote, TextFormats,
    DATA_MARKER,
};
use super::settings::{ServerSettings, SETTINGS_SECTION};
use super::work_queue::{JobError, JobRequest, Priority, StalePolicy, WorkQueue};
use crate::prover::{Cancellation, ProofReport, Provenance, SearchOutcome, Target};
use proofwright_lean::position::{ByteOffset, ByteRange};
use proofwright_lean::syntax::{Outline, ProofKind};
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::num::NonZeroUsize;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::{mpsc, watch};
use tower_lsp_server::jsonrpc::{Error, ErrorCode, Result as RpcResult};
use tower_lsp_server::ls_types::notification::{Notification, Progress};
use tower_lsp_server::ls_types::{
    ApplyWorkspaceEditParams, CodeAction, CodeActionKind, CodeActionOptions, CodeActionOrCommand,
    CodeActionParams, CodeActionProviderCapability, CodeActionResponse, CodeLens, CodeLensOptions,
    CodeLensParams, Command, CompletionOptions, CompletionParams, CompletionResponse,
    ConfigurationItem, DidChangeConfigurationParams, DidChangeTextDocumentParams,
    DidCloseTextDocumentParams, DidOpenTextDocumentParams, ExecuteCommandOptions,
    ExecuteCommandParams, Hover, HoverContents, HoverParams, HoverProviderCapability,
    InitializeParams, InitializeResult, InitializedParams, MarkupContent, MarkupKind, MessageType,
    OneOf, OptionalVersionedTextDocumentIdentifier, Position, ProgressParams, ProgressParamsValue,
    ProgressToken, ServerCapabilities, ServerInfo, TextDocumentEdit, TextDocumentSyncCapability,
    TextDocumentSyncKind, TextDocumentSyncOptions, TextEdit, Uri, WorkDoneProgress,
    WorkDoneProgressBegin, WorkDoneProgressCancelParams, WorkDoneProgressEnd,
    WorkDoneProgressOptions, WorkDoneProgressReport, WorkspaceEdit,
};
use tower_lsp_server::{Client, LanguageServer};

/// The commands of `workspace/executeCommand` (docs/lsp.md).
pub const PROVE_COMMAND: &str = "proofwright.prove";
pub const REFINE_COMMAND: &str = "proofwright.refine";
pub const ALTERNATIVE_COMMAND: &str = "proofwright.alternative";
pub const VERIFY_COMMAND: &str = "proofwright.verify";
pub const STATUS_COMMAND: &str = "proofwright.status";
pub const COMMANDS: [&str; 5] = [
    PROVE_COMMAND,
    REFINE_COMMAND,
    ALTERNATIVE_COMMAND,
    VERIFY_COMMAND,
    STATUS_COMMAND,
];
/// Code action titles (docs/lsp.md).
pub const PROVE_TITLE: &str = "Prove this sorry";
pub const REFINE_TITLE: &str = "Refine this step";
pub const ALTERNATIVE_TITLE: &str = "Replace with an alternative";
pub const VERIFY_TITLE: &str = "Verify this proof";
/// JSON-RPC's "request failed" (LSP 3.17): the request was valid but could not be served.
pub const REQUEST_FAILED: i64 = -32803;

/// The `proofwright/status` notification.
pub enum StatusNotification {}

impl Notification for StatusNotification {
    type Params = Value;
    const METHOD: &'static str = "proofwright/status";
}

/// What the editor can do, from `initialize`.
#[derive(Debug, Clone, Copy, Default)]
struct ClientFeatures {
    configuration: bool,
    work_done_progress: bool,
    apply_edit: bool,
    document_changes: bool,
    code_lens_refresh: bool,
    formats: TextFormats,
}

/// How `proofwright serve` was started.
pub struct ServeOptions {
    /// Settings before the editor sends any (from the command line).
    pub defaults: ServerSettings,
    pub loader: ModelLoader,
    pub discovery: proofwright_lean::process::DiscoveryEnvironment,
}

/// Everything the handlers share.
pub struct ServerCore {
    client: Client,
    documents: DocumentStore,
    queue: WorkQueue,
    engine: Arc<Engine>,
    settings: Mutex<ServerSettings>,
    features: Mutex<ClientFeatures>,
    findings: Mutex<HashMap<Uri, DocumentFindings>>,
    /// Work-done progress tokens (as JSON text) and what cancelling them cancels.
    progress_tokens: Mutex<HashMap<String, Cancellation>>,
    root: Mutex<Option<PathBuf>>,
    last_document: Mutex<Option<PathBuf>>,
    /// Settings problems found before the editor could be told.
    pending_problems: Mutex<Vec<String>>,
    engine_events: Mutex<Option<mpsc::UnboundedReceiver<EngineEvent>>>,
    status_changed: watch::Sender<u64>,
    shutdown_requested: AtomicBool,
    next_progress_id: AtomicU64,
    panic_request_enabled: bool,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The tower-lsp-server backend.
pub struct Backend {
    core: Arc<ServerCore>,
}

/// The threads a server needs, started before the service is built.
pub struct ServerResources {
    documents: DocumentStore,
    queue: WorkQueue,
    status_changed: watch::Sender<u64>,
}

impl ServerResources {
    /// Starts the worker threads and the outline thread.
    pub fn start() -> std::io::Result<ServerResources> {
        let (status_changed, _) = watch::channel(0u64);
        let queue_status = status_changed.clone();
        let queue = WorkQueue::start(WORKER_THREADS, WORK_QUEUE_CAPACITY, move |_| {
            queue_status.send_modify(|count| *count += 1);
        })?;
        Ok(ServerResources {
            documents: DocumentStore::start()?,
            queue,
            status_changed,
        })
    }
}

impl Backend {
    pub fn new(client: Client, options: ServeOptions, resources: ServerResources) -> Backend {
        let (events_sender, events) = mpsc::unbounded_channel();
        let engine = Arc::new(Engine::new(
            options.loader,
            options.discovery,
            events_sender,
        ));
        let core = ServerCore {
            client,
            documents: resources.documents,
            queue: resources.queue,
            engine,
            settings: Mutex::new(options.defaults),
            features: Mutex::new(ClientFeatures::default()),
            findings: Mutex::new(HashMap::new()),
            progress_tokens: Mutex::new(HashMap::new()),
            root: Mutex::new(None),
            last_document: Mutex::new(None),
            pending_problems: Mutex::new(Vec::new()),
            engine_events: Mutex::new(Some(events)),
            status_changed: resources.status_changed,
            shutdown_requested: AtomicBool::new(false),
            next_progress_id: AtomicU64::new(0),
            panic_request_enabled: std::env::var(PANIC_REQUEST_VARIABLE).as_deref() == Ok("1"),
        };
        Backend {
            core: Arc::new(core),
        }
    }

    pub fn core(&self) -> Arc<ServerCore> {
        self.core.clone()
    }

    /// `window/workDoneProgress/cancel`: cancels the work behind a progress token.
    pub async fn work_done_progress_cancel(&self, params: WorkDoneProgressCancelParams) {
        let key = token_key(&params.token);
        match lock(&self.core.progress_tokens).get(&key) {
            Some(cancellation) => {
                tracing::info!("cancelling the work behind progress token {key}");
                cancellation.cancel();
                self.core.queue.sweep();
            }
            None => tracing::info!("no work behind progress token {key}; nothing to cancel"),
        }
    }

    /// `proofwright/debug/panic` (only with PROOFWRIGHT_LSP_ENABLE_PANIC_REQUEST=1): panics in
    /// the handler, or on a worker thread with `{"where": "worker"}`.
    pub async fn debug_panic(&self, params: Value) -> RpcResult<Value> {
        if !self.core.panic_request_enabled {
            return Err(Error::method_not_found());
        }
        if params.get("where").and_then(Value::as_str) == Some("worker") {
            let mut handle = self
                .core
                .queue
                .submit(
                    JobRequest {
                        description: "proofwright/debug/panic".to_owned(),
                        priority: Priority::Interactive,
                        document: None,
                        stale_policy: StalePolicy::AnyEdit,
                        cancellation: None,
                    },
                    |_| -> anyhow::Result<Value> { panic!("deliberate panic on a worker thread") },
                )
                .map_err(job_error)?;
            return handle.outcome().await.map_err(job_error);
        }
        panic!("deliberate panic in a request handler");
    }
}

/// Errors of the JSON-RPC kind for the editor.
fn request_failed(message: impl std::fmt::Display) -> Error {
    Error {
        code: ErrorCode::ServerError(REQUEST_FAILED),
        message: message.to_string().into(),
        data: None,
    }
}

fn job_error(error: JobError) -> Error {
    match error {
        JobError::Cancelled => Error::request_cancelled(),
        other => request_failed(other),
    }
}

fn document_error(error: DocumentError) -> Error {
    match error {
        DocumentError::Changed { .. } => Error {
            code: ErrorCode::ContentModified,
            message: error.to_string().into(),
            data: None,
        },
        DocumentError::PositionPastEnd { .. } => Error::invalid_params(error.to_string()),
        DocumentError::NotOpen { .. } | DocumentError::Closed { .. } => {
            Error::invalid_params(error.to_string())
        }
    }
}

fn token_key(token: &ProgressToken) -> String {
    serde_json::to_string(token).unwrap_or_default()
}

/// The argument of prove / refine / alternative / verify.
#[derive(Debug, Deserialize)]
struct PositionArgument {
    uri: Uri,
    position: Position,
}

fn position_argument(arguments: &[Value]) -> RpcResult<PositionArgument> {
    let first = arguments.first().ok_or_else(|| {
        Error::invalid_params(
            "expected one argument {\"uri\": string, \"position\": {\"line\": n, \"character\": n}}",
        )
    })?;
    serde_json::from_value(first.clone()).map_err(|error| {
        Error::invalid_params(format!(
            "the argument must be {{\"uri\": string, \"position\": {{\"line\": n, \"character\": n}}}}: {error}"
        ))
    })
}

/// Which search a command runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SearchCommand {
    Prove,
    Refine,
    Alternative,
}

impl SearchCommand {
    fn name(self) -> &'static str {
        match self {
            SearchCommand::Prove => PROVE_COMMAND,
            SearchCommand::Refine => REFINE_COMMAND,
            SearchCommand::Alternative => ALTERNATIVE_COMMAND,
        }
    }

    fn progress_title(self) -> &'static str {
        match self {
            SearchCommand::Prove => "Proofwright: proving",
            SearchCommand::Refine => "Proofwright: refining a step",
            SearchCommand::Alternative => "Proofwright: looking for an alternative step",
        }
    }

    /// The target at `offset`, or why there is none.
    fn target(self, outline: &Outline, offset: usize) -> Result<Target, String> {
        let at = ByteOffset(offset);
        let natural = Target::at(outline, at);
        match self {
            SearchCommand::Prove => match natural {
                Some(Target::Sorry { sorry_idx }) => Ok(Target::Sorry { sorry_idx }),
                Some(target) => target
                    .declaration_idx(outline)
                    .map(|declaration_idx| Target::Proof { declaration_idx })
                    .ok_or_else(|| "there is no sorry or proof at this position".to_owned()),
                None => Err(
                    "there is no sorry or proof at this position; put the cursor on a sorry"
                        .to_owned(),
                ),
            },
            SearchCommand::Refine | SearchCommand::Alternative => {
                let declaration_idx = outline
                    .declarations
                    .iter()
                    .position(|declaration| declaration.range.contains(at))
                    .ok_or("there is no proof step at this position; put the cursor on a step")?;
                let step_idx = outline.declarations[declaration_idx]
                    .step_at(at)
                    .ok_or("there is no proof step at this position; put the cursor on a step")?;
                Ok(if self == SearchCommand::Refine {
                    Target::Step {
                        declaration_idx,
                        step_idx,
                    }
                } else {
                    Target::Alternative {
                        declaration_idx,
                        step_idx,
                    }
                })
            }
        }
    }
}

/// The byte range a target's result is shown at: the sorry, the step or the proof.
fn target_range(outline: &Outline, target: &Target) -> Option<ByteRange> {
    match *target {
        Target::Sorry { sorry_idx } => outline.sorries.get(sorry_idx).map(|sorry| sorry.range),
        Target::Step {
            declaration_idx,
            step_idx,
        }
        | Target::Alternative {
            declaration_idx,
            step_idx,
        } => outline
            .declarations
            .get(declaration_idx)?
            .steps
            .get(step_idx)
            .map(|step| step.range),
        Target::Proof { declaration_idx } => outline.declarations.get(declaration_idx)?.proof_range,
    }
}

/// Whether completion makes sense at `offset`: inside a tactic proof.
/// Whether `offset` continues a tactic proof: inside it, or on an indented blank line after its
/// last step, where the next step would be typed.
fn in_tactic_proof(text: &str, outline: &Outline, offset: usize) -> bool {
    crate::prover::tactic_block_at(text, outline, offset).is_some_and(|idx| {
        let declaration = &outline.declarations[idx];
        declaration.proof_kind == Some(ProofKind::Tactic)
            && declaration
                .proof_range
                .is_some_and(|proof| proof.start.0 < offset)
    })
}

/// What a work-done progress forwards to the editor.
enum ProgressMessage {
    Report(String),
    End(String),
}

/// A work-done progress: `$/progress` begin, reports and end, and the cancellation that the
/// editor's cancel button triggers.
struct WorkProgress {
    cancellation: Cancellation,
    messages: mpsc::UnboundedSender<ProgressMessage>,
    forwarder: Option<tokio::task::JoinHandle<()>>,
    ended: bool,
}

/// Sends progress reports from a worker thread.
#[derive(Clone)]
struct ProgressReporter {
    messages: mpsc::UnboundedSender<ProgressMessage>,
}

impl ProgressReporter {
    fn report(&self, message: String) {
        let _ = self.messages.send(ProgressMessage::Report(message));
    }
}

impl WorkProgress {
    /// Begins progress on the editor's token, or on one the server creates when the editor
    /// supports that; without either, reports go nowhere.
    async fn begin(
        core: &Arc<ServerCore>,
        editor_token: Option<ProgressToken>,
        title: &str,
        cancellation: Cancellation,
    ) -> WorkProgress {
        let token = match editor_token {
            Some(token) => Some(token),
            None if lock(&core.features).work_done_progress => {
                let token = ProgressToken::String(format!(
                    "proofwright-progress-{}",
                    core.next_progress_id.fetch_add(1, Ordering::Relaxed) + 1
                ));
                match tokio::time::timeout(
                    PROGRESS_CREATE_TIMEOUT,
                    core.client.create_work_done_progress(token.clone()),
                )
                .await
                {
                    Ok(Ok(())) => Some(token),
                    Ok(Err(error)) => {
                        tracing::warn!("the editor refused a progress token: {error}");
                        None
                    }
                    Err(_) => {
                        tracing::warn!("the editor did not answer window/workDoneProgress/create");
                        None
                    }
                }
            }
            None => None,
        };
        let (messages, mut receiver) = mpsc::unbounded_channel::<ProgressMessage>();
        let forwarder = token.map(|token| {
            lock(&core.progress_tokens).insert(token_key(&token), cancellation.clone());
            let core = core.clone();
            let title = title.to_owned();
            tokio::spawn(async move {
                let send = |value: WorkDoneProgress| {
                    core.client.send_notification::<Progress>(ProgressParams {
                        token: token.clone(),
                        value: ProgressParamsValue::WorkDone(value),
                    })
                };
                send(WorkDoneProgress::Begin(WorkDoneProgressBegin {
                    title,
                    cancellable: Some(true),
                    message: None,
                    percentage: None,
                }))
                .await;
                let mut last = String::new();
                let end = loop {
                    match receiver.recv().await {
                        Some(ProgressMessage::Report(message)) => {
                            if message == last {
                                continue;
                            }
                            last = message.clone();
                            send(WorkDoneProgress::Report(WorkDoneProgressReport {
                                cancellable: Some(true),
                                message: Some(message),
                                percentage: None,
                            }))
                            .await;
                        }
                        Some(ProgressMessage::End(message)) => break message,
                        None => break "cancelled".to_owned(),
                    }
                };
                lock(&core.progress_tokens).remove(&token_key(&token));
                send(WorkDoneProgress::End(WorkDoneProgressEnd {
                    message: Some(end),
                }))
                .await;
            })
        });
        WorkProgress {
            cancellation,
            messages,
            forwarder,
            ended: false,
        }
    }

    fn reporter(&self) -> ProgressReporter {
        ProgressReporter {
            messages: self.messages.clone(),
        }
    }

    /// Ends the progress after the reports sent so far.
    async fn end(mut self, message: String) {
        self.ended = true;
        let _ = self.messages.send(ProgressMessage::End(message));
        if let Some(forwarder) = self.forwarder.take() {
            let _ = forwarder.await;
        }
    }
}

impl Drop for WorkProgress {
    fn drop(&mut self) {
        if !self.ended {
            // The request was cancelled or dropped: stop the work and close the progress.
            self.cancellation.cancel();
            let _ = self
                .messages
                .send(ProgressMessage::End("cancelled".to_owned()));
        }
    }
}

impl ServerCore {
    pub fn shutdown_requested(&self) -> bool {
        self.shutdown_requested.load(Ordering::SeqCst)
    }

    fn settings(&self) -> ServerSettings {
        lock(&self.settings).clone()
    }

    /// Stops everything the server started: worker threads, the outline thread, Lean's
    /// processes. Blocks: call it outside the async runtime.
    pub fn teardown(&self) {
        self.queue.stop(WORKER_STOP_TIMEOUT);
        self.engine.shutdown();
        self.documents.stop();
    }

    fn bump_status(&self) {
        self.status_changed.send_modify(|count| *count += 1);
    }

    /// Reads a settings object from `source`; reports bad values to the editor (or keeps them
    /// for when it can be told) and follows the changes.
    async fn apply_settings(self: &Arc<Self>, value: &Value, source: &str, can_show: bool) {
        let update = lock(&self.settings).updated_with(value);
        for key in &update.unknown_keys {
            tracing::info!("{source}: unknown setting {SETTINGS_SECTION}.{key} ignored");
        }
        let problems: Vec<String> = update.problems.iter().map(ToString::to_string).collect();
        for problem in &problems {
            tracing::warn!("{source}: {problem}");
        }
        let (old, new) = {
            let mut settings = lock(&self.settings);
            let old = settings.clone();
            *settings = update.settings.clone();
            (old, update.settings)
        };
        if !problems.is_empty() {
            let message = format!("Proofwright settings: {}", problems.join("; "));
            if can_show {
                self.client
                    .show_message(MessageType::WARNING, message)
                    .await;
            } else {
                lock(&self.pending_problems).push(message);
            }
        }
        if can_show && old != new {
            self.follow_settings(&old, &new);
        }
    }

    /// Reloads what the changed settings need and re-verifies open documents.
    fn follow_settings(self: &Arc<Self>, old: &ServerSettings, new: &ServerSettings) {
        if self.engine.configure(new) {
            self.queue.cancel_all();
        }
        let only_debounce = {
            let mut old = old.clone();
            old.debounce = new.debounce;
            old == *new
        };
        if !only_debounce {
            lock(&self.findings).clear();
            self.verify_open_documents();
        }
        self.bump_status();
    }

    /// Asks the editor for the `proofwright` section and applies it.
    async fn pull_configuration(self: &Arc<Self>) {
        if !lock(&self.features).configuration {
            return;
        }
        let request = self.client.configuration(vec![ConfigurationItem {
            scope_uri: None,
            section: Some(SETTINGS_SECTION.to_owned()),
        }]);
        match tokio::time::timeout(CONFIGURATION_REQUEST_TIMEOUT, request).await {
            Ok(Ok(values)) => {
                if let Some(value) = values.into_iter().next() {
                    self.apply_settings(&value, "workspace/configuration", true)
                        .await;
                }
            }
            Ok(Err(error)) => tracing::warn!("workspace/configuration failed: {error}"),
            Err(_) => tracing::warn!(
                "the editor did not answer workspace/configuration within {:?}",
                CONFIGURATION_REQUEST_TIMEOUT
            ),
        }
    }

    /// Runs once the editor has answered `initialize`: configuration, then the model.
    async fn after_initialized(self: Arc<Self>) {
        let problems = std::mem::take(&mut *lock(&self.pending_problems));
        for problem in problems {
            self.client
                .show_message(MessageType::WARNING, problem)
                .await;
        }
        self.pull_configuration().await;
        let settings = self.settings();
        // Subscribed before the model starts loading, so that no change (a model that fails at
        // once) happens before the status sender listens and goes unsent.
        let status_changes = self.status_changed.subscribe();
        let engine_changes = self.engine.subscribe();
        self.engine.configure(&settings);
        self.bump_status();
        if let Some(mut events) = lock(&self.engine_events).take() {
            let core = self.clone();
            tokio::spawn(async move {
                while let Some(event) = events.recv().await {
                    core.engine_event(event).await;
                }
            });
        }
        let core = self.clone();
        tokio::spawn(async move {
            core.send_status_updates(status_changes, engine_changes)
                .await
        });
    }

    async fn engine_event(self: &Arc<Self>, event: EngineEvent) {
        match event {
            EngineEvent::ModelReady { spec } => {
                self.client
                    .log_message(
                        MessageType::INFO,
                        format!("proofwright: the model {spec} is ready"),
                    )
                    .await;
                self.verify_open_documents();
            }
            EngineEvent::ModelFailed { spec, message } => {
                self.client
                    .show_message(
                        MessageType::ERROR,
                        format!(
                            "Proofwright: the model {spec} failed to load: {message}. Proofs, \
                             completion and diagnostics need it; set proofwright.model to a model \
                             directory or repo id and it loads again."
                        ),
                    )
                    .await;
            }
        }
        self.bump_status();
    }

    /// Sends `proofwright/status` whenever the status changes, at most once per interval.
    async fn send_status_updates(
        self: Arc<Self>,
        mut changes: watch::Receiver<u64>,
        mut engine_changes: watch::Receiver<u64>,
    ) {
        let mut last = Value::Null;
        loop {
            tokio::select! {
                changed = changes.changed() => if changed.is_err() { return },
                changed = engine_changes.changed() => if changed.is_err() { return },
            }
            if self.shutdown_requested() {
                return;
            }
            let status = self.status().await;
            if status != last {
                self.client
                    .send_notification::<StatusNotification>(status.clone())
                    .await;
                last = status;
            }
            tokio::time::sleep(STATUS_NOTIFICATION_INTERVAL).await;
        }
    }

    /// The `proofwright.status` payload.
    pub async fn status(self: &Arc<Self>) -> Value {
        let (spec, model) = self.engine.model_status();
        let (model_message, device) = match &model {
            ModelState::Ready(model) => (
                Some(format!(
                    "{} ({} template, {} threads)",
                    model.model_dir.display(),
                    model.family.name(),
                    model.n_threads()
                )),
                model.device_description.clone(),
            ),
            // No model runs anywhere yet: the device is what the settings ask for.
            ModelState::Failed(message) => (Some(message.clone()), "none".to_owned()),
            ModelState::Loading => (None, "none".to_owned()),
            ModelState::NotConfigured => (None, "none".to_owned()),
        };
        let file = lock(&self.last_document).clone().unwrap_or_else(|| {
            lock(&self.root)
                .clone()
                .or_else(|| std::env::current_dir().ok())
                .unwrap_or_else(|| PathBuf::from("."))
                .join("Status.lean")
        });
        let engine = self.engine.clone();
        let lean = tokio::task::spawn_blocking(move || engine.lean_status(&file))
            .await
            .unwrap_or_else(|_| super::engine::LeanStatus {
                state: "unavailable",
                message: Some("the Lean lookup failed; see the server log".to_owned()),
            });
        let counts = self.queue.counts();
        json!({
            "model": { "spec": spec, "state": model.name(), "message": model_message },
            "device": device,
            "lean": { "state": lean.state, "message": lean.message },
            "queue": { "running": counts.running, "waiting": counts.waiting },
        })
    }

    /// Verifies every open document at its current version.
    fn verify_open_documents(self: &Arc<Self>) {
        for uri in self.documents.open_uris() {
            if let Some(version) = self.documents.version(&uri) {
                self.schedule_verification(uri, version, false);
            }
        }
    }

    /// Verifies `version` of `uri` once edits have settled for the debounce time.
    fn schedule_verification(self: &Arc<Self>, uri: Uri, version: i32, debounce: bool) {
        let core = self.clone();
        let delay = if debounce {
            self.settings().debounce
        } else {
            std::time::Duration::ZERO
        };
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            if core.documents.version(&uri) != Some(version) || core.shutdown_requested() {
                return;
            }
            core.verify_document(uri, version).await;
        });
    }

    /// Background verification of every proof of one version: diagnostics, code lens, hover.
    async fn verify_document(self: &Arc<Self>, uri: Uri, version: i32) {
        let Ok(prover) = self.engine.prover() else {
            return;
        };
        let Ok(snapshot) = self.documents.snapshot(&uri, version).await else {
            return;
        };
        let settings = self.settings().search_settings();
        let job_snapshot = snapshot.clone();
        let submitted = self.queue.submit(
            JobRequest {
                description: format!("verification of {} v{version}", uri.as_str()),
                priority: Priority::Background,
                document: Some((uri.clone(), version)),
                stale_policy: StalePolicy::AnyEdit,
                cancellation: None,
            },
            move |ticket| {
                let document = job_snapshot.proof_document();
                let control = ticket.work_control(settings.time_budget, &|_| {});
                let mut reports = Vec::new();
                for (declaration_idx, declaration) in
                    job_snapshot.outline.declarations.iter().enumerate()
                {
                    if control.interruption().is_some() {
                        anyhow::bail!("verification was cancelled");
                    }
                    if declaration.proof_range.is_none() || !declaration.kind.has_proof() {
                        continue;
                    }
                    reports.push((
                        declaration_idx,
                        prover.verify(&document, declaration_idx, &settings, &control)?,
                    ));
                }
                Ok(reports)
            },
        );
        let mut handle = match submitted {
            Ok(handle) => handle,
            Err(error) => {
                tracing::warn!(
                    "background verification of {} not queued: {error}",
                    uri.as_str()
                );
                return;
            }
        };
        match handle.outcome().await {
            Ok(reports) => {
                if self.documents.version(&uri) != Some(version) {
                    return;
                }
                {
                    let mut findings = lock(&self.findings);
                    let entry = findings
                        .entry(uri.clone())
                        .or_insert_with(|| DocumentFindings::new(snapshot.clone()));
                    if entry.version() != version {
                        *entry = DocumentFindings::new(snapshot.clone());
                    }
                    entry.proofs = reports.into_iter().collect();
                }
                self.publish_diagnostics(&uri).await;
                self.refresh_code_lens().await;
            }
            Err(JobError::Cancelled) => {}
            Err(error) => tracing::warn!("background verification of {}: {error}", uri.as_str()),
        }
    }

    async fn publish_diagnostics(&self, uri: &Uri) {
        let published = {
            let findings = lock(&self.findings);
            findings
                .get(uri)
                .map(|findings| (findings.diagnostics(), findings.version()))
        };
        if let Some((diagnostics, version)) = published {
            if self.documents.version(uri) == Some(version) {
                self.client
                    .publish_diagnostics(uri.clone(), diagnostics, Some(version))
                    .await;
            }
        }
    }

    async fn refresh_code_lens(&self) {
        if lock(&self.features).code_lens_refresh {
            let core_client = self.client.clone();
            // The editor answers later; waiting for it here would hold up this task only.
            tokio::spawn(async move {
                let _ = core_client.code_lens_refresh().await;
            });
        }
    }

    /// The snapshot and offset of a request position, at the document's current version.
    async fn position(
        &self,
        uri: &Uri,
        position: Position,
    ) -> RpcResult<(Arc<DocumentSnapshot>, usize)> {
        let version = self.documents.version(uri).ok_or_else(|| {
            document_error(DocumentError::NotOpen {
                uri: uri.as_str().to_owned(),
            })
        })?;
        let snapshot = self
            .documents
            .snapshot(uri, version)
            .await
            .map_err(document_error)?;
        let offset = snapshot.offset_of(position).map_err(document_error)?;
        Ok((snapshot, offset))
    }

    /// prove / refine / alternative.
    async fn run_search(
        self: &Arc<Self>,
        command: SearchCommand,
        argument: PositionArgument,
        editor_token: Option<ProgressToken>,
    ) -> RpcResult<Value> {
        let (snapshot, offset) = self.position(&argument.uri, argument.position).await?;
        let version = snapshot.version;
        let target = match command.target(&snapshot.outline, offset) {
            Ok(target) => target,
            Err(message) => return Ok(search_result(false, None, "unproved", None, message)),
        };
        let declaration_idx = target.declaration_idx(&snapshot.outline).ok_or_else(|| {
            request_failed(
                "this sorry is not inside a declaration; put it in a theorem, lemma or example",
            )
        })?;
        let guard = snapshot.outline.declarations[declaration_idx].range;
        let cancellation = Cancellation::new();
        let progress = WorkProgress::begin(
            self,
            editor_token,
            command.progress_title(),
            cancellation.clone(),
        )
        .await;
        let reporter = progress.reporter();
        if matches!(self.engine.prover(), Err(ProverUnavailable::Loading { .. })) {
            reporter.report("loading the model".to_owned());
        }
        let prover = match self.engine.wait_for_prover().await {
            Ok(prover) => prover,
            Err(error) => {
                progress.end(error.to_string()).await;
                return Err(request_failed(error));
            }
        };
        let settings = self.settings().search_settings();
        let job_snapshot = snapshot.clone();
        let mut handle = self
            .queue
            .submit(
                JobRequest {
                    description: format!("{} {}", command.name(), argument.uri.as_str()),
                    priority: Priority::Interactive,
                    document: Some((argument.uri.clone(), version)),
                    stale_policy: StalePolicy::EditInside(guard),
                    cancellation: Some(cancellation),
                },
                move |ticket| {
                    let document = job_snapshot.proof_document();
                    let report = move |event: crate::prover::ProgressEvent| {
                        reporter.report(event.message());
                    };
                    let control = ticket.work_control(settings.time_budget, &report);
                    prover.search(&document, target, &settings, &control)
                },
            )
            .map_err(job_error)?;
        let outcome = handle.outcome().await;
        let ticket = handle.ticket().clone();
        let outcome = match outcome {
            Ok(outcome) => outcome,
            Err(JobError::Cancelled) => {
                progress.end("cancelled".to_owned()).await;
                return Ok(search_result(
                    false,
                    None,
                    "unproved",
                    None,
                    "the search was cancelled before it started; nothing was changed".to_owned(),
                ));
            }
            Err(error) => {
                progress.end(error.to_string()).await;
                return Err(job_error(error));
            }
        };
        let provenance = outcome.best_provenance();
        let summary = outcome_summary(&outcome);
        progress.end(summary.clone()).await;
        let Some(best) = outcome.best() else {
            self.add_search_note(&snapshot, &target, &summary).await;
            return Ok(search_result(false, None, "unproved", None, summary));
        };
        // A proof Lean accepts apart from the declaration's other sorries is inserted too: the
        // holes are filled one at a time, and the last one filled is verified whole.
        let worth_inserting = matches!(
            best.provenance,
            Provenance::LeanVerified | Provenance::Neural { .. }
        ) || outcome.best_accepted_apart().is_some();
        if !worth_inserting {
            self.add_search_note(&snapshot, &target, &summary).await;
            return Ok(search_result(
                false,
                None,
                provenance.label(),
                provenance.score(),
                summary,
            ));
        }
        // Move the replacement to where it belongs now.
        let Some(current_version) = self.documents.version(&argument.uri) else {
            return Ok(search_result(
                false,
                None,
                provenance.label(),
                provenance.score(),
                format!("{summary}; the document was closed, so nothing was changed"),
            ));
        };
        let range = if current_version == version {
            Some(best.replacement.range)
        } else {
            ticket.map_range(best.replacement.range, current_version)
        };
        let current = match range {
            Some(_) => self
                .documents
                .snapshot(&argument.uri, current_version)
                .await
                .ok(),
            None => None,
        };
        let (Some(range), Some(current)) = (range, current) else {
            return Ok(search_result(
                false,
                None,
                provenance.label(),
                provenance.score(),
                format!("{summary}; the document changed while the search ran, so nothing was changed: run the command again"),
            ));
        };
        let edit = self.workspace_edit(&current, range, &best.replacement.new_text);
        let edit_value = serde_json::to_value(&edit).unwrap_or(Value::Null);
        let (applied, apply_note) = self.apply_edit(edit).await;
        let message = match apply_note {
            Some(note) => format!("{summary}; {note}"),
            None => summary,
        };
        Ok(search_result(
            applied,
            Some(edit_value),
            provenance.label(),
            provenance.score(),
            message,
        ))
    }

    async fn add_search_note(
        self: &Arc<Self>,
        snapshot: &Arc<DocumentSnapshot>,
        target: &Target,
        message: &str,
    ) {
        let Some(range) = target_range(&snapshot.outline, target) else {
            return;
        };
        {
            let mut findings = lock(&self.findings);
            let entry = findings
                .entry(snapshot.uri.clone())
                .or_insert_with(|| DocumentFindings::new(snapshot.clone()));
            if entry.version() != snapshot.version {
                if entry.version() > snapshot.version {
                    return;
                }
                *entry = DocumentFindings::new(snapshot.clone());
            }
            entry.search_notes.retain(|note| note.range != range);
            entry.search_notes.push(SearchNote {
                range,
                message: message.to_owned(),
            });
        }
        self.publish_diagnostics(&snapshot.uri).await;
    }

    fn workspace_edit(
        &self,
        snapshot: &DocumentSnapshot,
        range: ByteRange,
        new_text: &str,
    ) -> WorkspaceEdit {
        let text_edit = TextEdit {
            range: snapshot.range_of(range),
            new_text: new_text.to_owned(),
        };
        if lock(&self.features).document_changes {
            WorkspaceEdit {
                changes: None,
                document_changes: Some(tower_lsp_server::ls_types::DocumentChanges::Edits(vec![
                    TextDocumentEdit {
                        text_document: OptionalVersionedTextDocumentIdentifier {
                            uri: snapshot.uri.clone(),
                            version: Some(snapshot.version),
                        },
                        edits: vec![OneOf::Left(text_edit)],
                    },
                ])),
                change_annotations: None,
            }
        } else {
            WorkspaceEdit {
                changes: Some(HashMap::from([(snapshot.uri.clone(), vec![text_edit])])),
                document_changes: None,
                change_annotations: None,
            }
        }
    }

    /// Sends `workspace/applyEdit`; whether the editor applied it, and a note when not.
    async fn apply_edit(&self, edit: WorkspaceEdit) -> (bool, Option<String>) {
        if !lock(&self.features).apply_edit {
            return (
                false,
                Some(
                    "the editor cannot apply edits from the server; apply the returned edit"
                        .to_owned(),
                ),
            );
        }
        let request = self
            .client
            .send_request::<tower_lsp_server::ls_types::request::ApplyWorkspaceEdit>(
                ApplyWorkspaceEditParams {
                    label: Some("Proofwright".to_owned()),
                    edit,
                },
            );
        match tokio::time::timeout(APPLY_EDIT_TIMEOUT, request).await {
            Ok(Ok(response)) if response.applied => (true, None),
            Ok(Ok(response)) => (
                false,
                Some(format!(
                    "the editor did not apply the edit{}",
                    response
                        .failure_reason
                        .map(|reason| format!(": {reason}"))
                        .unwrap_or_default()
                )),
            ),
            Ok(Err(error)) => (false, Some(format!("the editor refused the edit: {error}"))),
            Err(_) => (
                false,
                Some("the editor did not answer workspace/applyEdit".to_owned()),
            ),
        }
    }

    /// proofwright.verify.
    async fn run_verify(self: &Arc<Self>, argument: PositionArgument) -> RpcResult<Value> {
        let (snapshot, offset) = self.position(&argument.uri, argument.position).await?;
        let at = ByteOffset(offset);
        let Some(declaration_idx) = snapshot
            .outline
            .declarations
            .iter()
            .position(|declaration| {
                declaration.range.contains(at) && declaration.proof_range.is_some()
            })
        else {
            return Ok(json!({
                "provenance": "unproved", "score": null, "flagged": [],
                "message": "there is no proof at this position; put the cursor inside a proof",
            }));
        };
        let prover = self
            .engine
            .wait_for_prover()
            .await
            .map_err(request_failed)?;
        let settings = self.settings().search_settings();
        let job_snapshot = snapshot.clone();
        let mut handle = self
            .queue
            .submit(
                JobRequest {
                    description: format!("{VERIFY_COMMAND} {}", argument.uri.as_str()),
                    priority: Priority::Interactive,
                    document: Some((argument.uri.clone(), snapshot.version)),
                    stale_policy: StalePolicy::AnyEdit,
                    cancellation: None,
                },
                move |ticket| {
                    let document = job_snapshot.proof_document();
                    let control = ticket.work_control(settings.time_budget, &|_| {});
                    prover.verify(&document, declaration_idx, &settings, &control)
                },
            )
            .map_err(job_error)?;
        let report = handle.outcome().await.map_err(|error| match error {
            JobError::Cancelled => Error {
                code: ErrorCode::ContentModified,
                message: "the document changed while the proof was verified; verify it again"
                    .into(),
                data: None,
            },
            other => job_error(other),
        })?;
        let result = verify_result(&snapshot, &report);
        {
            let mut findings = lock(&self.findings);
            let entry = findings
                .entry(argument.uri.clone())
                .or_insert_with(|| DocumentFindings::new(snapshot.clone()));
            if entry.version() < snapshot.version {
                *entry = DocumentFindings::new(snapshot.clone());
            }
            if entry.version() == snapshot.version {
                entry.proofs.insert(declaration_idx, report);
            }
        }
        self.publish_diagnostics(&argument.uri).await;
        self.refresh_code_lens().await;
        Ok(result)
    }
}

fn outcome_summary(outcome: &SearchOutcome) -> String {
    let n_candidates = outcome.candidates.len();
    let best = match outcome.best() {
        Some(best) => match &best.provenance {
            Provenance::LeanVerified => "found a proof that Lean verified".to_owned(),
            Provenance::Neural { score } => format!(
                "found a proof the neural verifier accepts (score {score:.2}); Lean did not check it"
            ),
            Provenance::Flagged { .. } if outcome.best_accepted_apart().is_some() => {
                "found a proof that Lean accepts apart from the other sorries of this declaration \
                 (it is verified once they are filled)"
                    .to_owned()
            }
            Provenance::Flagged { score, flagged } => {
                let reason = flagged
                    .first()
                    .and_then(|step| step.reasons.first())
                    .map(|reason| reason.describe())
                    .unwrap_or_default();
                format!(
                    "no acceptable proof; the best candidate is flagged{}: {reason}",
                    score.map(|score| format!(" (score {score:.2})")).unwrap_or_default()
                )
            }
            Provenance::Unproved { reason } => format!("no proof: {reason}"),
        },
        None => format!("no proof: {}", match outcome.best_provenance() {
            Provenance::Unproved { reason } => reason,
            other => other.label().to_owned(),
        }),
    };
    format!(
        "{best} ({n_candidates} candidate{}, {} round{}, {})",
        if n_candidates == 1 { "" } else { "s" },
        outcome.rounds_run,
        if outcome.rounds_run == 1 { "" } else { "s" },
        outcome.end.label()
    )
}

fn search_result(
    applied: bool,
    edit: Option<Value>,
    provenance: &str,
    score: Option<f32>,
    message: String,
) -> Value {
    json!({
        "applied": applied,
        "edit": edit,
        "provenance": provenance,
        "score": score,
        "message": message,
    })
}

fn verify_result(snapshot: &DocumentSnapshot, report: &ProofReport) -> Value {
    let flagged: Vec<Value> = report
        .provenance
        .flagged_steps()
        .iter()
        .map(|step| {
            json!({
                "range": snapshot.range_of(step.range),
                "reason": step.reasons.iter().map(|reason| reason.describe()).collect::<Vec<_>>().join("; "),
                "score": step.score,
            })
        })
        .collect();
    json!({
        "provenance": report.provenance.label(),
        "score": report.provenance.score(),
        "flagged": flagged,
    })
}

/// The text formats the editor declared it can show.
fn text_formats(capabilities: &tower_lsp_server::ls_types::ClientCapabilities) -> TextFormats {
    let text_document = capabilities.text_document.as_ref();
    let completion_item = text_document
        .and_then(|text_document| text_document.completion.as_ref())
        .and_then(|completion| completion.completion_item.as_ref());
    TextFormats {
        completion_markdown: completion_item
            .and_then(|item| item.documentation_format.as_ref())
            .is_some_and(|formats| formats.contains(&MarkupKind::Markdown)),
        completion_label_details: completion_item.and_then(|item| item.label_details_support)
            == Some(true),
        hover_markdown: text_document
            .and_then(|text_document| text_document.hover.as_ref())
            .and_then(|hover| hover.content_format.as_ref())
            .is_some_and(|formats| formats.contains(&MarkupKind::Markdown)),
    }
}

fn position_arguments(uri: &Uri, position: Position) -> Vec<Value> {
    vec![json!({ "uri": uri, "position": position })]
}

impl LanguageServer for Backend {
    async fn initialize(&self, params: InitializeParams) -> RpcResult<InitializeResult> {
        let capabilities = &params.capabilities;
        let workspace = capabilities.workspace.as_ref();
        let features = ClientFeatures {
            configuration: workspace.and_then(|workspace| workspace.configuration) == Some(true),
            work_done_progress: capabilities
                .window
                .as_ref()
                .and_then(|window| window.work_done_progress)
                == Some(true),
            apply_edit: workspace.and_then(|workspace| workspace.apply_edit) == Some(true),
            document_changes: workspace
                .and_then(|workspace| workspace.workspace_edit.as_ref())
                .and_then(|edit| edit.document_changes)
                == Some(true),
            code_lens_refresh: workspace
                .and_then(|workspace| workspace.code_lens.as_ref())
                .and_then(|code_lens| code_lens.refresh_support)
                == Some(true),
            formats: text_formats(capabilities),
        };
        *lock(&self.core.features) = features;
        #[allow(deprecated)]
        let root = params
            .workspace_folders
            .as_ref()
            .and_then(|folders| folders.first())
            .and_then(|folder| folder.uri.to_file_path().map(|path| path.into_owned()))
            .or_else(|| {
                params
                    .root_uri
                    .as_ref()
                    .and_then(|uri| uri.to_file_path().map(|path| path.into_owned()))
            });
        *lock(&self.core.root) = root;
        if let Some(options) = &params.initialization_options {
            self.core
                .apply_settings(options, "initializationOptions", false)
                .await;
        }
        Ok(InitializeResult {
            capabilities: ServerCapabilities {
                text_document_sync: Some(TextDocumentSyncCapability::Options(
                    TextDocumentSyncOptions {
                        open_close: Some(true),
                        change: Some(TextDocumentSyncKind::INCREMENTAL),
                        ..TextDocumentSyncOptions::default()
                    },
                )),
                completion_provider: Some(CompletionOptions {
                    resolve_provider: Some(false),
                    ..CompletionOptions::default()
                }),
                hover_provider: Some(HoverProviderCapability::Simple(true)),
                code_action_provider: Some(CodeActionProviderCapability::Options(
                    CodeActionOptions {
                        code_action_kinds: Some(vec![
                            CodeActionKind::QUICKFIX,
                            CodeActionKind::REFACTOR_REWRITE,
                            CodeActionKind::SOURCE,
                        ]),
                        resolve_provider: Some(false),
                        work_done_progress_options: WorkDoneProgressOptions::default(),
                    },
                )),
                code_lens_provider: Some(CodeLensOptions {
                    resolve_provider: Some(false),
                }),
                execute_command_provider: Some(ExecuteCommandOptions {
                    commands: COMMANDS
                        .iter()
                        .map(|command| (*command).to_owned())
                        .collect(),
                    work_done_progress_options: WorkDoneProgressOptions {
                        work_done_progress: Some(true),
                    },
                }),
                ..ServerCapabilities::default()
            },
            server_info: Some(ServerInfo {
                name: "proofwright".to_owned(),
                version: Some(env!("CARGO_PKG_VERSION").to_owned()),
            }),
            offset_encoding: None,
        })
    }

    async fn initialized(&self, _: InitializedParams) {
        tokio::spawn(self.core.clone().after_initialized());
    }

    async fn shutdown(&self) -> RpcResult<()> {
        tracing::info!("shutdown requested");
        self.core.shutdown_requested.store(true, Ordering::SeqCst);
        self.core.queue.cancel_all();
        Ok(())
    }

    async fn did_open(&self, params: DidOpenTextDocumentParams) {
        let document = params.text_document;
        *lock(&self.core.last_document) = Some(super::documents::document_path(&document.uri));
        self.core
            .documents
            .open(document.uri.clone(), document.version, document.text);
        self.core.bump_status();
        self.core
            .schedule_verification(document.uri, document.version, false);
    }

    async fn did_change(&self, params: DidChangeTextDocumentParams) {
        let uri = params.text_document.uri;
        let version = params.text_document.version;
        match self
            .core
            .documents
            .change(&uri, version, params.content_changes)
        {
            Ok(applied) => {
                self.core
                    .queue
                    .document_changed(&uri, applied.version, &applied.edits);
                self.core.schedule_verification(uri, version, true);
            }
            Err(error) => tracing::warn!("textDocument/didChange: {error}"),
        }
    }

    async fn did_close(&self, params: DidCloseTextDocumentParams) {
        let uri = params.text_document.uri;
        self.core.documents.close(&uri);
        self.core.queue.cancel_document(&uri);
        lock(&self.core.findings).remove(&uri);
        self.core
            .client
            .publish_diagnostics(uri, Vec::new(), None)
            .await;
    }

    async fn did_change_configuration(&self, params: DidChangeConfigurationParams) {
        let carries_settings = params
            .settings
            .as_object()
            .is_some_and(|settings| settings.get(SETTINGS_SECTION).is_some_and(Value::is_object));
        let core = self.core.clone();
        if carries_settings {
            core.apply_settings(&params.settings, "workspace/didChangeConfiguration", true)
                .await;
        } else {
            // The pull model: the notification only says that something changed.
            tokio::spawn(async move { core.pull_configuration().await });
        }
    }

    async fn completion(&self, params: CompletionParams) -> RpcResult<Option<CompletionResponse>> {
        let position = params.text_document_position;
        let uri = position.text_document.uri;
        if self.core.documents.version(&uri).is_none() {
            return Ok(None);
        }
        let (snapshot, offset) = self.core.position(&uri, position.position).await?;
        if !in_tactic_proof(&snapshot.text, &snapshot.outline, offset) {
            return Ok(None);
        }
        let Ok(prover) = self.core.engine.prover() else {
            return Ok(None);
        };
        let settings = self.core.settings().search_settings();
        let job_snapshot = snapshot.clone();
        let n_proposals = NonZeroUsize::new(COMPLETION_PROPOSALS).unwrap_or(NonZeroUsize::MIN);
        let mut handle = self
            .core
            .queue
            .submit(
                JobRequest {
                    description: format!("completion in {}", uri.as_str()),
                    priority: Priority::Interactive,
                    document: Some((uri.clone(), snapshot.version)),
                    stale_policy: StalePolicy::AnyEdit,
                    cancellation: None,
                },
                move |ticket| {
                    let document = job_snapshot.proof_document();
                    let control = ticket.work_control(settings.time_budget, &|_| {});
                    prover.propose_next_steps(&document, offset, n_proposals, &settings, &control)
                },
            )
            .map_err(job_error)?;
        let proposals = handle.outcome().await.map_err(|error| match error {
            JobError::Cancelled => Error::content_modified(),
            other => job_error(other),
        })?;
        let formats = lock(&self.core.features).formats;
        Ok(Some(CompletionResponse::Array(completion_items(
            &snapshot, &proposals, formats,
        ))))
    }

    async fn hover(&self, params: HoverParams) -> RpcResult<Option<Hover>> {
        let position = params.text_document_position_params;
        let uri = position.text_document.uri;
        if self.core.documents.version(&uri).is_none() {
            return Ok(None);
        }
        let (snapshot, offset) = self.core.position(&uri, position.position).await?;
        let findings = lock(&self.core.findings);
        let Some(findings) = findings
            .get(&uri)
            .filter(|findings| findings.version() == snapshot.version)
        else {
            return Ok(None);
        };
        let markdown = lock(&self.core.features).formats.hover_markdown;
        Ok(findings.hover_at(offset).map(|(text, range)| Hover {
            contents: HoverContents::Markup(if markdown {
                MarkupContent {
                    kind: MarkupKind::Markdown,
                    value: text,
                }
            } else {
                MarkupContent {
                    kind: MarkupKind::PlainText,
                    value: plain_text(&text),
                }
            }),
            range: Some(snapshot.range_of(range)),
        }))
    }

    async fn code_lens(&self, params: CodeLensParams) -> RpcResult<Option<Vec<CodeLens>>> {
        let uri = params.text_document.uri;
        if self.core.documents.version(&uri).is_none() {
            return Ok(None);
        }
        let snapshot = self
            .core
            .documents
            .current_snapshot(&uri)
            .await
            .map_err(document_error)?;
        let model_state = self.core.engine.model_status().1;
        let findings = lock(&self.core.findings);
        let current = findings
            .get(&uri)
            .filter(|findings| findings.version() == snapshot.version);
        let mut lenses = Vec::new();
        for (declaration_idx, declaration) in snapshot.outline.declarations.iter().enumerate() {
            if declaration.proof_range.is_none() || !declaration.kind.has_proof() {
                continue;
            }
            let title = match current.and_then(|findings| findings.proofs.get(&declaration_idx)) {
                Some(report) => format!("proofwright: {}", status_title(&report.provenance)),
                None => match &model_state {
                    ModelState::Ready(_) => "proofwright: checking…".to_owned(),
                    ModelState::Loading => "proofwright: model loading".to_owned(),
                    ModelState::Failed(_) => "proofwright: model failed to load".to_owned(),
                    ModelState::NotConfigured => "proofwright: no model".to_owned(),
                },
            };
            let range = snapshot.range_of(declaration.keyword_range);
            lenses.push(CodeLens {
                range,
                command: Some(Command {
                    title,
                    command: VERIFY_COMMAND.to_owned(),
                    arguments: Some(position_arguments(&uri, range.start)),
                }),
                data: None,
            });
        }
        Ok(Some(lenses))
    }

    async fn code_action(&self, params: CodeActionParams) -> RpcResult<Option<CodeActionResponse>> {
        let uri = params.text_document.uri;
        if self.core.documents.version(&uri).is_none() {
            return Ok(None);
        }
        let (snapshot, start) = self.core.position(&uri, params.range.start).await?;
        let end = snapshot
            .offset_of(params.range.end)
            .map_err(document_error)?
            .max(start);
        let outline = &snapshot.outline;
        let mut actions: Vec<(CodeActionKind, &str, &str, Position)> = Vec::new();
        if let Some(sorry) = outline
            .sorries
            .iter()
            .find(|sorry| sorry.range.start.0 <= end && start <= sorry.range.end.0)
        {
            actions.push((
                CodeActionKind::QUICKFIX,
                PROVE_TITLE,
                PROVE_COMMAND,
                snapshot.range_of(sorry.range).start,
            ));
        }
        let at = ByteOffset(start);
        if let Some(declaration) = outline
            .declarations
            .iter()
            .find(|declaration| declaration.range.contains(at) && declaration.proof_range.is_some())
        {
            if let Some(step_idx) = declaration.step_at(at) {
                let step = &declaration.steps[step_idx];
                let is_sorry = outline
                    .sorries
                    .iter()
                    .any(|sorry| sorry.range == step.range);
                if !is_sorry {
                    let step_start = snapshot.range_of(step.range).start;
                    actions.push((
                        CodeActionKind::QUICKFIX,
                        REFINE_TITLE,
                        REFINE_COMMAND,
                        step_start,
                    ));
                    actions.push((
                        CodeActionKind::REFACTOR_REWRITE,
                        ALTERNATIVE_TITLE,
                        ALTERNATIVE_COMMAND,
                        step_start,
                    ));
                }
            }
            actions.push((
                CodeActionKind::SOURCE,
                VERIFY_TITLE,
                VERIFY_COMMAND,
                snapshot.range_of(declaration.keyword_range).start,
            ));
        }
        let only = params.context.only.unwrap_or_default();
        let response: CodeActionResponse = actions
            .into_iter()
            .filter(|(kind, ..)| {
                only.is_empty()
                    || only.iter().any(|wanted| {
                        kind.as_str() == wanted.as_str()
                            || kind.as_str().starts_with(&format!("{}.", wanted.as_str()))
                    })
            })
            .map(|(kind, title, command, position)| {
                CodeActionOrCommand::CodeAction(CodeAction {
                    title: title.to_owned(),
                    kind: Some(kind),
                    command: Some(Command {
                        title: title.to_owned(),
                        command: command.to_owned(),
                        arguments: Some(position_arguments(&uri, position)),
                    }),
                    data: Some(json!({ DATA_MARKER: true })),
                    ..CodeAction::default()
                })
            })
            .collect();
        Ok(Some(response))
    }

    async fn execute_command(&self, params: ExecuteCommandParams) -> RpcResult<Option<Value>> {
        let token = params.work_done_progress_params.work_done_token;
        let result = match params.command.as_str() {
            STATUS_COMMAND => self.core.status().await,
            VERIFY_COMMAND => {
                self.core
                    .run_verify(position_argument(&params.arguments)?)
                    .await?
            }
            command => {
                let search = match command {
                    PROVE_COMMAND => SearchCommand::Prove,
                    REFINE_COMMAND => SearchCommand::Refine,
                    ALTERNATIVE_COMMAND => SearchCommand::Alternative,
                    other => {
                        return Err(Error::invalid_params(format!(
                            "unknown command {other:?}; the commands are {}",
                            COMMANDS.join(", ")
                        )))
                    }
                };
                self.core
                    .run_search(search, position_argument(&params.arguments)?, token)
                    .await?
            }
        };
        Ok(Some(result))
    }
}
