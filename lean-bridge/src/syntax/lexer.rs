//! A Lean 4 tokenizer that never fails: comments (line, block, nested block, doc), string,
//! raw-string, interpolated-string and char literals, identifiers as Lean defines them, and the
//! few symbols that shape a proof (`:=`, `=>`, `;`, `<;>`, `|`, `·`, brackets).
//!
//! Line and block comments are dropped; doc comments stay as tokens because they belong to the
//! declaration after them. Every token knows its line, its column in codepoints (Lean's layout
//! unit) and whether it is the first token on its line.

use super::limits::MAX_TAB_PROBLEMS;
use super::model::{Problem, ProblemKind};
use crate::position::ByteRange;

/// One token of Lean source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Token {
    pub kind: TokenKind,
    pub range: ByteRange,
    /// 0-based line of the token's first byte.
    pub line: u32,
    /// Codepoints between the start of the line and the token.
    pub column: u32,
    /// Column of the first token that starts on this token's line.
    pub indent: u32,
    /// No other token starts or ends on this token's line before it.
    pub starts_line: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TokenKind {
    /// A name (`foo`, `Nat.succ`, `h.1`, `.inl`, `«a b»`, `` `quoted ``) that is not a keyword.
    Identifier,
    Keyword(Keyword),
    Number,
    String,
    Char,
    /// `/-- … -/`.
    DocComment,
    /// `#check`, `#eval`, `#exit`, ….
    HashCommand,
    Open(Bracket),
    Close(Bracket),
    /// `:=`
    Assign,
    /// `=>`
    FatArrow,
    Semicolon,
    Comma,
    Colon,
    /// A `|` with whitespace (or the line's start or end) on both sides, as alternatives and
    /// patterns write it. `|x|` (absolute value) and `||` are [`TokenKind::Symbol`]s.
    Bar,
    /// `·`, or `.` followed by whitespace.
    Bullet,
    /// `<;>`
    ThenAll,
    /// Any other symbol or character.
    Symbol,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Bracket {
    /// `( )`, also `` `( `` quotations.
    Round,
    /// `[ ]`, also `@[`, `#[`, `%[`.
    Square,
    /// `{ }`
    Curly,
    /// `⟨ ⟩`
    Angle,
    /// `⦃ ⦄`
    StrictImplicit,
    /// `⟦ ⟧`
    Quotient,
    /// `‹ ›`
    Assumption,
    /// `⌊ ⌋`
    Floor,
    /// `⌈ ⌉`
    Ceiling,
}

impl Bracket {
    pub fn open_text(self) -> &'static str {
        match self {
            Bracket::Round => "(",
            Bracket::Square => "[",
            Bracket::Curly => "{",
            Bracket::Angle => "⟨",
            Bracket::StrictImplicit => "⦃",
            Bracket::Quotient => "⟦",
            Bracket::Assumption => "‹",
            Bracket::Floor => "⌊",
            Bracket::Ceiling => "⌈",
        }
    }

    pub fn close_text(self) -> &'static str {
        match self {
            Bracket::Round => ")",
            Bracket::Square => "]",
            Bracket::Curly => "}",
            Bracket::Angle => "⟩",
            Bracket::StrictImplicit => "⦄",
            Bracket::Quotient => "⟧",
            Bracket::Assumption => "›",
            Bracket::Floor => "⌋",
            Bracket::Ceiling => "⌉",
        }
    }
}

