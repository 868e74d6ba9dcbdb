//! What a request is about (a `sorry`, a step, a whole proof) and where a candidate goes: the
//! insertion point, the text before it that the prompt ends with, and the document range the
//! candidate replaces.

use super::limits::BLOCK_INDENT;
use proofwright_lean::position::{ByteOffset, ByteRange};
use proofwright_lean::syntax::{Declaration, DeclarationKind, Outline, ProofKind};
use serde::Serialize;

/// The thing to prove or re-prove.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Target {
    /// A `sorry` or `admit`, by index into the outline's sorries.
    Sorry { sorry_idx: usize },
    /// Regenerate a step and the rest of its block.
    Step {
        declaration_idx: usize,
        step_idx: usize,
    },
    /// Propose a different single step in place of this one.
    Alternative {
        declaration_idx: usize,
        step_idx: usize,
    },
    /// The whole proof of a declaration.
    Proof { declaration_idx: usize },
}

/// Why a target cannot be worked on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    #[error("there is no sorry number {0} in the file")]
    NoSuchSorry(usize),
    #[error("there is no declaration number {0} in the file")]
    NoSuchDeclaration(usize),
    #[error("declaration number {declaration_idx} has no step number {step_idx}")]
    NoSuchStep {
        declaration_idx: usize,
        step_idx: usize,
    },
    #[error("this sorry is not inside a declaration; put it in a theorem, lemma or example")]
    SorryOutsideDeclaration,
    #[error("this declaration has no proof to work on (it needs `:=` and a body)")]
    NoProof,
    #[error("this sorry sits inside a line with more code after it; put it on its own line or after `by`")]
    SorryInsideLine,
}

impl Target {
    /// The natural target at a position: a `sorry` under or touching it, else the innermost
    /// step around it, else the proof of the declaration around it.
    pub fn at(outline: &Outline, offset: ByteOffset) -> Option<Target> {
        if let Some(sorry_idx) = outline
            .sorries
            .iter()
            .position(|sorry| sorry.range.start <= offset && offset <= sorry.range.end)
        {
            return Some(Target::Sorry { sorry_idx });
        }
        let declaration_idx = outline
            .declarations
            .iter()
            .position(|declaration| declaration.range.contains(offset))?;
        let declaration = &outline.declarations[declaration_idx];
        declaration.proof_range?;
        match declaration.step_at(offset) {
            Some(step_idx) => Some(Target::Step {
                declaration_idx,
                step_idx,
            }),
            None => Some(Target::Proof { declaration_idx }),
        }
    }

    pub fn declaration_idx(&self, outline: &Outline) -> Option<usize> {
        match *self {
            Target::Sorry { sorry_idx } => outline.sorries.get(sorry_idx)?.declaration,
            Target::Step {
                declaration_idx, ..
            }
            | Target::Alternative {
                declaration_idx, ..
            }
            | Target::Proof { declaration_idx } => Some(declaration_idx),
        }
    }
}

/// Whether a declaration is a proof to judge: a `theorem`, `lemma` or `example` with a body, or
/// any other declaration whose body still holds a `sorry` (an unfinished definition). Finished
/// definitions are programs, not proofs: the verifier has nothing to say about them.
pub fn is_proof(outline: &Outline, declaration_idx: usize) -> bool {
    let Some(declaration) = outline.declarations.get(declaration_idx) else {
        return false;
    };
    if declaration.proof_range.is_none() || !declaration.kind.has_proof() {
        return false;
    }
    match declaration.kind {
        DeclarationKind::Theorem | DeclarationKind::Lemma | DeclarationKind::Example => true,
        _ => outline
            .sorries
            .iter()
            .any(|sorry| sorry.declaration == Some(declaration_idx)),
    }
}

/// Where a candidate goes and what the prompt ends with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Insertion {
    pub declaration_idx: usize,
    /// The document range the candidate replaces.
    pub replace: ByteRange,
    /// Text put before the candidate in the replacement (a newline and indentation when
    /// `by sorry` on one line becomes a block).
    pub lead: String,
    /// The declaration from its first byte up to the insertion point, as the prompt shows it
    /// (with `lead` applied); it ends with the insertion line's indentation.
    pub declaration_prefix: String,
    /// The column (in characters) of the block the candidate forms: a continuation line left of
    /// it ends the candidate.
    pub block_column: usize,
    /// Whether the candidate must fit on the rest of one line (a `sorry` with code after it).
    pub single_line: bool,
    /// Keep only the candidate's first step (alternatives).
    pub single_step: bool,
    /// Text of earlier candidates' accepted steps that the candidate continues from (refinement).
    pub accepted: String,
}

