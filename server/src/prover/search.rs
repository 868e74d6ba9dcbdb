//! The loop itself: propose candidates, judge each (neural verifier, then Lean, whose verdict
//! overrides), refine from the first flagged step with the feedback in the prompt, and stop at
//! the first lean-verified proof, or without Lean at the best neural score above threshold.

use super::cache::cache_key;
use super::candidate::{cut_continuation, PlacedCandidate};
use super::control::{ProgressEvent, WorkControl};
use super::lean::{check_declaration, DeclarationVerdict, LeanCheckError, LeanChecker};
use super::limits::{DEEP_REVIEW_MAX_NEW_TOKENS, NEXT_STEP_MAX_NEW_TOKENS, PROMPT_OVERHEAD_TOKENS};
use super::model::{sample_is_complete, PromptFamily};
use super::outcome::{
    CandidateReport, FlagReason, FlaggedStep, LeanFindings, ProofReport, Provenance, ReviewSummary,
    SearchEnd, SearchOutcome, StepScore, TextReplacement,
};
use super::prompt::{self, AttemptFeedback, CODE_FENCE_CLOSE};
use super::settings::{SearchSettings, VerifierMode};
use super::target::{column_of, line_start, Insertion, Target, TargetError};
use super::verifier::{
    overall_score, parse_review, score_steps, step_named_by_issue, summarise_reviews,
    DEEP_ACCEPT_SCORE,
};
use super::{ProofDocument, Prover};
use proofwright_lean::position::{ByteOffset, ByteRange};
use proofwright_lean::syntax::{Outline, Step};
use proofwright_model::SamplingParams;
use serde::Serialize;
use std::collections::HashSet;
use std::num::NonZeroUsize;
use std::sync::Arc;

/// A proposed next step for completion.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StepProposal {
    /// The document range the step replaces (from the line's first non-blank character to the
    /// cursor: what the user has typed of the step so far).
    pub replace: ByteRange,
    pub text: String,
    /// Geometric-mean token probability of the step.
    pub score: f32,
    /// `Some(true)` when Lean accepted the step (no error, only the `sorry` after it open);
    /// `None` when Lean did not check it.
    pub lean_accepted: Option<bool>,
}

/// A judged candidate and what it was made from, for refinement.
struct Judged {
    report: CandidateReport,
    placed: PlacedCandidate,
}

/// The verifier's and Lean's view of one piece of proof.
struct Judgement {
    provenance: Provenance,
    step_scores: Vec<StepScore>,
    review: Option<ReviewSummary>,
    lean: Option<LeanFindings>,
}

impl Prover {
    fn threshold(&self, settings: &SearchSettings) -> f32 {
        settings.flag_threshold.unwrap_or(self.model.flag_threshold)
    }

    /// The prompt context for a declaration: the configured token budget, shrunk so that the
    /// context, the declaration and `max_new_tokens` fit the model's context window.
    fn context(
        &self,
        document: &ProofDocument,
        declaration_idx: usize,
        settings: &SearchSettings,
    ) -> String {
        let declaration_tokens = self.model.count_tokens(
            document.outline.declarations[declaration_idx]
                .range
                .slice(document.text),
        );
        let room = self.model.context_length().saturating_sub(
            declaration_tokens + settings.max_new_tokens.get() + PROMPT_OVERHEAD_TOKENS,
        );
        prompt::context_before(
            document.text,
            document.outline,
            declaration_idx,
            settings.context_token_budget.min(room),
            &|text| self.model.count_tokens(text),
        )
    }