/// The words that shape declarations and proofs. Everything else is an [`TokenKind::Identifier`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Keyword {
    // Declarations.
    Theorem,
    Lemma,
    Def,
    Example,
    Instance,
    Abbrev,
    Axiom,
    Opaque,
    Structure,
    Class,
    Inductive,
    // Other commands that cannot occur inside a term or tactic.
    Namespace,
    Section,
    End,
    Universe,
    Variable,
    Mutual,
    Import,
    Prelude,
    Attribute,
    Notation,
    Infix,
    Infixl,
    Infixr,
    Prefix,
    Postfix,
    Macro,
    MacroRules,
    Syntax,
    Elab,
    ElabRules,
    DeclareSyntaxCat,
    Initialize,
    BuiltinInitialize,
    Export,
    Include,
    Omit,
    AddDeclDoc,
    Deriving,
    // Commands that are also terms or tactics (`open Foo in`, `set_option … in`).
    Open,
    SetOption,
    // Declaration modifiers.
    Private,
    Protected,
    Noncomputable,
    Partial,
    Unsafe,
    Nonrec,
    Scoped,
    Local,
    // Proof structure.
    By,
    Calc,
    Fun,
    Match,
    With,
    Case,
    CasePrime,
    Next,
    If,
    Then,
    Else,
    First,
    Try,
    Repeat,
    RepeatPrime,
    AllGoals,
    AnyGoals,
    Focus,
    Iterate,
    Conv,
    ConvLhs,
    ConvRhs,
    OnGoal,
    Induction,
    Cases,
    FunInduction,
    FunCases,
    Intro,
    Rcases,
    Obtain,
    Rintro,
    CasesPrime,
    InductionPrime,
    Let,
    Have,
    Sorry,
    Admit,
    Where,
    TerminationBy,
    DecreasingBy,
}

impl Keyword {
    pub fn from_text(text: &str) -> Option<Keyword> {
        Some(match text {
            "theorem" => Keyword::Theorem,
            "lemma" => Keyword::Lemma,
            "def" => Keyword::Def,
            "example" => Keyword::Example,
            "instance" => Keyword::Instance,
            "abbrev" => Keyword::Abbrev,
            "axiom" => Keyword::Axiom,
            "opaque" => Keyword::Opaque,
            "structure" => Keyword::Structure,
            "class" => Keyword::Class,
            "inductive" => Keyword::Inductive,
            "namespace" => Keyword::Namespace,
            "section" => Keyword::Section,
            "end" => Keyword::End,
            "universe" | "universes" => Keyword::Universe,
            "variable" | "variables" => Keyword::Variable,
            "mutual" => Keyword::Mutual,
            "import" => Keyword::Import,
            "prelude" => Keyword::Prelude,
            "attribute" => Keyword::Attribute,
            "notation" => Keyword::Notation,
            "infix" => Keyword::Infix,
            "infixl" => Keyword::Infixl,
            "infixr" => Keyword::Infixr,
            "prefix" => Keyword::Prefix,
            "postfix" => Keyword::Postfix,
            "macro" => Keyword::Macro,
            "macro_rules" => Keyword::MacroRules,
            "syntax" => Keyword::Syntax,
            "elab" => Keyword::Elab,
            "elab_rules" => Keyword::ElabRules,
            "declare_syntax_cat" => Keyword::DeclareSyntaxCat,
            "initialize" => Keyword::Initialize,
            "builtin_initialize" => Keyword::BuiltinInitialize,
            "export" => Keyword::Export,
            "include" => Keyword::Include,
            "omit" => Keyword::Omit,
            "add_decl_doc" => Keyword::AddDeclDoc,
            "deriving" => Keyword::Deriving,
            "open" => Keyword::Open,
            "set_option" => Keyword::SetOption,
            "private" => Keyword::Private,
            "protected" => Keyword::Protected,
            "noncomputable" => Keyword::Noncomputable,
            "partial" => Keyword::Partial,
            "unsafe" => Keyword::Unsafe,
            "nonrec" => Keyword::Nonrec,
            "scoped" => Keyword::Scoped,
            "local" => Keyword::Local,
            "by" => Keyword::By,
            "calc" => Keyword::Calc,
            "fun" => Keyword::Fun,
            "match" => Keyword::Match,
            "with" => Keyword::With,
            "case" => Keyword::Case,
            "case'" => Keyword::CasePrime,
            "next" => Keyword::Next,
            "if" => Keyword::If,
            "then" => Keyword::Then,
            "else" => Keyword::Else,
            "first" => Keyword::First,
            "try" => Keyword::Try,
            "repeat" => Keyword::Repeat,
            "repeat'" => Keyword::RepeatPrime,
            "all_goals" => Keyword::AllGoals,
            "any_goals" => Keyword::AnyGoals,
            "focus" => Keyword::Focus,
            "iterate" => Keyword::Iterate,
            "conv" => Keyword::Conv,
            "conv_lhs" => Keyword::ConvLhs,
            "conv_rhs" => Keyword::ConvRhs,
            "on_goal" => Keyword::OnGoal,
            "induction" => Keyword::Induction,
            "cases" => Keyword::Cases,
            "fun_induction" => Keyword::FunInduction,
            "fun_cases" => Keyword::FunCases,
            "intro" => Keyword::Intro,
            "rcases" => Keyword::Rcases,
            "obtain" => Keyword::Obtain,
            "rintro" => Keyword::Rintro,
            "cases'" => Keyword::CasesPrime,
            "induction'" => Keyword::InductionPrime,
            "let" => Keyword::Let,
            "have" => Keyword::Have,
            "sorry" => Keyword::Sorry,
            "admit" => Keyword::Admit,
            "where" => Keyword::Where,
            "termination_by" => Keyword::TerminationBy,
            "decreasing_by" => Keyword::DecreasingBy,
            _ => return None,
        })
    }

