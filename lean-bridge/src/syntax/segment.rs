//! The layout-aware segmenter: splits a proof's tokens into a tree of steps.
//!
//! It follows Lean's layout rules rather than tree-sitter, whose grammar loses whole proofs at
//! the first construct it does not know. A tactic block's column is that of its first tactic; a
//! token that starts a line at that column starts the next step, one further right continues
//! the current step, one further left ends the block. `;` separates steps, `<;>` joins them.
//! Inside brackets lines do not matter (as in Lean), except that a line starting at or left of
//! the block's column closes brackets left open by half-typed code.
//!
//! Nested blocks become children of the step holding them: the block after `by` (anywhere in a
//! step, `have … := by` included), after a focus bullet `·`, after `=>` of `case`/`next`/`conv`/
//! `on_goal`, after `then`/`else` of a tactic `if`, after `try`/`repeat`/`all_goals`/…, each
//! `| pattern => …` alternative of `induction`/`cases`/`match`/`fun_induction … with` and each
//! `| tactic` of `first`, and each step of a `calc`.

use super::lexer::{Keyword, Token, TokenKind};
use super::limits::{MAX_BLOCK_NESTING, MAX_PROBLEMS_PER_KIND_PER_DECLARATION};
use super::model::{Problem, ProblemKind, ProofKind, Step, StepKind};
use crate::position::ByteRange;
use std::collections::HashMap;

/// The steps of one proof and the problems found while segmenting it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Segmentation {
    pub steps: Vec<Step>,
    pub problems: Vec<Problem>,
}

/// Segments a proof. `tokens` are exactly the proof's tokens: for [`ProofKind::Tactic`] the
/// first one is `by`; for [`ProofKind::Equations`] the first `|`. `declaration_column` is the
/// indentation of the declaration's keyword line, which a tactic proof must be right of.
pub fn segment_proof(
    text: &str,
    tokens: &[Token],
    proof_kind: ProofKind,
    declaration_column: u32,
) -> Segmentation {
    let mut segmenter = Segmenter {
        text,
        tokens,
        limit: tokens.len(),
        steps: Vec::new(),
        problems: Vec::new(),
        problem_counts: HashMap::new(),
        nesting: 0,
        nesting_reported: false,
    };
    match proof_kind {
        ProofKind::Tactic => {
            let context = BlockContext {
                parent: None,
                outer_column: None,
                is_top: true,
                stop_at_comma: false,
                stop_at_bar: false,
                stop_at_then_else: false,
            };
            let start = match tokens.first() {
                Some(first) if first.is(Keyword::By) => 1,
                _ => 0,
            };
            if let Some(first_tactic) = tokens.get(start) {
                if first_tactic.starts_line && first_tactic.column <= declaration_column {
                    segmenter.problem(
                        ProblemKind::DedentedTactic,
                        first_tactic.range,
                        format!(
                            "Lean expects the tactic block indented past column \
                             {declaration_column}, the column of the declaration"
                        ),
                    );
                }
            }
            if let Some(opener) = tokens.first() {
                segmenter.tactic_block(start, context, opener.range);
            }
        }
        ProofKind::Term | ProofKind::Where => segmenter.term_region(0, None),
        ProofKind::Equations => segmenter.equations(),
    }
    Segmentation {
        steps: segmenter.steps,
        problems: segmenter.problems,
    }
}

#[derive(Debug, Clone, Copy)]
struct BlockContext {
    /// The step the block's steps belong to.
    parent: Option<usize>,
    /// A block whose first token starts a line at or left of this column is empty.
    outer_column: Option<u32>,
    /// The proof's own block: it never ends early; what would end it is a problem instead.
    is_top: bool,
    /// The block sits inside brackets: a `,` outside the block's own brackets ends it.
    stop_at_comma: bool,
    /// A `|` ends the block (a `by` in a term, an alternative's body).
    stop_at_bar: bool,
    /// `then` and `else` end the block (a `by` inside a term `if`).
    stop_at_then_else: bool,
}

