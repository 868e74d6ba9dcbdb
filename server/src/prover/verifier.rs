//! The neural verifier. Fast mode scores every step from teacher-forced token
//! log-probabilities (one prefill, no generation); deep mode has the model review the whole
//! proof several times and reads a score of 1, 0.5 or 0 and a list of issues from each review.

use super::model::TokenLogprob;
use super::outcome::{ReviewSummary, StepScore};
use proofwright_lean::position::ByteRange;
use proofwright_lean::syntax::Step;

/// A proof reviewed by deep mode is accepted when the mean review score reaches this.
pub const DEEP_ACCEPT_SCORE: f32 = 0.75;

/// Scores each step from the log-probabilities of the scored text's tokens.
///
/// `steps` are the declaration's steps (ranges in the document); `scored_range` is where the
/// scored text lies in the document (token offsets are relative to it). Only steps that start
/// inside `scored_range` are scored. A step's score is the geometric mean of the probabilities of
/// its own tokens (those not inside a child step); a step made only of children uses all of its
/// tokens.
pub fn score_steps(
    steps: &[Step],
    scored_range: ByteRange,
    tokens: &[TokenLogprob],
    scored_text: &str,
) -> Vec<(usize, StepScore)> {
    let absolute = |token: &TokenLogprob| scored_range.start.0 + token.start;
    let mut scores = Vec::new();
    for (step_idx, step) in steps.iter().enumerate() {
        if !scored_range.contains(step.range.start) {
            continue;
        }
        let children: Vec<ByteRange> = steps
            .iter()
            .filter(|child| child.parent == Some(step_idx))
            .map(|child| child.range)
            .collect();
        let in_step = |token: &&TokenLogprob| {
            step.range
                .contains(proofwright_lean::position::ByteOffset(absolute(token)))
        };
        let own: Vec<&TokenLogprob> = tokens
            .iter()
            .filter(in_step)
            .filter(|token| {
                let at = proofwright_lean::position::ByteOffset(absolute(token));
                !children.iter().any(|child| child.contains(at))
            })
            .collect();
        let chosen: Vec<&TokenLogprob> = if own.is_empty() {
            tokens.iter().filter(in_step).collect()
        } else {
            own
        };
        if chosen.is_empty() {
            continue;
        }
        let mean = chosen.iter().map(|token| token.logprob).sum::<f32>() / chosen.len() as f32;
        let weakest = chosen
            .iter()
            .min_by(|a, b| a.logprob.total_cmp(&b.logprob))
            .expect("non-empty");
        scores.push((
            step_idx,
            StepScore {
                range: step.range,
                score: mean.exp(),
                weakest_token: scored_text
                    .get(weakest.start..weakest.end)
                    .unwrap_or("")
                    .to_owned(),
                weakest_probability: weakest.logprob.exp(),
            },
        ));
    }
    scores
}

/// The score of a whole scored text (geometric-mean token probability and its least likely
/// token), with `range` as its place in the document.
pub fn overall_score(
    range: ByteRange,
    tokens: &[TokenLogprob],
    scored_text: &str,
) -> Option<StepScore> {
    let weakest = tokens
        .iter()
        .min_by(|a, b| a.logprob.total_cmp(&b.logprob))?;
    let mean = tokens.iter().map(|token| token.logprob).sum::<f32>() / tokens.len() as f32;
    Some(StepScore {
        range,
        score: mean.exp(),
        weakest_token: scored_text
            .get(weakest.start..weakest.end)
            .unwrap_or("")
            .to_owned(),
        weakest_probability: weakest.logprob.exp(),
    })
}

/// What one review said.
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedReview {
    /// 0, 0.5 or 1; `None` when the review gave no readable score.
    pub score: Option<f32>,
    pub issues: Vec<String>,
}

/// Reads a review leniently: the last `Score: x` or `\boxed{x}` with x one of 0, 0.5, 1 (also
/// written 0.0, 1.0, .5, 1/2) is the score; lines starting with `- `, `* ` or a number and `.`
/// or `)` before it are issues; `none` (any case, with punctuation) is no issue.
pub fn parse_review(text: &str) -> ParsedReview {
    let mut score = None;
    let mut score_line = None;
    for (line_idx, line) in text.lines().enumerate() {
        if let Some(value) = score_in_line(line) {
            score = Some(value);
            score_line = Some(line_idx);
        }
    }
    let issue_lines = text
        .lines()
        .take(score_line.unwrap_or(usize::MAX))
        .filter_map(issue_in_line)
        .filter(|issue| !is_none_marker(issue))
        .collect();
    ParsedReview {
        score,
        issues: issue_lines,
    }
}

fn score_in_line(line: &str) -> Option<f32> {
    let lower = line.to_ascii_lowercase();
    let mut found = None;
    for marker in ["score:", "score =", "\\boxed{"] {
        let mut search_from = 0;
        while let Some(at) = lower[search_from..].find(marker) {
            let value_start = search_from + at + marker.len();
            if let Some(value) = parse_score_value(&line[value_start..]) {
                found = Some(value);
            }
            search_from = value_start;
        }
    }
    found
}

fn parse_score_value(text: &str) -> Option<f32> {
    let token: String = text
        .trim_start()
        .trim_start_matches(['*', '$', '`'])
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.' || *c == '/')
        .collect();
    let value = match token.trim_end_matches('.') {
        "1" | "1.0" | "1.00" => 1.0,
        "0.5" | ".5" | "1/2" | "0.50" => 0.5,
        "0" | "0.0" | "0.00" => 0.0,
        _ => return None,
    };
    Some(value)
}