    /// Declaration modifiers that may precede a declaration keyword.
    pub fn is_modifier(self) -> bool {
        matches!(
            self,
            Keyword::Private
                | Keyword::Protected
                | Keyword::Noncomputable
                | Keyword::Partial
                | Keyword::Unsafe
                | Keyword::Nonrec
                | Keyword::Scoped
                | Keyword::Local
        )
    }
}

impl Token {
    pub fn text<'text>(&self, text: &'text str) -> &'text str {
        self.range.slice(text)
    }

    pub fn keyword(&self) -> Option<Keyword> {
        match self.kind {
            TokenKind::Keyword(keyword) => Some(keyword),
            _ => None,
        }
    }

    pub fn is(&self, keyword: Keyword) -> bool {
        self.kind == TokenKind::Keyword(keyword)
    }

    pub fn is_open(&self) -> bool {
        matches!(self.kind, TokenKind::Open(_))
    }

    pub fn is_close(&self) -> bool {
        matches!(self.kind, TokenKind::Close(_))
    }
}

/// The tokens of a text and the problems found while reading them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Lexed {
    pub tokens: Vec<Token>,
    pub problems: Vec<Problem>,
}

/// Splits `text` into tokens. Never fails: anything unrecognised becomes a one-character
/// [`TokenKind::Symbol`].
pub fn lex(text: &str) -> Lexed {
    let mut lexer = Lexer {
        text,
        bytes: text.as_bytes(),
        pos: 0,
        cursor: Cursor::default(),
        previous_end_line: None,
        line_indent: 0,
        tab_line: None,
        tab_problems: 0,
        out: Lexed::default(),
    };
    lexer.run();
    lexer.out
}

/// Line and column bookkeeping, advanced monotonically so lexing stays linear on long lines.
#[derive(Debug, Default, Clone, Copy)]
struct Cursor {
    offset: usize,
    line: u32,
    column: u32,
}

struct Lexer<'text> {
    text: &'text str,
    bytes: &'text [u8],
    pos: usize,
    cursor: Cursor,
    previous_end_line: Option<u32>,
    line_indent: u32,
    tab_line: Option<u32>,
    tab_problems: usize,
    out: Lexed,
}

