//! Every default, size and limit of the prover loop, in one place.

use std::time::Duration;

/// Candidates sampled per round.
pub const DEFAULT_SAMPLES: usize = 4;
/// Refinement rounds after the first proposal round.
pub const DEFAULT_ROUNDS: usize = 2;
/// New tokens per candidate.
pub const DEFAULT_MAX_NEW_TOKENS: usize = 256;
/// Wall-clock budget of one search.
pub const DEFAULT_TIME_BUDGET: Duration = Duration::from_secs(120);
/// Sampling temperature for proposals (greedy would give N copies of one candidate).
pub const DEFAULT_TEMPERATURE: f32 = 0.8;
pub const DEFAULT_TOP_P: f32 = 0.95;
/// Reviews sampled per proof by the deep verifier.
pub const DEFAULT_DEEP_REVIEWS: usize = 3;
/// Tokens each deep review may write.
pub const DEEP_REVIEW_MAX_NEW_TOKENS: usize = 192;
/// A step whose geometric-mean token probability is below this is flagged, unless the model
/// directory's `proofwright.json` or the caller sets another threshold. Not calibrated for any
/// particular model: calibrate per model (see docs/prover.md).
pub const DEFAULT_FLAG_THRESHOLD: f32 = 0.25;
/// Tokens of preceding declarations put in a prompt as context.
pub const DEFAULT_CONTEXT_TOKEN_BUDGET: usize = 1024;
/// Tokens set aside for a prompt's fixed text (instructions, fences, a goal comment) when
/// fitting the context into the model's window.
pub const PROMPT_OVERHEAD_TOKENS: usize = 128;
/// Proposals kept in the proposal cache.
pub const PROPOSAL_CACHE_ENTRIES: usize = 256;
/// Step scores kept in the score cache.
pub const SCORE_CACHE_ENTRIES: usize = 1024;
/// Lean verdicts kept in the Lean cache.
pub const LEAN_CACHE_ENTRIES: usize = 512;
/// Next-step proposals asked for by completion.
pub const DEFAULT_NEXT_STEP_PROPOSALS: usize = 4;
/// New tokens of one next-step proposal (one tactic).
pub const NEXT_STEP_MAX_NEW_TOKENS: usize = 48;
/// Indentation of a new tactic block relative to its declaration.
pub const BLOCK_INDENT: usize = 2;
/// The name a checked `example` gets so that `#print axioms` can name it.
/// How often a Lean check in flight looks at its work's cancellation flag and deadline; a
/// cancelled check stops (and its Lean process group is killed) within about this long.
pub const LEAN_INTERRUPTION_POLL: Duration = Duration::from_millis(20);
pub const EXAMPLE_CHECK_NAME: &str = "proofwright_checked_example";
/// The file in a model directory that carries Proofwright's per-model settings.
pub const MODEL_SETTINGS_FILE: &str = "proofwright.json";