impl Insertion {
    /// Resolves `target` in `text` with its `outline`.
    pub fn resolve(
        text: &str,
        outline: &Outline,
        target: &Target,
    ) -> Result<Insertion, TargetError> {
        match *target {
            Target::Sorry { sorry_idx } => {
                let sorry = outline
                    .sorries
                    .get(sorry_idx)
                    .ok_or(TargetError::NoSuchSorry(sorry_idx))?;
                let declaration_idx = sorry
                    .declaration
                    .ok_or(TargetError::SorryOutsideDeclaration)?;
                let declaration = declaration(outline, declaration_idx)?;
                at_token(text, declaration_idx, declaration, sorry.range, false)
            }
            Target::Step {
                declaration_idx,
                step_idx,
            }
            | Target::Alternative {
                declaration_idx,
                step_idx,
            } => {
                let declaration = declaration(outline, declaration_idx)?;
                let step = declaration
                    .steps
                    .get(step_idx)
                    .ok_or(TargetError::NoSuchStep {
                        declaration_idx,
                        step_idx,
                    })?;
                let single_step = matches!(target, Target::Alternative { .. });
                let replace = if single_step {
                    step.range
                } else {
                    // The step and its later siblings: the rest of its block.
                    let block_end = declaration
                        .steps
                        .iter()
                        .filter(|other| {
                            other.parent == step.parent && other.range.start >= step.range.start
                        })
                        .map(|other| other.range.end)
                        .max()
                        .unwrap_or(step.range.end);
                    ByteRange {
                        start: step.range.start,
                        end: block_end,
                    }
                };
                let mut insertion =
                    at_token(text, declaration_idx, declaration, replace, single_step)?;
                insertion.single_step = single_step;
                Ok(insertion)
            }
            Target::Proof { declaration_idx } => {
                let declaration = declaration(outline, declaration_idx)?;
                whole_proof(text, declaration_idx, declaration)
            }
        }
    }

    /// The same insertion continuing after `accepted` (steps kept from an earlier candidate).
    pub fn continuing_after(&self, accepted: &str) -> Insertion {
        let mut next = self.clone();
        next.accepted = accepted.to_owned();
        next
    }

    /// The replacement text for a candidate continuation.
    pub fn replacement_text(&self, continuation: &str) -> String {
        format!("{}{}{}", self.lead, self.accepted, continuation)
    }

    /// What the prompt ends with: the declaration prefix and the accepted steps.
    pub fn prompt_tail(&self) -> String {
        format!("{}{}", self.declaration_prefix, self.accepted)
    }
}

fn declaration(outline: &Outline, declaration_idx: usize) -> Result<&Declaration, TargetError> {
    outline
        .declarations
        .get(declaration_idx)
        .ok_or(TargetError::NoSuchDeclaration(declaration_idx))
}

/// Start of the line holding `offset`.
pub fn line_start(text: &str, offset: usize) -> usize {
    text[..offset].rfind('\n').map_or(0, |newline| newline + 1)
}

/// End of the line holding `offset` (before its `\n` or `\r\n`).
pub fn line_end(text: &str, offset: usize) -> usize {
    let end = text[offset..]
        .find('\n')
        .map_or(text.len(), |newline| offset + newline);
    if end > offset && text[..end].ends_with('\r') {
        end - 1
    } else {
        end
    }
}

/// The column of `offset` in characters.
pub fn column_of(text: &str, offset: usize) -> usize {
    text[line_start(text, offset)..offset].chars().count()
}

/// The indentation (leading spaces and tabs) of the line holding `offset`.
pub fn indentation_of(text: &str, offset: usize) -> &str {
    let start = line_start(text, offset);
    let line = &text[start..line_end(text, start)];
    &line[..line.len() - line.trim_start_matches([' ', '\t']).len()]
}

