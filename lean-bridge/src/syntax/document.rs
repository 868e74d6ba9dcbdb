//! A parsed document that follows edits: tree-sitter re-parses incrementally (the old tree,
//! edited, guides the new parse; a result with errors is replaced by a fresh parse, whose error
//! recovery is canonical) and only declarations whose text changed are re-segmented.

use super::assemble::{assemble, DeclarationCache, OutlineStats, TreeInput};
use super::model::Outline;
use super::tree::{new_parser, parse_within_budget, TreeSitterFailure};
use crate::position::ByteRange;
use std::fmt;
use tree_sitter::{InputEdit, Parser, Point, Tree};

/// Replace the bytes of `range` with `new_text`. Editors send UTF-16 positions; convert them
/// with [`crate::position::LineIndex::from_utf16`] first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextEdit {
    pub range: ByteRange,
    pub new_text: String,
}

/// An edit that does not fit the document.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EditError {
    #[error("edit range {start}..{end} is reversed: its start must not be after its end")]
    Reversed { start: usize, end: usize },
    #[error(
        "edit range {start}..{end} goes past the end of the document ({length} bytes): re-read \
         the document"
    )]
    OutOfBounds {
        start: usize,
        end: usize,
        length: usize,
    },
    #[error(
        "edit boundary {offset} falls inside a UTF-8 character: convert editor positions with \
         LineIndex::from_utf16"
    )]
    NotCharBoundary { offset: usize },
}

/// How an edit was absorbed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EditStats {
    /// Declarations whose analysis was reused because their text did not change.
    pub declarations_reused: usize,
    /// Declarations analysed afresh.
    pub declarations_analyzed: usize,
    /// Whether the tree is tree-sitter's incremental re-parse from the previous tree. False when
    /// that re-parse had errors and was redone from scratch (error recovery is only canonical
    /// from scratch), or when tree-sitter is unavailable.
    pub incremental_parse: bool,
}

/// A Lean document with its tree-sitter tree and outline, kept up to date through edits.
pub struct ParsedDocument {
    text: String,
    parser: Option<Parser>,
    tree: Result<Tree, TreeSitterFailure>,
    outline: Outline,
    cache: DeclarationCache,
}

impl fmt::Debug for ParsedDocument {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("ParsedDocument")
            .field("text_len", &self.text.len())
            .field("tree", &self.tree.as_ref().map(|_| "parsed"))
            .field("declarations", &self.outline.declarations.len())
            .finish()
    }
}

impl ParsedDocument {
    /// Parses `text` from scratch. Never fails: without tree-sitter the outline comes from the
    /// keyword scan and says so in a problem.
    pub fn new(text: impl Into<String>) -> ParsedDocument {
        let text = text.into();
        let mut parser = new_parser().ok();
        let tree = match parser.as_mut() {
            Some(parser) => parse_within_budget(parser, &text, None),
            None => Err(TreeSitterFailure::GrammarUnavailable),
        };
        let input = TreeInput::from_result(&tree);
        let (outline, cache, _) = assemble(&text, input, DeclarationCache::default());
        ParsedDocument {
            text,
            parser,
            tree,
            outline,
            cache,
        }
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    pub fn outline(&self) -> &Outline {
        &self.outline
    }

    /// tree-sitter's tree of the current text, when tree-sitter could parse it.
    pub fn tree(&self) -> Option<&Tree> {
        self.tree.as_ref().ok()
    }

    /// Applies one edit: the text changes, tree-sitter re-parses from the edited old tree (from
    /// scratch when either tree has errors), and declarations whose text is unchanged keep
    /// their analysis. The outline and tree equal those of `ParsedDocument::new` on the edited
    /// text.
    pub fn apply_edit(&mut self, edit: &TextEdit) -> Result<EditStats, EditError> {
        let start = edit.range.start.0;
        let old_end = edit.range.end.0;
        if start > old_end {
            return Err(EditError::Reversed {
                start,
                end: old_end,
            });
        }
        if old_end > self.text.len() {
            return Err(EditError::OutOfBounds {
                start,
                end: old_end,
                length: self.text.len(),
            });
        }
        for offset in [start, old_end] {
            if !self.text.is_char_boundary(offset) {
                return Err(EditError::NotCharBoundary { offset });
            }
        }
        let start_position = point_at(&self.text, start);
        let old_end_position = point_at(&self.text, old_end);
        self.text.replace_range(start..old_end, &edit.new_text);
        let new_end = start + edit.new_text.len();
        let new_end_position = point_at(&self.text, new_end);

        let mut incremental_parse = false;
        let new_tree = match (self.parser.as_mut(), self.tree.as_mut()) {
            // An old tree with errors would give an incremental result with errors, which is
            // thrown away below: parse afresh straight away.
            (Some(parser), Ok(tree)) if !tree.root_node().has_error() => {
                tree.edit(&InputEdit {
                    start_byte: start,
                    old_end_byte: old_end,
                    new_end_byte: new_end,
                    start_position,
                    old_end_position,
                    new_end_position,
                });
                // tree-sitter's error recovery depends on the old tree: an incremental parse of
                // text with errors can differ from a fresh parse of the same text (see
                // tree-sitter/tree-sitter#4001). Keep the incremental tree only when it is
                // clean, so the outline is always the fresh parse's.
                match parse_within_budget(parser, &self.text, Some(tree)) {
                    Ok(tree) if !tree.root_node().has_error() => {
                        incremental_parse = true;
                        Ok(tree)
                    }
                    _ => parse_within_budget(parser, &self.text, None),
                }
            }
            (Some(parser), _) => parse_within_budget(parser, &self.text, None),
            (None, _) => Err(TreeSitterFailure::GrammarUnavailable),
        };
        self.tree = new_tree;
        let input = TreeInput::from_result(&self.tree);
        let (
            outline,
            cache,
            OutlineStats {
                declarations_reused,
                declarations_analyzed,
            },
        ) = assemble(&self.text, input, std::mem::take(&mut self.cache));
        self.outline = outline;
        self.cache = cache;
        Ok(EditStats {
            declarations_reused,
            declarations_analyzed,
            incremental_parse,
        })
    }
}

/// tree-sitter's point for a byte offset: 0-based row and byte column.
fn point_at(text: &str, offset: usize) -> Point {
    let before = &text.as_bytes()[..offset];
    let row = before.iter().filter(|&&byte| byte == b'\n').count();
    let line_start = before
        .iter()
        .rposition(|&byte| byte == b'\n')
        .map_or(0, |newline| newline + 1);
    Point {
        row,
        column: offset - line_start,
    }
}