    /// Searches for a proof of `target`.
    pub fn search(
        &self,
        document: &ProofDocument,
        target: Target,
        settings: &SearchSettings,
        control: &WorkControl,
    ) -> anyhow::Result<SearchOutcome> {
        let first_insertion = Insertion::resolve(document.text, document.outline, &target)?;
        let declaration_idx = first_insertion.declaration_idx;
        let availability = self.lean.for_file(document.path)?;
        let checker = availability.checker().cloned();
        let context = self.context(document, declaration_idx, settings);
        let goal = match (&checker, goal_offset(document.outline, &target)) {
            (Some(checker), Some(offset)) if control.interruption().is_none() => self
                .lean_verdict(
                    checker,
                    document.text,
                    document.outline,
                    declaration_idx,
                    Some(offset),
                    control,
                )
                .ok()
                .and_then(|verdict| verdict.goal.clone()),
            _ => None,
        };
        let threshold = self.threshold(settings);
        let mut judged: Vec<Judged> = Vec::new();
        let mut seen: HashSet<String> = HashSet::new();
        let mut insertion = first_insertion.clone();
        let mut feedback: Option<AttemptFeedback> = None;
        let mut previous_answer: Option<String> = None;
        let mut end = SearchEnd::RoundsSpent;
        let mut rounds_run = 0;
        for round in 0..=settings.n_rounds {
            if let Some(interruption) = control.interruption() {
                end = SearchEnd::Interrupted(interruption);
                break;
            }
            rounds_run = round + 1;
            control.report(ProgressEvent::Round {
                round,
                n_rounds: settings.n_rounds,
            });
            let prompt_text = self.proposal_prompt(
                document,
                &context,
                &insertion,
                goal.as_deref(),
                feedback.as_ref(),
                previous_answer.as_deref(),
            )?;
            control.report(ProgressEvent::Generating {
                n_samples: settings.n_samples.get(),
            });
            let samples = self.proposals(
                &prompt_text,
                settings.n_samples,
                settings.max_new_tokens.get(),
                settings,
                settings.seed.wrapping_add(round as u64),
                control,
            )?;
            let mut placed_candidates = Vec::new();
            for (sample_idx, raw) in samples.iter().enumerate() {
                let Some(raw) = raw else { continue };
                let continuation = match self.model.family {
                    PromptFamily::Completion => cut_continuation(raw, &insertion),
                    PromptFamily::Chat => chat_continuation(raw, document, &first_insertion),
                };
                let Some(continuation) = continuation else {
                    continue;
                };
                let place_at = match self.model.family {
                    PromptFamily::Completion => &insertion,
                    PromptFamily::Chat => &chat_insertion(document, declaration_idx)?,
                };
                let Some(placed) = PlacedCandidate::place(document.text, place_at, &continuation)
                else {
                    continue;
                };
                if seen.insert(placed.replacement.new_text.clone()) {
                    placed_candidates.push((sample_idx, placed, raw.clone()));
                }
            }
            let n_candidates = placed_candidates.len();
            let mut round_answers = Vec::new();
            for (candidate_idx, (sample_idx, placed, raw)) in
                placed_candidates.into_iter().enumerate()
            {
                if let Some(interruption) = control.interruption() {
                    end = SearchEnd::Interrupted(interruption);
                    break;
                }
                control.report(ProgressEvent::Verifying {
                    candidate_idx,
                    n_candidates,
                });
                let generated = placed.generated;
                let judgement = self.judge(
                    &placed.text,
                    &placed.outline,
                    placed.declaration_idx,
                    generated,
                    &context,
                    placed.contains_sorry(),
                    checker.as_deref(),
                    settings,
                    threshold,
                    (candidate_idx, n_candidates),
                    control,
                )?;
                round_answers.push((judgement.provenance.clone(), raw));
                judged.push(Judged {
                    report: CandidateReport {
                        replacement: placed.replacement.clone(),
                        provenance: judgement.provenance,
                        step_scores: judgement.step_scores,
                        review: judgement.review,
                        lean: judgement.lean,
                        round,
                        sample_idx,
                    },
                    placed,
                });
            }
            // Among flagged candidates, one Lean accepts apart from the declaration's other
            // sorries comes first: it is as good as this target can get.
            let accepted_apart = |candidate: &Judged| candidate.report.is_accepted_apart();
            judged.sort_by(|a, b| {
                a.report
                    .provenance
                    .compare_with_kind_first(
                        &b.report.provenance,
                        accepted_apart(b).cmp(&accepted_apart(a)),
                    )
                    .then(a.report.round.cmp(&b.report.round))
                    .then(a.report.sample_idx.cmp(&b.report.sample_idx))
            });
            if matches!(end, SearchEnd::Interrupted(_)) {
                break;
            }
            match judged.first().map(|best| &best.report.provenance) {
                Some(super::Provenance::LeanVerified) => {
                    end = SearchEnd::LeanVerified;
                    break;
                }
                Some(super::Provenance::Flagged { .. })
                    if judged.first().is_some_and(accepted_apart) =>
                {
                    end = SearchEnd::AcceptedApart;
                    break;
                }
                Some(super::Provenance::Neural { score })
                    if checker.is_none() && *score >= threshold =>
                {
                    end = SearchEnd::NeuralAccepted;
                    break;
                }
                _ => {}
            }
            // Refine from the most promising flagged candidate so far.
            if let Some(basis) = judged
                .iter()
                .find(|candidate| matches!(candidate.report.provenance, Provenance::Flagged { .. }))
            {
                feedback = Some(feedback_for(basis));
                insertion = first_insertion
                    .continuing_after(&accepted_before_first_flag(basis, &first_insertion));
                previous_answer = round_answers
                    .iter()
                    .find(|(provenance, _)| *provenance == basis.report.provenance)
                    .map(|(_, raw)| raw.clone());
            }
        }
        Ok(SearchOutcome {
            candidates: judged
                .into_iter()
                .map(|candidate| candidate.report)
                .collect(),
            rounds_run,
            end,
            lean_checked: checker.is_some(),
        })
    }

