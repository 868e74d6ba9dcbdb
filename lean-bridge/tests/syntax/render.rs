//! Renders an outline as reviewable text for the snapshot tests: Lean positions
//! (`line:column`, 1-based lines, codepoint columns), step trees indented by depth, and the
//! first line of each step's text.

use proofwright_lean::position::{ByteRange, LineIndex};
use proofwright_lean::syntax::{Outline, ProofKind};
use std::fmt::Write;

fn position(text: &str, index: &LineIndex, range: ByteRange) -> String {
    let start = index.to_lean(text, range.start);
    let end = index.to_lean(text, range.end);
    format!(
        "{}:{}-{}:{}",
        start.line, start.column, end.line, end.column
    )
}

/// The first line of `text`, quoted, with a count of the lines left out.
fn excerpt(text: &str) -> String {
    let mut lines = text.lines();
    let first = lines.next().unwrap_or("");
    let rest = lines.count();
    if rest == 0 {
        format!("{first:?}")
    } else {
        format!("{first:?} (+{rest} lines)")
    }
}

pub fn render(text: &str, outline: &Outline) -> String {
    let index = LineIndex::new(text);
    let mut out = String::new();
    for (idx, declaration) in outline.declarations.iter().enumerate() {
        let name = declaration.name.as_deref().unwrap_or("<anonymous>");
        writeln!(
            out,
            "declaration {idx}: {} {name} [{:?}]",
            declaration.kind.keyword(),
            declaration.source
        )
        .unwrap();
        let range = declaration.range;
        writeln!(out, "  range     {}", position(text, &index, range)).unwrap();
        let parts = [
            ("statement", declaration.statement_range),
            ("type", declaration.type_range),
        ];
        for (label, range) in parts {
            if let Some(range) = range {
                writeln!(
                    out,
                    "  {label:<9} {} {}",
                    position(text, &index, range),
                    excerpt(range.slice(text))
                )
                .unwrap();
            }
        }
        if let Some(proof) = declaration.proof_range {
            let kind = match declaration.proof_kind {
                Some(ProofKind::Tactic) => "tactic",
                Some(ProofKind::Term) => "term",
                Some(ProofKind::Equations) => "equations",
                Some(ProofKind::Where) => "where",
                None => "?",
            };
            writeln!(out, "  proof     {kind} {}", position(text, &index, proof)).unwrap();
        }
        for (step_idx, step) in declaration.steps.iter().enumerate() {
            let indent = "  ".repeat(step.depth as usize + 2);
            let parent = match step.parent {
                Some(parent) => format!(" ^{parent}"),
                None => String::new(),
            };
            writeln!(
                out,
                "{indent}{step_idx}{parent} {:?} {} {}",
                step.kind,
                position(text, &index, step.range),
                excerpt(&step.text)
            )
            .unwrap();
        }
    }
    if !outline.sorries.is_empty() {
        writeln!(out, "sorries").unwrap();
    }
    for sorry in &outline.sorries {
        let holder = match (sorry.declaration, sorry.step) {
            (Some(declaration), Some(step)) => format!("declaration {declaration} step {step}"),
            (Some(declaration), None) => format!("declaration {declaration}"),
            _ => "no declaration".to_string(),
        };
        writeln!(
            out,
            "  {:?} {} in {holder}",
            sorry.kind,
            position(text, &index, sorry.range)
        )
        .unwrap();
    }
    if !outline.problems.is_empty() {
        writeln!(out, "problems").unwrap();
    }
    for problem in &outline.problems {
        writeln!(
            out,
            "  {:?} {}: {}",
            problem.kind,
            position(text, &index, problem.range),
            problem.message
        )
        .unwrap();
    }
    out
}
