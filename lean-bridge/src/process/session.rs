//! The one interface over both ways of asking Lean: a [`LeanSession`] is a running language
//! server or REPL that checks documents and reports messages, sorries, goals and axioms.
//!
//! A session enforces no timeout of its own; the pool does (or the caller, when it drives a
//! session directly), and kills the process group when one fires.

use super::discovery::LaunchCommand;
use super::error::{BackendKind, LeanProcessError};
use super::language_server::LanguageServerSession;
use super::limits::{DEFAULT_ADDRESS_SPACE_LIMIT_BYTES, DEFAULT_MAX_ANSWER_BYTES};
use super::outcome::{CheckOutcome, CheckRequest, TacticOutcome};
use super::repl::ReplSession;

/// The limits a session applies to its process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionLimits {
    /// `RLIMIT_AS` for the process; `None` leaves the inherited limit.
    pub address_space_limit_bytes: Option<u64>,
    /// The largest single answer read from the process.
    pub max_answer_bytes: usize,
}

impl Default for SessionLimits {
    fn default() -> Self {
        SessionLimits {
            address_space_limit_bytes: Some(DEFAULT_ADDRESS_SPACE_LIMIT_BYTES),
            max_answer_bytes: DEFAULT_MAX_ANSWER_BYTES,
        }
    }
}

/// A running Lean process of either kind.
pub enum LeanSession {
    LanguageServer(LanguageServerSession),
    Repl(ReplSession),
}

impl LeanSession {
    /// Spawns the process (in its own process group, with the address-space limit). Nothing is
    /// sent yet; call [`LeanSession::start`] next. Must be called inside a tokio runtime.
    pub fn spawn(
        backend: BackendKind,
        launch: &LaunchCommand,
        limits: &SessionLimits,
    ) -> Result<LeanSession, LeanProcessError> {
        Ok(match backend {
            BackendKind::LanguageServer => {
                LeanSession::LanguageServer(LanguageServerSession::spawn(launch, limits)?)
            }
            BackendKind::Repl => LeanSession::Repl(ReplSession::spawn(launch, limits)?),
        })
    }

    pub fn backend(&self) -> BackendKind {
        match self {
            LeanSession::LanguageServer(_) => BackendKind::LanguageServer,
            LeanSession::Repl(_) => BackendKind::Repl,
        }
    }

    /// The operating-system id of the process (also its process group id).
    pub fn process_id(&self) -> u32 {
        match self {
            LeanSession::LanguageServer(session) => session.child().process_id(),
            LeanSession::Repl(session) => session.child().process_id(),
        }
    }

    /// Whether the process has exited (noticed without reaping it).
    pub fn has_exited(&self) -> bool {
        match self {
            LeanSession::LanguageServer(session) => session.child().has_exited(),
            LeanSession::Repl(session) => session.child().has_exited(),
        }
    }

    /// Gets the process ready and loads `import_header`: the language server's `initialize`
    /// handshake and a first version of its document holding only the header, or the REPL's
    /// header command (whose environment later checks reuse).
    pub async fn start(&mut self, import_header: &str) -> Result<(), LeanProcessError> {
        match self {
            LeanSession::LanguageServer(session) => session.open_header(import_header).await,
            LeanSession::Repl(session) => session.import_header(import_header).await,
        }
    }

    /// Checks one document and reports what Lean said.
    pub async fn check(
        &mut self,
        request: &CheckRequest,
    ) -> Result<CheckOutcome, LeanProcessError> {
        match self {
            LeanSession::LanguageServer(session) => session.check(request).await,
            LeanSession::Repl(session) => session.check(request).await,
        }
    }

    /// Runs a tactic on a REPL proof state (REPL only).
    pub async fn run_tactic(
        &mut self,
        proof_state: u64,
        tactic: &str,
    ) -> Result<TacticOutcome, LeanProcessError> {
        match self {
            LeanSession::LanguageServer(_) => Err(LeanProcessError::TacticModeUnsupported {
                backend: BackendKind::LanguageServer,
            }),
            LeanSession::Repl(session) => session.run_tactic(proof_state, tactic).await,
        }
    }

    /// Kills the process group and reaps the process.
    pub async fn shutdown(self) {
        let child = match self {
            LeanSession::LanguageServer(session) => session.into_child(),
            LeanSession::Repl(session) => session.into_child(),
        };
        child.shutdown().await;
    }
}