    /// Judges the proof of declaration `declaration_idx` as it stands in the file.
    pub fn verify(
        &self,
        document: &ProofDocument,
        declaration_idx: usize,
        settings: &SearchSettings,
        control: &WorkControl,
    ) -> anyhow::Result<ProofReport> {
        let declaration = document
            .outline
            .declarations
            .get(declaration_idx)
            .ok_or(TargetError::NoSuchDeclaration(declaration_idx))?;
        let proof_range = declaration.proof_range.ok_or(TargetError::NoProof)?;
        let availability = self.lean.for_file(document.path)?;
        let checker = availability.checker().cloned();
        let context = self.context(document, declaration_idx, settings);
        // The scored text starts at the first step (or the proof), so the prompt ends where a
        // proposal prompt would.
        let scored_start = declaration
            .steps
            .first()
            .map_or(proof_range.start, |step| step.range.start);
        let has_sorry = document
            .outline
            .sorries
            .iter()
            .any(|sorry| sorry.declaration == Some(declaration_idx));
        let judgement = self.judge(
            document.text,
            document.outline,
            declaration_idx,
            ByteRange {
                start: scored_start,
                end: proof_range.end,
            },
            &context,
            has_sorry,
            checker.as_deref(),
            settings,
            self.threshold(settings),
            (0, 1),
            control,
        )?;
        Ok(ProofReport {
            declaration_idx,
            name: declaration.name.clone(),
            proof_range,
            provenance: judgement.provenance,
            step_scores: judgement.step_scores,
            review: judgement.review,
            lean: judgement.lean,
        })
    }

    /// Proposes next steps for the tactic block at `offset` (completion). The cursor must be on
    /// a line holding only the start of a step.
    pub fn propose_next_steps(
        &self,
        document: &ProofDocument,
        offset: usize,
        n_proposals: NonZeroUsize,
        settings: &SearchSettings,
        control: &WorkControl,
    ) -> anyhow::Result<Vec<StepProposal>> {
        let text = document.text;
        let declaration_idx =
            tactic_block_at(text, document.outline, offset).ok_or(TargetError::NoProof)?;
        let declaration = &document.outline.declarations[declaration_idx];
        let line_begin = line_start(text, offset);
        let typed_start = line_begin + text[line_begin..offset].len()
            - text[line_begin..offset]
                .trim_start_matches([' ', '\t'])
                .len();
        if text[line_begin..typed_start]
            .chars()
            .any(|c| !c.is_whitespace())
        {
            return Ok(Vec::new());
        }
        let insertion = Insertion {
            declaration_idx,
            replace: ByteRange::new(typed_start, offset),
            lead: String::new(),
            declaration_prefix: text[declaration.range.start.0..typed_start].to_owned(),
            block_column: column_of(text, typed_start),
            single_line: false,
            single_step: true,
            accepted: String::new(),
        };
        let context = self.context(document, declaration_idx, settings);
        let prompt_text = prompt::completion_proposal(&context, &insertion, None, None);
        let samples = self.proposals(
            &prompt_text,
            n_proposals,
            NEXT_STEP_MAX_NEW_TOKENS,
            settings,
            settings.seed,
            control,
        )?;
        let availability = self.lean.for_file(document.path)?;
        let checker = availability.checker().cloned();
        let mut proposals: Vec<StepProposal> = Vec::new();
        for raw in samples.iter().flatten() {
            if control.interruption().is_some() {
                break;
            }
            let Some(continuation) = cut_continuation(raw, &insertion) else {
                continue;
            };
            let Some(placed) = PlacedCandidate::place(text, &insertion, &continuation) else {
                continue;
            };
            let step_text = placed.replacement.new_text.clone();
            if step_text.trim().is_empty() || proposals.iter().any(|known| known.text == step_text)
            {
                continue;
            }
            let tokens = self.proof_token_scores(&prompt_text, &step_text)?;
            let score = overall_score(insertion.replace, &tokens, &step_text)
                .map_or(0.0, |whole| whole.score);
            let lean_accepted = match &checker {
                Some(checker) => {
                    // The step followed by `sorry` for whatever remains: accepted when Lean
                    // reports no error in the declaration.
                    let indentation = " ".repeat(insertion.block_column);
                    let with_rest = TextReplacement {
                        range: ByteRange::new(typed_start, offset),
                        new_text: format!("{step_text}\n{indentation}sorry"),
                    }
                    .apply(text);
                    let outline = proofwright_lean::syntax::outline(&with_rest);
                    let verdict = outline
                        .declaration_at(ByteOffset(typed_start))
                        .and_then(|_| {
                            outline.declarations.iter().position(|candidate| {
                                candidate.range.contains(ByteOffset(typed_start))
                            })
                        })
                        .map(|idx| {
                            self.lean_verdict(checker, &with_rest, &outline, idx, None, control)
                        });
                    match verdict {
                        Some(Ok(verdict)) => Some(verdict.findings.errors.is_empty()),
                        // Stopped before Lean answered: nothing is known about the step.
                        Some(Err(LeanCheckError::Interrupted(_))) => None,
                        Some(Err(LeanCheckError::Lean(_))) | None => Some(false),
                    }
                }
                None => None,
            };
            proposals.push(StepProposal {
                replace: insertion.replace,
                text: step_text,
                score,
                lean_accepted,
            });
        }
        proposals.sort_by(|a, b| {
            b.lean_accepted
                .unwrap_or(false)
                .cmp(&a.lean_accepted.unwrap_or(false))
                .then(b.score.total_cmp(&a.score))
        });
        Ok(proposals)
    }

