//! Asking Lean about proofs: which toolchain serves a file (or why none does), one pool of
//! processes per project, and the check of one declaration with the trust rule applied to
//! what Lean says inside it.
//!
//! The pool is asynchronous; [`LeanChecker::check`] blocks on it from the caller's thread, so
//! it must be called from a plain or blocking thread, never from inside an async task. A check
//! in flight watches its work's cancellation flag and deadline: when either fires, the request
//! is dropped, which kills its Lean process group, and the check returns at once.

use super::control::{Interruption, WorkControl};
use super::limits::{EXAMPLE_CHECK_NAME, LEAN_INTERRUPTION_POLL};
use super::outcome::{LeanFindings, LeanStepError};
use super::settings::LeanMode;
use proofwright_lean::position::{ByteOffset, ByteRange, LineIndex};
use proofwright_lean::process::{
    discover_toolchain, judge, BackendKind, BackendLaunches, CheckOutcome, CheckRequest,
    DiscoveryEnvironment, LeanPool, LeanProcessError, NotVerifiedReason, PoolSettings, Severity,
    Verdict,
};
use proofwright_lean::syntax::{DeclarationKind, Outline};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

/// Whether Lean can check a file, and with what.
#[derive(Clone)]
pub enum LeanAvailability {
    Available(Arc<LeanChecker>),
    Unavailable { reason: String },
    Off,
}

impl LeanAvailability {
    pub fn checker(&self) -> Option<&Arc<LeanChecker>> {
        match self {
            LeanAvailability::Available(checker) => Some(checker),
            _ => None,
        }
    }

    /// One line for people.
    pub fn describe(&self) -> String {
        match self {
            LeanAvailability::Available(checker) => checker.description.clone(),
            LeanAvailability::Unavailable { reason } => format!("unavailable: {reason}"),
            LeanAvailability::Off => "off".to_owned(),
        }
    }
}

/// `--lean require` and Lean is not there.
#[derive(Debug, Clone, thiserror::Error)]
#[error("lean is required but not available for {file}: {reason}")]
pub struct LeanRequired {
    pub file: String,
    pub reason: String,
}

/// Finds toolchains and keeps one checker per Lake project (or per folder outside projects).
pub struct LeanAccess {
    mode: LeanMode,
    environment: DiscoveryEnvironment,
    pool_settings: PoolSettings,
    runtime: OnceLock<Result<tokio::runtime::Runtime, String>>,
    checkers: Mutex<HashMap<PathBuf, Arc<LeanChecker>>>,
}

impl LeanAccess {
    pub fn new(
        mode: LeanMode,
        environment: DiscoveryEnvironment,
        pool_settings: PoolSettings,
    ) -> Self {
        LeanAccess {
            mode,
            environment,
            pool_settings,
            runtime: OnceLock::new(),
            checkers: Mutex::new(HashMap::new()),
        }
    }

    pub fn mode(&self) -> LeanMode {
        self.mode
    }

    /// How Lean can check `file` (which need not exist; its folder is where discovery starts).
    pub fn for_file(&self, file: &Path) -> Result<LeanAvailability, LeanRequired> {
        if self.mode == LeanMode::Off {
            return Ok(LeanAvailability::Off);
        }
        let unavailable = |reason: String| -> Result<LeanAvailability, LeanRequired> {
            if self.mode == LeanMode::Require {
                Err(LeanRequired {
                    file: file.display().to_string(),
                    reason,
                })
            } else {
                Ok(LeanAvailability::Unavailable { reason })
            }
        };
        let toolchain = match discover_toolchain(&self.environment, file) {
            Ok(toolchain) => toolchain,
            Err(reason) => return unavailable(reason.to_string()),
        };
        let key = toolchain.project.as_ref().map_or_else(
            || toolchain.start_directory.clone(),
            |project| project.root.clone(),
        );
        let mut checkers = self
            .checkers
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(checker) = checkers.get(&key) {
            return Ok(LeanAvailability::Available(checker.clone()));
        }
        let launches = BackendLaunches::from_toolchain(&toolchain);
        let backend = if launches.repl.is_some() {
            BackendKind::Repl
        } else if launches.language_server.is_some() {
            BackendKind::LanguageServer
        } else {
            let reason = toolchain.language_server_launch().err().map_or_else(
                || "no way to start Lean was found".to_owned(),
                |error| error.to_string(),
            );
            return unavailable(reason);
        };
        let runtime = match self.runtime.get_or_init(|| {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .thread_name("proofwright-lean-io")
                .enable_all()
                .build()
                .map_err(|error| error.to_string())
        }) {
            Ok(runtime) => runtime,
            Err(error) => return unavailable(format!("cannot start the Lean I/O thread: {error}")),
        };
        let checker = Arc::new(LeanChecker {
            handle: runtime.handle().clone(),
            pool: LeanPool::new(self.pool_settings.clone(), launches),
            backend,
            description: format!(
                "{} ({}) for {}",
                toolchain.lean.display(),
                backend,
                key.display()
            ),
        });
        checkers.insert(key, checker.clone());
        Ok(LeanAvailability::Available(checker))
    }

