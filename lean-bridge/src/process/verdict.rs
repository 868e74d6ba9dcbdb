//! The trust rule: a proof is `lean-verified` only when Lean reports no error, no `sorry`, and
//! `#print axioms` shows nothing beyond `propext`, `Classical.choice` and `Quot.sound`.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::outcome::{AxiomCheck, CheckOutcome, Severity};
use crate::position::LeanPosition;

/// The axioms a verified proof may depend on: Lean's standard classical foundations.
pub const ALLOWED_AXIOMS: [&str; 3] = ["propext", "Classical.choice", "Quot.sound"];

/// The warning Lean attaches to a declaration whose proof contains `sorry`.
pub const SORRY_WARNING_TEXT: &str = "declaration uses 'sorry'";

/// What Lean's answer means for the proof.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Verdict {
    LeanVerified,
    NotVerified { reasons: Vec<NotVerifiedReason> },
}

impl Verdict {
    pub fn is_lean_verified(&self) -> bool {
        matches!(self, Verdict::LeanVerified)
    }
}

/// One reason a proof is not verified.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum NotVerifiedReason {
    /// Lean reported an error.
    LeanError { start: LeanPosition, text: String },
    /// The REPL reported a `sorry` (with its goal).
    Sorry { start: LeanPosition, goal: String },
    /// Lean warned "declaration uses 'sorry'".
    SorryWarning { start: LeanPosition },
    /// `#print axioms` listed axioms outside [`ALLOWED_AXIOMS`] (such as `sorryAx` or a
    /// user-declared `axiom`).
    DisallowedAxioms {
        declaration: String,
        axioms: Vec<String>,
    },
    /// `#print axioms` gave no report for the declaration.
    AxiomsNotReported {
        declaration: String,
        problems: Vec<String>,
    },
    /// The check named no declaration, so no axioms were looked at.
    NoDeclarationChecked,
    /// The language server stopped processing part of the document with a fatal error.
    FatalProcessingError,
}

impl fmt::Display for NotVerifiedReason {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let at = |position: &LeanPosition| format!("{}:{}", position.line, position.column);
        match self {
            NotVerifiedReason::LeanError { start, text } => {
                write!(formatter, "lean error at {}: {text}", at(start))
            }
            NotVerifiedReason::Sorry { start, .. } => {
                write!(formatter, "the proof uses `sorry` at {}", at(start))
            }
            NotVerifiedReason::SorryWarning { start } => {
                write!(
                    formatter,
                    "lean warns at {}: {SORRY_WARNING_TEXT}",
                    at(start)
                )
            }
            NotVerifiedReason::DisallowedAxioms {
                declaration,
                axioms,
            } => write!(
                formatter,
                "`{declaration}` depends on axioms beyond {}: {}",
                ALLOWED_AXIOMS.join(", "),
                axioms.join(", ")
            ),
            NotVerifiedReason::AxiomsNotReported {
                declaration,
                problems,
            } => write!(
                formatter,
                "`#print axioms {declaration}` gave no report ({})",
                if problems.is_empty() {
                    "no message".to_owned()
                } else {
                    problems.join("; ")
                }
            ),
            NotVerifiedReason::NoDeclarationChecked => {
                formatter.write_str("no declaration was named for the axiom check")
            }
            NotVerifiedReason::FatalProcessingError => {
                formatter.write_str("lean stopped processing the file with a fatal error")
            }
        }
    }
}

/// Applies the trust rule to one check's outcome. Every reason is listed, not just the first.
pub fn judge(outcome: &CheckOutcome) -> Verdict {
    let mut reasons = Vec::new();
    for message in &outcome.messages {
        if message.severity == Severity::Error {
            reasons.push(NotVerifiedReason::LeanError {
                start: message.start,
                text: message.text.clone(),
            });
        } else if is_sorry_warning(&message.text) {
            reasons.push(NotVerifiedReason::SorryWarning {
                start: message.start,
            });
        }
    }
    for sorry in &outcome.sorries {
        reasons.push(NotVerifiedReason::Sorry {
            start: sorry.start,
            goal: sorry.goal.clone(),
        });
    }
    if outcome.fatal_processing_error {
        reasons.push(NotVerifiedReason::FatalProcessingError);
    }
    if outcome.axioms.is_empty() {
        reasons.push(NotVerifiedReason::NoDeclarationChecked);
    }
    for report in &outcome.axioms {
        match &report.check {
            AxiomCheck::Reported { axioms } => {
                let disallowed: Vec<String> = axioms
                    .iter()
                    .filter(|axiom| !ALLOWED_AXIOMS.contains(&axiom.as_str()))
                    .cloned()
                    .collect();
                if !disallowed.is_empty() {
                    reasons.push(NotVerifiedReason::DisallowedAxioms {
                        declaration: report.declaration.clone(),
                        axioms: disallowed,
                    });
                }
            }
            AxiomCheck::NotReported { problems } => {
                reasons.push(NotVerifiedReason::AxiomsNotReported {
                    declaration: report.declaration.clone(),
                    problems: problems.clone(),
                });
            }
        }
    }
    if reasons.is_empty() {
        Verdict::LeanVerified
    } else {
        Verdict::NotVerified { reasons }
    }
}

/// Whether a message is Lean's "declaration uses 'sorry'" warning (in either quoting style).
pub fn is_sorry_warning(text: &str) -> bool {
    text.contains(SORRY_WARNING_TEXT) || text.contains("declaration uses `sorry`")
}
