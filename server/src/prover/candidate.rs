//! From a model's raw continuation to a candidate in the document: cut it where the block ends,
//! splice it in, and find its steps with the lean-bridge segmenter.

use super::outcome::TextReplacement;
use super::prompt::CODE_FENCE_CLOSE;
use super::target::Insertion;
use proofwright_lean::position::{ByteOffset, ByteRange};
use proofwright_lean::syntax::{outline, Outline, Step};

/// Cuts a raw continuation to the code that belongs at the insertion point: before the closing
/// fence, and before the first non-blank line indented left of the block. `None` when nothing
/// is left.
pub fn cut_continuation(raw: &str, insertion: &Insertion) -> Option<String> {
    let before_fence = raw
        .find(CODE_FENCE_CLOSE)
        .map_or(raw, |fence| &raw[..fence]);
    let mut kept: Vec<&str> = Vec::new();
    for (line_idx, line) in before_fence.split('\n').enumerate() {
        if line_idx == 0 {
            kept.push(line);
            if insertion.single_line {
                break;
            }
            continue;
        }
        let indentation = line.chars().take_while(|c| *c == ' ' || *c == '\t').count();
        if !line.trim().is_empty() && indentation < insertion.block_column {
            break;
        }
        kept.push(line);
    }
    let candidate = kept.join("\n");
    let candidate = candidate.trim_end();
    if candidate.trim().is_empty() {
        None
    } else {
        Some(candidate.to_owned())
    }
}

/// A candidate placed in the document.
#[derive(Debug, Clone)]
pub struct PlacedCandidate {
    /// The edit against the original document.
    pub replacement: TextReplacement,
    /// The document after the edit, and its outline.
    pub text: String,
    pub outline: Outline,
    /// The declaration holding the candidate, in `outline`.
    pub declaration_idx: usize,
    /// Where the model's own text lies in `text` (after the lead and accepted steps).
    pub generated: ByteRange,
}

impl PlacedCandidate {
    /// Splices `continuation` (already cut) into `document` at `insertion`.
    pub fn place(
        document: &str,
        insertion: &Insertion,
        continuation: &str,
    ) -> Option<PlacedCandidate> {
        let mut continuation = continuation.to_owned();
        if insertion.single_step {
            continuation = first_step_text(document, insertion, &continuation)?;
        }
        let replacement = TextReplacement {
            range: insertion.replace,
            new_text: insertion.replacement_text(&continuation),
        };
        let text = replacement.apply(document);
        let generated_start =
            insertion.replace.start.0 + insertion.lead.len() + insertion.accepted.len();
        let generated = ByteRange::new(generated_start, generated_start + continuation.len());
        let outline = outline(&text);
        let declaration_idx = outline
            .declarations
            .iter()
            .position(|declaration| declaration.range.contains(ByteOffset(generated_start)))?;
        Some(PlacedCandidate {
            replacement,
            text,
            outline,
            declaration_idx,
            generated,
        })
    }

    pub fn steps(&self) -> &[Step] {
        &self.outline.declarations[self.declaration_idx].steps
    }

    /// Indices of the steps that start inside the model's own text.
    pub fn generated_step_indices(&self) -> Vec<usize> {
        self.steps()
            .iter()
            .enumerate()
            .filter(|(_, step)| self.generated.contains(step.range.start))
            .map(|(idx, _)| idx)
            .collect()
    }

    /// The whole declaration as the candidate makes it.
    pub fn declaration_text(&self) -> &str {
        self.outline.declarations[self.declaration_idx]
            .range
            .slice(&self.text)
    }

    /// Whether the candidate itself leaves a `sorry` or `admit`.
    pub fn contains_sorry(&self) -> bool {
        let inserted = ByteRange::new(
            self.replacement.range.start.0,
            self.replacement.range.start.0 + self.replacement.new_text.len(),
        );
        self.outline
            .sorries
            .iter()
            .any(|sorry| inserted.encloses(&sorry.range))
    }
}

/// The first step of a continuation, found by outlining the document with it spliced in.
fn first_step_text(document: &str, insertion: &Insertion, continuation: &str) -> Option<String> {
    let replacement = TextReplacement {
        range: insertion.replace,
        new_text: insertion.replacement_text(continuation),
    };
    let text = replacement.apply(document);
    let start = insertion.replace.start.0 + insertion.lead.len() + insertion.accepted.len();
    let outline = outline(&text);
    let declaration = outline.declaration_at(ByteOffset(start))?;
    let first = declaration.steps.iter().find(|step| {
        step.range.start.0 >= start && step.range.start.0 < start + continuation.len()
    })?;
    let end = first.range.end.0.min(start + continuation.len());
    Some(text[start..end].to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::prover::target::Target;

    fn insertion(text: &str) -> Insertion {
        Insertion::resolve(text, &outline(text), &Target::Sorry { sorry_idx: 0 }).expect("resolves")
    }

    #[test]
    fn continuation_stops_at_the_fence_and_at_the_end_of_the_block() {
        let text = "theorem t (n : Nat) : n + 0 = n := by sorry\n";
        let insertion = insertion(text);
        assert_eq!(
            cut_continuation("simp\n  rfl\n```\ntheorem other", &insertion).as_deref(),
            Some("simp\n  rfl")
        );
        assert_eq!(
            cut_continuation("simp\ntheorem other : True := trivial", &insertion).as_deref(),
            Some("simp")
        );
        assert_eq!(cut_continuation("  \n```", &insertion), None);
    }

    #[test]
    fn placed_candidate_knows_its_steps() {
        let text = "theorem t (p q : Prop) (hp : p) (hq : q) : p ∧ q := by sorry\n";
        let insertion = insertion(text);
        let placed =
            PlacedCandidate::place(text, &insertion, "constructor\n  · exact hp\n  · exact hq")
                .expect("placed");
        assert_eq!(
            placed.text,
            "theorem t (p q : Prop) (hp : p) (hq : q) : p ∧ q := by\n  constructor\n  · exact hp\n  · exact hq\n"
        );
        let step_texts: Vec<&str> = placed
            .generated_step_indices()
            .into_iter()
            .map(|idx| placed.steps()[idx].text.as_str())
            .collect();
        assert_eq!(
            step_texts,
            [
                "constructor",
                "· exact hp",
                "exact hp",
                "· exact hq",
                "exact hq"
            ]
        );
        assert!(!placed.contains_sorry());
    }

    #[test]
    fn alternative_keeps_only_the_first_step() {
        let text = "theorem t (a b : Nat) : a + b = b + a := by\n  simp\n  rfl\n";
        let doc_outline = outline(text);
        let insertion = Insertion::resolve(
            text,
            &doc_outline,
            &Target::Alternative {
                declaration_idx: 0,
                step_idx: 0,
            },
        )
        .expect("resolves");
        let placed =
            PlacedCandidate::place(text, &insertion, "omega\n  exact foo").expect("placed");
        assert_eq!(placed.replacement.new_text, "omega");
        assert_eq!(
            placed.text,
            "theorem t (a b : Nat) : a + b = b + a := by\n  omega\n  rfl\n"
        );
    }
}