    /// Kills every Lean process.
    pub fn shutdown(&self) {
        let checkers: Vec<Arc<LeanChecker>> = self
            .checkers
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .drain()
            .map(|(_, checker)| checker)
            .collect();
        for checker in checkers {
            checker.shutdown();
        }
    }
}

impl Drop for LeanAccess {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Why a Lean check gave no verdict.
#[derive(Debug, thiserror::Error)]
pub enum LeanCheckError {
    /// The work was cancelled or ran out of time while Lean was checking; the Lean process was
    /// killed and nothing is known about the text.
    #[error("the lean check was stopped: {}", describe_interruption(*.0))]
    Interrupted(Interruption),
    #[error(transparent)]
    Lean(#[from] LeanProcessError),
}

fn describe_interruption(interruption: Interruption) -> &'static str {
    match interruption {
        Interruption::Cancelled => "the work was cancelled",
        Interruption::TimeBudgetSpent => "the time budget was spent",
    }
}

/// The processes of one project.
pub struct LeanChecker {
    handle: tokio::runtime::Handle,
    pool: LeanPool,
    backend: BackendKind,
    pub description: String,
}

impl LeanChecker {
    /// Checks a document, blocking this thread until Lean answers, the pool's timeout fires, or
    /// `control` says to stop (then the request is dropped, which kills its process group).
    pub fn check(
        &self,
        request: &CheckRequest,
        control: &WorkControl,
    ) -> Result<CheckOutcome, LeanCheckError> {
        if let Some(interruption) = control.interruption() {
            return Err(LeanCheckError::Interrupted(interruption));
        }
        let interrupted = async {
            loop {
                if let Some(interruption) = control.interruption() {
                    return interruption;
                }
                tokio::time::sleep(LEAN_INTERRUPTION_POLL).await;
            }
        };
        self.handle.block_on(async {
            tokio::select! {
                checked = self.pool.check(self.backend, request) => {
                    Ok(checked.map(|checked| checked.outcome)?)
                }
                interruption = interrupted => Err(LeanCheckError::Interrupted(interruption)),
            }
        })
    }

    pub fn shutdown(&self) {
        self.handle.block_on(self.pool.shutdown());
    }
}

/// What Lean said about one declaration.
#[derive(Debug, Clone, PartialEq)]
pub struct DeclarationVerdict {
    pub findings: LeanFindings,
    /// The goal at the requested position, when one was asked for and Lean gave it.
    pub goal: Option<String>,
}

/// The text sent to Lean for one declaration: the document up to the declaration's end (later
/// declarations cannot matter and would only cost time), with an `example` given a name so that
/// `#print axioms` can name it.
struct CheckedText {
    text: String,
    name: Option<String>,
    /// Where the rename happened in the checked text, and how many bytes it added.
    rename: Option<(usize, usize)>,
}

impl CheckedText {
    fn build(document: &str, outline: &Outline, declaration_idx: usize) -> CheckedText {
        let declaration = &outline.declarations[declaration_idx];
        let mut text = document[..declaration.range.end.0].to_owned();
        let mut name = declaration.name.clone();
        let mut rename = None;
        if declaration.kind == DeclarationKind::Example {
            let keyword = declaration.keyword_range;
            let replacement = format!("theorem {EXAMPLE_CHECK_NAME}");
            text.replace_range(keyword.start.0..keyword.end.0, &replacement);
            name = Some(EXAMPLE_CHECK_NAME.to_owned());
            rename = Some((keyword.end.0, replacement.len() - keyword.len()));
        }
        text.push('\n');
        CheckedText { text, name, rename }
    }

    /// A document offset in the checked text.
    fn to_checked(&self, offset: usize) -> usize {
        match self.rename {
            Some((at, added)) if offset >= at => offset + added,
            _ => offset,
        }
    }

