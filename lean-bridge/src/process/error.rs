//! What can go wrong while talking to a Lean process, as one error enum that names the cause.

use std::fmt;
use std::io;
use std::path::PathBuf;
use std::time::Duration;

/// Which of Lean's two interfaces a process speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum BackendKind {
    /// Lean's language server (`lake serve` or `lean --server`).
    LanguageServer,
    /// The leanprover-community REPL (`lake exe repl`).
    Repl,
}

impl fmt::Display for BackendKind {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(match self {
            BackendKind::LanguageServer => "lean language server",
            BackendKind::Repl => "lean REPL",
        })
    }
}

/// The part of a request that ran out of time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestPhase {
    /// Spawning, the language server's `initialize`, or the REPL's import header.
    Starting,
    /// Answering one check or tactic request.
    Answering,
}

impl fmt::Display for RequestPhase {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(match self {
            RequestPhase::Starting => "start",
            RequestPhase::Answering => "answer",
        })
    }
}

/// An error from a Lean process or from the pool that manages them.
#[derive(Debug, thiserror::Error)]
pub enum LeanProcessError {
    #[error(
        "could not start the {backend} process `{}`: {source}; check that the Lean toolchain is installed",
        program.display()
    )]
    SpawnFailed {
        backend: BackendKind,
        program: PathBuf,
        #[source]
        source: io::Error,
    },

    #[error(
        "the {backend} process did not {phase} within {:.1} s; its process group was killed and the \
         input is reported as timed out, not retried",
        timeout.as_secs_f64()
    )]
    TimedOut {
        backend: BackendKind,
        phase: RequestPhase,
        timeout: Duration,
    },

    #[error(
        "the {backend} process exited unexpectedly ({exit}); a fresh process is started for the \
         next request; its last standard error was: {stderr_tail:?}"
    )]
    Crashed {
        backend: BackendKind,
        exit: String,
        stderr_tail: String,
    },

    #[error(
        "the {backend} process wrote output that is not {expected}: {problem}; the output began \
         with {excerpt:?}"
    )]
    MalformedOutput {
        backend: BackendKind,
        expected: &'static str,
        problem: String,
        excerpt: String,
    },

    #[error(
        "the {backend} process sent an answer larger than the limit of {limit_bytes} bytes; raise \
         the pool's max_answer_bytes if such answers are expected"
    )]
    AnswerTooLarge {
        backend: BackendKind,
        limit_bytes: usize,
    },

    #[error("the lean REPL refused the request: {message}")]
    ReplRejected { message: String },

    #[error("the lean language server answered `{method}` with error {code}: {message}")]
    LanguageServerRejected {
        method: String,
        code: i64,
        message: String,
    },

    #[error("could not talk to the {backend} process: {source}")]
    Io {
        backend: BackendKind,
        #[source]
        source: io::Error,
    },

    #[error("no launch command is configured for the {backend} backend; discover a toolchain and configure the pool with it")]
    BackendNotConfigured { backend: BackendKind },

    #[error(
        "{name:?} is not a Lean declaration name; `#print axioms` is only sent for a single \
         identifier without spaces or control characters"
    )]
    InvalidDeclarationName { name: String },

    #[error(
        "the process that owned this proof state is gone (restarted, recycled or evicted); check \
         the proof again to get fresh proof states"
    )]
    ProcessGone,

    #[error("the {backend} backend has no tactic mode; use the REPL backend for tactic requests")]
    TacticModeUnsupported { backend: BackendKind },

    #[error(
        "the document's import header differs from the one this REPL process was started with; \
         the pool keys processes by import header, so this is a bug in the caller"
    )]
    HeaderMismatch,
}

impl LeanProcessError {
    /// Whether the process that produced this error can still serve further requests. Lean
    /// refusing a request leaves it healthy; anything else leaves its state unknown.
    pub fn leaves_process_usable(&self) -> bool {
        matches!(
            self,
            LeanProcessError::ReplRejected { .. }
                | LeanProcessError::LanguageServerRejected { .. }
                | LeanProcessError::InvalidDeclarationName { .. }
                | LeanProcessError::HeaderMismatch
                | LeanProcessError::TacticModeUnsupported { .. }
        )
    }
}