/// The text just before `offset` on its line ends with the keyword `by` (and spaces).
fn follows_by(text: &str, offset: usize) -> Option<usize> {
    let before = text[line_start(text, offset)..offset].trim_end_matches([' ', '\t']);
    let by_start = before.len().checked_sub(2)?;
    if !before.ends_with("by") {
        return None;
    }
    let is_word = |c: char| c.is_alphanumeric() || c == '_' || c == '\'' || c == '.';
    if before[..by_start].chars().next_back().is_some_and(is_word) {
        return None;
    }
    Some(line_start(text, offset) + before.len())
}

/// An insertion replacing `range` (a `sorry` token, a step, or a step and its later siblings).
fn at_token(
    text: &str,
    declaration_idx: usize,
    declaration: &Declaration,
    range: ByteRange,
    single_step: bool,
) -> Result<Insertion, TargetError> {
    let start = range.start.0;
    let end = range.end.0;
    let rest_of_line = &text[end..line_end(text, end)];
    let code_follows =
        !rest_of_line.trim().is_empty() && !rest_of_line.trim_start().starts_with("--");
    let before_on_line = &text[line_start(text, start)..start];
    let declaration_start = declaration.range.start.0;
    if before_on_line.trim().is_empty() {
        // Alone at the start of its line (after indentation): the candidate is a block there.
        return Ok(Insertion {
            declaration_idx,
            replace: range,
            lead: String::new(),
            declaration_prefix: text[declaration_start..start].to_owned(),
            block_column: column_of(text, start),
            single_line: code_follows,
            single_step,
            accepted: String::new(),
        });
    }
    if let Some(by_end) = follows_by(text, start) {
        if !code_follows {
            // `… by sorry` at the end of a line: open a block on the next line.
            let indentation = format!(
                "{}{}",
                indentation_of(text, start),
                " ".repeat(BLOCK_INDENT)
            );
            let lead = format!("\n{indentation}");
            return Ok(Insertion {
                declaration_idx,
                replace: ByteRange::new(by_end, end),
                declaration_prefix: format!("{}{lead}", &text[declaration_start..by_end]),
                lead,
                block_column: indentation.chars().count(),
                single_line: false,
                single_step,
                accepted: String::new(),
            });
        }
    }
    // Inside a term or after other code on the line.
    if code_follows {
        return Err(TargetError::SorryInsideLine);
    }
    Ok(Insertion {
        declaration_idx,
        replace: range,
        lead: String::new(),
        declaration_prefix: text[declaration_start..start].to_owned(),
        block_column: indentation_of(text, start).chars().count() + 1,
        single_line: false,
        single_step,
        accepted: String::new(),
    })
}

