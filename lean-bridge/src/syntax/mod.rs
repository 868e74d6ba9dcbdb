//! Lean 4 syntax: declarations outline, tactic-step segmentation and `sorry` discovery.
//!
//! Three layers, each robust where the one above is not:
//! - tree-sitter (`tree-sitter-lean4`) parses the file, incrementally after edits; its
//!   top-level declaration nodes are checked against
//! - the keyword scan ([`commands`]), which finds every command from tokens alone, so that an
//!   ERROR node swallowing later declarations costs a problem, not a declaration;
//! - below the declaration level, the layout-aware segmenter ([`segment`]) splits proofs into
//!   steps, because the grammar loses whole proofs at constructs it does not know.
//!
//! Everything is byte offsets; [`PositionedOutline`] adds LSP and Lean positions. Nothing here
//! fails: problems describe what had to be guessed.

mod assemble;
pub mod commands;
mod declaration;
mod document;
pub mod invariants;
pub mod lexer;
pub mod limits;
mod model;
mod positioned;
pub mod segment;
pub mod tree;

pub use document::{EditError, EditStats, ParsedDocument, TextEdit};
pub use invariants::invariant_violations;
pub use model::{
    Declaration, DeclarationKind, DeclarationSource, Outline, Problem, ProblemKind, ProofKind,
    Sorry, SorryKind, Step, StepKind,
};
pub use positioned::{
    LeanRange, LspRange, PositionedDeclaration, PositionedOutline, PositionedProblem,
    PositionedRange, PositionedSorry, PositionedStep, OUTLINE_JSON_VERSION,
};

/// Outlines `text` from scratch with tree-sitter and the keyword scan. Keep a
/// [`ParsedDocument`] instead when the text will be edited.
pub fn outline(text: &str) -> Outline {
    let tree = tree::parse_fresh(text);
    assemble::assemble(
        text,
        assemble::TreeInput::from_result(&tree),
        Default::default(),
    )
    .0
}

/// Outlines `text` given tree-sitter's tree of it.
pub fn outline_with_tree(text: &str, tree: &tree_sitter::Tree) -> Outline {
    assemble::assemble(text, assemble::TreeInput::Parsed(tree), Default::default()).0
}

/// Outlines `text` with the keyword scan and segmenter alone, without tree-sitter: every
/// declaration's source is [`DeclarationSource::KeywordScan`] and no problem says so.
pub fn outline_without_tree_sitter(text: &str) -> Outline {
    assemble::assemble(text, assemble::TreeInput::NotUsed, Default::default()).0
}