impl BlockContext {
    /// The context of a block nested in a step of a block with context `self`: it stops
    /// wherever the enclosing block would, and where its own opener says.
    fn nested(
        &self,
        parent: usize,
        outer_column: u32,
        stop_at_comma: bool,
        stop_at_bar: bool,
        stop_at_then_else: bool,
    ) -> BlockContext {
        BlockContext {
            parent: Some(parent),
            outer_column: Some(outer_column),
            is_top: false,
            stop_at_comma: self.stop_at_comma || stop_at_comma,
            stop_at_bar: self.stop_at_bar || stop_at_bar,
            stop_at_then_else: self.stop_at_then_else || stop_at_then_else,
        }
    }
}

/// Why a step ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StepEnd {
    /// At a `;`, which belongs to neither step.
    Semicolon,
    /// A line starts at the block's column: the next step.
    SameColumn,
    /// A line starts left of the block's column.
    Dedent,
    /// A token that ends the block (a closing bracket, a `,`, `|`, `then`, `else`).
    Terminator,
    /// The end of the proof.
    Limit,
}

/// How a step's `|` alternatives are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AlternativeStyle {
    /// `| pattern => tactics` (`induction`, `cases`, `match` … `with`; `intro`).
    PatternArrow,
    /// `| tactics` (`first`).
    Tactics,
}

/// Heads whose `with` opens `| pattern => tactics` alternatives.
fn opens_alternatives_after_with(head: Option<Keyword>) -> bool {
    matches!(
        head,
        Some(
            Keyword::Induction
                | Keyword::Cases
                | Keyword::Match
                | Keyword::FunInduction
                | Keyword::FunCases
        )
    )
}

/// Heads whose `|` are part of the step: patterns (`rcases h with a | b`) or `case a | b =>`.
fn bars_belong_to_head(head: Option<Keyword>) -> bool {
    matches!(
        head,
        Some(
            Keyword::Rcases
                | Keyword::Obtain
                | Keyword::Rintro
                | Keyword::CasesPrime
                | Keyword::InductionPrime
                | Keyword::Case
                | Keyword::CasePrime
        )
    )
}

/// Heads whose first `=>` opens a tactic block.
fn opens_block_after_arrow(head: Option<Keyword>) -> bool {
    matches!(
        head,
        Some(
            Keyword::Case
                | Keyword::CasePrime
                | Keyword::Next
                | Keyword::Conv
                | Keyword::ConvLhs
                | Keyword::ConvRhs
                | Keyword::OnGoal
        )
    )
}

/// Tactic combinators followed directly by a tactic sequence.
fn is_combinator(head: Option<Keyword>) -> bool {
    matches!(
        head,
        Some(
            Keyword::Try
                | Keyword::Repeat
                | Keyword::RepeatPrime
                | Keyword::AllGoals
                | Keyword::AnyGoals
                | Keyword::Focus
                | Keyword::Iterate
        )
    )
}

struct Segmenter<'text> {
    text: &'text str,
    tokens: &'text [Token],
    /// Tokens at or after this index are outside the region being segmented.
    limit: usize,
    steps: Vec<Step>,
    problems: Vec<Problem>,
    problem_counts: HashMap<ProblemKind, usize>,
    nesting: usize,
    nesting_reported: bool,
}

