//! The prover loop: propose → verify → refine, as a library with no LSP types and no terminal
//! output. The language server and `proofwright check` both drive it.
//!
//! - [`Prover::search`] proves a target (a `sorry`, a step, an alternative step, a whole proof):
//!   it samples candidates in one batch that shares the prompt, splits each into steps with the
//!   lean-bridge segmenter, scores them with the neural verifier, checks them with Lean when Lean
//!   is there, and regenerates from the first flagged step with the feedback in the prompt, for
//!   up to R rounds. Results are ranked and carry their provenance.
//! - [`Prover::verify`] judges a proof already in the file.
//! - [`Prover::check_holes_together`] puts the best candidates of a declaration's several
//!   `sorry`s together and has Lean check the whole declaration once.
//! - [`Prover::propose_next_steps`] proposes the next tactic at a position (completion).
//!
//! Work is synchronous and CPU-bound; call it from worker threads (it blocks on Lean).

pub mod cache;
pub mod candidate;
pub mod control;
pub mod joint;
pub mod lean;
pub mod limits;
pub mod model;
pub mod outcome;
pub mod prompt;
mod search;
pub mod settings;
pub mod target;
pub mod verifier;

pub use control::{Cancellation, Interruption, ProgressEvent, WorkControl};
pub use joint::{HolePart, HoleSearch, JointOutcome, NotCheckedReason};
pub use lean::{LeanAccess, LeanAvailability, LeanRequired};
pub use model::{PromptFamily, ProverModel};
pub use outcome::{
    CandidateReport, FlagReason, FlaggedStep, LeanFindings, ProofReport, Provenance, SearchEnd,
    SearchOutcome, StepScore, TextReplacement,
};
pub use search::{tactic_block_at, StepProposal};
pub use settings::{LeanMode, SearchSettings, TemplateChoice, VerifierMode};
pub use target::{is_proof, Insertion, Target, TargetError};

use cache::ProverCaches;
use proofwright_lean::syntax::Outline;
use std::path::Path;
use std::sync::Arc;

/// A document as the prover sees it: its text, its outline and where it lives (for finding
/// the Lean project; the file need not exist).
#[derive(Clone, Copy)]
pub struct ProofDocument<'a> {
    pub text: &'a str,
    pub outline: &'a Outline,
    pub path: &'a Path,
}

/// The model, Lean access and caches shared by every request.
pub struct Prover {
    pub model: Arc<ProverModel>,
    pub lean: Arc<LeanAccess>,
    caches: ProverCaches,
}

impl Prover {
    pub fn new(model: Arc<ProverModel>, lean: Arc<LeanAccess>) -> Prover {
        Prover {
            model,
            lean,
            caches: ProverCaches::default(),
        }
    }
}
