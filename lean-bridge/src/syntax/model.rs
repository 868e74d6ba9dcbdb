//! The outline of a Lean file as plain data: declarations, their proof steps, `sorry`s and
//! problems. Every range is a byte range into the text the outline was made from.

use crate::position::ByteRange;
use serde::{Deserialize, Serialize};

/// Everything the syntax half knows about one Lean file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outline {
    /// Every declaration, in source order; ranges never overlap.
    pub declarations: Vec<Declaration>,
    /// Every `sorry` and `admit` token (never one inside a comment or string), in source order.
    pub sorries: Vec<Sorry>,
    /// What went wrong while reading the file, in no particular order. Parsing never fails;
    /// problems describe what the outline had to guess.
    pub problems: Vec<Problem>,
}

/// One declaration: `theorem`, `lemma`, `def`, `example`, `instance`, ….
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Declaration {
    pub kind: DeclarationKind,
    /// The declared name as written (`Nat.add_zero'`), absent for `example`, anonymous
    /// `instance`s and half-typed headers.
    pub name: Option<String>,
    /// From the doc comment, attributes or modifiers through the last token of the declaration
    /// (trailing comments and blank lines excluded).
    pub range: ByteRange,
    /// The declaration keyword (`theorem`, `def`, …; `class` for `class inductive`).
    pub keyword_range: ByteRange,
    pub name_range: Option<ByteRange>,
    /// Binders and type: everything between the name (or keyword) and the body (`:=`, `where`,
    /// `|`); absent when there is nothing in between.
    pub statement_range: Option<ByteRange>,
    /// The type after the statement's top-level `:`, when there is one.
    pub type_range: Option<ByteRange>,
    /// The body: from `by` or the first term token after `:=`, the first `|` of equations, or
    /// the first token after `where`, up to `termination_by`, `decreasing_by`, an auxiliary
    /// `where` or the end of the declaration. Absent for declarations without a body.
    pub proof_range: Option<ByteRange>,
    pub proof_kind: Option<ProofKind>,
    /// The proof's steps as a tree stored in preorder: a step's children follow it, and each
    /// step names its parent by index into this list.
    pub steps: Vec<Step>,
    /// Whether tree-sitter recognised this declaration or the keyword scan had to recover it.
    pub source: DeclarationSource,
}

/// The declaration keyword.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeclarationKind {
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
    /// `class inductive`.
    ClassInductive,
    Inductive,
}

impl DeclarationKind {
    /// The keyword as Lean spells it.
    pub fn keyword(self) -> &'static str {
        match self {
            DeclarationKind::Theorem => "theorem",
            DeclarationKind::Lemma => "lemma",
            DeclarationKind::Def => "def",
            DeclarationKind::Example => "example",
            DeclarationKind::Instance => "instance",
            DeclarationKind::Abbrev => "abbrev",
            DeclarationKind::Axiom => "axiom",
            DeclarationKind::Opaque => "opaque",
            DeclarationKind::Structure => "structure",
            DeclarationKind::Class => "class",
            DeclarationKind::ClassInductive => "class inductive",
            DeclarationKind::Inductive => "inductive",
        }
    }

    /// Whether a declaration of this kind must have a body (`:=`, `where` or equations).
    pub fn requires_body(self) -> bool {
        matches!(
            self,
            DeclarationKind::Theorem
                | DeclarationKind::Lemma
                | DeclarationKind::Def
                | DeclarationKind::Example
                | DeclarationKind::Instance
                | DeclarationKind::Abbrev
        )
    }

    /// Whether the body (if any) is a proof or value rather than fields or constructors.
    pub fn has_proof(self) -> bool {
        !matches!(
            self,
            DeclarationKind::Structure
                | DeclarationKind::Class
                | DeclarationKind::ClassInductive
                | DeclarationKind::Inductive
                | DeclarationKind::Axiom
        )
    }
}

/// How the body is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProofKind {
    /// `:= by …`: a tactic block.
    Tactic,
    /// `:= term`; `by` blocks inside the term still give steps.
    Term,
    /// `| pattern => term` equations; each equation is an alternative step.
    Equations,
    /// `where field := …`: a structure instance.
    Where,
}

/// Where a declaration's place in the file came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeclarationSource {
    /// tree-sitter parsed a declaration node starting here.
    TreeSitter,
    /// Only the keyword scan found it: tree-sitter missed it (an ERROR node or an earlier
    /// declaration swallowed it, and a problem says so) or was not used.
    KeywordScan,
}

