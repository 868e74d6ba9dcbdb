//! What is asked of Lean and what it answers, in plain types shared by both backends.
//!
//! Positions are Lean positions (1-based line, codepoint column) in the checked text, whichever
//! backend produced them; the language server's UTF-16 positions are converted on arrival.

use serde::{Deserialize, Serialize};

use super::error::LeanProcessError;
use super::limits::MAX_DECLARATION_NAME_BYTES;
use crate::position::LeanPosition;

/// One request: check a whole document (import header included).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CheckRequest {
    /// The full text: import header, then the candidate proof and whatever surrounds it.
    pub text: String,
    /// Where to read the goals (for the language server, with `$/lean/plainGoal`).
    pub goal_positions: Vec<LeanPosition>,
    /// Declarations whose axioms to report with `#print axioms` after the text is checked.
    pub axiom_declarations: Vec<String>,
}

/// How serious a message is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Severity {
    Error,
    Warning,
    Information,
    /// The REPL's `trace` and the language server's `hint`.
    Trace,
}

/// One message from Lean about the checked text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeanMessage {
    pub severity: Severity,
    pub start: LeanPosition,
    pub end: Option<LeanPosition>,
    pub text: String,
}

/// A `sorry` the REPL found, with the goal it stands for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SorryReport {
    pub start: LeanPosition,
    pub goal: String,
    /// The REPL proof state for tactic mode on this goal; valid only in the process that
    /// answered (see [`super::ProcessTicket`]).
    pub proof_state: Option<u64>,
}

/// The goals at one requested position.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GoalReport {
    pub position: LeanPosition,
    /// `None` when Lean has no goal there (outside a tactic block); `Some(vec![])` when the
    /// goals are all closed.
    pub goals: Option<Vec<String>>,
}

/// What `#print axioms` said about one declaration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum AxiomCheck {
    /// Lean listed these axioms (empty: "does not depend on any axioms").
    Reported { axioms: Vec<String> },
    /// No axiom report came back; `problems` holds what Lean said instead.
    NotReported { problems: Vec<String> },
}

/// `#print axioms` for one declaration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AxiomReport {
    pub declaration: String,
    pub check: AxiomCheck,
}

/// Everything Lean said about one [`CheckRequest`].
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct CheckOutcome {
    /// Messages about the text itself (the `#print axioms` commands' own messages are not here).
    pub messages: Vec<LeanMessage>,
    /// Sorries with goals (REPL only; the language server reports sorries only as warnings).
    pub sorries: Vec<SorryReport>,
    /// One entry per requested goal position, in request order.
    pub goals: Vec<GoalReport>,
    /// One entry per requested declaration, in request order.
    pub axioms: Vec<AxiomReport>,
    /// The language server marked part of the document as failed fatally
    /// (`$/lean/fileProgress` kind 2).
    pub fatal_processing_error: bool,
}

/// The REPL's verdict on a proof state after a tactic.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ProofStatus {
    Completed,
    Incomplete(String),
    Error(String),
    /// A status this client does not know, kept verbatim.
    Other(String),
}

impl ProofStatus {
    pub fn parse(status: &str) -> ProofStatus {
        if status == "Completed" {
            ProofStatus::Completed
        } else if let Some(detail) = status.strip_prefix("Incomplete") {
            ProofStatus::Incomplete(detail.trim_start_matches(':').trim().to_owned())
        } else if let Some(detail) = status.strip_prefix("Error") {
            ProofStatus::Error(detail.trim_start_matches(':').trim().to_owned())
        } else {
            ProofStatus::Other(status.to_owned())
        }
    }
}

/// The REPL's answer to a tactic run on a proof state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TacticOutcome {
    pub proof_state: Option<u64>,
    pub goals: Vec<String>,
    /// Positions are relative to the tactic text (line 1 is its first line).
    pub messages: Vec<LeanMessage>,
    pub sorries: Vec<SorryReport>,
    pub proof_status: Option<ProofStatus>,
}