impl Lexer<'_> {
    fn run(&mut self) {
        while self.pos < self.bytes.len() {
            let start = self.pos;
            let byte = self.bytes[start];
            match byte {
                b' ' | b'\r' | b'\n' => self.pos += 1,
                b'\t' => {
                    self.report_tab(start);
                    self.pos += 1;
                }
                b'-' if self.peek(1) == Some(b'-') => self.skip_line_comment(),
                b'/' if self.peek(1) == Some(b'-') => self.block_comment(start),
                b'"' => self.string(start, start),
                b'\'' => self.char_or_symbol(start),
                b'0'..=b'9' => self.number(start),
                _ => self.symbol_or_identifier(start),
            }
        }
    }

    fn peek(&self, ahead: usize) -> Option<u8> {
        self.bytes.get(self.pos + ahead).copied()
    }

    fn char_at(&self, offset: usize) -> Option<char> {
        self.text.get(offset..).and_then(|rest| rest.chars().next())
    }

    /// Advances the cursor to `offset` and returns its line and column.
    fn locate(&mut self, offset: usize) -> (u32, u32) {
        let Cursor {
            offset: from,
            mut line,
            mut column,
        } = self.cursor;
        for &byte in &self.bytes[from..offset] {
            if byte == b'\n' {
                line += 1;
                column = 0;
            } else if byte & 0xC0 != 0x80 {
                column += 1;
            }
        }
        self.cursor = Cursor {
            offset,
            line,
            column,
        };
        (line, column)
    }

    fn push(&mut self, kind: TokenKind, start: usize, end: usize) {
        let (line, column) = self.locate(start);
        let starts_line = self.previous_end_line != Some(line);
        if starts_line {
            self.line_indent = column;
        }
        self.out.tokens.push(Token {
            kind,
            range: ByteRange::new(start, end),
            line,
            column,
            indent: self.line_indent,
            starts_line,
        });
        let (end_line, _) = self.locate(end);
        if end_line != line {
            // A token that spans lines (a doc comment, a string) leaves the next line with no
            // token of its own yet; its indent is that of the next token to start there.
            self.line_indent = 0;
        }
        self.previous_end_line = Some(end_line);
        self.pos = end;
    }

    fn problem(&mut self, kind: ProblemKind, start: usize, end: usize, message: String) {
        self.out.problems.push(Problem {
            kind,
            range: ByteRange::new(start, end),
            message,
        });
    }

    fn report_tab(&mut self, offset: usize) {
        let (line, _) = self.locate(offset);
        if self.tab_line == Some(line) || self.tab_problems >= MAX_TAB_PROBLEMS {
            return;
        }
        self.tab_line = Some(line);
        self.tab_problems += 1;
        self.problem(
            ProblemKind::TabCharacter,
            offset,
            offset + 1,
            "tab character: Lean rejects tabs, indent with spaces".to_string(),
        );
    }

    fn skip_line_comment(&mut self) {
        self.pos = memchr_newline(self.bytes, self.pos).unwrap_or(self.bytes.len());
    }

    /// `/- … -/`, nested; `/-- … -/` is a doc comment token, `/-! … -/` a module doc (dropped).
    fn block_comment(&mut self, start: usize) {
        let is_doc = self.peek(2) == Some(b'-') && self.peek(3) != Some(b'/');
        let mut depth = 1usize;
        let mut idx = start + 2;
        let bytes = self.bytes;
        while idx < bytes.len() {
            match (bytes[idx], bytes.get(idx + 1)) {
                (b'/', Some(b'-')) => {
                    depth += 1;
                    idx += 2;
                }
                (b'-', Some(b'/')) => {
                    depth -= 1;
                    idx += 2;
                    if depth == 0 {
                        break;
                    }
                }
                _ => idx += 1,
            }
        }
        if depth > 0 {
            idx = bytes.len();
            self.problem(
                ProblemKind::UnterminatedComment,
                start,
                (start + 2).min(bytes.len()),
                "unterminated comment: `/-` has no matching `-/`, so the rest of the file is a \
                 comment"
                    .to_string(),
            );
        }
        if is_doc {
            self.push(TokenKind::DocComment, start, idx);
        } else {
            self.pos = idx;
        }
    }

    /// A string literal whose opening `"` is at `quote`; `start` is where the token starts
    /// (before an `r`/`#` prefix or at the quote). Interpolated strings (`s!"…{x}…"`) may nest
    /// strings inside their braces.
    fn string(&mut self, start: usize, quote: usize) {
        let interpolated = quote > 0 && self.bytes[quote - 1] == b'!';
        let bytes = self.bytes;
        let mut idx = quote + 1;
        let mut brace_depth = 0usize;
        let mut nested_quote = false;
        while idx < bytes.len() {
            match bytes[idx] {
                b'\\' => idx += 2,
                b'"' if interpolated && brace_depth > 0 => {
                    nested_quote = !nested_quote;
                    idx += 1;
                }
                b'"' => {
                    self.push(TokenKind::String, start, idx + 1);
                    return;
                }
                b'{' if interpolated && !nested_quote => {
                    brace_depth += 1;
                    idx += 1;
                }
                b'}' if interpolated && !nested_quote => {
                    brace_depth = brace_depth.saturating_sub(1);
                    idx += 1;
                }
                _ => idx += 1,
            }
        }
        // Unterminated: end the string at the end of its first line so that one missing quote
        // does not hide the rest of the file.
        let end = memchr_newline(bytes, quote).unwrap_or(bytes.len());
        self.problem(
            ProblemKind::UnterminatedString,
            quote,
            quote + 1,
            "unterminated string literal: add the closing `\"`".to_string(),
        );
        self.push(TokenKind::String, start, end);
    }

    /// `r"…"` and `r#"…"#` (any number of `#`). Returns false when `start` is not one.
    fn raw_string(&mut self, start: usize) -> bool {
        let bytes = self.bytes;
        let mut idx = start + 1;
        let mut hashes = 0usize;
        while bytes.get(idx) == Some(&b'#') {
            hashes += 1;
            idx += 1;
        }
        if bytes.get(idx) != Some(&b'"') {
            return false;
        }
        idx += 1;
        while idx < bytes.len() {
            if bytes[idx] == b'"'
                && bytes.len() >= idx + 1 + hashes
                && bytes[idx + 1..idx + 1 + hashes].iter().all(|&b| b == b'#')
            {
                self.push(TokenKind::String, start, idx + 1 + hashes);
                return true;
            }
            idx += 1;
        }
        let end = memchr_newline(bytes, start).unwrap_or(bytes.len());
        self.problem(
            ProblemKind::UnterminatedString,
            start,
            start + 1,
            "unterminated raw string literal: add the closing `\"`".to_string(),
        );
        self.push(TokenKind::String, start, end);
        true
    }

    /// `'a'`, `'\n'`, `'\x41'`, `'\u{2200}'`, `'∀'`; a lone `'` is a symbol.
    fn char_or_symbol(&mut self, start: usize) {
        let after = start + 1;
        match self.char_at(after) {
            Some('\\') => {
                // An escape: find the closing quote within a short distance on this line.
                let limit = (after + 12).min(self.bytes.len());
                let close = (after + 2..limit)
                    .find(|&idx| self.bytes[idx] == b'\'' || self.bytes[idx] == b'\n');
                if let Some(close) = close.filter(|&idx| self.bytes[idx] == b'\'') {
                    self.push(TokenKind::Char, start, close + 1);
                    return;
                }
            }
            Some(ch) if ch != '\'' && ch != '\n' => {
                let close = after + ch.len_utf8();
                if self.bytes.get(close) == Some(&b'\'') {
                    self.push(TokenKind::Char, start, close + 1);
                    return;
                }
            }
            _ => {}
        }
        self.push(TokenKind::Symbol, start, after);
    }

    fn number(&mut self, start: usize) {
        let bytes = self.bytes;
        let mut idx = start + 1;
        while idx < bytes.len() {
            let byte = bytes[idx];
            if byte.is_ascii_alphanumeric() || byte == b'_' {
                idx += 1;
            } else if byte == b'.' && bytes.get(idx + 1).is_some_and(u8::is_ascii_digit) {
                idx += 2;
            } else {
                break;
            }
        }
        self.push(TokenKind::Number, start, idx);
    }

    /// Consumes one identifier component (`foo`, `α₁'`, `«a b»`) at `idx`; returns its end or
    /// `None` when no identifier starts there.
    fn identifier_component(&self, idx: usize) -> Option<usize> {
        let first = self.char_at(idx)?;
        if first == '«' {
            let rest = &self.text[idx..];
            let end = rest
                .find(['»', '\n'])
                .filter(|&found| rest[found..].starts_with('»'))
                .map(|found| idx + found + '»'.len_utf8())
                .unwrap_or_else(|| idx + rest.find('\n').unwrap_or(rest.len()));
            return Some(end);
        }
        if !is_identifier_start(first) {
            return None;
        }
        let mut end = idx + first.len_utf8();
        for ch in self.text[end..].chars() {
            if !is_identifier_rest(ch) {
                break;
            }
            end += ch.len_utf8();
        }
        Some(end)
    }

    /// A dotted name starting at `idx`; returns its end.
    fn dotted_name(&self, idx: usize) -> Option<usize> {
        let mut end = self.identifier_component(idx)?;
        while self.bytes.get(end) == Some(&b'.') {
            let next = end + 1;
            if let Some(component_end) = self.identifier_component(next) {
                end = component_end;
            } else if self.bytes.get(next).is_some_and(u8::is_ascii_digit) {
                end = next;
                while self.bytes.get(end).is_some_and(u8::is_ascii_digit) {
                    end += 1;
                }
            } else {
                break;
            }
        }
        Some(end)
    }

    fn symbol_or_identifier(&mut self, start: usize) {
        if let Some(end) = self.dotted_name(start) {
            let word = &self.text[start..end];
            if word == "r"
                && matches!(self.bytes.get(end), Some(b'"') | Some(b'#'))
                && self.raw_string(start)
            {
                return;
            }
            let kind = match Keyword::from_text(word) {
                Some(keyword) => TokenKind::Keyword(keyword),
                None => TokenKind::Identifier,
            };
            self.push(kind, start, end);
            return;
        }
        let ch = self.char_at(start).unwrap_or(' ');
        let next = self.peek(1);
        let rest = &self.text[start..];
        let single = start + ch.len_utf8();
        let (kind, end) = match ch {
            ':' if next == Some(b'=') => (TokenKind::Assign, start + 2),
            ':' if next == Some(b':') => (TokenKind::Symbol, start + 2),
            ':' => (TokenKind::Colon, single),
            '=' if next == Some(b'>') => (TokenKind::FatArrow, start + 2),
            ';' => (TokenKind::Semicolon, single),
            ',' => (TokenKind::Comma, single),
            '<' if rest.starts_with("<;>") => (TokenKind::ThenAll, start + 3),
            '<' if rest.starts_with("<|>") => (TokenKind::Symbol, start + 3),
            '<' if rest.starts_with("<|") => (TokenKind::Symbol, start + 2),
            '|' if next == Some(b'|') => (TokenKind::Symbol, start + 2),
            '|' if rest.starts_with("|>.") => (TokenKind::Symbol, start + 3),
            '|' if next == Some(b'>') => (TokenKind::Symbol, start + 2),
            '|' => {
                let space_before = start == 0 || self.bytes[start - 1].is_ascii_whitespace();
                let space_after = next.is_none_or(|byte| byte.is_ascii_whitespace());
                if space_before && space_after {
                    (TokenKind::Bar, single)
                } else {
                    (TokenKind::Symbol, single)
                }
            }
            '·' => (TokenKind::Bullet, single),
            '.' if next.is_none_or(|byte| byte.is_ascii_whitespace()) => {
                (TokenKind::Bullet, single)
            }
            '.' => {
                // `.inl` (a leading-dot name) or `..`.
                match self.dotted_name(single) {
                    Some(end) => (TokenKind::Identifier, end),
                    None if next == Some(b'.') => (TokenKind::Symbol, start + 2),
                    None => (TokenKind::Symbol, single),
                }
            }
            '@' if next == Some(b'[') => (TokenKind::Open(Bracket::Square), start + 2),
            '%' if next == Some(b'[') => (TokenKind::Open(Bracket::Square), start + 2),
            '#' if next == Some(b'[') => (TokenKind::Open(Bracket::Square), start + 2),
            '#' => match self.dotted_name(single) {
                Some(end) => (TokenKind::HashCommand, end),
                None => (TokenKind::Symbol, single),
            },
            '`' => {
                // `( quotation, `name and ``name quoted names.
                let after = if next == Some(b'`') {
                    start + 2
                } else {
                    single
                };
                if self.bytes.get(after) == Some(&b'(') {
                    (TokenKind::Open(Bracket::Round), after + 1)
                } else {
                    match self.dotted_name(after) {
                        Some(end) => (TokenKind::Identifier, end),
                        None => (TokenKind::Symbol, single),
                    }
                }
            }
            '"' => {
                self.string(start, start);
                return;
            }
            _ => match bracket_of(ch) {
                Some((bracket, true)) => (TokenKind::Open(bracket), single),
                Some((bracket, false)) => (TokenKind::Close(bracket), single),
                None => (TokenKind::Symbol, single),
            },
        };
        self.push(kind, start, end);
    }
}

