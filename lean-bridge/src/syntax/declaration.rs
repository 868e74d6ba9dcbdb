//! One declaration from its tokens: name, statement, type and body, the body's steps, and the
//! problems of half-typed headers (no name, no `:=`, nothing after `:=`, unbalanced brackets).

use super::lexer::{Keyword, Token, TokenKind};
use super::limits::MAX_PROBLEMS_PER_KIND_PER_DECLARATION;
use super::model::{
    Declaration, DeclarationKind, DeclarationSource, Problem, ProblemKind, ProofKind,
};
use super::segment::segment_proof;
use crate::position::ByteRange;

/// A declaration and the problems found in it, independent of tree-sitter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeclarationAnalysis {
    pub declaration: Declaration,
    pub problems: Vec<Problem>,
}

impl DeclarationAnalysis {
    /// Moves every range by `delta` bytes (a declaration reused after an edit before it).
    pub fn shifted(mut self, delta: isize) -> DeclarationAnalysis {
        let shift = |range: ByteRange| {
            ByteRange::new(
                range.start.0.wrapping_add_signed(delta),
                range.end.0.wrapping_add_signed(delta),
            )
        };
        let analysis = &mut self;
        let declaration = &mut analysis.declaration;
        declaration.range = shift(declaration.range);
        declaration.keyword_range = shift(declaration.keyword_range);
        declaration.name_range = declaration.name_range.map(shift);
        declaration.statement_range = declaration.statement_range.map(shift);
        declaration.type_range = declaration.type_range.map(shift);
        declaration.proof_range = declaration.proof_range.map(shift);
        for step in &mut declaration.steps {
            step.range = shift(step.range);
        }
        for problem in &mut analysis.problems {
            problem.range = shift(problem.range);
        }
        self
    }
}

fn span(tokens: &[Token]) -> Option<ByteRange> {
    Some(ByteRange {
        start: tokens.first()?.range.start,
        end: tokens.last()?.range.end,
    })
}

/// Analyses the declaration made of `tokens` (from its first token through its last) whose
/// keyword is `tokens[keyword_idx]`.
pub fn analyze_declaration(
    text: &str,
    tokens: &[Token],
    keyword_idx: usize,
    kind: DeclarationKind,
) -> DeclarationAnalysis {
    let mut problems = Vec::new();
    let keyword = tokens[keyword_idx];
    let range = span(tokens).unwrap_or(keyword.range);
    let mut idx = keyword_idx + 1;
    if kind == DeclarationKind::ClassInductive {
        idx += 1;
    }
    if kind == DeclarationKind::Instance {
        idx = skip_priority(text, tokens, idx);
    }

    let mut name = None;
    let mut name_range = None;
    if kind != DeclarationKind::Example {
        match tokens.get(idx) {
            Some(token) if token.kind == TokenKind::Identifier => {
                name = Some(token.text(text).to_string());
                name_range = Some(token.range);
                idx += 1;
            }
            _ if kind == DeclarationKind::Instance => {}
            _ => problems.push(Problem {
                kind: ProblemKind::MissingName,
                range: keyword.range,
                message: format!("`{}` needs a name after it", kind.keyword()),
            }),
        }
    }

    let header = find_body(tokens, idx);
    let statement_range = span(&tokens[idx..header.statement_end]);
    let type_range = header
        .colon
        .and_then(|colon| span(&tokens[colon + 1..header.statement_end]));

    let mut proof_range = None;
    let mut proof_kind = None;
    let mut steps = Vec::new();
    let declaration_label = match &name {
        Some(name) => format!("`{} {name}`", kind.keyword()),
        None => format!("this `{}`", kind.keyword()),
    };
    match header.body {
        Some(Body::Assign(assign)) if kind.has_proof() => {
            let proof_end = body_end(tokens, assign + 1, true);
            let proof_tokens = &tokens[assign + 1..proof_end];
            match proof_tokens.first() {
                None => problems.push(Problem {
                    kind: ProblemKind::MissingProof,
                    range: tokens[assign].range,
                    message: format!("{declaration_label} has nothing after `:=`"),
                }),
                Some(first) => {
                    let kind = if first.is(Keyword::By) {
                        ProofKind::Tactic
                    } else {
                        ProofKind::Term
                    };
                    proof_range = span(proof_tokens);
                    proof_kind = Some(kind);
                    let segmentation = segment_proof(text, proof_tokens, kind, keyword.indent);
                    steps = segmentation.steps;
                    problems.extend(segmentation.problems);
                }
            }
        }
        Some(Body::Where(where_idx)) if kind.has_proof() => {
            let end = body_end(tokens, where_idx + 1, false);
            let body_tokens = &tokens[where_idx + 1..end];
            proof_kind = Some(ProofKind::Where);
            proof_range = span(body_tokens);
            let segmentation = segment_proof(text, body_tokens, ProofKind::Where, keyword.indent);
            steps = segmentation.steps;
            problems.extend(segmentation.problems);
        }
        Some(Body::Equations(bar)) if kind.has_proof() => {
            let end = body_end(tokens, bar, true);
            let body_tokens = &tokens[bar..end];
            proof_kind = Some(ProofKind::Equations);
            proof_range = span(body_tokens);
            let segmentation =
                segment_proof(text, body_tokens, ProofKind::Equations, keyword.indent);
            steps = segmentation.steps;
            problems.extend(segmentation.problems);
        }
        Some(_) => {}
        None if kind.requires_body() => problems.push(Problem {
            kind: ProblemKind::MissingAssignment,
            range: ByteRange {
                start: keyword.range.start,
                end: statement_range.map_or(keyword.range.end, |statement| statement.end),
            },
            message: format!("{declaration_label} has no `:=`: add `:= by` and a proof"),
        }),
        None => {}
    }

    bracket_problems(text, tokens, &mut problems);

    DeclarationAnalysis {
        declaration: Declaration {
            kind,
            name,
            range,
            keyword_range: keyword.range,
            name_range,
            statement_range,
            type_range,
            proof_range,
            proof_kind,
            steps,
            source: DeclarationSource::KeywordScan,
        },
        problems,
    }
}