/// Parses Lean's answer to `#print axioms`: `'x' depends on axioms: [a, b]` or
/// `'x' does not depend on any axioms`. Returns the declaration and its axioms.
pub fn parse_axiom_message(message: &str) -> Option<(String, Vec<String>)> {
    let message = message.trim();
    let rest = message.strip_prefix('\'')?;
    if let Some((declaration, list)) = rest.split_once("' depends on axioms:") {
        let list = list.trim();
        let inner = list.strip_prefix('[')?.strip_suffix(']')?;
        let axioms = inner
            .split(',')
            .map(str::trim)
            .filter(|axiom| !axiom.is_empty())
            .map(str::to_owned)
            .collect();
        return Some((declaration.to_owned(), axioms));
    }
    let declaration = rest.strip_suffix("' does not depend on any axioms")?;
    Some((declaration.to_owned(), Vec::new()))
}

/// Checks that `name` is one Lean identifier, so that `#print axioms {name}` is exactly one
/// command: no whitespace, no control characters, no comment or command starts.
pub fn validate_declaration_name(name: &str) -> Result<(), LeanProcessError> {
    let invalid = || LeanProcessError::InvalidDeclarationName {
        name: name.to_owned(),
    };
    if name.is_empty() || name.len() > MAX_DECLARATION_NAME_BYTES {
        return Err(invalid());
    }
    let mut inside_guillemets = false;
    for character in name.chars() {
        match character {
            '«' if !inside_guillemets => inside_guillemets = true,
            '»' if inside_guillemets => inside_guillemets = false,
            _ if character.is_control() => return Err(invalid()),
            ' ' if inside_guillemets => {}
            _ if character.is_whitespace() => return Err(invalid()),
            _ if inside_guillemets => {}
            _ if character.is_alphanumeric()
                || matches!(character, '_' | '.' | '\'' | '!' | '?')
                || (!character.is_ascii() && !matches!(character, '«' | '»')) => {}
            _ => return Err(invalid()),
        }
    }
    if inside_guillemets || name.contains("--") || name.contains("/-") {
        return Err(invalid());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axiom_messages_parse() {
        assert_eq!(
            parse_axiom_message("'foo' depends on axioms: [propext, Classical.choice, Quot.sound]"),
            Some((
                "foo".to_owned(),
                vec![
                    "propext".to_owned(),
                    "Classical.choice".to_owned(),
                    "Quot.sound".to_owned()
                ]
            ))
        );
        assert_eq!(
            parse_axiom_message("'Nat.foo'' does not depend on any axioms\n"),
            Some(("Nat.foo'".to_owned(), vec![]))
        );
        // Lean wraps long lists over several lines.
        assert_eq!(
            parse_axiom_message("'bar' depends on axioms: [propext,\n sorryAx]"),
            Some((
                "bar".to_owned(),
                vec!["propext".to_owned(), "sorryAx".to_owned()]
            ))
        );
        assert_eq!(parse_axiom_message("unknown constant 'bar'"), None);
        assert_eq!(
            parse_axiom_message("'bar' depends on axioms: propext"),
            None
        );
    }

    #[test]
    fn declaration_names_are_single_identifiers() {
        for good in [
            "foo",
            "Nat.add_comm",
            "foo'",
            "«my theorem»",
            "α_β.γ",
            "h!?",
        ] {
            assert!(validate_declaration_name(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "foo bar",
            "foo\n#eval 1",
            "foo--x",
            "«open",
            "a;b",
            "x(y)",
            "a\u{0}",
        ] {
            assert!(validate_declaration_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn proof_statuses_parse() {
        assert_eq!(ProofStatus::parse("Completed"), ProofStatus::Completed);
        assert_eq!(
            ProofStatus::parse("Incomplete: open goals remain"),
            ProofStatus::Incomplete("open goals remain".to_owned())
        );
        assert_eq!(
            ProofStatus::parse("Error: kernel says no"),
            ProofStatus::Error("kernel says no".to_owned())
        );
    }
}
