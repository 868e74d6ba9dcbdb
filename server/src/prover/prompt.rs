//! The prompts the prover sends, exactly as docs/prompts.md specifies them: completion prompts
//! (DeepSeek-Prover style) for proposals, refinements and deep reviews, and the context they
//! carry (import header, nearest preceding declarations within a token budget, the goal).

use super::target::Insertion;
use proofwright_lean::process::split_import_header;
use proofwright_lean::syntax::Outline;

/// The instruction that opens every completion prompt for a proof.
pub const COMPLETION_INSTRUCTION: &str = "Complete the following Lean 4 code:";
/// The fence that opens the code block; the model closes it with [`CODE_FENCE_CLOSE`].
pub const CODE_FENCE_OPEN: &str = "```lean4\n";
/// The stop string of completion prompts.
pub const CODE_FENCE_CLOSE: &str = "```";
/// The deep verifier's instruction.
pub const REVIEW_INSTRUCTION: &str = "Review the following Lean 4 proof. List each issue on its own line starting with \"- \", then give a final line \"Score: 1\" (correct), \"Score: 0.5\" (minor issues) or \"Score: 0\" (wrong).";
/// What a completion review prompt ends with.
pub const REVIEW_ANSWER_LEAD: &str = "Issues:\n";
/// The sentence that follows the code in a chat proposal.
pub const CHAT_PLAN_REQUEST: &str = "Before producing the Lean 4 code to formally prove the given theorem, provide a detailed proof plan outlining the main proof steps and strategies.";

/// The file around a target: the import header and the declarations before it that fit the
/// budget, as one string (`CONTEXT` in docs/prompts.md).
pub fn context_before(
    text: &str,
    outline: &Outline,
    declaration_idx: usize,
    token_budget: usize,
    count_tokens: &dyn Fn(&str) -> usize,
) -> String {
    let header = split_import_header(text).header;
    let mut context = String::new();
    if !header.trim().is_empty() {
        context.push_str(header.trim_end());
        context.push_str("\n\n");
    }
    let mut chosen: Vec<&str> = Vec::new();
    let mut spent = 0;
    for declaration in outline.declarations[..declaration_idx.min(outline.declarations.len())]
        .iter()
        .rev()
    {
        let declaration_text = declaration.range.slice(text);
        let cost = count_tokens(declaration_text);
        if spent + cost > token_budget {
            break;
        }
        spent += cost;
        chosen.push(declaration_text);
    }
    for declaration_text in chosen.into_iter().rev() {
        context.push_str(declaration_text);
        context.push_str("\n\n");
    }
    context
}

/// Feedback on an earlier attempt, for a refinement prompt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptFeedback {
    /// The whole declaration as the attempt wrote it.
    pub attempt: String,
    /// `(line index in attempt, reason)`, in any order.
    pub reasons: Vec<(usize, String)>,
}

impl AttemptFeedback {
    /// The comment placed before the declaration in a refinement prompt.
    pub fn as_comment(&self) -> String {
        let mut comment = String::from("/- An earlier attempt at this proof was rejected.\n");
        for (line_idx, line) in self.attempt.lines().enumerate() {
            comment.push_str("  ");
            comment.push_str(&neutralise_comment_end(line));
            comment.push('\n');
            for (_, reason) in self.reasons.iter().filter(|(at, _)| *at == line_idx) {
                let reason_line = reason.lines().next().unwrap_or("");
                comment.push_str("  -- ^ ");
                comment.push_str(&neutralise_comment_end(reason_line));
                comment.push('\n');
            }
        }
        comment.push_str("-/\n");
        comment
    }

    /// Lean's errors and the verifier's issues as a list, for a chat refinement message.
    pub fn as_list(&self) -> String {
        let mut sorted = self.reasons.clone();
        sorted.sort();
        sorted
            .iter()
            .map(|(line_idx, reason)| format!("- line {}: {reason}\n", line_idx + 1))
            .collect()
    }
}

/// `-/` inside quoted text would end the comment early.
fn neutralise_comment_end(text: &str) -> String {
    text.replace("-/", "- /")
}

/// The goal comment of docs/prompts.md inserted before the insertion point's indentation, when
/// the tail ends with a line holding only indentation.
fn with_goal(tail: &str, goal: Option<&str>) -> String {
    let Some(goal) = goal.filter(|goal| !goal.trim().is_empty()) else {
        return tail.to_owned();
    };
    let last_line_start = tail.rfind('\n').map_or(0, |newline| newline + 1);
    let indentation = &tail[last_line_start..];
    if !indentation.chars().all(|c| c == ' ') {
        return tail.to_owned();
    }
    let mut out = String::from(&tail[..last_line_start]);
    out.push_str(indentation);
    out.push_str("/- tactic state:\n");
    for line in goal.lines() {
        out.push_str(indentation);
        out.push_str(&neutralise_comment_end(line));
        out.push('\n');
    }
    out.push_str(indentation);
    out.push_str("-/\n");
    out.push_str(indentation);
    out
}

