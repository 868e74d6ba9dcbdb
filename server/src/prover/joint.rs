//! A declaration with several `sorry`s: each hole's search checks its candidates with the other
//! holes still in place, so Lean can at best accept a candidate "apart from the other holes"
//! (no error, only the remaining `sorry`s in the way). When every hole has such a candidate, the
//! best one of each is put into the declaration together and Lean checks the whole declaration
//! once; the trust rule, applied to that one check, decides whether the parts are
//! `lean-verified`.

use super::control::{Interruption, ProgressEvent, WorkControl};
use super::lean::LeanCheckError;
use super::outcome::{CandidateReport, LeanFindings, Provenance, SearchOutcome, TextReplacement};
use super::{ProofDocument, Prover};
use proofwright_lean::position::ByteRange;
use proofwright_lean::syntax::Outline;

/// What one hole's search gave.
#[derive(Debug, Clone, Copy)]
pub struct HoleSearch<'a> {
    /// The hole, by index into the outline's sorries.
    pub sorry_idx: usize,
    /// `None` when no search ran for it (a `sorry` inside a line, an error).
    pub outcome: Option<&'a SearchOutcome>,
}

/// The candidate chosen for one hole of a combination.
#[derive(Debug, Clone, PartialEq)]
pub struct HolePart {
    pub sorry_idx: usize,
    /// The candidate as its own search judged it; when Lean accepted the combination, with
    /// provenance `lean-verified` and Lean's findings about the combination.
    pub candidate: CandidateReport,
}

/// What became of a declaration's holes put together.
#[derive(Debug, Clone, PartialEq)]
pub enum JointOutcome {
    /// Nothing to put together: the declaration has one hole, Lean did not check the
    /// candidates, or a hole's best candidate was verified on its own.
    NotNeeded,
    /// Lean accepted the declaration with every hole filled: every part is `lean-verified`.
    Verified { parts: Vec<HolePart> },
    /// Lean rejected the declaration with every hole filled; the parts keep their own standing.
    Rejected {
        parts: Vec<HolePart>,
        findings: LeanFindings,
    },
    /// The combination was not checked.
    NotChecked(NotCheckedReason),
}

impl JointOutcome {
    /// The part chosen for hole `sorry_idx`, when Lean accepted the combination.
    pub fn verified_part(&self, sorry_idx: usize) -> Option<&HolePart> {
        match self {
            JointOutcome::Verified { parts } => {
                parts.iter().find(|part| part.sorry_idx == sorry_idx)
            }
            _ => None,
        }
    }
}

/// Why a combination was not checked.
#[derive(Debug, Clone, PartialEq)]
pub enum NotCheckedReason {
    /// These holes have no candidate Lean accepts apart from the other holes.
    HolesWithoutCandidate { sorry_idxs: Vec<usize> },
    /// The candidates chosen for these two holes edit overlapping text.
    Overlap { sorry_idxs: (usize, usize) },
    /// Cancelled, or the time budget was spent, before Lean was asked or while it checked.
    Interrupted(Interruption),
    /// Lean could not be asked, or the combined text could not be read back.
    LeanFailed { message: String },
}