fn issue_in_line(line: &str) -> Option<String> {
    let trimmed = line.trim();
    let rest = if let Some(rest) = trimmed
        .strip_prefix("- ")
        .or_else(|| trimmed.strip_prefix("* "))
    {
        rest
    } else {
        let digits = trimmed.chars().take_while(char::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        let after = &trimmed[digits..];
        after
            .strip_prefix(". ")
            .or_else(|| after.strip_prefix(") "))?
    };
    let issue = rest.trim();
    (!issue.is_empty()).then(|| issue.to_owned())
}

fn is_none_marker(issue: &str) -> bool {
    let letters: String = issue
        .chars()
        .filter(|c| c.is_alphabetic() || c.is_whitespace())
        .collect::<String>()
        .to_lowercase();
    matches!(
        letters.trim(),
        "none" | "no issues" | "no issue" | "no issues found"
    )
}

/// Combines several reviews: the mean of the parsed scores, the issues of all of them
/// (deduplicated, first seen first).
pub fn summarise_reviews(reviews: &[ParsedReview]) -> ReviewSummary {
    let parsed: Vec<f32> = reviews.iter().filter_map(|review| review.score).collect();
    let mut issues: Vec<String> = Vec::new();
    for issue in reviews.iter().flat_map(|review| &review.issues) {
        if !issues.contains(issue) {
            issues.push(issue.clone());
        }
    }
    ReviewSummary {
        score: (!parsed.is_empty()).then(|| parsed.iter().sum::<f32>() / parsed.len() as f32),
        n_reviews: reviews.len(),
        n_parsed: parsed.len(),
        issues,
    }
}

/// The step an issue names, when it quotes a step's text in backticks.
pub fn step_named_by_issue(
    issue: &str,
    steps: &[Step],
    candidate_steps: &[usize],
) -> Option<usize> {
    let quoted: Vec<&str> = issue
        .split('`')
        .enumerate()
        .filter(|(part_idx, part)| part_idx % 2 == 1 && !part.trim().is_empty())
        .map(|(_, part)| part.trim())
        .collect();
    quoted.iter().find_map(|quote| {
        candidate_steps
            .iter()
            .copied()
            .filter(|&step_idx| steps[step_idx].text.contains(quote))
            .min_by_key(|&step_idx| steps[step_idx].text.len())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reviews_are_read_leniently() {
        let cases: [(&str, Option<f32>, &[&str]); 8] = [
            ("- none\nScore: 1\n", Some(1.0), &[]),
            (
                "- `simp` cannot close the goal\nScore: 0",
                Some(0.0),
                &["`simp` cannot close the goal"],
            ),
            (
                "1. the induction misses a case\n2) wrong lemma\nscore: 0.5",
                Some(0.5),
                &["the induction misses a case", "wrong lemma"],
            ),
            ("The proof is fine. \\boxed{1}", Some(1.0), &[]),
            ("Issues: none.\nFinal score: **1.0**", Some(1.0), &[]),
            ("- bad\nScore: 2\n", None, &["bad"]),
            ("rambling with no verdict", None, &[]),
            (
                "Score: 1\n- a later line is not an issue\nScore: 1/2",
                Some(0.5),
                &["a later line is not an issue"],
            ),
        ];
        for (text, score, issues) in cases {
            let review = parse_review(text);
            assert_eq!(review.score, score, "{text:?}");
            assert_eq!(review.issues, issues, "{text:?}");
        }
    }

    #[test]
    fn summary_averages_parsed_scores_only() {
        let summary = summarise_reviews(&[
            parse_review("- none\nScore: 1"),
            parse_review("- `rfl` fails\nScore: 0"),
            parse_review("no verdict"),
            parse_review("- `rfl` fails\nScore: 0.5"),
        ]);
        assert_eq!(summary.n_reviews, 4);
        assert_eq!(summary.n_parsed, 3);
        assert_eq!(summary.score, Some(0.5));
        assert_eq!(summary.issues, ["`rfl` fails"]);
    }

    #[test]
    fn step_scores_use_own_tokens_and_name_the_weakest() {
        let text = "theorem t : True ∧ True := by\n  constructor\n  · trivial\n  · trivial\n";
        let outline = proofwright_lean::syntax::outline(text);
        let steps = &outline.declarations[0].steps;
        let scored_start = text.find("constructor").expect("constructor");
        let scored_text = &text[scored_start..];
        let scored_range = ByteRange::new(scored_start, text.len());
        // One token per word (constructor, ·, trivial, ·, trivial); the last is unlikely.
        let mut tokens = Vec::new();
        let mut word_start = None;
        for (offset, character) in scored_text.char_indices().chain([(scored_text.len(), ' ')]) {
            match (character.is_whitespace(), word_start) {
                (false, None) => word_start = Some(offset),
                (true, Some(start)) => {
                    tokens.push(TokenLogprob {
                        start,
                        end: offset,
                        logprob: (0.9f32).ln(),
                    });
                    word_start = None;
                }
                _ => {}
            }
        }
        assert_eq!(tokens.len(), 5);
        tokens[4].logprob = (0.01f32).ln();
        let scores = score_steps(steps, scored_range, &tokens, scored_text);
        let by_text: Vec<(String, f32)> = scores
            .iter()
            .map(|(idx, score)| (steps[*idx].text.clone(), score.score))
            .collect();
        assert_eq!(by_text.len(), steps.len());
        let worst = scores
            .iter()
            .min_by(|a, b| a.1.score.total_cmp(&b.1.score))
            .expect("scores");
        assert_eq!(worst.1.weakest_token, "trivial");
        assert!((worst.1.weakest_probability - 0.01).abs() < 1e-4);
        // The second bullet's inner `trivial` is the one scored low, not the first bullet.
        assert!(worst.1.range.start.0 > text.find("· trivial").expect("bullet") + 3);
    }
}
