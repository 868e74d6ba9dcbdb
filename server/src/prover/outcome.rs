//! What the prover answers: the provenance of every proof and candidate, per-step scores and
//! flags, and the ranked candidates of a search. Ranges are byte ranges into the document the
//! request was made on; the language server and the CLI convert them for their users.

use super::control::Interruption;
use proofwright_lean::position::ByteRange;
use serde::Serialize;
use std::cmp::Ordering;

/// Where a proof's standing comes from. Only Lean verifies; a neural score is a hint.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "status", rename_all = "kebab-case")]
pub enum Provenance {
    /// Lean reported no error and no `sorry`, and the axioms are the standard three at most.
    LeanVerified,
    /// Not checked by Lean (it is off or not installed); the verifier flagged nothing.
    Neural { score: f32 },
    /// Lean rejected it, or the verifier flagged steps; `flagged` says which and why.
    Flagged {
        score: Option<f32>,
        flagged: Vec<FlaggedStep>,
    },
    /// There is no proof: a `sorry` remains, or the search found no candidate.
    Unproved { reason: String },
}

impl Provenance {
    /// The name used in every output: `lean-verified`, `neural`, `flagged`, `unproved`.
    pub fn label(&self) -> &'static str {
        match self {
            Provenance::LeanVerified => "lean-verified",
            Provenance::Neural { .. } => "neural",
            Provenance::Flagged { .. } => "flagged",
            Provenance::Unproved { .. } => "unproved",
        }
    }

    /// Lower ranks first: verified, neural, flagged, unproved.
    fn rank(&self) -> u8 {
        match self {
            Provenance::LeanVerified => 0,
            Provenance::Neural { .. } => 1,
            Provenance::Flagged { .. } => 2,
            Provenance::Unproved { .. } => 3,
        }
    }

    pub fn score(&self) -> Option<f32> {
        match self {
            Provenance::Neural { score } => Some(*score),
            Provenance::Flagged { score, .. } => *score,
            Provenance::LeanVerified | Provenance::Unproved { .. } => None,
        }
    }

    pub fn flagged_steps(&self) -> &[FlaggedStep] {
        match self {
            Provenance::Flagged { flagged, .. } => flagged,
            _ => &[],
        }
    }

    /// Orders better first: by provenance, then by score (higher first).
    pub fn compare(&self, other: &Provenance) -> Ordering {
        self.compare_with_kind_first(other, Ordering::Equal)
    }

    /// Orders better first: by provenance, then by `within_kind` (for two of the same kind),
    /// then by score (higher first).
    pub fn compare_with_kind_first(&self, other: &Provenance, within_kind: Ordering) -> Ordering {
        self.rank()
            .cmp(&other.rank())
            .then(within_kind)
            .then_with(|| {
                let mine = self.score().unwrap_or(f32::NEG_INFINITY);
                let theirs = other.score().unwrap_or(f32::NEG_INFINITY);
                theirs.total_cmp(&mine)
            })
    }
}

/// A step the verifier or Lean objected to.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FlaggedStep {
    /// The step's range; for a reason not tied to a step, the whole proof's.
    pub range: ByteRange,
    pub text: String,
    /// The step's neural score, when it was scored.
    pub score: Option<f32>,
    pub reasons: Vec<FlagReason>,
}

/// Why a step was flagged.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum FlagReason {
    /// Lean reported an error inside the step.
    LeanError { message: String },
    /// The model found the step unlikely: its geometric-mean token probability is below the
    /// threshold.
    LowConfidence {
        score: f32,
        threshold: f32,
        /// The least likely token of the step and its probability.
        weakest_token: String,
        weakest_probability: f32,
    },
    /// The deep verifier's review named an issue (not tied to a step unless it quotes one).
    ReviewIssue { issue: String },
    /// The deep verifier's reviews scored the proof low.
    LowReviewScore { score: f32, threshold: f32 },
}

impl FlagReason {
    /// One line for people.
    pub fn describe(&self) -> String {
        match self {
            FlagReason::LeanError { message } => format!("Lean: {}", first_line(message)),
            FlagReason::LowConfidence {
                score,
                threshold,
                weakest_token,
                weakest_probability,
            } => format!(
                "low model confidence {score:.2} (threshold {threshold:.2}); least likely token {weakest_token:?} at {weakest_probability:.3}"
            ),
            FlagReason::ReviewIssue { issue } => format!("review: {issue}"),
            FlagReason::LowReviewScore { score, threshold } => {
                format!("review score {score:.2} below {threshold:.2}")
            }
        }
    }
}

fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or("")
}

/// The neural score of one step.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StepScore {
    pub range: ByteRange,
    /// Geometric mean of the probabilities of the step's own tokens (not its children's).
    pub score: f32,
    pub weakest_token: String,
    pub weakest_probability: f32,
}

/// What the deep verifier concluded from its reviews.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReviewSummary {
    /// The mean of the parsed scores (each 0, 0.5 or 1); `None` when no review could be parsed.
    pub score: Option<f32>,
    pub n_reviews: usize,
    pub n_parsed: usize,
    /// Issues named by any review, deduplicated, in the order first seen.
    pub issues: Vec<String>,
}