    fn proposal_prompt(
        &self,
        document: &ProofDocument,
        context: &str,
        insertion: &Insertion,
        goal: Option<&str>,
        feedback: Option<&AttemptFeedback>,
        previous_answer: Option<&str>,
    ) -> anyhow::Result<String> {
        match self.model.family {
            PromptFamily::Completion => Ok(prompt::completion_proposal(
                context, insertion, goal, feedback,
            )),
            PromptFamily::Chat => {
                let declaration = &document.outline.declarations[insertion.declaration_idx];
                let with_sorry = TextReplacement {
                    range: insertion.replace,
                    new_text: format!("{}sorry", insertion.lead),
                }
                .apply(document.text);
                let end = declaration.range.end.0 + with_sorry.len() - document.text.len();
                let declaration_text = &with_sorry[declaration.range.start.0..end];
                let mut messages = vec![(
                    "user",
                    prompt::chat_proposal_message(context, declaration_text),
                )];
                if let (Some(feedback), Some(answer)) = (feedback, previous_answer) {
                    messages.push(("assistant", answer.to_owned()));
                    messages.push(("user", prompt::chat_refinement_message(feedback)));
                }
                self.model.render_chat(&messages)
            }
        }
    }

    /// Samples (cached when every sample finished); `None` for a sample cut off by cancellation.
    fn proposals(
        &self,
        prompt_text: &str,
        n_samples: NonZeroUsize,
        max_new_tokens: usize,
        settings: &SearchSettings,
        seed: u64,
        control: &WorkControl,
    ) -> anyhow::Result<Arc<Vec<Option<String>>>> {
        let key = cache_key(&[
            &self.model.cache_identity(),
            &prompt_text,
            &n_samples.get(),
            &max_new_tokens,
            &settings.temperature,
            &settings.top_p,
            &seed,
        ]);
        if let Some(cached) = self.caches.proposals.get(key) {
            return Ok(Arc::new(cached.iter().cloned().map(Some).collect()));
        }
        let stop_strings: &[&str] = match self.model.family {
            PromptFamily::Completion => &[CODE_FENCE_CLOSE],
            PromptFamily::Chat => &[],
        };
        let samples = self.model.generate(
            prompt_text,
            n_samples,
            max_new_tokens,
            SamplingParams {
                temperature: settings.temperature,
                top_k: 0,
                top_p: settings.top_p,
                seed,
            },
            stop_strings,
            control,
        )?;
        if samples.iter().all(sample_is_complete) {
            self.caches.proposals.put(
                key,
                samples.iter().map(|sample| sample.text.clone()).collect(),
            );
        }
        Ok(Arc::new(
            samples
                .into_iter()
                .map(|sample| sample_is_complete(&sample).then_some(sample.text))
                .collect(),
        ))
    }

    fn token_scores(
        &self,
        prompt_text: &str,
        continuation: &str,
    ) -> anyhow::Result<Arc<Vec<super::model::TokenLogprob>>> {
        let key = cache_key(&[&self.model.cache_identity(), &prompt_text, &continuation]);
        if let Some(cached) = self.caches.token_scores.get(key) {
            return Ok(cached);
        }
        let tokens = self.model.token_logprobs(prompt_text, continuation)?;
        Ok(self.caches.token_scores.put(key, tokens))
    }

    /// The tokens of a proof text as the model would write it in a completion prompt: followed
    /// by the line break and closing fence that end it. Tokenizers merge a closing bracket with
    /// the line break after it (`]\n` is one token in Qwen's), so scoring the text alone would
    /// end on a token the model never writes there. Tokens that start after the proof are left
    /// out; one that straddles its end counts for it.
    fn proof_token_scores(
        &self,
        prompt_text: &str,
        proof_text: &str,
    ) -> anyhow::Result<Vec<super::model::TokenLogprob>> {
        let continuation = format!("{proof_text}\n{CODE_FENCE_CLOSE}");
        let tokens = self.token_scores(prompt_text, &continuation)?;
        Ok(tokens
            .iter()
            .filter(|token| token.start < proof_text.len())
            .map(|token| super::model::TokenLogprob {
                end: token.end.min(proof_text.len()),
                ..token.clone()
            })
            .collect())
    }

