//! Puts an outline together: tokens, the keyword scan, one analysis per declaration (reused
//! from a cache when the declaration's text did not change), the check against tree-sitter's
//! declaration nodes, and the `sorry`s.

use super::commands::scan_commands;
use super::declaration::{analyze_declaration, DeclarationAnalysis};
use super::lexer::{lex, Keyword, Token};
use super::model::{
    Declaration, DeclarationSource, Outline, Problem, ProblemKind, Sorry, SorryKind,
};
use super::tree::{top_level_nodes, TopLevelNode, TreeSitterFailure};
use crate::position::{ByteRange, LineIndex};
use std::collections::HashMap;
use tree_sitter::Tree;

/// What tree-sitter contributed to one outline.
#[derive(Debug, Clone, Copy)]
pub enum TreeInput<'tree> {
    /// A tree for exactly the text being outlined.
    Parsed(&'tree Tree),
    /// tree-sitter was not used by choice.
    NotUsed,
    /// tree-sitter failed; the outline reports it.
    Failed(TreeSitterFailure),
}

impl<'tree> TreeInput<'tree> {
    pub fn from_result(result: &'tree Result<Tree, TreeSitterFailure>) -> TreeInput<'tree> {
        match result {
            Ok(tree) => TreeInput::Parsed(tree),
            Err(failure) => TreeInput::Failed(*failure),
        }
    }
}

/// Identifies a declaration's analysis: the analysis depends only on the declaration's text
/// and on where its first line starts.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct CacheKey {
    first_column: u32,
    first_indent: u32,
    first_starts_line: bool,
    text: String,
}

/// Declaration analyses of the previous outline, with ranges relative to each declaration's
/// start, so that an edit re-analyses only the declarations whose text changed.
#[derive(Debug, Clone, Default)]
pub struct DeclarationCache {
    entries: HashMap<CacheKey, DeclarationAnalysis>,
}

/// How much of an outline came from the cache.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OutlineStats {
    pub declarations_reused: usize,
    pub declarations_analyzed: usize,
}

/// Outlines `text`, reusing analyses from `previous` where a declaration's text is unchanged.
/// Returns the outline, the cache for the next call and what was reused.
pub fn assemble(
    text: &str,
    tree: TreeInput<'_>,
    previous: DeclarationCache,
) -> (Outline, DeclarationCache, OutlineStats) {
    let lexed = lex(text);
    let tokens = &lexed.tokens;
    let commands = scan_commands(text, tokens);
    let mut problems: Vec<Problem> = lexed.problems.clone();
    let mut cache = DeclarationCache::default();
    let mut stats = OutlineStats::default();
    let mut declarations: Vec<Declaration> = Vec::new();

    for (command_idx, command) in commands.iter().enumerate() {
        let Some(kind) = command.declaration_kind else {
            continue;
        };
        let end = commands
            .get(command_idx + 1)
            .map_or(tokens.len(), |next| next.first_token);
        let declaration_tokens = &tokens[command.first_token..end];
        let first = declaration_tokens[0];
        let start = first.range.start.0;
        let key = CacheKey {
            first_column: first.column,
            first_indent: first.indent,
            first_starts_line: first.starts_line,
            text: text[start..declaration_tokens[declaration_tokens.len() - 1].range.end.0]
                .to_string(),
        };
        // Identical declarations share one entry, so entries are cloned rather than taken.
        let relative = match previous.entries.get(&key) {
            Some(relative) => {
                stats.declarations_reused += 1;
                relative.clone()
            }
            None => {
                stats.declarations_analyzed += 1;
                let keyword_idx = command.keyword_token - command.first_token;
                analyze_declaration(text, declaration_tokens, keyword_idx, kind)
                    .shifted(-(start as isize))
            }
        };
        let analysis = relative.clone().shifted(start as isize);
        cache.entries.insert(key, relative);
        problems.extend(analysis.problems);
        declarations.push(analysis.declaration);
    }

    match tree {
        TreeInput::Parsed(tree) => {
            let nodes = top_level_nodes(tree);
            let line_index = LineIndex::new(text);
            for declaration in &mut declarations {
                check_against_tree(text, &line_index, &nodes, declaration, &mut problems);
            }
        }
        TreeInput::NotUsed => {}
        TreeInput::Failed(failure) => problems.push(Problem {
            kind: ProblemKind::TreeSitterUnavailable,
            range: ByteRange::new(0, 0),
            message: failure.message(),
        }),
    }

    let sorries = find_sorries(tokens, &declarations);
    problems.sort_by_key(|problem| (problem.range.start, problem.range.end));
    let outline = Outline {
        declarations,
        sorries,
        problems,
    };
    (outline, cache, stats)
}