/// What Lean said about a proof.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LeanFindings {
    pub verified: bool,
    /// Why it is not verified (empty when verified).
    pub reasons: Vec<String>,
    /// Errors inside the proof, each with the step it falls in (an index into the steps given).
    pub errors: Vec<LeanStepError>,
    /// Not verified, and every reason is a `sorry`: one Lean reported, its "declaration uses
    /// 'sorry'" warning, or `sorryAx` as the only disallowed axiom. For a candidate that fills
    /// one hole of several (and has no `sorry` of its own), Lean accepts it apart from the other
    /// holes.
    #[serde(skip)]
    pub only_sorries_in_the_way: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LeanStepError {
    /// Byte range in the text the request was made on.
    pub range: ByteRange,
    pub step: Option<usize>,
    pub message: String,
}

/// Replace `range` of the document with `new_text`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TextReplacement {
    pub range: ByteRange,
    pub new_text: String,
}

impl TextReplacement {
    pub fn apply(&self, text: &str) -> String {
        let mut out = String::with_capacity(text.len() + self.new_text.len());
        out.push_str(&text[..self.range.start.0]);
        out.push_str(&self.new_text);
        out.push_str(&text[self.range.end.0..]);
        out
    }
}

/// One candidate of a search, judged.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CandidateReport {
    /// The edit that puts the candidate into the document.
    pub replacement: TextReplacement,
    pub provenance: Provenance,
    /// Steps of the candidate, ranges in the document after the edit.
    pub step_scores: Vec<StepScore>,
    pub review: Option<ReviewSummary>,
    pub lean: Option<LeanFindings>,
    /// The round that produced it (0: first proposals) and its sample index there.
    pub round: usize,
    pub sample_idx: usize,
}

impl CandidateReport {
    /// Flagged only because its declaration has other `sorry`s: Lean accepts it apart from them.
    pub fn is_accepted_apart(&self) -> bool {
        matches!(self.provenance, Provenance::Flagged { .. })
            && self
                .lean
                .as_ref()
                .is_some_and(super::joint::accepted_apart_from_other_holes)
    }
}

/// Why a search ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SearchEnd {
    /// A candidate was lean-verified.
    LeanVerified,
    /// The target shares its declaration with other `sorry`s, so no candidate can be verified
    /// alone, and Lean accepted a candidate apart from them (see
    /// [`LeanFindings::only_sorries_in_the_way`]): refining further could not do better.
    AcceptedApart,
    /// Without Lean: a candidate was scored above the threshold with nothing flagged.
    NeuralAccepted,
    /// Every round ran without either.
    RoundsSpent,
    Interrupted(Interruption),
}

impl SearchEnd {
    /// The name used in every output.
    pub fn label(self) -> &'static str {
        match self {
            SearchEnd::LeanVerified => "lean-verified",
            SearchEnd::AcceptedApart => "accepted-apart",
            SearchEnd::NeuralAccepted => "neural-accepted",
            SearchEnd::RoundsSpent => "rounds-spent",
            SearchEnd::Interrupted(Interruption::Cancelled) => "cancelled",
            SearchEnd::Interrupted(Interruption::TimeBudgetSpent) => "time-budget-spent",
        }
    }
}

/// The result of a search: every distinct candidate, best first.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SearchOutcome {
    pub candidates: Vec<CandidateReport>,
    pub rounds_run: usize,
    pub end: SearchEnd,
    /// Whether Lean checked the candidates.
    pub lean_checked: bool,
}

impl SearchOutcome {
    pub fn best(&self) -> Option<&CandidateReport> {
        self.candidates.first()
    }

    /// The best candidate, when Lean accepts it apart from the other `sorry`s of its
    /// declaration (candidates Lean accepts so are ranked first among the flagged ones).
    pub fn best_accepted_apart(&self) -> Option<&CandidateReport> {
        self.best().filter(|best| best.is_accepted_apart())
    }

    /// The provenance of the best candidate, or `unproved` when there is none.
    pub fn best_provenance(&self) -> Provenance {
        match self.best() {
            Some(candidate) => candidate.provenance.clone(),
            None => Provenance::Unproved {
                reason: match self.end {
                    SearchEnd::Interrupted(Interruption::Cancelled) => {
                        "the search was cancelled before it found a candidate".to_owned()
                    }
                    SearchEnd::Interrupted(Interruption::TimeBudgetSpent) => {
                        "the time budget ran out before the search found a candidate".to_owned()
                    }
                    _ => "the model proposed no usable candidate".to_owned(),
                },
            },
        }
    }
}

/// The standing of a proof already in the file.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProofReport {
    pub declaration_idx: usize,
    pub name: Option<String>,
    /// The proof's range in the document.
    pub proof_range: ByteRange,
    pub provenance: Provenance,
    pub step_scores: Vec<StepScore>,
    pub review: Option<ReviewSummary>,
    pub lean: Option<LeanFindings>,
}