/// An insertion replacing a declaration's whole proof with a tactic block.
fn whole_proof(
    text: &str,
    declaration_idx: usize,
    declaration: &Declaration,
) -> Result<Insertion, TargetError> {
    let proof = declaration.proof_range.ok_or(TargetError::NoProof)?;
    let declaration_start = declaration.range.start.0;
    let indentation = format!(
        "{}{}",
        indentation_of(text, declaration.keyword_range.start.0),
        " ".repeat(BLOCK_INDENT)
    );
    let (replace, lead) = match declaration.proof_kind {
        Some(ProofKind::Tactic) if text[proof.start.0..].starts_with("by") => {
            let by_end = proof.start.0 + 2;
            (
                ByteRange::new(by_end, proof.end.0),
                format!("\n{indentation}"),
            )
        }
        Some(ProofKind::Tactic) | Some(ProofKind::Term) | None => {
            (proof, format!("by\n{indentation}"))
        }
        Some(ProofKind::Equations) | Some(ProofKind::Where) => return Err(TargetError::NoProof),
    };
    Ok(Insertion {
        declaration_idx,
        declaration_prefix: format!("{}{lead}", &text[declaration_start..replace.start.0]),
        replace,
        lead,
        block_column: indentation.chars().count(),
        single_line: false,
        single_step: false,
        accepted: String::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proofwright_lean::syntax::outline;

    fn resolve(text: &str, target: Target) -> Insertion {
        Insertion::resolve(text, &outline(text), &target).expect("resolves")
    }

    #[test]
    fn sorry_after_by_opens_a_block() {
        let text = "theorem t (n : Nat) : n + 0 = n := by sorry\n";
        let insertion = resolve(text, Target::Sorry { sorry_idx: 0 });
        assert_eq!(insertion.lead, "\n  ");
        assert_eq!(insertion.replace.slice(text), " sorry");
        assert_eq!(
            insertion.declaration_prefix,
            "theorem t (n : Nat) : n + 0 = n := by\n  "
        );
        assert_eq!(insertion.block_column, 2);
        let edited = super::super::outcome::TextReplacement {
            range: insertion.replace,
            new_text: insertion.replacement_text("simp"),
        }
        .apply(text);
        assert_eq!(edited, "theorem t (n : Nat) : n + 0 = n := by\n  simp\n");
    }

    #[test]
    fn sorry_on_its_own_line_is_replaced_in_place() {
        let text = "theorem t (p : Prop) (h : p) : p := by\n  have h2 : p := h\n  sorry\n";
        let insertion = resolve(text, Target::Sorry { sorry_idx: 0 });
        assert_eq!(insertion.lead, "");
        assert_eq!(insertion.replace.slice(text), "sorry");
        assert!(insertion
            .declaration_prefix
            .ends_with("have h2 : p := h\n  "));
        assert_eq!(insertion.block_column, 2);
    }

    #[test]
    fn nested_have_by_sorry_indents_past_its_line() {
        let text =
            "theorem t (p : Prop) (h : p) : p := by\n  have h2 : p := by sorry\n  exact h2\n";
        let insertion = resolve(text, Target::Sorry { sorry_idx: 0 });
        assert_eq!(insertion.lead, "\n    ");
        assert_eq!(insertion.block_column, 4);
    }

    #[test]
    fn sorry_inside_a_line_is_an_error() {
        let text = "theorem t (p q : Prop) (hp : p) (hq : q) : p ∧ q := ⟨sorry, hq⟩\n";
        let error = Insertion::resolve(text, &outline(text), &Target::Sorry { sorry_idx: 0 })
            .expect_err("cannot insert a block inside a line");
        assert_eq!(error, TargetError::SorryInsideLine);
    }

    #[test]
    fn term_proof_becomes_a_tactic_block() {
        let text = "theorem t : 1 + 1 = 2 := rfl\n";
        let insertion = resolve(text, Target::Proof { declaration_idx: 0 });
        assert_eq!(insertion.replace.slice(text), "rfl");
        assert_eq!(insertion.lead, "by\n  ");
        assert_eq!(
            insertion.declaration_prefix,
            "theorem t : 1 + 1 = 2 := by\n  "
        );
    }

    #[test]
    fn step_target_replaces_the_rest_of_its_block() {
        let text =
            "theorem t (a b : Nat) : a + b = b + a := by\n  skip\n  rw [Nat.add_comm]\n  rfl\n";
        let outline = outline(text);
        let step_idx = outline.declarations[0]
            .steps
            .iter()
            .position(|step| step.text.starts_with("rw"))
            .expect("rw step");
        let refine = resolve(
            text,
            Target::Step {
                declaration_idx: 0,
                step_idx,
            },
        );
        assert_eq!(refine.replace.slice(text), "rw [Nat.add_comm]\n  rfl");
        let alternative = resolve(
            text,
            Target::Alternative {
                declaration_idx: 0,
                step_idx,
            },
        );
        assert_eq!(alternative.replace.slice(text), "rw [Nat.add_comm]");
        assert!(alternative.single_step);
    }

    #[test]
    fn finished_definitions_are_not_proofs() {
        let text = "def double : Nat → Nat\n  | 0 => 0\n  | n + 1 => double n + 2\n\ndef todo : Nat := sorry\n\ntheorem t : True := trivial\n";
        let outline = outline(text);
        let judged: Vec<bool> = (0..3).map(|idx| is_proof(&outline, idx)).collect();
        assert_eq!(judged, [false, true, true]);
    }

    #[test]
    fn target_at_prefers_the_sorry_under_the_cursor() {
        let text = "theorem t : True := by\n  sorry\n";
        let outline = outline(text);
        let sorry_start = text.find("sorry").expect("sorry");
        assert_eq!(
            Target::at(&outline, ByteOffset(sorry_start + 2)),
            Some(Target::Sorry { sorry_idx: 0 })
        );
        assert_eq!(
            Target::at(&outline, ByteOffset(3)),
            Some(Target::Proof { declaration_idx: 0 })
        );
    }
}