    pub(super) fn lean_verdict(
        &self,
        checker: &LeanChecker,
        text: &str,
        outline: &Outline,
        declaration_idx: usize,
        goal_at: Option<usize>,
        control: &WorkControl,
    ) -> Result<Arc<DeclarationVerdict>, LeanCheckError> {
        let declaration_end = outline.declarations[declaration_idx].range.end.0;
        let key = cache_key(&[&checker.description, &&text[..declaration_end], &goal_at]);
        if let Some(cached) = self.caches.lean.get(key) {
            return Ok(cached);
        }
        let verdict = check_declaration(checker, text, outline, declaration_idx, goal_at, control)?;
        Ok(self.caches.lean.put(key, verdict))
    }

    fn review(
        &self,
        context: &str,
        declaration_text: &str,
        settings: &SearchSettings,
        control: &WorkControl,
    ) -> anyhow::Result<Arc<ReviewSummary>> {
        let prompt_text = match self.model.family {
            PromptFamily::Completion => prompt::review_prompt(context, declaration_text, true),
            PromptFamily::Chat => self.model.render_chat(&[(
                "user",
                prompt::review_prompt(context, declaration_text, false),
            )])?,
        };
        let key = cache_key(&[
            &self.model.cache_identity(),
            &prompt_text,
            &settings.deep_reviews.get(),
            &settings.seed,
        ]);
        if let Some(cached) = self.caches.reviews.get(key) {
            return Ok(cached);
        }
        let reviews = self.model.generate(
            &prompt_text,
            settings.deep_reviews,
            DEEP_REVIEW_MAX_NEW_TOKENS,
            SamplingParams {
                temperature: settings.temperature,
                top_k: 0,
                top_p: settings.top_p,
                seed: settings.seed,
            },
            &[CODE_FENCE_CLOSE],
            control,
        )?;
        let complete = reviews.iter().all(sample_is_complete);
        let parsed: Vec<_> = reviews
            .iter()
            .filter(|review| sample_is_complete(review))
            .map(|review| parse_review(&review.text))
            .collect();
        let summary = summarise_reviews(&parsed);
        Ok(if complete {
            self.caches.reviews.put(key, summary)
        } else {
            Arc::new(summary)
        })
    }

    /// Judges the proof text in `judged_range` of declaration `declaration_idx` of `text`.
    #[allow(clippy::too_many_arguments)]
    fn judge(
        &self,
        text: &str,
        outline: &Outline,
        declaration_idx: usize,
        judged_range: ByteRange,
        context: &str,
        has_sorry: bool,
        checker: Option<&LeanChecker>,
        settings: &SearchSettings,
        threshold: f32,
        (candidate_idx, n_candidates): (usize, usize),
        control: &WorkControl,
    ) -> anyhow::Result<Judgement> {
        let declaration = &outline.declarations[declaration_idx];
        let steps = &declaration.steps;
        let judged_steps: Vec<usize> = steps
            .iter()
            .enumerate()
            .filter(|(_, step)| judged_range.contains(step.range.start))
            .map(|(idx, _)| idx)
            .collect();
        let prompt_prefix = prompt::completion_proposal(
            context,
            &bare_insertion(
                text,
                declaration_idx,
                declaration.range.start.0,
                judged_range.start.0,
            ),
            None,
            None,
        );
        let judged_text = judged_range.slice(text);
        let (whole, step_scores, review) = match settings.verifier {
            VerifierMode::Fast => {
                let tokens = self.proof_token_scores(&prompt_prefix, judged_text)?;
                let step_scores = score_steps(steps, judged_range, &tokens, judged_text)
                    .into_iter()
                    .map(|(_, score)| score)
                    .collect();
                (
                    overall_score(judged_range, &tokens, judged_text),
                    step_scores,
                    None,
                )
            }
            VerifierMode::Deep => {
                let summary =
                    self.review(context, declaration.range.slice(text), settings, control)?;
                (None, Vec::new(), Some((*summary).clone()))
            }
        };
        let lean = match checker {
            Some(checker) if control.interruption().is_none() => {
                control.report(ProgressEvent::CheckingWithLean {
                    candidate_idx,
                    n_candidates,
                });
                match self.lean_verdict(checker, text, outline, declaration_idx, None, control) {
                    Ok(verdict) => Some(verdict.findings.clone()),
                    // Stopped while Lean was checking: judged as if Lean had not been asked.
                    Err(LeanCheckError::Interrupted(_)) => None,
                    Err(LeanCheckError::Lean(error)) => Some(LeanFindings {
                        verified: false,
                        reasons: vec![format!("lean could not check the proof: {error}")],
                        errors: Vec::new(),
                        only_sorries_in_the_way: false,
                    }),
                }
            }
            _ => None,
        };
        let provenance = decide(
            text,
            steps,
            &judged_steps,
            judged_range,
            has_sorry,
            whole.as_ref(),
            &step_scores,
            review.as_ref(),
            lean.as_ref(),
            threshold,
        );
        Ok(Judgement {
            provenance,
            step_scores,
            review,
            lean,
        })
    }
}

