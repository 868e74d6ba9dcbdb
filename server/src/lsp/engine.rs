//! The model, Lean access and the prover built from them, shared by every request. The model is
//! loaded once per choice of model, template, device and threads, on its own thread; while it
//! loads, or after it failed, requests that need it are told why, and everything else goes on.

use super::settings::{lean_name, ModelChoice, ServerSettings};
use crate::prover::{LeanAccess, LeanAvailability, LeanMode, Prover, ProverModel};
use proofwright_lean::process::DiscoveryEnvironment;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::{mpsc, watch};

/// Loads a model (the CLI decides how: it resolves repo ids and picks the device).
pub type ModelLoader = Arc<dyn Fn(&ModelChoice) -> anyhow::Result<ProverModel> + Send + Sync>;

/// Where the model stands.
#[derive(Clone)]
pub enum ModelState {
    NotConfigured,
    Loading,
    Ready(Arc<ProverModel>),
    Failed(String),
}

impl ModelState {
    /// The name in `proofwright.status`.
    pub fn name(&self) -> &'static str {
        match self {
            ModelState::NotConfigured => "none",
            ModelState::Loading => "loading",
            ModelState::Ready(_) => "ready",
            ModelState::Failed(_) => "failed",
        }
    }
}

/// Something the rest of the server must hear about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EngineEvent {
    ModelReady { spec: String },
    ModelFailed { spec: String, message: String },
}

/// Why there is no prover to use right now.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProverUnavailable {
    #[error("no model is configured; set proofwright.model to a model directory or repo id")]
    NotConfigured,
    #[error("the model {spec} is still loading; try again in a moment")]
    Loading { spec: String },
    #[error("the model {spec} failed to load: {message}; fix proofwright.model and the server loads it again")]
    Failed { spec: String, message: String },
    #[error("the server is shutting down")]
    Stopped,
}

/// What `proofwright.status` says about Lean.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeanStatus {
    /// `available`, `unavailable` or `off`.
    pub state: &'static str,
    pub message: Option<String>,
}

struct EngineState {
    choice: Option<ModelChoice>,
    generation: u64,
    model: ModelState,
    lean_mode: LeanMode,
    /// Taken out at shutdown, so that the last reference is dropped outside the async runtime
    /// (Lean access owns a runtime of its own).
    lean: Option<Arc<LeanAccess>>,
    prover: Option<Arc<Prover>>,
    stopped: bool,
}

