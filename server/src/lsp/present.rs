//! How the prover's findings look in an editor: diagnostics, code lens titles, hover text and
//! completion items, made from prover results and the document version they belong to.

use super::documents::DocumentSnapshot;
use super::limits::WARNING_SCORE;
use crate::prover::{FlagReason, FlaggedStep, ProofReport, Provenance, StepProposal};
use proofwright_lean::position::{ByteOffset, ByteRange};
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::Arc;
use tower_lsp_server::ls_types::{
    CompletionItem, CompletionItemKind, CompletionItemLabelDetails, CompletionTextEdit, Diagnostic,
    DiagnosticSeverity, Documentation, MarkupContent, MarkupKind, NumberOrString, TextEdit,
};

/// The `source` of every diagnostic the server publishes.
pub const DIAGNOSTIC_SOURCE: &str = "proofwright";
/// The code of a diagnostic on a flagged step.
pub const FLAGGED_STEP_CODE: &str = "flagged-step";
/// The code of a diagnostic that reports a search that found no acceptable proof.
pub const SEARCH_RESULT_CODE: &str = "search-result";
/// Marks completion items and code actions as the server's own (the proxy routes their
/// resolve requests by it).
pub const DATA_MARKER: &str = "proofwright";

/// What the server knows about one version of a document.
pub struct DocumentFindings {
    pub snapshot: Arc<DocumentSnapshot>,
    /// Proof reports by declaration index.
    pub proofs: BTreeMap<usize, ProofReport>,
    /// What searches on this version reported without changing the text.
    pub search_notes: Vec<SearchNote>,
}

/// A search that ended without a proof worth inserting, shown at its target.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchNote {
    pub range: ByteRange,
    pub message: String,
}

impl DocumentFindings {
    pub fn new(snapshot: Arc<DocumentSnapshot>) -> Self {
        DocumentFindings {
            snapshot,
            proofs: BTreeMap::new(),
            search_notes: Vec::new(),
        }
    }

    pub fn version(&self) -> i32 {
        self.snapshot.version
    }

    /// The diagnostics of this version: neural flags on steps (Lean's own errors in the file
    /// are left to Lean's server, which shows them already) and search notes.
    pub fn diagnostics(&self) -> Vec<Diagnostic> {
        let mut diagnostics = Vec::new();
        for report in self.proofs.values() {
            for flagged in report.provenance.flagged_steps() {
                if let Some(diagnostic) = self.flag_diagnostic(report, flagged) {
                    diagnostics.push(diagnostic);
                }
            }
        }
        for note in &self.search_notes {
            diagnostics.push(Diagnostic {
                range: self.snapshot.range_of(note.range),
                severity: Some(DiagnosticSeverity::INFORMATION),
                code: Some(NumberOrString::String(SEARCH_RESULT_CODE.to_owned())),
                source: Some(DIAGNOSTIC_SOURCE.to_owned()),
                message: note.message.clone(),
                ..Diagnostic::default()
            });
        }
        diagnostics
    }

    fn flag_diagnostic(&self, report: &ProofReport, flagged: &FlaggedStep) -> Option<Diagnostic> {
        let reasons: Vec<&FlagReason> = flagged
            .reasons
            .iter()
            .filter(|reason| !matches!(reason, FlagReason::LeanError { .. }))
            .collect();
        if reasons.is_empty() {
            return None;
        }
        let severe = flagged.score.is_some_and(|score| score < WARNING_SCORE)
            || reasons.iter().any(|reason| {
                matches!(reason, FlagReason::LowReviewScore { score, .. } if *score < WARNING_SCORE)
            });
        Some(Diagnostic {
            range: self.snapshot.range_of(flagged.range),
            severity: Some(if severe {
                DiagnosticSeverity::WARNING
            } else {
                DiagnosticSeverity::INFORMATION
            }),
            code: Some(NumberOrString::String(FLAGGED_STEP_CODE.to_owned())),
            source: Some(DIAGNOSTIC_SOURCE.to_owned()),
            message: reasons
                .iter()
                .map(|reason| reason.describe())
                .collect::<Vec<_>>()
                .join("; "),
            data: Some(json!({
                "score": flagged.score,
                "declaration": report.name,
                "reasons": reasons.iter().map(|reason| reason_kind(reason)).collect::<Vec<_>>(),
            })),
            ..Diagnostic::default()
        })
    }