/// The declaration whose tactic proof the cursor continues: inside its proof, or on a line
/// after its last step (only blank text in between, indented past the declaration, before the
/// next declaration), where the next step would be typed.
pub fn tactic_block_at(text: &str, outline: &Outline, offset: usize) -> Option<usize> {
    let idx = outline.declarations.iter().rposition(|declaration| {
        declaration
            .proof_range
            .is_some_and(|proof| proof.start.0 <= offset)
    })?;
    let declaration = &outline.declarations[idx];
    let proof_end = declaration.proof_range?.end.0.max(declaration.range.end.0);
    if offset <= proof_end {
        return Some(idx);
    }
    let blank_since_proof = text.get(proof_end..offset)?.trim().is_empty();
    let before_next = outline
        .declarations
        .get(idx + 1)
        .is_none_or(|next| offset < next.range.start.0);
    let indented = column_of(text, offset) > column_of(text, declaration.keyword_range.start.0)
        && text[line_start(text, offset)..offset].trim().is_empty();
    (blank_since_proof && before_next && indented).then_some(idx)
}

/// An insertion at `at` in declaration `declaration_idx`, for building the scoring prompt (the
/// text before the judged proof, as a proposal prompt would end).
fn bare_insertion(
    text: &str,
    declaration_idx: usize,
    declaration_start: usize,
    at: usize,
) -> Insertion {
    Insertion {
        declaration_idx,
        replace: ByteRange::new(at, at),
        lead: String::new(),
        declaration_prefix: text[declaration_start..at].to_owned(),
        block_column: column_of(text, at),
        single_line: false,
        single_step: false,
        accepted: String::new(),
    }
}