/// A completion prompt that proposes the code at `insertion`.
pub fn completion_proposal(
    context: &str,
    insertion: &Insertion,
    goal: Option<&str>,
    feedback: Option<&AttemptFeedback>,
) -> String {
    let mut prompt = format!("{COMPLETION_INSTRUCTION}\n\n{CODE_FENCE_OPEN}{context}");
    if let Some(feedback) = feedback {
        prompt.push_str(&feedback.as_comment());
    }
    prompt.push_str(&with_goal(&insertion.prompt_tail(), goal));
    prompt
}

/// The user message of a chat proposal: the declaration with its proof replaced by `sorry`.
pub fn chat_proposal_message(context: &str, declaration_with_sorry: &str) -> String {
    format!(
        "{COMPLETION_INSTRUCTION}\n\n{CODE_FENCE_OPEN}{context}{}\n{CODE_FENCE_CLOSE}\n\n{CHAT_PLAN_REQUEST}",
        declaration_with_sorry.trim_end()
    )
}

/// The user message of a chat refinement.
pub fn chat_refinement_message(feedback: &AttemptFeedback) -> String {
    format!(
        "Lean 4 and the verifier rejected this proof:\n{}\nWrite a corrected proof of the same theorem in a single ```lean4 block.",
        feedback.as_list()
    )
}

/// A deep-review prompt for the completion family; `with_answer_lead` adds the trailing
/// `Issues:` line (chat prompts leave it out).
pub fn review_prompt(context: &str, declaration: &str, with_answer_lead: bool) -> String {
    let mut prompt = format!(
        "{REVIEW_INSTRUCTION}\n\n{CODE_FENCE_OPEN}{context}{}\n{CODE_FENCE_CLOSE}\n\n",
        declaration.trim_end()
    );
    if with_answer_lead {
        prompt.push_str(REVIEW_ANSWER_LEAD);
    }
    prompt
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::prover::target::Target;
    use proofwright_lean::syntax::outline;

    fn words(text: &str) -> usize {
        text.split_whitespace().count()
    }

    #[test]
    fn proposal_prompt_matches_the_documented_example() {
        let text = "theorem add_zero_example (n : Nat) : n + 0 = n := by sorry\n";
        let outline = outline(text);
        let insertion =
            Insertion::resolve(text, &outline, &Target::Sorry { sorry_idx: 0 }).expect("resolves");
        let context = context_before(text, &outline, 0, 100, &words);
        assert_eq!(
            completion_proposal(&context, &insertion, None, None),
            "Complete the following Lean 4 code:\n\n```lean4\ntheorem add_zero_example (n : Nat) : n + 0 = n := by\n  "
        );
    }

    #[test]
    fn context_keeps_the_header_and_the_nearest_declarations_that_fit() {
        let text = "import Std\nimport Foo\n\ntheorem a : True := trivial\n\ntheorem b : True := trivial\n\ntheorem c : True := by\n  sorry\n";
        let outline = outline(text);
        // Each earlier theorem is 5 words; a budget of 7 keeps only `b`.
        let context = context_before(text, &outline, 2, 7, &words);
        assert_eq!(
            context,
            "import Std\nimport Foo\n\ntheorem b : True := trivial\n\n"
        );
        let everything = context_before(text, &outline, 2, 100, &words);
        assert!(everything.contains("theorem a"));
        assert!(everything.find("theorem a") < everything.find("theorem b"));
    }

    #[test]
    fn goal_and_feedback_go_where_the_format_says() {
        let text = "theorem t (a b : Nat) : a + b = b + a := by\n  sorry\n";
        let outline = outline(text);
        let insertion =
            Insertion::resolve(text, &outline, &Target::Sorry { sorry_idx: 0 }).expect("resolves");
        let feedback = AttemptFeedback {
            attempt: "theorem t (a b : Nat) : a + b = b + a := by\n  simp -/ odd".to_owned(),
            reasons: vec![(1, "Lean: simp made no progress".to_owned())],
        };
        let prompt = completion_proposal(
            "",
            &insertion,
            Some("a b : Nat\n⊢ a + b = b + a"),
            Some(&feedback),
        );
        let expected = concat!(
            "Complete the following Lean 4 code:\n\n```lean4\n",
            "/- An earlier attempt at this proof was rejected.\n",
            "  theorem t (a b : Nat) : a + b = b + a := by\n",
            "    simp - / odd\n",
            "  -- ^ Lean: simp made no progress\n",
            "-/\n",
            "theorem t (a b : Nat) : a + b = b + a := by\n",
            "  /- tactic state:\n",
            "  a b : Nat\n",
            "  ⊢ a + b = b + a\n",
            "  -/\n",
            "  ",
        );
        assert_eq!(prompt, expected);
    }

    #[test]
    fn review_prompt_ends_with_the_answer_lead() {
        let prompt = review_prompt("", "theorem t : True := trivial\n", true);
        assert!(prompt.starts_with(REVIEW_INSTRUCTION));
        assert!(prompt.ends_with("```lean4\ntheorem t : True := trivial\n```\n\nIssues:\n"));
    }
}