fn memchr_newline(bytes: &[u8], from: usize) -> Option<usize> {
    bytes
        .get(from..)?
        .iter()
        .position(|&byte| byte == b'\n')
        .map(|found| from + found)
}

fn bracket_of(ch: char) -> Option<(Bracket, bool)> {
    Some(match ch {
        '(' => (Bracket::Round, true),
        ')' => (Bracket::Round, false),
        '[' => (Bracket::Square, true),
        ']' => (Bracket::Square, false),
        '{' => (Bracket::Curly, true),
        '}' => (Bracket::Curly, false),
        '⟨' => (Bracket::Angle, true),
        '⟩' => (Bracket::Angle, false),
        '⦃' => (Bracket::StrictImplicit, true),
        '⦄' => (Bracket::StrictImplicit, false),
        '⟦' => (Bracket::Quotient, true),
        '⟧' => (Bracket::Quotient, false),
        '‹' => (Bracket::Assumption, true),
        '›' => (Bracket::Assumption, false),
        '⌊' => (Bracket::Floor, true),
        '⌋' => (Bracket::Floor, false),
        '⌈' => (Bracket::Ceiling, true),
        '⌉' => (Bracket::Ceiling, false),
        _ => return None,
    })
}

/// Lean's `isLetterLike`: Greek (without `λ`, `Π`, `Σ`), Coptic, Greek extended, the
/// letterlike block (`ℕ`, `ℝ`) and the mathematical alphanumerics (`𝔽`).
fn is_letter_like(ch: char) -> bool {
    let code = ch as u32;
    (0x3b1..=0x3c9).contains(&code) && code != 0x3bb
        || (0x391..=0x3a9).contains(&code) && code != 0x3a0 && code != 0x3a3
        || (0x3ca..=0x3fb).contains(&code)
        || (0x1f00..=0x1ffe).contains(&code)
        || (0x2100..=0x214f).contains(&code)
        || (0x1d49c..=0x1d59f).contains(&code)
}

