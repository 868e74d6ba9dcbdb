//! What `check` found, as plain data: the JSON format is this structure serialised (its schema
//! is documented in docs/check.md), and every other format is rendered from it.

use crate::prover::{
    CandidateReport, FlaggedStep, LeanFindings, ProofReport, Provenance, SearchOutcome,
};
use proofwright_lean::position::{ByteRange, LineIndex};
use proofwright_lean::syntax::{Declaration, PositionedRange};
use serde::Serialize;

/// Version of the JSON shape; bumped when a field changes meaning or disappears.
pub const CHECK_JSON_VERSION: u32 = 1;

#[derive(Debug, Clone, Serialize)]
pub struct CheckReport {
    pub version: u32,
    pub tool: ToolInfo,
    pub model: ModelInfo,
    /// How Lean was used: `off`, `unavailable: …`, or the toolchain that checked.
    pub lean: String,
    pub settings: SettingsInfo,
    pub files: Vec<FileReport>,
    pub summary: Summary,
}

#[derive(Debug, Clone, Serialize)]
pub struct ToolInfo {
    pub name: &'static str,
    pub version: &'static str,
}

#[derive(Debug, Clone, Serialize)]
pub struct ModelInfo {
    /// What `--model` named (a directory or a repo id).
    pub spec: String,
    pub directory: String,
    /// `completion` or `chat`.
    pub template: &'static str,
    /// Where the model ran: `cpu`, or `cuda (GPU name, sm_XY)`.
    pub device: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct SettingsInfo {
    pub verifier: &'static str,
    pub threshold: f32,
    pub samples: usize,
    pub rounds: usize,
    pub seed: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct FileReport {
    /// As given or found (relative when the argument was relative).
    pub path: String,
    /// Why the file could not be checked (unreadable, not UTF-8); nothing else is set then.
    pub error: Option<String>,
    pub proofs: Vec<ProofEntry>,
    pub sorries: Vec<SorryEntry>,
    /// Whether `--fix` rewrote the file.
    pub fixed: bool,
    /// Why `--fix` left the file alone although it had proposals to write.
    pub fix_refused: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ProofEntry {
    /// The declared name; null for `example`.
    pub declaration: Option<String>,
    pub kind: &'static str,
    /// The proof's range.
    pub range: PositionedRange,
    /// `lean-verified`, `neural`, `flagged` or `unproved`.
    pub status: &'static str,
    /// The neural score (geometric-mean token probability, or the deep review score).
    pub score: Option<f32>,
    /// Why the status is `unproved`.
    pub reason: Option<String>,
    pub flagged: Vec<FlaggedEntry>,
    pub lean: Option<LeanFindings>,
}

#[derive(Debug, Clone, Serialize)]
pub struct FlaggedEntry {
    pub range: PositionedRange,
    pub text: String,
    pub score: Option<f32>,
    /// One line each, for people.
    pub reasons: Vec<String>,
    /// `lean-error` when Lean reported an error here, else `flagged-step`.
    pub rule: &'static str,
}

#[derive(Debug, Clone, Serialize)]
pub struct SorryEntry {
    pub range: PositionedRange,
    pub declaration: Option<String>,
    /// The best proposal the search found; null when it found none.
    pub best: Option<ProposalEntry>,
    /// Rounds the search ran and why it ended.
    pub rounds_run: usize,
    pub search_end: String,
    /// Why no search ran (no usable insertion point, an error); null when one ran.
    pub error: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ProposalEntry {
    pub status: &'static str,
    pub score: Option<f32>,
    /// The replacement text and the range of the original file it replaces.
    pub replace: PositionedRange,
    pub new_text: String,
    pub flagged: Vec<FlaggedEntry>,
    /// Whether `--fix` wrote it into the file.
    pub applied: bool,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Summary {
    pub files: usize,
    pub file_errors: usize,
    pub proofs: usize,
    pub lean_verified: usize,
    pub neural: usize,
    pub flagged: usize,
    pub unproved: usize,
    pub sorries: usize,
    pub sorries_with_proposal: usize,
    pub proposals_applied: usize,
}

impl Summary {
    pub fn add(&mut self, file: &FileReport) {
        self.files += 1;
        self.file_errors += usize::from(file.error.is_some());
        for proof in &file.proofs {
            self.proofs += 1;
            match proof.status {
                "lean-verified" => self.lean_verified += 1,
                "neural" => self.neural += 1,
                "flagged" => self.flagged += 1,
                _ => self.unproved += 1,
            }
        }
        self.sorries += file.sorries.len();
        self.sorries_with_proposal += file
            .sorries
            .iter()
            .filter(|sorry| sorry.best.is_some())
            .count();
        self.proposals_applied += file
            .sorries
            .iter()
            .filter(|sorry| sorry.best.as_ref().is_some_and(|best| best.applied))
            .count();
    }

    /// Whether the run found nothing to complain about: no flagged or unproved proof, no sorry,
    /// no unreadable file (exit status 0).
    pub fn is_clean(&self) -> bool {
        self.flagged == 0
            && self.unproved == 0
            && self.sorries == self.proposals_applied
            && self.file_errors == 0
    }
}

/// Converts byte ranges of one file's text.
pub struct Positions<'a> {
    text: &'a str,
    index: LineIndex,
}

impl<'a> Positions<'a> {
    pub fn new(text: &'a str) -> Self {
        Positions {
            text,
            index: LineIndex::new(text),
        }
    }

    pub fn range(&self, range: ByteRange) -> PositionedRange {
        PositionedRange::new(self.text, &self.index, range)
    }
}

pub fn flagged_entries(flagged: &[FlaggedStep], positions: &Positions) -> Vec<FlaggedEntry> {
    flagged
        .iter()
        .map(|step| FlaggedEntry {
            range: positions.range(step.range),
            text: step.text.clone(),
            score: step.score,
            reasons: step
                .reasons
                .iter()
                .map(|reason| reason.describe())
                .collect(),
            rule: if step
                .reasons
                .iter()
                .any(|reason| matches!(reason, crate::prover::FlagReason::LeanError { .. }))
            {
                "lean-error"
            } else {
                "flagged-step"
            },
        })
        .collect()
}

pub fn proof_entry(
    declaration: &Declaration,
    report: &ProofReport,
    positions: &Positions,
) -> ProofEntry {
    ProofEntry {
        declaration: declaration.name.clone(),
        kind: declaration.kind.keyword(),
        range: positions.range(report.proof_range),
        status: report.provenance.label(),
        score: report.provenance.score(),
        reason: match &report.provenance {
            Provenance::Unproved { reason } => Some(reason.clone()),
            _ => None,
        },
        flagged: flagged_entries(report.provenance.flagged_steps(), positions),
        lean: report.lean.clone(),
    }
}

/// The best proposal of a search, with flagged ranges given in the file as it would read after
/// the edit (they are reported relative to the edited text).
pub fn proposal_entry(outcome: &SearchOutcome, positions: &Positions) -> Option<ProposalEntry> {
    let best: &CandidateReport = outcome.best()?;
    let edited = best.replacement.apply(positions.text);
    let edited_positions = Positions::new(&edited);
    Some(ProposalEntry {
        status: best.provenance.label(),
        score: best.provenance.score(),
        replace: positions.range(best.replacement.range),
        new_text: best.replacement.new_text.clone(),
        flagged: flagged_entries(best.provenance.flagged_steps(), &edited_positions),
        applied: false,
    })
}