impl Segmenter<'_> {
    fn token(&self, idx: usize) -> Option<Token> {
        if idx < self.limit {
            self.tokens.get(idx).copied()
        } else {
            None
        }
    }

    fn is_underscore(&self, token: &Token) -> bool {
        token.kind == TokenKind::Identifier && token.text(self.text) == "_"
    }

    /// Records a problem, at most [`MAX_PROBLEMS_PER_KIND_PER_DECLARATION`] of each kind.
    fn problem(&mut self, kind: ProblemKind, range: ByteRange, message: impl Into<String>) {
        let reported = self.problem_counts.entry(kind).or_insert(0);
        *reported += 1;
        if *reported > MAX_PROBLEMS_PER_KIND_PER_DECLARATION {
            return;
        }
        self.problems.push(Problem {
            kind,
            range,
            message: message.into(),
        });
    }

    /// Enters one more level of nesting, or refuses (once reporting it) when too deep.
    fn enter(&mut self, at: ByteRange) -> bool {
        if self.nesting >= MAX_BLOCK_NESTING {
            if !self.nesting_reported {
                self.nesting_reported = true;
                self.problem(
                    ProblemKind::NestingTooDeep,
                    at,
                    format!(
                        "blocks nest deeper than {MAX_BLOCK_NESTING} levels; deeper blocks are \
                         kept inside their enclosing step"
                    ),
                );
            }
            return false;
        }
        self.nesting += 1;
        true
    }

    fn leave(&mut self) {
        self.nesting -= 1;
    }

    fn open_step(&mut self, kind: StepKind, first_token: usize, parent: Option<usize>) -> usize {
        let depth = parent.map_or(0, |parent| self.steps[parent].depth + 1);
        let start = self.tokens[first_token].range.start.0;
        self.steps.push(Step {
            kind,
            range: ByteRange::new(start, start),
            text: String::new(),
            depth,
            parent,
        });
        self.steps.len() - 1
    }

    /// Ends step `step_idx`, which began at `first_token`, before token `end_token`; a step
    /// always keeps at least its first token.
    fn close_step(&mut self, step_idx: usize, first_token: usize, end_token: usize) {
        let last_token = end_token.max(first_token + 1) - 1;
        let range = ByteRange {
            start: self.tokens[first_token].range.start,
            end: self.tokens[last_token].range.end,
        };
        let step = &mut self.steps[step_idx];
        step.range = range;
        step.text = range.slice(self.text).to_string();
    }

    fn is_block_terminator(&self, token: &Token, context: &BlockContext) -> bool {
        match token.kind {
            TokenKind::Close(_) => true,
            TokenKind::Comma => context.stop_at_comma,
            TokenKind::Bar => context.stop_at_bar,
            TokenKind::Keyword(Keyword::Then | Keyword::Else) => context.stop_at_then_else,
            _ => false,
        }
    }

    fn stray_bar(&mut self, range: ByteRange) {
        self.problem(
            ProblemKind::StrayBar,
            range,
            "stray `|`: an alternative needs `induction`, `cases`, `match` … `with` or `first` \
             before it, at a column left of or equal to its own",
        );
    }

    fn empty_block(&mut self, opener: ByteRange) {
        let opener_text = opener.slice(self.text).to_string();
        self.problem(
            ProblemKind::EmptyTacticBlock,
            opener,
            format!(
                "`{opener_text}` has no tactics after it: write the next tactic on the same line \
                 or indented further on the next"
            ),
        );
    }

    /// Segments the tactic block starting at token `start`; returns the index of the first
    /// token after it. `opener` (`by`, `·`, `=>` …) is where an empty block is reported.
    fn tactic_block(&mut self, start: usize, context: BlockContext, opener: ByteRange) -> usize {
        let Some(first) = self.token(start) else {
            self.empty_block(opener);
            return start;
        };
        let left_of_outer = first.starts_line
            && context
                .outer_column
                .is_some_and(|column| first.column <= column);
        if left_of_outer
            || (!context.is_top && self.is_block_terminator(&first, &context))
            || first.kind == TokenKind::Semicolon && self.token(start + 1).is_none()
        {
            self.empty_block(opener);
            return start;
        }
        if !self.enter(opener) {
            return start;
        }
        let block_column = first.column;
        let mut idx = start;
        let mut dedent_reported = false;
        while let Some(token) = self.token(idx) {
            if token.kind == TokenKind::Semicolon {
                idx += 1;
                continue;
            }
            if idx > start {
                if token.starts_line && token.column < block_column {
                    if !context.is_top {
                        break;
                    }
                    if !dedent_reported {
                        dedent_reported = true;
                        self.problem(
                            ProblemKind::DedentedTactic,
                            token.range,
                            format!(
                                "this line starts at column {} but the tactic block started at \
                                 column {block_column}; Lean ends the block here",
                                token.column
                            ),
                        );
                    }
                }
                if !context.is_top && self.is_block_terminator(&token, &context) {
                    break;
                }
            }
            let (next, end) = self.step(idx, block_column, &context);
            idx = next;
            match end {
                StepEnd::Semicolon => idx += 1,
                StepEnd::SameColumn => {}
                StepEnd::Dedent | StepEnd::Terminator => {
                    if !context.is_top {
                        break;
                    }
                }
                StepEnd::Limit => break,
            }
        }
        self.leave();
        idx
    }

    /// Segments one step starting at `start` in a block at `block_column`; returns the index of
    /// the first token after it and why it ended.
    fn step(
        &mut self,
        start: usize,
        block_column: u32,
        context: &BlockContext,
    ) -> (usize, StepEnd) {
        let head = self.tokens[start];
        let head_keyword = head.keyword();
        let kind = match head.kind {
            TokenKind::Bullet => StepKind::Focus,
            TokenKind::Keyword(Keyword::Case | Keyword::CasePrime | Keyword::Next) => {
                StepKind::Case
            }
            TokenKind::Keyword(Keyword::Calc) => StepKind::Calc,
            _ => StepKind::Tactic,
        };
        if head.kind == TokenKind::Bar {
            self.stray_bar(head.range);
        }
        let step_idx = self.open_step(kind, start, context.parent);
        let mut depth = 0usize;
        let mut alternatives = if head_keyword == Some(Keyword::First) {
            Some(AlternativeStyle::Tactics)
        } else if head_keyword == Some(Keyword::Intro)
            && self
                .token(start + 1)
                .is_some_and(|next| next.kind == TokenKind::Bar)
        {
            Some(AlternativeStyle::PatternArrow)
        } else {
            None
        };
        let mut term_bars = false;
        let mut arrow_block_opened = false;
        let mut idx = match head.kind {
            TokenKind::Bullet => {
                let nested = context.nested(step_idx, block_column, false, false, false);
                self.tactic_block(start + 1, nested, head.range)
            }
            TokenKind::Keyword(Keyword::Calc) => self.calc(start, step_idx, block_column, false),
            TokenKind::Keyword(Keyword::By) => {
                let nested = context.nested(step_idx, block_column, false, true, true);
                self.tactic_block(start + 1, nested, head.range)
            }
            _ if is_combinator(head_keyword) => {
                let mut body = start + 1;
                if head_keyword == Some(Keyword::Iterate)
                    && self
                        .token(body)
                        .is_some_and(|token| token.kind == TokenKind::Number)
                {
                    body += 1;
                }
                if self.token(body).is_some_and(|token| {
                    token.kind == TokenKind::Open(super::lexer::Bracket::Round)
                }) {
                    depth += 1;
                    body += 1;
                }
                let nested = context.nested(step_idx, block_column, depth > 0, false, false);
                self.tactic_block(body, nested, head.range)
            }
            _ => start + 1,
        };
        loop {
            let Some(token) = self.token(idx) else {
                self.close_step(step_idx, start, idx);
                return (idx, StepEnd::Limit);
            };
            let after_then_all = idx > start && self.tokens[idx - 1].kind == TokenKind::ThenAll;
            if token.starts_line && idx > start && !after_then_all {
                if depth > 0 && token.column <= block_column && !token.is_close() {
                    // Half-typed code left a bracket open; the declaration reports it.
                    depth = 0;
                }
                if depth == 0 {
                    if let Some(style) = alternatives
                        .filter(|_| token.kind == TokenKind::Bar && token.column >= block_column)
                    {
                        idx = self.alternative(idx, step_idx, style, block_column, context);
                        continue;
                    }
                    if token.is(Keyword::Else)
                        && head_keyword == Some(Keyword::If)
                        && token.column >= block_column
                    {
                        let nested = context.nested(step_idx, block_column, false, false, true);
                        idx = self.tactic_block(idx + 1, nested, token.range);
                        continue;
                    }
                    if token.column <= block_column {
                        self.close_step(step_idx, start, idx);
                        let end = if token.column == block_column {
                            StepEnd::SameColumn
                        } else {
                            StepEnd::Dedent
                        };
                        return (idx, end);
                    }
                }
            }
            if depth == 0 {
                match token.kind {
                    TokenKind::Semicolon => {
                        self.close_step(step_idx, start, idx);
                        return (idx, StepEnd::Semicolon);
                    }
                    TokenKind::Close(_) if !context.is_top => {
                        self.close_step(step_idx, start, idx);
                        return (idx, StepEnd::Terminator);
                    }
                    TokenKind::Close(_) => {
                        // An unmatched closing bracket in the proof's own block: the
                        // declaration reports it; the step keeps it.
                        idx += 1;
                        continue;
                    }
                    TokenKind::Comma if context.stop_at_comma => {
                        self.close_step(step_idx, start, idx);
                        return (idx, StepEnd::Terminator);
                    }
                    TokenKind::Keyword(Keyword::Then | Keyword::Else)
                        if context.stop_at_then_else && head_keyword != Some(Keyword::If) =>
                    {
                        self.close_step(step_idx, start, idx);
                        return (idx, StepEnd::Terminator);
                    }
                    TokenKind::Bar => {
                        if let Some(style) = alternatives {
                            idx = self.alternative(idx, step_idx, style, block_column, context);
                            continue;
                        }
                        if !term_bars && !bars_belong_to_head(head_keyword) {
                            if context.stop_at_bar {
                                self.close_step(step_idx, start, idx);
                                return (idx, StepEnd::Terminator);
                            }
                            self.stray_bar(token.range);
                        }
                    }
                    _ => {}
                }
            }
            match token.kind {
                TokenKind::Open(_) => {
                    depth += 1;
                    idx += 1;
                }
                TokenKind::Close(_) => {
                    depth = depth.saturating_sub(1);
                    idx += 1;
                }
                TokenKind::Keyword(Keyword::By) => {
                    let nested = context.nested(step_idx, block_column, depth > 0, true, true);
                    idx = self.tactic_block(idx + 1, nested, token.range);
                }
                TokenKind::Keyword(Keyword::Calc) => {
                    idx = self.calc(idx, step_idx, block_column, depth > 0);
                }
                TokenKind::Keyword(Keyword::With)
                    if depth == 0 && opens_alternatives_after_with(head_keyword) =>
                {
                    alternatives = Some(AlternativeStyle::PatternArrow);
                    idx += 1;
                }
                TokenKind::Keyword(Keyword::First) if depth == 0 => {
                    // `cases h <;> first | a | b`.
                    alternatives = Some(AlternativeStyle::Tactics);
                    idx += 1;
                }
                TokenKind::Keyword(Keyword::Fun | Keyword::Match) => {
                    term_bars = true;
                    idx += 1;
                }
                TokenKind::FatArrow
                    if depth == 0
                        && !arrow_block_opened
                        && opens_block_after_arrow(head_keyword) =>
                {
                    arrow_block_opened = true;
                    let nested = context.nested(step_idx, block_column, false, false, false);
                    idx = self.tactic_block(idx + 1, nested, token.range);
                }
                TokenKind::Keyword(Keyword::Then | Keyword::Else)
                    if depth == 0 && head_keyword == Some(Keyword::If) =>
                {
                    let nested = context.nested(step_idx, block_column, false, false, true);
                    idx = self.tactic_block(idx + 1, nested, token.range);
                }
                _ => idx += 1,
            }
        }
    }

    /// One alternative of step `step_idx` starting at the `|` at `bar`; returns the index
    /// after it.
    fn alternative(
        &mut self,
        bar: usize,
        step_idx: usize,
        style: AlternativeStyle,
        block_column: u32,
        context: &BlockContext,
    ) -> usize {
        let bar_token = self.tokens[bar];
        let alternative = self.open_step(StepKind::Alternative, bar, Some(step_idx));
        let nested = context.nested(alternative, block_column, false, true, false);
        let mut idx = bar + 1;
        if style == AlternativeStyle::Tactics {
            idx = self.tactic_block(idx, nested, bar_token.range);
        } else {
            let mut depth = 0usize;
            while let Some(token) = self.token(idx) {
                if depth == 0 {
                    if token.kind == TokenKind::FatArrow {
                        idx = self.tactic_block(idx + 1, nested, token.range);
                        break;
                    }
                    let ends_pattern = matches!(
                        token.kind,
                        TokenKind::Bar | TokenKind::Semicolon | TokenKind::Close(_)
                    ) || token.starts_line && token.column <= block_column;
                    if ends_pattern {
                        break;
                    }
                }
                match token.kind {
                    TokenKind::Open(_) => depth += 1,
                    TokenKind::Close(_) => depth -= 1,
                    _ => {}
                }
                if token.starts_line && token.column <= block_column {
                    // An unclosed bracket in a half-typed pattern.
                    break;
                }
                idx += 1;
            }
        }
        self.close_step(alternative, bar, idx);
        idx
    }

    /// The steps of the `calc` at `calc_idx` as children of `parent`; returns the index after
    /// the last one.
    fn calc(
        &mut self,
        calc_idx: usize,
        parent: usize,
        block_column: u32,
        inside_brackets: bool,
    ) -> usize {
        let calc_token = self.tokens[calc_idx];
        let mut idx = calc_idx + 1;
        match self.token(idx) {
            Some(first) if !(first.starts_line && first.column <= block_column) => {}
            _ => {
                self.problem(
                    ProblemKind::EmptyTacticBlock,
                    calc_token.range,
                    "`calc` has no steps after it",
                );
                return idx;
            }
        }
        if !self.enter(calc_token.range) {
            return idx;
        }
        let mut calc_column: Option<u32> = None;
        'steps: while let Some(first) = self.token(idx) {
            let ends_calc = match first.kind {
                TokenKind::Close(_) | TokenKind::Semicolon | TokenKind::Bar => true,
                TokenKind::Comma => inside_brackets,
                TokenKind::Keyword(Keyword::Then | Keyword::Else) => true,
                _ => false,
            };
            if ends_calc {
                break;
            }
            if first.starts_line && calc_column.is_none() {
                calc_column = Some(first.column);
            }
            let step_start = idx;
            let calc_step = self.open_step(StepKind::CalcStep, step_start, Some(parent));
            let mut depth = 0usize;
            let mut assigned = false;
            loop {
                let Some(token) = self.token(idx) else {
                    self.close_step(calc_step, step_start, idx);
                    break 'steps;
                };
                if idx > step_start && token.starts_line {
                    if depth > 0 && token.column <= block_column && !token.is_close() {
                        depth = 0;
                    }
                    if depth == 0 {
                        let underscore_at_block =
                            self.is_underscore(&token) && token.column == block_column;
                        if token.column <= block_column && !underscore_at_block {
                            self.close_step(calc_step, step_start, idx);
                            break 'steps;
                        }
                        let starts_new_step = (assigned || self.is_underscore(&token))
                            && calc_column.is_none_or(|column| token.column <= column);
                        if starts_new_step {
                            self.close_step(calc_step, step_start, idx);
                            if calc_column.is_some_and(|column| token.column < column) {
                                break 'steps;
                            }
                            calc_column.get_or_insert(token.column);
                            continue 'steps;
                        }
                    }
                }
                if depth == 0 && idx > step_start {
                    let ends_calc = match token.kind {
                        TokenKind::Close(_) | TokenKind::Semicolon | TokenKind::Bar => true,
                        TokenKind::Comma => inside_brackets,
                        TokenKind::Keyword(Keyword::Then | Keyword::Else) => true,
                        _ => false,
                    };
                    if ends_calc {
                        self.close_step(calc_step, step_start, idx);
                        break 'steps;
                    }
                }
                match token.kind {
                    TokenKind::Open(_) => {
                        depth += 1;
                        idx += 1;
                    }
                    TokenKind::Close(_) => {
                        depth = depth.saturating_sub(1);
                        idx += 1;
                    }
                    TokenKind::Assign if depth == 0 => {
                        assigned = true;
                        idx += 1;
                    }
                    TokenKind::Keyword(Keyword::By) => {
                        let context = BlockContext {
                            parent: Some(calc_step),
                            outer_column: Some(block_column),
                            is_top: false,
                            stop_at_comma: inside_brackets || depth > 0,
                            stop_at_bar: true,
                            stop_at_then_else: true,
                        };
                        idx = self.tactic_block(idx + 1, context, token.range);
                    }
                    TokenKind::Keyword(Keyword::Calc) => {
                        idx = self.calc(idx, calc_step, block_column, inside_brackets || depth > 0);
                    }
                    _ => idx += 1,
                }
            }
        }
        self.leave();
        idx
    }

    /// A term (or `where` body) from `start` to the limit: every `by` block and `calc` in it
    /// gives steps under `parent`.
    fn term_region(&mut self, start: usize, parent: Option<usize>) {
        let mut depth = 0usize;
        let mut idx = start;
        while let Some(token) = self.token(idx) {
            match token.kind {
                TokenKind::Open(_) => {
                    depth += 1;
                    idx += 1;
                }
                TokenKind::Close(_) => {
                    depth = depth.saturating_sub(1);
                    idx += 1;
                }
                TokenKind::Keyword(Keyword::By) => {
                    let context = BlockContext {
                        parent,
                        outer_column: Some(token.indent),
                        is_top: false,
                        stop_at_comma: depth > 0,
                        stop_at_bar: true,
                        stop_at_then_else: true,
                    };
                    idx = self.tactic_block(idx + 1, context, token.range);
                }
                TokenKind::Keyword(Keyword::Calc) => {
                    let calc_step = self.open_step(StepKind::Calc, idx, parent);
                    let end = self.calc(idx, calc_step, token.indent, depth > 0);
                    self.close_step(calc_step, idx, end);
                    idx = end;
                }
                _ => idx += 1,
            }
        }
    }

    /// `| pattern => term` equations: one alternative step per equation. A new equation starts
    /// at a line that starts with `|` at or left of the first equation's column (whatever
    /// half-typed code left open), or at a `|` outside brackets in an equation whose term has
    /// no `fun` or `match` of its own.
    fn equations(&mut self) {
        let Some(first) = self.token(0) else {
            return;
        };
        let column = first.column;
        let mut arm_starts = vec![0];
        let mut depth = 0usize;
        let mut term_bars = false;
        for (idx, token) in self.tokens.iter().enumerate().skip(1) {
            let starts_arm = token.kind == TokenKind::Bar
                && (token.starts_line && token.column <= column || depth == 0 && !term_bars);
            if starts_arm {
                arm_starts.push(idx);
                depth = 0;
                term_bars = false;
                continue;
            }
            match token.kind {
                TokenKind::Open(_) => depth += 1,
                TokenKind::Close(_) => depth = depth.saturating_sub(1),
                TokenKind::Keyword(Keyword::Fun | Keyword::Match) => term_bars = true,
                _ => {}
            }
        }
        let total = self.tokens.len();
        for (arm_idx, &arm_start) in arm_starts.iter().enumerate() {
            let arm_end = arm_starts.get(arm_idx + 1).copied().unwrap_or(total);
            let alternative = self.open_step(StepKind::Alternative, arm_start, None);
            self.limit = arm_end;
            self.term_region(arm_start + 1, Some(alternative));
            self.limit = total;
            self.close_step(alternative, arm_start, arm_end);
        }
    }
}