/// The provenance from everything known about a proof. Lean's verdict, when there is one,
/// overrides the neural one.
#[allow(clippy::too_many_arguments)]
fn decide(
    text: &str,
    steps: &[Step],
    judged_steps: &[usize],
    judged_range: ByteRange,
    has_sorry: bool,
    whole_score: Option<&StepScore>,
    step_scores: &[StepScore],
    review: Option<&ReviewSummary>,
    lean: Option<&LeanFindings>,
    threshold: f32,
) -> Provenance {
    let overall = whole_score.map(|whole| whole.score);
    if has_sorry {
        return Provenance::Unproved {
            reason: "a sorry is left in the proof".to_owned(),
        };
    }
    let whole = |reasons: Vec<FlagReason>| FlaggedStep {
        range: judged_range,
        text: judged_range.slice(text).to_owned(),
        score: overall,
        reasons,
    };
    if let Some(lean) = lean {
        if lean.verified {
            return Provenance::LeanVerified;
        }
        let mut flagged: Vec<FlaggedStep> = Vec::new();
        for error in &lean.errors {
            let reason = FlagReason::LeanError {
                message: error.message.clone(),
            };
            let range = error
                .step
                .map_or(judged_range, |step_idx| steps[step_idx].range);
            match flagged.iter_mut().find(|known| known.range == range) {
                Some(known) => known.reasons.push(reason),
                None => flagged.push(FlaggedStep {
                    range,
                    text: range.slice(text).to_owned(),
                    score: step_scores
                        .iter()
                        .find(|score| score.range == range)
                        .map(|score| score.score),
                    reasons: vec![reason],
                }),
            }
        }
        if lean.errors.is_empty() {
            flagged.push(whole(
                lean.reasons
                    .iter()
                    .map(|reason| FlagReason::LeanError {
                        message: reason.clone(),
                    })
                    .collect(),
            ));
        }
        flagged.sort_by_key(|step| step.range.start);
        return Provenance::Flagged {
            score: overall,
            flagged,
        };
    }
    if let Some(review) = review {
        let score = review.score;
        let accepted = score.is_some_and(|score| score >= DEEP_ACCEPT_SCORE);
        if accepted {
            return Provenance::Neural {
                score: score.unwrap_or(0.0),
            };
        }
        let mut flagged: Vec<FlaggedStep> = Vec::new();
        let mut unplaced = vec![match score {
            Some(score) => FlagReason::LowReviewScore {
                score,
                threshold: DEEP_ACCEPT_SCORE,
            },
            None => FlagReason::ReviewIssue {
                issue: format!(
                    "none of the {} reviews gave a readable score",
                    review.n_reviews
                ),
            },
        }];
        for issue in &review.issues {
            let reason = FlagReason::ReviewIssue {
                issue: issue.clone(),
            };
            match step_named_by_issue(issue, steps, judged_steps) {
                Some(step_idx) => flagged.push(FlaggedStep {
                    range: steps[step_idx].range,
                    text: steps[step_idx].text.clone(),
                    score: None,
                    reasons: vec![reason],
                }),
                None => unplaced.push(reason),
            }
        }
        // Reasons about the whole proof join the entry of a step that spans all of it.
        let whole_entry = whole(unplaced);
        match flagged
            .iter_mut()
            .find(|step| step.range == whole_entry.range)
        {
            Some(step) => step.reasons.extend(whole_entry.reasons),
            None => flagged.push(whole_entry),
        }
        flagged.sort_by_key(|step| step.range.start);
        return Provenance::Flagged { score, flagged };
    }
    let low: Vec<FlaggedStep> = step_scores
        .iter()
        .filter(|score| score.score < threshold)
        .filter_map(|score| {
            let step_idx = steps.iter().position(|step| step.range == score.range)?;
            // A parent whose low score comes from a flagged child is not flagged twice.
            let has_low_child = step_scores.iter().any(|other| {
                other.score < threshold
                    && steps
                        .iter()
                        .position(|step| step.range == other.range)
                        .is_some_and(|other_idx| steps[other_idx].parent == Some(step_idx))
            });
            (!has_low_child || score.weakest_probability < threshold).then(|| FlaggedStep {
                range: score.range,
                text: steps[step_idx].text.clone(),
                score: Some(score.score),
                reasons: vec![FlagReason::LowConfidence {
                    score: score.score,
                    threshold,
                    weakest_token: score.weakest_token.clone(),
                    weakest_probability: score.weakest_probability,
                }],
            })
        })
        .collect();
    match (low.is_empty(), overall) {
        // A proof without steps (a term) is judged by its overall score.
        (true, Some(score)) if step_scores.is_empty() && score < threshold => {
            let weakest = whole_score.expect("an overall score");
            Provenance::Flagged {
                score: overall,
                flagged: vec![whole(vec![FlagReason::LowConfidence {
                    score,
                    threshold,
                    weakest_token: weakest.weakest_token.clone(),
                    weakest_probability: weakest.weakest_probability,
                }])],
            }
        }
        (true, Some(score)) => Provenance::Neural { score },
        (true, None) => Provenance::Unproved {
            reason: "the proof is empty".to_owned(),
        },
        (false, _) => Provenance::Flagged {
            score: overall,
            flagged: low,
        },
    }
}

/// Where Lean's goal helps the prompt: at a `sorry`, or at the start of the step regenerated.
fn goal_offset(outline: &Outline, target: &Target) -> Option<usize> {
    match *target {
        Target::Sorry { sorry_idx } => Some(outline.sorries.get(sorry_idx)?.range.start.0),
        Target::Step {
            declaration_idx,
            step_idx,
        }
        | Target::Alternative {
            declaration_idx,
            step_idx,
        } => Some(
            outline
                .declarations
                .get(declaration_idx)?
                .steps
                .get(step_idx)?
                .range
                .start
                .0,
        ),
        Target::Proof { .. } => None,
    }
}

/// Feedback for a refinement prompt from a flagged candidate: its declaration, with each reason
/// at the line it points at.
fn feedback_for(basis: &Judged) -> AttemptFeedback {
    let placed = &basis.placed;
    let declaration_start = placed.outline.declarations[placed.declaration_idx]
        .range
        .start
        .0;
    let reasons = basis
        .report
        .provenance
        .flagged_steps()
        .iter()
        .flat_map(|step| {
            let line_idx = placed.text
                [declaration_start..step.range.start.0.max(declaration_start)]
                .matches('\n')
                .count();
            step.reasons
                .iter()
                .map(move |reason| (line_idx, reason.describe()))
        })
        .collect();
    AttemptFeedback {
        attempt: placed.declaration_text().to_owned(),
        reasons,
    }
}

/// The candidate's text before its first flagged step: kept when regenerating.
fn accepted_before_first_flag(basis: &Judged, first_insertion: &Insertion) -> String {
    let placed = &basis.placed;
    let inserted_start = placed.replacement.range.start.0 + first_insertion.lead.len();
    let first_flag = basis
        .report
        .provenance
        .flagged_steps()
        .iter()
        .map(|step| step.range.start.0)
        .min()
        .unwrap_or(inserted_start);
    if first_flag <= inserted_start {
        return String::new();
    }
    let end = first_flag.min(placed.generated.end.0);
    placed.text[inserted_start..end].to_owned()
}