/// The shared model, Lean access and prover.
pub struct Engine {
    loader: ModelLoader,
    discovery: DiscoveryEnvironment,
    state: Mutex<EngineState>,
    /// Bumped whenever the model state changes, for waiters and the status.
    changes: watch::Sender<u64>,
    events: mpsc::UnboundedSender<EngineEvent>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Engine {
    pub fn new(
        loader: ModelLoader,
        discovery: DiscoveryEnvironment,
        events: mpsc::UnboundedSender<EngineEvent>,
    ) -> Engine {
        let lean_mode = LeanMode::Auto;
        Engine {
            loader,
            state: Mutex::new(EngineState {
                choice: None,
                generation: 0,
                model: ModelState::NotConfigured,
                lean_mode,
                lean: Some(Arc::new(LeanAccess::new(
                    lean_mode,
                    discovery.clone(),
                    Default::default(),
                ))),
                prover: None,
                stopped: false,
            }),
            discovery,
            changes: watch::Sender::new(0),
            events,
        }
    }

    /// Follows `settings`: a new model choice starts a load, a new Lean mode replaces the Lean
    /// access (its processes are shut down). True when the prover changed, so that running
    /// work should be cancelled.
    pub fn configure(self: &Arc<Self>, settings: &ServerSettings) -> bool {
        let choice = settings.model_choice();
        let mut state = lock(&self.state);
        if state.stopped {
            return false;
        }
        let mut changed = false;
        if state.lean_mode != settings.lean {
            tracing::info!("lean mode {}", lean_name(settings.lean));
            let new_lean = Arc::new(LeanAccess::new(
                settings.lean,
                self.discovery.clone(),
                Default::default(),
            ));
            let old = state.lean.replace(new_lean.clone());
            state.lean_mode = settings.lean;
            if let ModelState::Ready(model) = &state.model {
                state.prover = Some(Arc::new(Prover::new(model.clone(), new_lean)));
            }
            // Shutting Lean down waits for its processes, and the last reference must be
            // dropped outside the async runtime: on a thread of its own.
            if let Some(old) = old {
                std::thread::spawn(move || old.shutdown());
            }
            changed = true;
        }
        if state.choice.as_ref() != Some(&choice) {
            state.choice = Some(choice.clone());
            state.generation += 1;
            state.model = ModelState::Loading;
            state.prover = None;
            changed = true;
            let generation = state.generation;
            let engine = self.clone();
            tracing::info!("loading the model {}", choice.model);
            let spawned = std::thread::Builder::new()
                .name("proofwright-lsp-model-load".to_owned())
                .spawn(move || {
                    let loaded = catch_unwind(AssertUnwindSafe(|| (engine.loader)(&choice)))
                        .unwrap_or_else(|payload| {
                            Err(anyhow::anyhow!(
                                "loading panicked: {}",
                                super::work_queue::panic_message(payload.as_ref())
                            ))
                        });
                    engine.finish_load(generation, &choice.model, loaded);
                });
            if let Err(error) = spawned {
                state.model =
                    ModelState::Failed(format!("cannot start a thread to load it: {error}"));
            }
        }
        drop(state);
        if changed {
            self.changes.send_modify(|count| *count += 1);
        }
        changed
    }

    fn finish_load(&self, generation: u64, spec: &str, loaded: anyhow::Result<ProverModel>) {
        let event = {
            let mut state = lock(&self.state);
            if state.generation != generation || state.stopped {
                tracing::info!("a model load finished after another model was chosen; dropped");
                return;
            }
            match loaded {
                Ok(model) => {
                    let model = Arc::new(model);
                    state.prover = state
                        .lean
                        .clone()
                        .map(|lean| Arc::new(Prover::new(model.clone(), lean)));
                    state.model = ModelState::Ready(model);
                    tracing::info!("the model {spec} is ready");
                    EngineEvent::ModelReady {
                        spec: spec.to_owned(),
                    }
                }
                Err(error) => {
                    let message = format!("{error:#}");
                    tracing::error!("the model {spec} failed to load: {message}");
                    state.model = ModelState::Failed(message.clone());
                    EngineEvent::ModelFailed {
                        spec: spec.to_owned(),
                        message,
                    }
                }
            }
        };
        self.changes.send_modify(|count| *count += 1);
        let _ = self.events.send(event);
    }

    /// The prover, if the model is ready.
    pub fn prover(&self) -> Result<Arc<Prover>, ProverUnavailable> {
        let state = lock(&self.state);
        if state.stopped {
            return Err(ProverUnavailable::Stopped);
        }
        let spec = state
            .choice
            .as_ref()
            .map(|choice| choice.model.clone())
            .unwrap_or_default();
        match (&state.model, &state.prover) {
            (ModelState::Ready(_), Some(prover)) => Ok(prover.clone()),
            (ModelState::NotConfigured, _) => Err(ProverUnavailable::NotConfigured),
            (ModelState::Failed(message), _) => Err(ProverUnavailable::Failed {
                spec,
                message: message.clone(),
            }),
            _ => Err(ProverUnavailable::Loading { spec }),
        }
    }

    /// The prover once the model has loaded (or why there is none).
    pub async fn wait_for_prover(&self) -> Result<Arc<Prover>, ProverUnavailable> {
        let mut changes = self.changes.subscribe();
        loop {
            match self.prover() {
                Err(ProverUnavailable::Loading { .. }) => {}
                other => return other,
            }
            if changes.changed().await.is_err() {
                return Err(ProverUnavailable::Stopped);
            }
        }
    }

    /// Hears every change of the model's state.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.changes.subscribe()
    }

    /// The model's spec, state and message, for `proofwright.status`.
    pub fn model_status(&self) -> (String, ModelState) {
        let state = lock(&self.state);
        (
            state
                .choice
                .as_ref()
                .map(|choice| choice.model.clone())
                .unwrap_or_default(),
            state.model.clone(),
        )
    }

    /// How Lean would check `file`. Looks at the file system: call it off the main loop.
    pub fn lean_status(&self, file: &Path) -> LeanStatus {
        let Some(lean) = lock(&self.state).lean.clone() else {
            return LeanStatus {
                state: "off",
                message: Some("the server is shutting down".to_owned()),
            };
        };
        match lean.for_file(file) {
            Ok(LeanAvailability::Available(checker)) => LeanStatus {
                state: "available",
                message: Some(checker.description.clone()),
            },
            Ok(LeanAvailability::Unavailable { reason }) => LeanStatus {
                state: "unavailable",
                message: Some(reason),
            },
            Ok(LeanAvailability::Off) => LeanStatus {
                state: "off",
                message: None,
            },
            Err(required) => LeanStatus {
                state: "unavailable",
                message: Some(required.to_string()),
            },
        }
    }

    /// Stops Lean's processes and refuses further work. Call it outside the async runtime.
    pub fn shutdown(&self) {
        let lean = {
            let mut state = lock(&self.state);
            state.stopped = true;
            state.prover = None;
            state.lean.take()
        };
        if let Some(lean) = lean {
            lean.shutdown();
        }
        self.changes.send_modify(|count| *count += 1);
    }
}