/// Where a body starting at `from` ends: at `termination_by`, `decreasing_by`, `deriving`, or
/// (when `auxiliary_where`) a `where` that introduces auxiliary definitions.
fn body_end(tokens: &[Token], from: usize, auxiliary_where: bool) -> usize {
    tokens[from..]
        .iter()
        .position(|token| match token.keyword() {
            Some(Keyword::TerminationBy | Keyword::DecreasingBy | Keyword::Deriving) => true,
            Some(Keyword::Where) => auxiliary_where,
            _ => false,
        })
        .map_or(tokens.len(), |offset| from + offset)
}

/// Skips `(priority := n)` after `instance`.
fn skip_priority(text: &str, tokens: &[Token], idx: usize) -> usize {
    let is_priority = tokens
        .get(idx)
        .is_some_and(|token| token.kind == TokenKind::Open(super::lexer::Bracket::Round))
        && tokens
            .get(idx + 1)
            .is_some_and(|token| token.text(text) == "priority");
    if !is_priority {
        return idx;
    }
    let mut depth = 0usize;
    for (offset, token) in tokens[idx..].iter().enumerate() {
        match token.kind {
            TokenKind::Open(_) => depth += 1,
            TokenKind::Close(_) => {
                depth -= 1;
                if depth == 0 {
                    return idx + offset + 1;
                }
            }
            _ => {}
        }
    }
    idx
}

#[derive(Debug, Clone, Copy)]
enum Body {
    Assign(usize),
    Where(usize),
    Equations(usize),
    /// `deriving`, `termination_by` or `decreasing_by` with no body before it.
    Other,
}

struct Header {
    /// Index of the first token after the statement.
    statement_end: usize,
    /// Index of the statement's top-level `:`.
    colon: Option<usize>,
    body: Option<Body>,
}