/// One proof step: a tactic, a focus bullet, a `case`, an alternative, a `calc` or a `calc` step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Step {
    pub kind: StepKind,
    /// From the step's first token through its last, nested blocks included.
    pub range: ByteRange,
    /// The source text of `range`.
    pub text: String,
    /// 0 for the proof's own steps, parent's depth + 1 otherwise.
    pub depth: u32,
    /// Index of the enclosing step in the same declaration's `steps`.
    pub parent: Option<usize>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepKind {
    /// One tactic, with the steps of any nested `by` blocks as children.
    Tactic,
    /// `· tactics` (or `. tactics`); children are the focused block's steps.
    Focus,
    /// `case tag => tactics` or `next => tactics`; children are the block's steps.
    Case,
    /// `| pattern => …` of `induction`/`cases`/`match … with`, `| tactic` of `first`, or one
    /// equation of a definition by pattern matching.
    Alternative,
    /// `calc` with its steps as children.
    Calc,
    /// One `_ = b := proof` line of a `calc`.
    CalcStep,
}

/// A `sorry` or `admit` token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sorry {
    pub kind: SorryKind,
    pub range: ByteRange,
    /// Index into [`Outline::declarations`] of the declaration that holds it.
    pub declaration: Option<usize>,
    /// Index into that declaration's steps of the innermost step that holds it.
    pub step: Option<usize>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SorryKind {
    Sorry,
    Admit,
}

/// Something the outline had to guess about, with the range it concerns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Problem {
    pub kind: ProblemKind,
    pub range: ByteRange,
    /// Lower-case, no trailing period; says what is wrong and, where it can, what to do.
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProblemKind {
    /// `/-` without its `-/`; the comment runs to the end of the file, as in Lean.
    UnterminatedComment,
    /// `"` without its closing `"`; the outline ends the string at the end of its line.
    UnterminatedString,
    /// A tab in indentation; Lean rejects tabs.
    TabCharacter,
    /// An opening bracket never closed within its declaration.
    UnclosedBracket,
    /// A closing bracket that closes nothing, or the wrong kind of bracket.
    UnmatchedBracket,
    /// A declaration keyword without a name after it.
    MissingName,
    /// A `theorem`, `def`, … with no `:=`, `where` or `|` body.
    MissingAssignment,
    /// `:=` with nothing after it.
    MissingProof,
    /// `by` (or a focus bullet, `case … =>`, an alternative's `=>`) with no tactic after it.
    EmptyTacticBlock,
    /// A `|` alternative with no `induction`, `cases`, `match … with` or `first` to belong to.
    StrayBar,
    /// A tactic left of its block's column, which ends the block in Lean.
    DedentedTactic,
    /// Blocks nested deeper than the segmenter follows.
    NestingTooDeep,
    /// tree-sitter missed a declaration that the keyword scan recovered.
    TreeSitterMissedDeclaration,
    /// tree-sitter could not be used at all (the grammar failed to load or the parse gave up);
    /// the outline comes from the keyword scan alone.
    TreeSitterUnavailable,
}

impl ProblemKind {
    /// Whether this problem is about the parser's own limits rather than the Lean source: a
    /// language server shows source problems and may keep these for logs.
    pub fn is_parser_note(self) -> bool {
        matches!(
            self,
            ProblemKind::NestingTooDeep
                | ProblemKind::TreeSitterMissedDeclaration
                | ProblemKind::TreeSitterUnavailable
        )
    }
}

impl Outline {
    /// The declaration whose range contains `offset`.
    pub fn declaration_at(&self, offset: crate::position::ByteOffset) -> Option<&Declaration> {
        let idx = self
            .declarations
            .partition_point(|declaration| declaration.range.end <= offset);
        self.declarations
            .get(idx)
            .filter(|declaration| declaration.range.contains(offset))
    }
}

impl Declaration {
    /// Indices of the direct children of `parent` (`None`: the proof's top-level steps).
    pub fn children(&self, parent: Option<usize>) -> impl Iterator<Item = usize> + '_ {
        self.steps
            .iter()
            .enumerate()
            .filter(move |(_, step)| step.parent == parent)
            .map(|(idx, _)| idx)
    }

    /// The innermost step whose range contains `offset`.
    pub fn step_at(&self, offset: crate::position::ByteOffset) -> Option<usize> {
        // Preorder with properly nested ranges: the last step containing the offset is the
        // innermost one.
        self.steps
            .iter()
            .rposition(|step| step.range.contains(offset))
    }
}
