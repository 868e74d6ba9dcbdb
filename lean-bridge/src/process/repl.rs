//! A client for the leanprover-community REPL (`lake exe repl`): JSON commands separated by
//! blank lines, the import header run once and its environment reused, and tactic mode on the
//! proof states the REPL hands out.
//!
//! Only `cmd` and `tactic` requests are ever sent. The REPL's pickle commands (which read and
//! write files at paths in the request) are not exposed at all, and user text only ever travels
//! inside a JSON string, so it cannot become a request of its own.

use serde_json::{json, Value};

use super::child::ManagedChild;
use super::discovery::LaunchCommand;
use super::error::{BackendKind, LeanProcessError};
use super::framing::{encode_repl_request, excerpt, read_repl_answer, FramingError};
use super::header::{split_import_header, HeaderSplit};
use super::outcome::{
    parse_axiom_message, validate_declaration_name, AxiomCheck, AxiomReport, CheckOutcome,
    CheckRequest, GoalReport, LeanMessage, ProofStatus, Severity, SorryReport, TacticOutcome,
};
use super::session::SessionLimits;
use crate::position::LeanPosition;

const BACKEND: BackendKind = BackendKind::Repl;
const EXPECTED_OUTPUT: &str = "a REPL answer (a JSON object followed by a blank line)";

/// One running REPL process.
pub struct ReplSession {
    child: ManagedChild,
    max_answer_bytes: usize,
    header: Option<ImportedHeader>,
}

struct ImportedHeader {
    text: String,
    environment: u64,
    messages: Vec<LeanMessage>,
}

impl ReplSession {
    pub(crate) fn spawn(
        launch: &LaunchCommand,
        limits: &SessionLimits,
    ) -> Result<ReplSession, LeanProcessError> {
        Ok(ReplSession {
            child: ManagedChild::spawn(BACKEND, launch, limits.address_space_limit_bytes)?,
            max_answer_bytes: limits.max_answer_bytes,
            header: None,
        })
    }

    pub(crate) fn child(&self) -> &ManagedChild {
        &self.child
    }

    pub(crate) fn into_child(self) -> ManagedChild {
        self.child
    }

    /// Runs the import header as the first command; later checks reuse its environment.
    pub async fn import_header(&mut self, header: &str) -> Result<(), LeanProcessError> {
        if let Some(imported) = &self.header {
            return if imported.text == header {
                Ok(())
            } else {
                Err(LeanProcessError::HeaderMismatch)
            };
        }
        let answer = self.send(json!({ "cmd": header })).await?;
        let environment = answer_environment(&answer)?;
        let messages = parse_messages(&answer, |position| position);
        self.header = Some(ImportedHeader {
            text: header.to_owned(),
            environment,
            messages,
        });
        Ok(())
    }

    /// Checks a document whose import header is this process's header: the body is sent with
    /// the header's environment, then `#print axioms` for each requested declaration is sent
    /// with the body's environment.
    pub async fn check(
        &mut self,
        request: &CheckRequest,
    ) -> Result<CheckOutcome, LeanProcessError> {
        for declaration in &request.axiom_declarations {
            validate_declaration_name(declaration)?;
        }
        let split = split_import_header(&request.text);
        self.import_header(&split.header).await?;
        let (header_environment, header_messages) = match &self.header {
            Some(imported) => (imported.environment, imported.messages.clone()),
            None => return Err(LeanProcessError::HeaderMismatch),
        };

        let mut command = json!({ "cmd": split.body(&request.text), "env": header_environment });
        if !request.goal_positions.is_empty() {
            command["allTactics"] = Value::Bool(true);
        }
        let answer = self.send(command).await?;
        let body_environment = answer_environment(&answer)?;
        let to_document = |position| split.body_position_to_document(position);

        let mut messages = header_messages;
        messages.extend(parse_messages(&answer, to_document));
        let sorries = parse_sorries(&answer, to_document);
        let goals = goals_at(&answer, &split, &request.goal_positions);

        let mut axioms = Vec::with_capacity(request.axiom_declarations.len());
        for declaration in &request.axiom_declarations {
            let command =
                json!({ "cmd": format!("#print axioms {declaration}"), "env": body_environment });
            let check = match self.send(command).await {
                Ok(answer) => axiom_check_from_messages(&parse_messages(&answer, |p| p)),
                Err(LeanProcessError::ReplRejected { message }) => AxiomCheck::NotReported {
                    problems: vec![message],
                },
                Err(error) => return Err(error),
            };
            axioms.push(AxiomReport {
                declaration: declaration.clone(),
                check,
            });
        }

        Ok(CheckOutcome {
            messages,
            sorries,
            goals,
            axioms,
            fatal_processing_error: false,
        })
    }

