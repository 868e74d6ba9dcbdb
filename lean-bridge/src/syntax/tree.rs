//! tree-sitter's view of a Lean file: the `tree-sitter-lean4` grammar and the top-level nodes
//! the outline checks its declarations against.

use super::limits::TREE_SITTER_PARSE_BUDGET;
use crate::position::ByteRange;
use std::time::Instant;
use tree_sitter::{ParseOptions, ParseState, Parser, Tree};

/// A parser loaded with the Lean 4 grammar. Fails only if the grammar's ABI does not match
/// the tree-sitter library, which the pinned versions rule out; callers still handle it.
pub fn new_parser() -> Result<Parser, tree_sitter::LanguageError> {
    let mut parser = Parser::new();
    parser.set_language(&tree_sitter_lean4::language())?;
    Ok(parser)
}

/// Why tree-sitter gave no tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TreeSitterFailure {
    /// The grammar could not be loaded into the tree-sitter library.
    GrammarUnavailable,
    /// The parse ran past [`TREE_SITTER_PARSE_BUDGET`] and was cancelled.
    OverBudget,
}

impl TreeSitterFailure {
    pub fn message(self) -> String {
        match self {
            TreeSitterFailure::GrammarUnavailable => "the tree-sitter Lean grammar could not be \
                                                       loaded; the outline comes from the \
                                                       keyword scan alone"
                .to_string(),
            TreeSitterFailure::OverBudget => format!(
                "tree-sitter did not finish parsing within {} ms; the outline comes from the \
                 keyword scan alone",
                TREE_SITTER_PARSE_BUDGET.as_millis()
            ),
        }
    }
}

/// Parses `text` (reusing `old_tree`, already edited, when given) and cancels the parse when it
/// runs past [`TREE_SITTER_PARSE_BUDGET`].
pub fn parse_within_budget(
    parser: &mut Parser,
    text: &str,
    old_tree: Option<&Tree>,
) -> Result<Tree, TreeSitterFailure> {
    let deadline = Instant::now() + TREE_SITTER_PARSE_BUDGET;
    let mut past_deadline = |_: &ParseState| Instant::now() > deadline;
    let bytes = text.as_bytes();
    let tree = parser.parse_with_options(
        &mut |offset, _| bytes.get(offset..).unwrap_or_default(),
        old_tree,
        Some(ParseOptions::new().progress_callback(&mut past_deadline)),
    );
    match tree {
        Some(tree) => Ok(tree),
        None => {
            // A cancelled parser resumes the cancelled parse next time unless it is reset.
            parser.reset();
            Err(TreeSitterFailure::OverBudget)
        }
    }
}

/// Parses `text` from scratch with a new parser, within the budget.
pub fn parse_fresh(text: &str) -> Result<Tree, TreeSitterFailure> {
    let mut parser = new_parser().map_err(|_| TreeSitterFailure::GrammarUnavailable)?;
    parse_within_budget(&mut parser, text, None)
}

/// One child of the tree's root.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TopLevelNode {
    /// The node kind: `definition`, `example`, `ERROR`, `namespace`, ….
    pub kind: &'static str,
    pub range: ByteRange,
}

impl TopLevelNode {
    /// Whether the node is a declaration the outline lists.
    pub fn is_declaration(&self) -> bool {
        matches!(
            self.kind,
            "definition"
                | "declaration"
                | "example"
                | "constant"
                | "opaque"
                | "axiom"
                | "structure"
                | "inductive"
                | "class_inductive"
        )
    }
}

/// The root's named children except comments, in source order.
pub fn top_level_nodes(tree: &Tree) -> Vec<TopLevelNode> {
    let root = tree.root_node();
    let mut cursor = root.walk();
    root.named_children(&mut cursor)
        .filter(|node| node.kind() != "comment")
        .map(|node| TopLevelNode {
            kind: node.kind(),
            range: ByteRange::new(node.start_byte(), node.end_byte()),
        })
        .collect()
}