impl Prover {
    /// Puts the best candidate of each hole of declaration `declaration_idx` together and
    /// checks the declaration with Lean once. `holes` are the searches of its holes (others are
    /// ignored). The check is not started once `control` says to stop, and stopped when it does.
    pub fn check_holes_together(
        &self,
        document: &ProofDocument,
        declaration_idx: usize,
        holes: &[HoleSearch],
        control: &WorkControl,
    ) -> anyhow::Result<JointOutcome> {
        let hole_idxs = holes_of(document.outline, declaration_idx);
        if hole_idxs.len() < 2 {
            return Ok(JointOutcome::NotNeeded);
        }
        let search_of = |sorry_idx: usize| {
            holes
                .iter()
                .find(|hole| hole.sorry_idx == sorry_idx)
                .and_then(|hole| hole.outcome)
        };
        let lean_checked = hole_idxs
            .iter()
            .filter_map(|sorry_idx| search_of(*sorry_idx))
            .any(|outcome| outcome.lean_checked);
        let verified_alone = hole_idxs.iter().any(|sorry_idx| {
            search_of(*sorry_idx)
                .and_then(SearchOutcome::best)
                .is_some_and(|best| best.provenance == Provenance::LeanVerified)
        });
        let availability = self.lean.for_file(document.path)?;
        let Some(checker) = availability.checker().cloned() else {
            return Ok(JointOutcome::NotNeeded);
        };
        if !lean_checked || verified_alone {
            return Ok(JointOutcome::NotNeeded);
        }
        let parts = match choose_parts(document.outline, &hole_idxs, &search_of) {
            Ok(parts) => parts,
            Err(reason) => return Ok(JointOutcome::NotChecked(reason)),
        };
        let combined = match combine(document.text, &parts) {
            Ok(combined) => combined,
            Err(reason) => return Ok(JointOutcome::NotChecked(reason)),
        };
        if let Some(interruption) = control.interruption() {
            return Ok(JointOutcome::NotChecked(NotCheckedReason::Interrupted(
                interruption,
            )));
        }
        let combined_outline = proofwright_lean::syntax::outline(&combined);
        let declaration_start = document.outline.declarations[declaration_idx].range.start;
        // Every edit lies inside the declaration, so it still starts where it did.
        let Some(combined_idx) = combined_outline
            .declarations
            .iter()
            .position(|declaration| declaration.range.start == declaration_start)
        else {
            return Ok(JointOutcome::NotChecked(NotCheckedReason::LeanFailed {
                message: "the declaration could not be found again once its sorries were filled"
                    .to_owned(),
            }));
        };
        control.report(ProgressEvent::CheckingTogether {
            n_holes: parts.len(),
        });
        let verdict = self.lean_verdict(
            &checker,
            &combined,
            &combined_outline,
            combined_idx,
            None,
            control,
        );
        let findings = match verdict {
            Ok(verdict) => verdict.findings.clone(),
            Err(LeanCheckError::Interrupted(interruption)) => {
                return Ok(JointOutcome::NotChecked(NotCheckedReason::Interrupted(
                    interruption,
                )))
            }
            Err(LeanCheckError::Lean(error)) => {
                return Ok(JointOutcome::NotChecked(NotCheckedReason::LeanFailed {
                    message: error.to_string(),
                }))
            }
        };
        if findings.verified {
            let parts = parts
                .into_iter()
                .map(|mut part| {
                    part.candidate.provenance = Provenance::LeanVerified;
                    part.candidate.lean = Some(findings.clone());
                    part
                })
                .collect();
            Ok(JointOutcome::Verified { parts })
        } else {
            Ok(JointOutcome::Rejected { parts, findings })
        }
    }
}

/// The holes of a declaration, by index into the outline's sorries.
pub fn holes_of(outline: &Outline, declaration_idx: usize) -> Vec<usize> {
    outline
        .sorries
        .iter()
        .enumerate()
        .filter(|(_, sorry)| sorry.declaration == Some(declaration_idx))
        .map(|(sorry_idx, _)| sorry_idx)
        .collect()
}

/// The best candidate of each hole that Lean accepts apart from the other holes, in the order
/// of `hole_idxs`; or the holes that have none.
fn choose_parts<'a>(
    outline: &Outline,
    hole_idxs: &[usize],
    search_of: &dyn Fn(usize) -> Option<&'a SearchOutcome>,
) -> Result<Vec<HolePart>, NotCheckedReason> {
    let mut parts = Vec::new();
    let mut without = Vec::new();
    for &sorry_idx in hole_idxs {
        let own = outline.sorries[sorry_idx].range;
        let others: Vec<ByteRange> = hole_idxs
            .iter()
            .filter(|other| **other != sorry_idx)
            .map(|other| outline.sorries[*other].range)
            .collect();
        let chosen = search_of(sorry_idx).and_then(|outcome| {
            outcome
                .candidates
                .iter()
                .find(|candidate| fills_only_its_hole(candidate, own, &others))
        });
        match chosen {
            Some(candidate) => parts.push(HolePart {
                sorry_idx,
                candidate: candidate.clone(),
            }),
            None => without.push(sorry_idx),
        }
    }
    if without.is_empty() {
        Ok(parts)
    } else {
        Err(NotCheckedReason::HolesWithoutCandidate {
            sorry_idxs: without,
        })
    }
}

/// Whether a candidate replaces its own hole and no other, and Lean found nothing wrong with it
/// but the other holes.
fn fills_only_its_hole(candidate: &CandidateReport, own: ByteRange, others: &[ByteRange]) -> bool {
    let range = candidate.replacement.range;
    let touches_another = others
        .iter()
        .any(|other| other.start < range.end && range.start < other.end);
    range.encloses(&own) && !touches_another && candidate.is_accepted_apart()
}

/// Whether Lean accepts a candidate apart from the other holes: no error inside the
/// declaration, and its only objections are `sorry`s (see [`LeanFindings::only_sorries_in_the_way`]).
pub fn accepted_apart_from_other_holes(findings: &LeanFindings) -> bool {
    !findings.verified && findings.errors.is_empty() && findings.only_sorries_in_the_way
}