    /// Runs `tactic` on a proof state this process handed out.
    pub async fn run_tactic(
        &mut self,
        proof_state: u64,
        tactic: &str,
    ) -> Result<TacticOutcome, LeanProcessError> {
        let answer = self
            .send(json!({ "tactic": tactic, "proofState": proof_state }))
            .await?;
        let proof_state = answer.get("proofState").and_then(Value::as_u64);
        let goals = match answer.get("goals") {
            Some(Value::Array(goals)) => goals
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect(),
            Some(Value::String(goal)) if !goal.is_empty() => vec![goal.clone()],
            _ => Vec::new(),
        };
        if proof_state.is_none() && answer.get("proofStatus").is_none() {
            return Err(malformed(
                "a tactic answer without proofState or proofStatus",
                &answer,
            ));
        }
        Ok(TacticOutcome {
            proof_state,
            goals,
            messages: parse_messages(&answer, |position| position),
            sorries: parse_sorries(&answer, |position| position),
            proof_status: answer
                .get("proofStatus")
                .and_then(Value::as_str)
                .map(ProofStatus::parse),
        })
    }

    /// Sends one request and reads its answer; an answer that is only `{"message": ...}` is
    /// the REPL refusing the request.
    async fn send(&mut self, request: Value) -> Result<Value, LeanProcessError> {
        self.child.write_all(&encode_repl_request(&request)).await?;
        let answer = match read_repl_answer(self.child.stdout(), self.max_answer_bytes).await {
            Ok(answer) => answer,
            Err(FramingError::EndOfStream) => return Err(self.child.crash_error().await),
            Err(FramingError::TooLarge) => {
                return Err(LeanProcessError::AnswerTooLarge {
                    backend: BACKEND,
                    limit_bytes: self.max_answer_bytes,
                })
            }
            Err(FramingError::Malformed { problem, excerpt }) => {
                return Err(LeanProcessError::MalformedOutput {
                    backend: BACKEND,
                    expected: EXPECTED_OUTPUT,
                    problem,
                    excerpt,
                })
            }
            Err(FramingError::Io(source)) => {
                return Err(LeanProcessError::Io {
                    backend: BACKEND,
                    source,
                })
            }
        };
        let Some(object) = answer.as_object() else {
            return Err(malformed("an answer that is not a JSON object", &answer));
        };
        if let Some(message) = object.get("message").and_then(Value::as_str) {
            if !object.contains_key("env") && !object.contains_key("proofState") {
                return Err(LeanProcessError::ReplRejected {
                    message: message.to_owned(),
                });
            }
        }
        Ok(answer)
    }
}

fn malformed(problem: &str, answer: &Value) -> LeanProcessError {
    LeanProcessError::MalformedOutput {
        backend: BACKEND,
        expected: EXPECTED_OUTPUT,
        problem: problem.to_owned(),
        excerpt: excerpt(answer.to_string().as_bytes()),
    }
}

fn answer_environment(answer: &Value) -> Result<u64, LeanProcessError> {
    answer
        .get("env")
        .and_then(Value::as_u64)
        .ok_or_else(|| malformed("a command answer without a numeric env", answer))
}