/// Lean's subscript letters and digits (`x₁`, `aᵢ`).
fn is_subscript(ch: char) -> bool {
    let code = ch as u32;
    (0x2080..=0x2089).contains(&code)
        || (0x2090..=0x209c).contains(&code)
        || (0x1d62..=0x1d6a).contains(&code)
}

fn is_identifier_start(ch: char) -> bool {
    ch.is_ascii_alphabetic() || ch == '_' || is_letter_like(ch)
}

fn is_identifier_rest(ch: char) -> bool {
    is_identifier_start(ch) || ch.is_ascii_digit() || ch == '\'' || is_subscript(ch)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(text: &str) -> Vec<(TokenKind, &str)> {
        lex(text)
            .tokens
            .iter()
            .map(|token| (token.kind, token.text(text)))
            .collect()
    }

    #[test]
    fn comments_strings_and_chars_hide_their_contents() {
        let text = "/- a /- nested -/ by -/ x -- by\n\"by \\\" sorry\" 'b' '\\'' h' /-- doc -/";
        let tokens = kinds(text);
        assert_eq!(
            tokens,
            vec![
                (TokenKind::Identifier, "x"),
                (TokenKind::String, "\"by \\\" sorry\""),
                (TokenKind::Char, "'b'"),
                (TokenKind::Char, "'\\''"),
                (TokenKind::Identifier, "h'"),
                (TokenKind::DocComment, "/-- doc -/"),
            ]
        );
    }

    #[test]
    fn structural_symbols() {
        let text = "a := b => c ; d <;> e | f |x| · . g .inl h.1 @[simp] ⟨x⟩";
        let tokens = kinds(text);
        let expected = vec![
            (TokenKind::Identifier, "a"),
            (TokenKind::Assign, ":="),
            (TokenKind::Identifier, "b"),
            (TokenKind::FatArrow, "=>"),
            (TokenKind::Identifier, "c"),
            (TokenKind::Semicolon, ";"),
            (TokenKind::Identifier, "d"),
            (TokenKind::ThenAll, "<;>"),
            (TokenKind::Identifier, "e"),
            (TokenKind::Bar, "|"),
            (TokenKind::Identifier, "f"),
            (TokenKind::Symbol, "|"),
            (TokenKind::Identifier, "x"),
            (TokenKind::Symbol, "|"),
            (TokenKind::Bullet, "·"),
            (TokenKind::Bullet, "."),
            (TokenKind::Identifier, "g"),
            (TokenKind::Identifier, ".inl"),
            (TokenKind::Identifier, "h.1"),
            (TokenKind::Open(Bracket::Square), "@["),
            (TokenKind::Identifier, "simp"),
            (TokenKind::Close(Bracket::Square), "]"),
            (TokenKind::Open(Bracket::Angle), "⟨"),
            (TokenKind::Identifier, "x"),
            (TokenKind::Close(Bracket::Angle), "⟩"),
        ];
        assert_eq!(tokens, expected);
    }

    #[test]
    fn columns_count_codepoints_and_lines_start_after_comments() {
        let text = "∀ x,\r\n  /- c -/ ⟨a⟩\n\t-- c\n  b";
        let lexed = lex(text);
        let positions: Vec<(&str, u32, u32, bool)> = lexed
            .tokens
            .iter()
            .map(|token| {
                (
                    token.text(text),
                    token.line,
                    token.column,
                    token.starts_line,
                )
            })
            .collect();
        assert_eq!(
            positions,
            vec![
                ("∀", 0, 0, true),
                ("x", 0, 2, false),
                (",", 0, 3, false),
                ("⟨", 1, 10, true),
                ("a", 1, 11, false),
                ("⟩", 1, 12, false),
                ("b", 3, 2, true),
            ]
        );
        assert_eq!(lexed.problems.len(), 1);
        assert_eq!(lexed.problems[0].kind, ProblemKind::TabCharacter);
    }

    #[test]
    fn unterminated_literals_are_problems_not_failures() {
        let text = "a \"open\nb /- open";
        let lexed = lex(text);
        let kinds: Vec<ProblemKind> = lexed.problems.iter().map(|problem| problem.kind).collect();
        assert_eq!(
            kinds,
            vec![
                ProblemKind::UnterminatedString,
                ProblemKind::UnterminatedComment
            ]
        );
        assert_eq!(lexed.tokens.len(), 3);
        assert_eq!(lexed.tokens[2].text(text), "b");
    }

    #[test]
    fn raw_and_interpolated_strings() {
        let text = r##"r#"a "by" b"# s!"x {f "y"} z" done"##;
        let tokens = kinds(text);
        assert_eq!(tokens[0], (TokenKind::String, r##"r#"a "by" b"#"##));
        assert_eq!(tokens.last().unwrap(), &(TokenKind::Identifier, "done"));
    }
}