    /// Markdown for a hover at `offset`: the step's score and flags, and the proof's status.
    pub fn hover_at(&self, offset: usize) -> Option<(String, ByteRange)> {
        let outline = &self.snapshot.outline;
        let at = ByteOffset(offset);
        let declaration_idx = outline
            .declarations
            .iter()
            .position(|declaration| declaration.range.contains(at))?;
        let declaration = &outline.declarations[declaration_idx];
        let report = self.proofs.get(&declaration_idx)?;
        let proof_line = format!("Proof: **{}**", status_title(&report.provenance));
        let Some(step_idx) = declaration.step_at(at) else {
            let mut text = format!("**Proofwright**\n\n{proof_line}");
            if let Provenance::Unproved { reason } = &report.provenance {
                text.push_str(&format!(" ({reason})"));
            }
            return Some((text, report.proof_range));
        };
        let step = &declaration.steps[step_idx];
        let mut parts = vec!["**Proofwright**".to_owned()];
        match report
            .step_scores
            .iter()
            .find(|score| score.range == step.range)
        {
            Some(score) => parts.push(format!(
                "Step score **{:.2}**: the geometric-mean probability the model gives the step's \
                 tokens (a hint, not a check). Least likely token `{}` at {:.3}.",
                score.score,
                score.weakest_token.replace('`', "'"),
                score.weakest_probability
            )),
            None => parts.push("This step has no neural score.".to_owned()),
        }
        if let Some(flagged) = report
            .provenance
            .flagged_steps()
            .iter()
            .find(|flagged| flagged.range == step.range)
        {
            for reason in &flagged.reasons {
                parts.push(format!("Flagged: {}", reason.describe()));
            }
        }
        parts.push(proof_line);
        Some((parts.join("\n\n"), step.range))
    }
}

/// `lean-verified`, `neural 0.83`, `2 flagged` or `unproved`.
pub fn status_title(provenance: &Provenance) -> String {
    match provenance {
        Provenance::LeanVerified => "lean-verified".to_owned(),
        Provenance::Neural { score } => format!("neural {score:.2}"),
        Provenance::Flagged { flagged, .. } => format!("{} flagged", flagged.len()),
        Provenance::Unproved { .. } => "unproved".to_owned(),
    }
}

fn reason_kind(reason: &FlagReason) -> &'static str {
    match reason {
        FlagReason::LeanError { .. } => "lean-error",
        FlagReason::LowConfidence { .. } => "low-confidence",
        FlagReason::ReviewIssue { .. } => "review-issue",
        FlagReason::LowReviewScore { .. } => "low-review-score",
    }
}

/// Completion items for next-step proposals, best first. The detail shows the score, and a
/// check mark only when Lean accepted the step.
/// What the editor can show in completion items and hovers (from its capabilities).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TextFormats {
    /// Completion documentation may be Markdown (else it is a plain string).
    pub completion_markdown: bool,
    /// Completion items may carry `labelDetails`.
    pub completion_label_details: bool,
    /// Hovers may be Markdown (else plain text).
    pub hover_markdown: bool,
}

/// Markdown made plain: emphasis and code marks removed.
pub fn plain_text(markdown: &str) -> String {
    markdown
        .replace("**", "")
        .replace("```lean\n", "")
        .replace("```", "")
        .replace('`', "")
}

pub fn completion_items(
    snapshot: &DocumentSnapshot,
    proposals: &[StepProposal],
    formats: TextFormats,
) -> Vec<CompletionItem> {
    proposals
        .iter()
        .enumerate()
        .map(|(rank, proposal)| {
            let accepted = proposal.lean_accepted == Some(true);
            let mark = if accepted { " ✓" } else { "" };
            let description = format!("{:.2}{mark}", proposal.score);
            let lean_sentence = match proposal.lean_accepted {
                Some(true) => "Lean accepted it.",
                Some(false) => "Lean rejected it.",
                None => "Lean did not check it.",
            };
            let documentation = format!(
                "Proposed by the model, neural score {:.2} (a hint, not a check). {lean_sentence}\n\n```lean\n{}\n```",
                proposal.score, proposal.text
            );
            CompletionItem {
                label: proposal.text.lines().next().unwrap_or("").to_owned(),
                label_details: formats.completion_label_details.then(|| {
                    CompletionItemLabelDetails {
                        detail: None,
                        description: Some(description.clone()),
                    }
                }),
                kind: Some(CompletionItemKind::SNIPPET),
                detail: Some(format!("proofwright {description}")),
                documentation: Some(if formats.completion_markdown {
                    Documentation::MarkupContent(MarkupContent {
                        kind: MarkupKind::Markdown,
                        value: documentation,
                    })
                } else {
                    Documentation::String(plain_text(&documentation))
                }),
                sort_text: Some(format!("{rank:04}")),
                filter_text: Some(proposal.text.clone()),
                text_edit: Some(CompletionTextEdit::Edit(TextEdit {
                    range: snapshot.range_of(proposal.replace),
                    new_text: proposal.text.clone(),
                })),
                data: Some(json!({ DATA_MARKER: true, "score": proposal.score, "leanAccepted": proposal.lean_accepted })),
                ..CompletionItem::default()
            }
        })
        .collect()
}