/// Where a chat answer's proof goes: the whole proof of the declaration.
fn chat_insertion(document: &ProofDocument, declaration_idx: usize) -> anyhow::Result<Insertion> {
    Ok(Insertion::resolve(
        document.text,
        document.outline,
        &Target::Proof { declaration_idx },
    )?)
}

/// The proof in a chat answer: from its last ```lean4 block, the declaration with the target's
/// name (or the last declaration there), its proof body after `by`.
fn chat_continuation(
    answer: &str,
    document: &ProofDocument,
    insertion: &Insertion,
) -> Option<String> {
    let block = last_lean_block(answer)?;
    let block_outline = proofwright_lean::syntax::outline(block);
    let wanted = document.outline.declarations[insertion.declaration_idx]
        .name
        .as_deref();
    let declaration = block_outline
        .declarations
        .iter()
        .rev()
        .find(|declaration| wanted.is_some() && declaration.name.as_deref() == wanted)
        .or_else(|| block_outline.declarations.last())?;
    let first_step = declaration.steps.iter().find(|step| step.depth == 0)?;
    let proof_end = declaration.proof_range?.end.0;
    let body = &block[first_step.range.start.0..proof_end];
    // Re-indent the body to the document's block column.
    let body_column = column_of(block, first_step.range.start.0);
    let target_column = chat_insertion(document, insertion.declaration_idx)
        .ok()?
        .block_column;
    let lines: Vec<String> = body
        .split('\n')
        .enumerate()
        .map(|(line_idx, line)| {
            if line_idx == 0 {
                return line.to_owned();
            }
            let indentation = line.chars().take_while(|c| *c == ' ').count();
            let kept = indentation.saturating_sub(body_column) + target_column;
            format!("{}{}", " ".repeat(kept), line.trim_start_matches(' '))
        })
        .collect();
    let body = lines.join("\n");
    (!body.trim().is_empty()).then_some(body)
}

fn last_lean_block(answer: &str) -> Option<&str> {
    let mut found = None;
    let mut search_from = 0;
    while let Some(at) = answer[search_from..].find("```lean") {
        let open = search_from + at;
        let content_start = answer[open..]
            .find('\n')
            .map(|newline| open + newline + 1)?;
        let close = answer[content_start..]
            .find("```")
            .map_or(answer.len(), |close| content_start + close);
        found = Some(&answer[content_start..close]);
        search_from = close.min(answer.len());
        if close >= answer.len() {
            break;
        }
        search_from += 3;
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn completion_continues_a_proof_from_the_blank_line_after_it() {
        let text = "theorem t (p : Prop) (h : p) : p ∧ p := by\n  constructor\n  \n\ntheorem u : True := trivial\n";
        let outline = proofwright_lean::syntax::outline(text);
        let after_last_step = text.find("constructor\n").expect("step") + "constructor\n  ".len();
        assert_eq!(tactic_block_at(text, &outline, after_last_step), Some(0));
        // At column 0 the next declaration would start: not inside the proof.
        let blank_line = text.find("\n\n").expect("blank") + 1;
        assert_eq!(tactic_block_at(text, &outline, blank_line), None);
        assert_eq!(
            tactic_block_at(text, &outline, text.find("theorem u").expect("u")),
            None
        );
    }

    #[test]
    fn the_last_lean_block_of_a_chat_answer_is_found() {
        let answer = "Plan: use simp.\n```lean4\ntheorem t : True := by\n  sorry\n```\nFinal:\n```lean4\ntheorem t : True := by\n  trivial\n```\n";
        assert_eq!(
            last_lean_block(answer),
            Some("theorem t : True := by\n  trivial\n")
        );
        assert_eq!(last_lean_block("no code"), None);
        assert_eq!(
            last_lean_block("```lean\ntheorem t : True := by\n  trivial"),
            Some("theorem t : True := by\n  trivial")
        );
    }

    #[test]
    fn chat_answers_are_reindented_to_the_document() {
        let text = "namespace X\n  theorem t (a b : Nat) : a + b = b + a := by\n    sorry\nend X\n";
        let outline = proofwright_lean::syntax::outline(text);
        let document = ProofDocument {
            text,
            outline: &outline,
            path: std::path::Path::new("X.lean"),
        };
        let insertion =
            Insertion::resolve(text, &outline, &Target::Sorry { sorry_idx: 0 }).expect("resolves");
        let answer = "```lean4\ntheorem t (a b : Nat) : a + b = b + a := by\n  rw [Nat.add_comm]\n  done\n```";
        assert_eq!(
            chat_continuation(answer, &document, &insertion).as_deref(),
            Some("rw [Nat.add_comm]\n    done")
        );
    }
}