fn parse_position(value: Option<&Value>) -> Option<LeanPosition> {
    let value = value?;
    Some(LeanPosition {
        line: u32::try_from(value.get("line")?.as_u64()?).ok()?,
        column: u32::try_from(value.get("column")?.as_u64()?).ok()?,
    })
}

fn parse_severity(severity: Option<&str>) -> Severity {
    match severity {
        Some("error") => Severity::Error,
        Some("warning") => Severity::Warning,
        Some("trace") => Severity::Trace,
        _ => Severity::Information,
    }
}

fn parse_messages(
    answer: &Value,
    to_document: impl Fn(LeanPosition) -> LeanPosition,
) -> Vec<LeanMessage> {
    let Some(messages) = answer.get("messages").and_then(Value::as_array) else {
        return Vec::new();
    };
    messages
        .iter()
        .map(|message| LeanMessage {
            severity: parse_severity(message.get("severity").and_then(Value::as_str)),
            start: to_document(
                parse_position(message.get("pos")).unwrap_or(LeanPosition { line: 1, column: 0 }),
            ),
            end: parse_position(message.get("endPos")).map(&to_document),
            text: message
                .get("data")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
        })
        .collect()
}

fn parse_sorries(
    answer: &Value,
    to_document: impl Fn(LeanPosition) -> LeanPosition,
) -> Vec<SorryReport> {
    let Some(sorries) = answer.get("sorries").and_then(Value::as_array) else {
        return Vec::new();
    };
    sorries
        .iter()
        .map(|sorry| SorryReport {
            start: to_document(
                parse_position(sorry.get("pos")).unwrap_or(LeanPosition { line: 1, column: 0 }),
            ),
            goal: sorry
                .get("goal")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
            proof_state: sorry.get("proofState").and_then(Value::as_u64),
        })
        .collect()
}

/// The goals before the innermost tactic that spans each requested position, from the
/// `tactics` list that `allTactics` asks for.
fn goals_at(answer: &Value, split: &HeaderSplit, positions: &[LeanPosition]) -> Vec<GoalReport> {
    let tactics: Vec<(LeanPosition, LeanPosition, Vec<String>)> = answer
        .get("tactics")
        .and_then(Value::as_array)
        .map(|tactics| {
            tactics
                .iter()
                .filter_map(|tactic| {
                    let start = split.body_position_to_document(parse_position(tactic.get("pos"))?);
                    let end =
                        split.body_position_to_document(parse_position(tactic.get("endPos"))?);
                    let goals = match tactic.get("goals") {
                        Some(Value::String(goals)) if goals.trim().is_empty() => Vec::new(),
                        Some(Value::String(goals)) => vec![goals.clone()],
                        Some(Value::Array(goals)) => goals
                            .iter()
                            .filter_map(Value::as_str)
                            .map(str::to_owned)
                            .collect(),
                        _ => Vec::new(),
                    };
                    Some((start, end, goals))
                })
                .collect()
        })
        .unwrap_or_default();
    positions
        .iter()
        .map(|&position| {
            let innermost = tactics
                .iter()
                .filter(|(start, end, _)| *start <= position && position < *end)
                .min_by_key(|(start, end, _)| {
                    (end.line - start.line, end.column.abs_diff(start.column))
                });
            GoalReport {
                position,
                goals: innermost.map(|(_, _, goals)| goals.clone()),
            }
        })
        .collect()
}

/// Reads the answer to one `#print axioms` command.
pub(crate) fn axiom_check_from_messages(messages: &[LeanMessage]) -> AxiomCheck {
    for message in messages {
        if message.severity != Severity::Error {
            if let Some((_, axioms)) = parse_axiom_message(&message.text) {
                return AxiomCheck::Reported { axioms };
            }
        }
    }
    AxiomCheck::NotReported {
        problems: messages
            .iter()
            .map(|message| message.text.clone())
            .collect(),
    }
}