/// Finds where the statement ends and the body begins, from `start` on: the first `:=`, `where`
/// or `|` outside brackets (a `:=` of a `let`/`have` inside the type does not count).
fn find_body(tokens: &[Token], start: usize) -> Header {
    let mut depth = 0usize;
    let mut pending_bindings = 0usize;
    let mut colon = None;
    // A `|` on the header's line is an equation only when an `=>` follows it outside brackets.
    let mut last_arrow_outside_brackets = None;
    {
        let mut depth = 0usize;
        for (idx, token) in tokens.iter().enumerate().skip(start) {
            match token.kind {
                TokenKind::Open(_) => depth += 1,
                TokenKind::Close(_) => depth = depth.saturating_sub(1),
                TokenKind::FatArrow if depth == 0 => last_arrow_outside_brackets = Some(idx),
                _ => {}
            }
        }
    }
    for (idx, token) in tokens.iter().enumerate().skip(start) {
        let body = match token.kind {
            TokenKind::Open(_) => {
                depth += 1;
                None
            }
            TokenKind::Close(_) => {
                depth = depth.saturating_sub(1);
                None
            }
            TokenKind::Colon if depth == 0 && colon.is_none() => {
                colon = Some(idx);
                None
            }
            TokenKind::Keyword(Keyword::Let | Keyword::Have) if depth == 0 => {
                pending_bindings += 1;
                None
            }
            TokenKind::Assign if depth == 0 && pending_bindings > 0 => {
                pending_bindings -= 1;
                None
            }
            TokenKind::Assign if depth == 0 => Some(Body::Assign(idx)),
            TokenKind::Keyword(Keyword::Where) if depth == 0 => Some(Body::Where(idx)),
            TokenKind::Bar
                if depth == 0
                    && (token.starts_line
                        || last_arrow_outside_brackets.is_some_and(|arrow| arrow > idx)) =>
            {
                Some(Body::Equations(idx))
            }
            TokenKind::Keyword(
                Keyword::Deriving | Keyword::TerminationBy | Keyword::DecreasingBy,
            ) => Some(Body::Other),
            _ => None,
        };
        if let Some(body) = body {
            return Header {
                statement_end: idx,
                colon,
                body: Some(body),
            };
        }
    }
    Header {
        statement_end: tokens.len(),
        colon,
        body: None,
    }
}

/// Reports brackets left open and closing brackets that close nothing or the wrong kind, at
/// most [`MAX_PROBLEMS_PER_KIND_PER_DECLARATION`] of each.
fn bracket_problems(text: &str, tokens: &[Token], problems: &mut Vec<Problem>) {
    let mut open: Vec<Token> = Vec::new();
    let mut unclosed: Vec<Token> = Vec::new();
    let mut unmatched = 0usize;
    for token in tokens {
        match token.kind {
            TokenKind::Open(_) => open.push(*token),
            TokenKind::Close(bracket) => {
                let matching = open
                    .iter()
                    .rposition(|opener| opener.kind == TokenKind::Open(bracket));
                match matching {
                    Some(position) => {
                        // The brackets opened after the match were never closed.
                        let left_open = open.drain(position..).skip(1);
                        let room =
                            MAX_PROBLEMS_PER_KIND_PER_DECLARATION.saturating_sub(unclosed.len());
                        unclosed.extend(left_open.take(room));
                    }
                    None => {
                        if unmatched < MAX_PROBLEMS_PER_KIND_PER_DECLARATION {
                            problems.push(Problem {
                                kind: ProblemKind::UnmatchedBracket,
                                range: token.range,
                                message: format!(
                                    "`{}` closes no open `{}`",
                                    token.text(text),
                                    bracket.open_text()
                                ),
                            });
                        }
                        unmatched += 1;
                    }
                }
            }
            _ => {}
        }
    }
    let room = MAX_PROBLEMS_PER_KIND_PER_DECLARATION.saturating_sub(unclosed.len());
    unclosed.extend(open.into_iter().take(room));
    for opener in unclosed {
        let close = match opener.kind {
            TokenKind::Open(bracket) => bracket.close_text(),
            _ => "",
        };
        problems.push(Problem {
            kind: ProblemKind::UnclosedBracket,
            range: opener.range,
            message: format!("`{}` is never closed: add `{close}`", opener.text(text)),
        });
    }
}