/// Marks `declaration` as tree-sitter's when a declaration node starts between its first
/// token and its keyword; otherwise reports that the keyword scan recovered it.
fn check_against_tree(
    text: &str,
    line_index: &LineIndex,
    nodes: &[TopLevelNode],
    declaration: &mut Declaration,
    problems: &mut Vec<Problem>,
) {
    let start = declaration.range.start;
    let keyword_start = declaration.keyword_range.start;
    let candidate = nodes
        .get(nodes.partition_point(|node| node.range.end <= start))
        .filter(|node| {
            node.is_declaration() && start <= node.range.start && node.range.start <= keyword_start
        });
    if candidate.is_some() {
        declaration.source = DeclarationSource::TreeSitter;
        return;
    }
    declaration.source = DeclarationSource::KeywordScan;
    let label = match &declaration.name {
        Some(name) => format!("`{} {name}`", declaration.kind.keyword()),
        None => format!("the `{}`", declaration.kind.keyword()),
    };
    let covering = nodes
        .get(nodes.partition_point(|node| node.range.end <= keyword_start))
        .filter(|node| node.range.start <= keyword_start);
    let message = match covering {
        Some(node) => {
            let line = line_index.to_lean(text, node.range.start).line;
            format!(
                "tree-sitter missed {label}: its `{}` node from line {line} swallowed it; the \
                 keyword scan recovered it",
                node.kind
            )
        }
        None => format!("tree-sitter missed {label}; the keyword scan recovered it"),
    };
    problems.push(Problem {
        kind: ProblemKind::TreeSitterMissedDeclaration,
        range: declaration.keyword_range,
        message,
    });
}

/// Every `sorry` and `admit` token with its declaration and innermost step.
fn find_sorries(tokens: &[Token], declarations: &[Declaration]) -> Vec<Sorry> {
    tokens
        .iter()
        .filter_map(|token| {
            let kind = match token.keyword()? {
                Keyword::Sorry => SorryKind::Sorry,
                Keyword::Admit => SorryKind::Admit,
                _ => return None,
            };
            let offset = token.range.start;
            let declaration_idx =
                declarations.partition_point(|declaration| declaration.range.end <= offset);
            let declaration = declarations
                .get(declaration_idx)
                .filter(|declaration| declaration.range.contains(offset));
            let step = declaration.and_then(|declaration| innermost_step(declaration, offset));
            Some(Sorry {
                kind,
                range: token.range,
                declaration: declaration.map(|_| declaration_idx),
                step,
            })
        })
        .collect()
}

/// The innermost step containing `offset`. Steps are in preorder and properly nested, so the
/// last step starting at or before `offset` is inside every step that contains `offset`.
fn innermost_step(declaration: &Declaration, offset: crate::position::ByteOffset) -> Option<usize> {
    let steps = &declaration.steps;
    let mut candidate = steps
        .partition_point(|step| step.range.start <= offset)
        .checked_sub(1);
    while let Some(idx) = candidate {
        if steps[idx].range.contains(offset) {
            return Some(idx);
        }
        candidate = steps[idx].parent;
    }
    None
}