/// The document with every part's edit applied (the edits are against the original text, so
/// they are applied from the last to the first and none shifts another).
fn combine(text: &str, parts: &[HolePart]) -> Result<String, NotCheckedReason> {
    let mut ordered: Vec<(usize, &TextReplacement)> = parts
        .iter()
        .map(|part| (part.sorry_idx, &part.candidate.replacement))
        .collect();
    ordered.sort_by_key(|(_, replacement)| replacement.range.start);
    for pair in ordered.windows(2) {
        if pair[0].1.range.end > pair[1].1.range.start {
            return Err(NotCheckedReason::Overlap {
                sorry_idxs: (pair[0].0, pair[1].0),
            });
        }
    }
    let mut combined = text.to_owned();
    for (_, replacement) in ordered.iter().rev() {
        combined = replacement.apply(&combined);
    }
    Ok(combined)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::prover::{FlaggedStep, SearchEnd};
    use proofwright_lean::position::LeanPosition;
    use proofwright_lean::process::NotVerifiedReason;
    use proofwright_lean::syntax::outline;

    /// Findings as `check_declaration` makes them from the trust rule's reasons.
    fn findings(reasons: &[NotVerifiedReason], n_errors: usize) -> LeanFindings {
        LeanFindings {
            verified: reasons.is_empty(),
            reasons: reasons.iter().map(ToString::to_string).collect(),
            only_sorries_in_the_way: crate::prover::lean::only_sorries(reasons),
            errors: (0..n_errors)
                .map(|_| crate::prover::outcome::LeanStepError {
                    range: ByteRange::new(0, 1),
                    step: None,
                    message: "unknown identifier 'h'".to_owned(),
                })
                .collect(),
        }
    }

    fn only_sorries() -> Vec<NotVerifiedReason> {
        let at = LeanPosition {
            line: 12,
            column: 4,
        };
        vec![
            NotVerifiedReason::SorryWarning {
                start: LeanPosition { line: 9, column: 0 },
            },
            NotVerifiedReason::Sorry {
                start: at,
                goal: "⊢ q".to_owned(),
            },
            NotVerifiedReason::DisallowedAxioms {
                declaration: "swap".to_owned(),
                axioms: vec!["sorryAx".to_owned()],
            },
        ]
    }

    #[test]
    fn only_sorries_in_the_way_means_accepted_apart_from_the_other_holes() {
        assert!(accepted_apart_from_other_holes(&findings(
            &only_sorries(),
            0
        )));
        // Any error, any other reason, another axiom, or a verified proof: not that.
        assert!(!accepted_apart_from_other_holes(&findings(
            &only_sorries(),
            1
        )));
        let mut with_error = only_sorries();
        with_error.push(NotVerifiedReason::LeanError {
            start: LeanPosition { line: 3, column: 2 },
            text: "unsolved goals".to_owned(),
        });
        assert!(!accepted_apart_from_other_holes(&findings(&with_error, 0)));
        let user_axiom = vec![NotVerifiedReason::DisallowedAxioms {
            declaration: "swap".to_owned(),
            axioms: vec!["sorryAx".to_owned(), "my_axiom".to_owned()],
        }];
        assert!(!accepted_apart_from_other_holes(&findings(&user_axiom, 0)));
        for reason in [
            NotVerifiedReason::FatalProcessingError,
            NotVerifiedReason::NoDeclarationChecked,
            NotVerifiedReason::AxiomsNotReported {
                declaration: "swap".to_owned(),
                problems: Vec::new(),
            },
        ] {
            assert!(
                !accepted_apart_from_other_holes(&findings(std::slice::from_ref(&reason), 0)),
                "{reason}"
            );
        }
        assert!(!accepted_apart_from_other_holes(&findings(&[], 0)));
        let process_failed = LeanFindings {
            verified: false,
            reasons: vec!["lean could not check the proof: timed out after 60 s".to_owned()],
            errors: Vec::new(),
            only_sorries_in_the_way: false,
        };
        assert!(!accepted_apart_from_other_holes(&process_failed));
    }

    const TWO_HOLES: &str = "theorem gt (a b : Nat) (h : a = b + 2) : a > b := by\n  have hb : b < b + 2 := by sorry\n  sorry\n";

    fn candidate(
        range: ByteRange,
        new_text: &str,
        lean: LeanFindings,
        score: f32,
    ) -> CandidateReport {
        CandidateReport {
            replacement: TextReplacement {
                range,
                new_text: new_text.to_owned(),
            },
            provenance: Provenance::Flagged {
                score: Some(score),
                flagged: vec![FlaggedStep {
                    range,
                    text: new_text.to_owned(),
                    score: Some(score),
                    reasons: Vec::new(),
                }],
            },
            step_scores: Vec::new(),
            review: None,
            lean: Some(lean),
            round: 0,
            sample_idx: 0,
        }
    }

    fn searched(candidates: Vec<CandidateReport>) -> SearchOutcome {
        SearchOutcome {
            candidates,
            rounds_run: 1,
            end: SearchEnd::RoundsSpent,
            lean_checked: true,
        }
    }

    #[test]
    fn the_best_clean_candidate_of_each_hole_is_chosen_and_combined_from_the_last_edit() {
        let outline = outline(TWO_HOLES);
        assert_eq!(holes_of(&outline, 0), vec![0, 1]);
        let have_hole = outline.sorries[0].range;
        let last_hole = outline.sorries[1].range;
        // `by sorry` on one line: the edit starts after `by` and opens a block.
        let after_by = ByteRange::new(have_hole.start.0 - 1, have_hole.end.0);
        let have_search = searched(vec![
            candidate(after_by, "\n    simp", findings(&only_sorries(), 1), 0.9),
            candidate(after_by, "\n    omega", findings(&only_sorries(), 0), 0.5),
        ]);
        let last_search = searched(vec![candidate(
            last_hole,
            "omega",
            findings(&only_sorries(), 0),
            0.8,
        )]);
        let search_of = |sorry_idx: usize| match sorry_idx {
            0 => Some(&have_search),
            1 => Some(&last_search),
            _ => None,
        };
        let parts = choose_parts(&outline, &[0, 1], &search_of).expect("both holes have one");
        assert_eq!(
            parts[0].candidate.replacement.new_text, "\n    omega",
            "the candidate with a Lean error is passed over"
        );
        assert_eq!(
            combine(TWO_HOLES, &parts).expect("no overlap"),
            "theorem gt (a b : Nat) (h : a = b + 2) : a > b := by\n  have hb : b < b + 2 := by\n    omega\n  omega\n"
        );

        let reversed = [parts[1].clone(), parts[0].clone()];
        assert_eq!(combine(TWO_HOLES, &reversed), combine(TWO_HOLES, &parts));
        let overlapping = [parts[0].clone(), parts[0].clone()];
        assert_eq!(
            combine(TWO_HOLES, &overlapping),
            Err(NotCheckedReason::Overlap { sorry_idxs: (0, 0) })
        );
    }

    #[test]
    fn a_hole_without_a_clean_candidate_is_named() {
        let outline = outline(TWO_HOLES);
        let have_hole = outline.sorries[0].range;
        let last_hole = outline.sorries[1].range;
        let have_search = searched(vec![candidate(
            have_hole,
            "omega",
            findings(&only_sorries(), 0),
            0.9,
        )]);
        let rejected_search = searched(vec![candidate(
            last_hole,
            "simp",
            findings(&only_sorries(), 1),
            0.9,
        )]);
        let search_of = |sorry_idx: usize| match sorry_idx {
            0 => Some(&have_search),
            1 => Some(&rejected_search),
            _ => None,
        };
        assert_eq!(
            choose_parts(&outline, &[0, 1], &search_of),
            Err(NotCheckedReason::HolesWithoutCandidate {
                sorry_idxs: vec![1]
            })
        );
        // Not searched at all counts the same.
        let unsearched = |sorry_idx: usize| (sorry_idx == 0).then_some(&have_search);
        assert_eq!(
            choose_parts(&outline, &[0, 1], &unsearched),
            Err(NotCheckedReason::HolesWithoutCandidate {
                sorry_idxs: vec![1]
            })
        );
        // A candidate that replaces the other hole too (a whole proof) is not a part.
        let whole = ByteRange::new(have_hole.start.0, last_hole.end.0);
        let whole_search = searched(vec![candidate(
            whole,
            "omega\n  omega",
            findings(&only_sorries(), 0),
            0.9,
        )]);
        let last_search = searched(vec![candidate(
            last_hole,
            "omega",
            findings(&only_sorries(), 0),
            0.9,
        )]);
        let whole_first = |sorry_idx: usize| match sorry_idx {
            0 => Some(&whole_search),
            _ => Some(&last_search),
        };
        assert_eq!(
            choose_parts(&outline, &[0, 1], &whole_first),
            Err(NotCheckedReason::HolesWithoutCandidate {
                sorry_idxs: vec![0]
            })
        );
    }
}