    /// A checked-text offset in the document.
    fn to_document(&self, offset: usize) -> usize {
        match self.rename {
            Some((at, added)) if offset >= at + added => offset - added,
            Some((at, _)) if offset >= at => at,
            _ => offset,
        }
    }
}

/// Checks declaration `declaration_idx` of `document` and applies the trust rule to what Lean
/// says inside it. `goal_at` asks for the goal at a document offset.
pub fn check_declaration(
    checker: &LeanChecker,
    document: &str,
    outline: &Outline,
    declaration_idx: usize,
    goal_at: Option<usize>,
    control: &WorkControl,
) -> Result<DeclarationVerdict, LeanCheckError> {
    let declaration = &outline.declarations[declaration_idx];
    let checked = CheckedText::build(document, outline, declaration_idx);
    let checked_index = LineIndex::new(&checked.text);
    let goal_positions = goal_at
        .map(|offset| checked_index.to_lean(&checked.text, ByteOffset(checked.to_checked(offset))))
        .into_iter()
        .collect();
    let request = CheckRequest {
        text: checked.text.clone(),
        goal_positions,
        axiom_declarations: checked.name.clone().into_iter().collect(),
    };
    let outcome = checker.check(&request, control)?;
    let declaration_start = checked.to_checked(declaration.range.start.0);
    let in_declaration =
        |position| checked_index.from_lean(&checked.text, position).0 >= declaration_start;
    let goal = outcome
        .goals
        .first()
        .and_then(|report| report.goals.as_ref())
        .map(|goals| goals.join("\n\n"))
        .or_else(|| {
            let wanted = request.goal_positions.first()?;
            outcome
                .sorries
                .iter()
                .find(|sorry| sorry.start == *wanted)
                .map(|sorry| sorry.goal.clone())
        });
    let own = CheckOutcome {
        messages: outcome
            .messages
            .iter()
            .filter(|message| in_declaration(message.start))
            .cloned()
            .collect(),
        sorries: outcome
            .sorries
            .iter()
            .filter(|sorry| in_declaration(sorry.start))
            .cloned()
            .collect(),
        goals: outcome.goals.clone(),
        axioms: outcome.axioms.clone(),
        fatal_processing_error: outcome.fatal_processing_error,
    };
    let verdict = judge(&own);
    let step_ranges: Vec<ByteRange> = declaration.steps.iter().map(|step| step.range).collect();
    let errors = own
        .messages
        .iter()
        .filter(|message| message.severity == Severity::Error)
        .map(|message| {
            let start =
                checked.to_document(checked_index.from_lean(&checked.text, message.start).0);
            let end = message
                .end
                .map(|end| checked.to_document(checked_index.from_lean(&checked.text, end).0))
                .filter(|end| *end >= start)
                .unwrap_or(start);
            LeanStepError {
                range: ByteRange::new(start, end),
                step: proofwright_lean::process::innermost_step_containing(
                    &step_ranges,
                    ByteOffset(start),
                ),
                message: message.text.clone(),
            }
        })
        .collect();
    let (verified, only_sorries_in_the_way, reasons) = match verdict {
        Verdict::LeanVerified => (true, false, Vec::new()),
        Verdict::NotVerified { reasons } => (
            false,
            only_sorries(&reasons),
            reasons.iter().map(ToString::to_string).collect(),
        ),
    };
    Ok(DeclarationVerdict {
        findings: LeanFindings {
            verified,
            reasons,
            errors,
            only_sorries_in_the_way,
        },
        goal,
    })
}

/// The axiom a `sorry` adds.
const SORRY_AXIOM: &str = "sorryAx";

/// Whether Lean's only objections are `sorry`s: there is at least one reason, and each is a
/// `sorry` it saw, its "declaration uses 'sorry'" warning, or `sorryAx` as the only disallowed
/// axiom (an error, another axiom or a failed check is something else).
pub fn only_sorries(reasons: &[NotVerifiedReason]) -> bool {
    !reasons.is_empty()
        && reasons.iter().all(|reason| match reason {
            NotVerifiedReason::Sorry { .. } | NotVerifiedReason::SorryWarning { .. } => true,
            NotVerifiedReason::DisallowedAxioms { axioms, .. } => {
                axioms.iter().all(|axiom| axiom == SORRY_AXIOM)
            }
            NotVerifiedReason::LeanError { .. }
            | NotVerifiedReason::AxiomsNotReported { .. }
            | NotVerifiedReason::NoDeclarationChecked
            | NotVerifiedReason::FatalProcessingError => false,
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proofwright_lean::syntax::outline;

    #[test]
    fn checked_text_names_examples_and_drops_later_declarations() {
        let document =
            "import Foo\n\nexample : True := by\n  trivial\n\ntheorem later : True := trivial\n";
        let outline = outline(document);
        let checked = CheckedText::build(document, &outline, 0);
        assert_eq!(
            checked.text,
            "import Foo\n\ntheorem proofwright_checked_example : True := by\n  trivial\n"
        );
        assert_eq!(checked.name.as_deref(), Some(EXAMPLE_CHECK_NAME));
        let trivial = document.find("trivial").expect("trivial");
        let in_checked = checked.to_checked(trivial);
        assert_eq!(&checked.text[in_checked..in_checked + 7], "trivial");
        assert_eq!(checked.to_document(in_checked), trivial);
    }
}
