//! What `check` found, as plain data: the JSON format is this structure serialised (its schema
//! is documented in docs/check.md), and every other format is rendered from it.

use crate::prover::joint::holes_of;
use crate::prover::{
    CandidateReport, FlaggedStep, Interruption, JointOutcome, LeanFindings, NotCheckedReason,
    ProofReport, Provenance,
};
use proofwright_lean::position::{ByteRange, LineIndex};
use proofwright_lean::syntax::{Declaration, Outline, PositionedRange};
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
    /// In a declaration with several sorries, checked by Lean: how the best proposals of all of
    /// them fared put together; null otherwise.
    pub together: Option<TogetherEntry>,
}

/// The sorries of one declaration filled together and checked by Lean once.
#[derive(Debug, Clone, Serialize)]
pub struct TogetherEntry {
    /// `lean-verified` (Lean accepts the declaration with every sorry filled), `rejected` (it
    /// does not), or `not-checked` (`reason` says why).
    pub status: &'static str,
    /// The sorries of the declaration, this one included.
    pub sorries: usize,
    /// Whether this sorry has a proposal Lean accepts apart from the other sorries.
    pub accepted_apart: bool,
    /// Why the sorries were not filled together; null when Lean accepted them.
    pub reason: Option<String>,
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

/// The proposal reported for a sorry, with flagged ranges given in the file as it would read
/// after the edit (they are reported relative to the edited text).
pub fn proposal_entry(best: &CandidateReport, positions: &Positions) -> ProposalEntry {
    let edited = best.replacement.apply(positions.text);
    let edited_positions = Positions::new(&edited);
    ProposalEntry {
        status: best.provenance.label(),
        score: best.provenance.score(),
        replace: positions.range(best.replacement.range),
        new_text: best.replacement.new_text.clone(),
        flagged: flagged_entries(best.provenance.flagged_steps(), &edited_positions),
        applied: false,
    }
}

/// How sorry `sorry_idx` fared with the other sorries of its declaration, in words a user
/// understands; `None` when they were not put together (one sorry, no Lean).
pub fn together_entry(
    outcome: &JointOutcome,
    sorry_idx: usize,
    outline: &Outline,
    declaration_name: Option<&str>,
    positions: &Positions,
) -> Option<TogetherEntry> {
    let n_sorries = outline.sorries[sorry_idx]
        .declaration
        .map_or(1, |declaration_idx| {
            holes_of(outline, declaration_idx).len()
        });
    let of_declaration = match declaration_name {
        Some(name) => format!("the {n_sorries} sorries of {name}"),
        None => format!("the {n_sorries} sorries of this declaration"),
    };
    let sorry_at = |idx: usize| {
        let start = positions.range(outline.sorries[idx].range).lean.start;
        format!("{}:{}", start.line, start.column + 1)
    };
    let entry = |status, accepted_apart, reason: Option<String>| TogetherEntry {
        status,
        sorries: n_sorries,
        accepted_apart,
        reason,
    };
    Some(match outcome {
        JointOutcome::NotNeeded => return None,
        JointOutcome::Verified { .. } => entry("lean-verified", true, None),
        JointOutcome::Rejected { findings, .. } => {
            let complaints: Vec<String> = if findings.errors.is_empty() {
                findings.reasons.clone()
            } else {
                findings
                    .errors
                    .iter()
                    .map(|error| error.message.lines().next().unwrap_or("").to_owned())
                    .collect()
            };
            entry(
                "rejected",
                true,
                Some(format!(
                    "lean rejects the best proposals of {of_declaration} put together ({}); fill them one at a time",
                    complaints.join("; ")
                )),
            )
        }
        JointOutcome::NotChecked(reason) => {
            let (accepted_apart, reason) = match reason {
                NotCheckedReason::HolesWithoutCandidate { sorry_idxs } => {
                    let places: Vec<String> = sorry_idxs.iter().map(|idx| sorry_at(*idx)).collect();
                    let holes = match places.as_slice() {
                        [one] => format!("the sorry at {one} has"),
                        [rest @ .., last] => {
                            format!("the sorries at {} and {last} have", rest.join(", "))
                        }
                        [] => "no sorry has".to_owned(),
                    };
                    (
                        !sorry_idxs.contains(&sorry_idx),
                        format!(
                            "{holes} no proposal that lean accepts apart from the other sorries, so {of_declaration} were not filled together"
                        ),
                    )
                }
                NotCheckedReason::Overlap { sorry_idxs: (first, second) } => (
                    true,
                    format!(
                        "the proposals for the sorries at {} and {} overlap, so {of_declaration} were not filled together",
                        sorry_at(*first),
                        sorry_at(*second)
                    ),
                ),
                NotCheckedReason::Interrupted(Interruption::TimeBudgetSpent) => (
                    true,
                    format!(
                        "the time budget ran out before {of_declaration} could be checked together; raise --time-budget"
                    ),
                ),
                NotCheckedReason::Interrupted(Interruption::Cancelled) => (
                    true,
                    format!("cancelled before {of_declaration} could be checked together"),
                ),
                NotCheckedReason::LeanFailed { message } => (
                    true,
                    format!("lean could not check {of_declaration} together: {message}"),
                ),
            };
            entry("not-checked", accepted_apart, Some(reason))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proofwright_lean::syntax::outline;

    const THREE_HOLES: &str = "theorem t (p : Prop) (h : p) : p ∧ p ∧ p := by\n  refine ⟨?_, ?_, ?_⟩\n  · sorry\n  · sorry\n  · sorry\n";

    fn together(outcome: &JointOutcome, sorry_idx: usize) -> Option<TogetherEntry> {
        let outline = outline(THREE_HOLES);
        together_entry(
            outcome,
            sorry_idx,
            &outline,
            Some("t"),
            &Positions::new(THREE_HOLES),
        )
    }

    #[test]
    fn the_holes_at_fault_are_named_in_words() {
        let missing = JointOutcome::NotChecked(NotCheckedReason::HolesWithoutCandidate {
            sorry_idxs: vec![0, 2],
        });
        let first = together(&missing, 0).expect("an entry");
        assert_eq!(first.status, "not-checked");
        assert_eq!(first.sorries, 3);
        assert!(!first.accepted_apart);
        assert_eq!(
            first.reason.as_deref(),
            Some("the sorries at 3:5 and 5:5 have no proposal that lean accepts apart from the other sorries, so the 3 sorries of t were not filled together")
        );
        assert!(together(&missing, 1).expect("an entry").accepted_apart);

        let late =
            JointOutcome::NotChecked(NotCheckedReason::Interrupted(Interruption::TimeBudgetSpent));
        assert_eq!(
            together(&late, 1).expect("an entry").reason.as_deref(),
            Some("the time budget ran out before the 3 sorries of t could be checked together; raise --time-budget")
        );
        assert!(together(&JointOutcome::NotNeeded, 0).is_none());
    }
}
