//! The outline with every range also given as LSP positions (0-based lines, UTF-16 columns) and
//! Lean positions (1-based lines, codepoint columns): the shape `proofwright outline --json`
//! prints and `docs/outline.md` documents.

use super::model::{
    DeclarationKind, DeclarationSource, Outline, ProblemKind, ProofKind, SorryKind, StepKind,
};
use crate::position::{ByteRange, LeanPosition, LineIndex, Utf16Position};
use serde::{Deserialize, Serialize};

/// Version of the JSON shape; bumped when a field changes meaning or disappears.
pub const OUTLINE_JSON_VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PositionedOutline {
    pub version: u32,
    pub declarations: Vec<PositionedDeclaration>,
    pub sorries: Vec<PositionedSorry>,
    pub problems: Vec<PositionedProblem>,
}

/// One range three ways.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PositionedRange {
    pub bytes: ByteRange,
    pub lsp: LspRange,
    pub lean: LeanRange,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LspRange {
    pub start: Utf16Position,
    pub end: Utf16Position,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeanRange {
    pub start: LeanPosition,
    pub end: LeanPosition,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PositionedDeclaration {
    pub kind: DeclarationKind,
    pub name: Option<String>,
    pub range: PositionedRange,
    pub keyword_range: PositionedRange,
    pub name_range: Option<PositionedRange>,
    pub statement_range: Option<PositionedRange>,
    pub type_range: Option<PositionedRange>,
    pub proof_range: Option<PositionedRange>,
    pub proof_kind: Option<ProofKind>,
    pub source: DeclarationSource,
    pub steps: Vec<PositionedStep>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PositionedStep {
    pub kind: StepKind,
    pub range: PositionedRange,
    pub text: String,
    pub depth: u32,
    pub parent: Option<usize>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PositionedSorry {
    pub kind: SorryKind,
    pub range: PositionedRange,
    pub declaration: Option<usize>,
    pub step: Option<usize>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PositionedProblem {
    pub kind: ProblemKind,
    /// True for notes about the parser's own limits rather than the Lean source.
    pub parser_note: bool,
    pub range: PositionedRange,
    pub message: String,
}

impl PositionedRange {
    /// `range` of `text` three ways; `index` is the line index of `text`.
    pub fn new(text: &str, index: &LineIndex, range: ByteRange) -> PositionedRange {
        PositionedRange {
            bytes: range,
            lsp: LspRange {
                start: index.to_utf16(text, range.start),
                end: index.to_utf16(text, range.end),
            },
            lean: LeanRange {
                start: index.to_lean(text, range.start),
                end: index.to_lean(text, range.end),
            },
        }
    }
}

impl PositionedOutline {
    /// Converts `outline`, made from `text`, adding LSP and Lean positions to every range.
    pub fn new(text: &str, outline: &Outline) -> PositionedOutline {
        let index = LineIndex::new(text);
        let position = |range: ByteRange| PositionedRange::new(text, &index, range);
        PositionedOutline {
            version: OUTLINE_JSON_VERSION,
            declarations: outline
                .declarations
                .iter()
                .map(|declaration| PositionedDeclaration {
                    kind: declaration.kind,
                    name: declaration.name.clone(),
                    range: position(declaration.range),
                    keyword_range: position(declaration.keyword_range),
                    name_range: declaration.name_range.map(position),
                    statement_range: declaration.statement_range.map(position),
                    type_range: declaration.type_range.map(position),
                    proof_range: declaration.proof_range.map(position),
                    proof_kind: declaration.proof_kind,
                    source: declaration.source,
                    steps: declaration
                        .steps
                        .iter()
                        .map(|step| PositionedStep {
                            kind: step.kind,
                            range: position(step.range),
                            text: step.text.clone(),
                            depth: step.depth,
                            parent: step.parent,
                        })
                        .collect(),
                })
                .collect(),
            sorries: outline
                .sorries
                .iter()
                .map(|sorry| PositionedSorry {
                    kind: sorry.kind,
                    range: position(sorry.range),
                    declaration: sorry.declaration,
                    step: sorry.step,
                })
                .collect(),
            problems: outline
                .problems
                .iter()
                .map(|problem| PositionedProblem {
                    kind: problem.kind,
                    parser_note: problem.kind.is_parser_note(),
                    range: position(problem.range),
                    message: problem.message.clone(),
                })
                .collect(),
        }
    }
}
