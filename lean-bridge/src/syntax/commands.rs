//! The keyword scan: where each command starts, found from tokens alone.
//!
//! Lean's declaration keywords (`theorem`, `def`, `end`, …) cannot occur inside a term or a
//! tactic, so one outside brackets starts a new command, and one at column 0 starts a new command
//! even inside an unclosed bracket (half-typed code). Commands that are also terms or tactics
//! (`open … in`, `set_option … in`) count only at column 0. This scan is what keeps the outline
//! complete where tree-sitter's error recovery swallows later declarations.

use super::lexer::{Keyword, Token, TokenKind};
use super::model::DeclarationKind;

/// One command found by the scan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CommandStart {
    /// Index of the command's first token: its doc comment, attributes or modifiers if any.
    pub first_token: usize,
    /// Index of the command keyword.
    pub keyword_token: usize,
    /// The declaration it starts, or `None` for other commands (`namespace`, `open`, `#check` …).
    pub declaration_kind: Option<DeclarationKind>,
}

/// Scans `tokens` for command starts, in order.
pub fn scan_commands(text: &str, tokens: &[Token]) -> Vec<CommandStart> {
    let mut starts: Vec<CommandStart> = Vec::new();
    let mut bracket_depth = 0usize;
    for (idx, token) in tokens.iter().enumerate() {
        match token.kind {
            TokenKind::Open(_) => bracket_depth += 1,
            TokenKind::Close(_) => bracket_depth = bracket_depth.saturating_sub(1),
            _ => {}
        }
        let at_column_zero = token.starts_line && token.column == 0;
        let previous = idx.checked_sub(1).map(|previous| tokens[previous]);
        let Some(declaration_kind) = command_kind(tokens, idx, previous, at_column_zero) else {
            continue;
        };
        if bracket_depth > 0 && !at_column_zero {
            continue;
        }
        bracket_depth = 0;
        let floor = starts.last().map_or(0, |start| start.keyword_token + 1);
        let first_token = walk_back_over_modifiers(text, tokens, idx, floor);
        let declaration_kind = match declaration_kind {
            CommandKind::Other => None,
            CommandKind::Declaration(kind) => Some(kind),
        };
        starts.push(CommandStart {
            first_token,
            keyword_token: idx,
            declaration_kind,
        });
    }
    starts
}

enum CommandKind {
    Declaration(DeclarationKind),
    Other,
}

fn command_kind(
    tokens: &[Token],
    idx: usize,
    previous: Option<Token>,
    at_column_zero: bool,
) -> Option<CommandKind> {
    let token = tokens[idx];
    let previous_keyword = previous.and_then(|previous| previous.keyword());
    let declaration = |kind| Some(CommandKind::Declaration(kind));
    match token.kind {
        // `#check`, `#eval` …; indented ones are tactics such as `#adaptation_note`.
        TokenKind::HashCommand if at_column_zero => Some(CommandKind::Other),
        TokenKind::Keyword(keyword) => match keyword {
            Keyword::Theorem => declaration(DeclarationKind::Theorem),
            Keyword::Lemma => declaration(DeclarationKind::Lemma),
            Keyword::Def => declaration(DeclarationKind::Def),
            Keyword::Example => declaration(DeclarationKind::Example),
            Keyword::Instance if previous_keyword == Some(Keyword::Deriving) => None,
            Keyword::Instance => declaration(DeclarationKind::Instance),
            Keyword::Abbrev if previous_keyword == Some(Keyword::Class) => None,
            Keyword::Abbrev => declaration(DeclarationKind::Abbrev),
            Keyword::Axiom => declaration(DeclarationKind::Axiom),
            Keyword::Opaque => declaration(DeclarationKind::Opaque),
            Keyword::Structure => declaration(DeclarationKind::Structure),
            Keyword::Class => {
                let next_is_inductive = tokens
                    .get(idx + 1)
                    .is_some_and(|next| next.is(Keyword::Inductive));
                if next_is_inductive {
                    declaration(DeclarationKind::ClassInductive)
                } else {
                    declaration(DeclarationKind::Class)
                }
            }
            Keyword::Inductive if previous_keyword == Some(Keyword::Class) => None,
            Keyword::Inductive => declaration(DeclarationKind::Inductive),
            Keyword::Namespace
            | Keyword::Section
            | Keyword::End
            | Keyword::Universe
            | Keyword::Variable
            | Keyword::Mutual
            | Keyword::Import
            | Keyword::Prelude
            | Keyword::Attribute
            | Keyword::Notation
            | Keyword::Infix
            | Keyword::Infixl
            | Keyword::Infixr
            | Keyword::Prefix
            | Keyword::Postfix
            | Keyword::Macro
            | Keyword::MacroRules
            | Keyword::Syntax
            | Keyword::Elab
            | Keyword::ElabRules
            | Keyword::DeclareSyntaxCat
            | Keyword::Initialize
            | Keyword::BuiltinInitialize
            | Keyword::Export
            | Keyword::Include
            | Keyword::Omit
            | Keyword::AddDeclDoc => Some(CommandKind::Other),
            // `deriving Repr` after a structure belongs to it; `deriving instance` is a command.
            Keyword::Deriving => tokens
                .get(idx + 1)
                .filter(|next| next.is(Keyword::Instance))
                .map(|_| CommandKind::Other),
            Keyword::Open | Keyword::SetOption if at_column_zero => Some(CommandKind::Other),
            _ => None,
        },
        _ => None,
    }
}

/// The first token of the command whose keyword is at `keyword_idx`: walks back over
/// modifiers, `@[…]` attributes and one doc comment, never below `floor`.
fn walk_back_over_modifiers(
    text: &str,
    tokens: &[Token],
    keyword_idx: usize,
    floor: usize,
) -> usize {
    let mut first = keyword_idx;
    while first > floor {
        let previous = tokens[first - 1];
        if previous.keyword().is_some_and(Keyword::is_modifier) {
            first -= 1;
        } else if previous.kind == TokenKind::DocComment {
            first -= 1;
            break;
        } else if let Some(opener) = attribute_opener(text, tokens, first - 1, floor) {
            first = opener;
        } else {
            break;
        }
    }
    first
}

/// When `close_idx` closes an `@[…]` attribute list, the index of its `@[`.
fn attribute_opener(text: &str, tokens: &[Token], close_idx: usize, floor: usize) -> Option<usize> {
    if !tokens[close_idx].is_close() {
        return None;
    }
    let mut depth = 0usize;
    for idx in (floor..=close_idx).rev() {
        let token = tokens[idx];
        if token.is_close() {
            depth += 1;
        } else if token.is_open() {
            depth -= 1;
            if depth == 0 {
                return (token.text(text) == "@[").then_some(idx);
            }
        }
    }
    None
}
