//! Cancellation, the wall-clock deadline and progress reports of a running search. The caller
//! owns all three; the loop polls them between model calls and Lean checks (and generation polls
//! between decode steps).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

/// A flag shared between whoever may cancel and the work that polls it.
#[derive(Debug, Clone, Default)]
pub struct Cancellation {
    cancelled: Arc<AtomicBool>,
}

impl Cancellation {
    pub fn new() -> Self {
        Cancellation::default()
    }

    pub fn cancel(&self) {
        self.cancelled.store(true, Ordering::SeqCst);
    }

    pub fn is_cancelled(&self) -> bool {
        self.cancelled.load(Ordering::SeqCst)
    }
}

/// Why a search stopped before it ran out of rounds or found a proof.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Interruption {
    Cancelled,
    TimeBudgetSpent,
}

/// What a search reports while it runs.
#[derive(Debug, Clone, PartialEq)]
pub enum ProgressEvent {
    /// A round starts (0 is the first proposal round).
    Round { round: usize, n_rounds: usize },
    /// Sampling candidates.
    Generating { n_samples: usize },
    /// Scoring or reviewing candidate `candidate_idx` of `n_candidates`.
    Verifying {
        candidate_idx: usize,
        n_candidates: usize,
    },
    /// Asking Lean about candidate `candidate_idx` of `n_candidates`.
    CheckingWithLean {
        candidate_idx: usize,
        n_candidates: usize,
    },
    /// Asking Lean about the best candidates of a declaration's `n_holes` sorries put together.
    CheckingTogether { n_holes: usize },
}

impl ProgressEvent {
    /// A short line for people (progress bars, `$/progress`).
    pub fn message(&self) -> String {
        match self {
            ProgressEvent::Round { round: 0, .. } => "proposing".to_owned(),
            ProgressEvent::Round { round, n_rounds } => {
                format!("refining, round {round} of {n_rounds}")
            }
            ProgressEvent::Generating { n_samples } => format!("sampling {n_samples} candidates"),
            ProgressEvent::Verifying {
                candidate_idx,
                n_candidates,
            } => format!(
                "verifying candidate {} of {n_candidates}",
                candidate_idx + 1
            ),
            ProgressEvent::CheckingWithLean {
                candidate_idx,
                n_candidates,
            } => format!(
                "checking candidate {} of {n_candidates} with Lean",
                candidate_idx + 1
            ),
            ProgressEvent::CheckingTogether { n_holes } => {
                format!("checking the proofs of {n_holes} sorries together with Lean")
            }
        }
    }
}

/// How a caller steers one piece of work: it can cancel it, bound it in time, and watch it.
pub struct WorkControl<'a> {
    pub cancellation: Cancellation,
    pub deadline: Option<Instant>,
    pub progress: &'a (dyn Fn(ProgressEvent) + Sync),
}

impl<'a> WorkControl<'a> {
    /// Work that nobody cancels, with no deadline and no one watching.
    pub fn unbounded() -> WorkControl<'static> {
        WorkControl {
            cancellation: Cancellation::new(),
            deadline: None,
            progress: &|_| {},
        }
    }

    /// Why the work must stop now, if it must.
    pub fn interruption(&self) -> Option<Interruption> {
        if self.cancellation.is_cancelled() {
            Some(Interruption::Cancelled)
        } else if self
            .deadline
            .is_some_and(|deadline| Instant::now() >= deadline)
        {
            Some(Interruption::TimeBudgetSpent)
        } else {
            None
        }
    }

    pub fn report(&self, event: ProgressEvent) {
        (self.progress)(event);
    }
}
