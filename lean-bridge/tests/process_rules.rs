//! The trust rule (when a proof is `lean-verified`) and the mapping of Lean's messages to proof
//! steps, from plain outcomes and byte ranges; no process is started.

use proofwright_lean::position::{ByteOffset, ByteRange, LeanPosition, LineIndex};
use proofwright_lean::process::verdict::SORRY_WARNING_TEXT;
use proofwright_lean::process::{
    innermost_step_containing, judge, map_messages_to_steps, parse_axiom_message, AxiomCheck,
    AxiomReport, CheckOutcome, LeanMessage, NotVerifiedReason, Severity, SorryReport, Verdict,
    ALLOWED_AXIOMS,
};

fn at(line: u32, column: u32) -> LeanPosition {
    LeanPosition { line, column }
}

fn message(severity: Severity, start: LeanPosition, text: &str) -> LeanMessage {
    LeanMessage {
        severity,
        start,
        end: None,
        text: text.to_owned(),
    }
}

fn reported(declaration: &str, axioms: &[&str]) -> AxiomReport {
    AxiomReport {
        declaration: declaration.to_owned(),
        check: AxiomCheck::Reported {
            axioms: axioms.iter().map(|axiom| axiom.to_string()).collect(),
        },
    }
}

/// An outcome with nothing wrong: no messages, and `main` uses only the allowed axioms.
fn clean() -> CheckOutcome {
    CheckOutcome {
        axioms: vec![reported("main", &ALLOWED_AXIOMS)],
        ..CheckOutcome::default()
    }
}

fn reasons_of(outcome: &CheckOutcome) -> Vec<NotVerifiedReason> {
    match judge(outcome) {
        Verdict::LeanVerified => Vec::new(),
        Verdict::NotVerified { reasons } => reasons,
    }
}

#[test]
fn the_standard_axioms_or_none_are_verified() {
    assert_eq!(judge(&clean()), Verdict::LeanVerified);
    for allowed in [&["propext"][..], &["Classical.choice", "Quot.sound"], &[]] {
        let outcome = CheckOutcome {
            axioms: vec![reported("main", allowed)],
            ..CheckOutcome::default()
        };
        assert!(judge(&outcome).is_lean_verified(), "{allowed:?}");
    }
}

#[test]
fn harmless_messages_do_not_block_verification() {
    let mut outcome = clean();
    outcome.messages = vec![
        message(Severity::Warning, at(3, 4), "unused variable `h`"),
        message(Severity::Information, at(3, 0), "Try this: simp only [foo]"),
        message(Severity::Trace, at(3, 0), "[Meta.synthInstance] ✅ Nat"),
    ];
    assert_eq!(judge(&outcome), Verdict::LeanVerified);
}

#[test]
fn an_error_is_not_verified() {
    let mut outcome = clean();
    outcome.messages = vec![message(
        Severity::Error,
        at(4, 2),
        "unsolved goals\n⊢ False",
    )];
    assert_eq!(
        reasons_of(&outcome),
        [NotVerifiedReason::LeanError {
            start: at(4, 2),
            text: "unsolved goals\n⊢ False".to_owned()
        }]
    );
}

#[test]
fn a_sorry_entry_is_not_verified() {
    let mut outcome = clean();
    outcome.sorries = vec![SorryReport {
        start: at(5, 2),
        goal: "⊢ p".to_owned(),
        proof_state: Some(0),
    }];
    assert_eq!(
        reasons_of(&outcome),
        [NotVerifiedReason::Sorry {
            start: at(5, 2),
            goal: "⊢ p".to_owned()
        }]
    );
}

#[test]
fn the_sorry_warning_alone_is_not_verified() {
    for text in [SORRY_WARNING_TEXT, "declaration uses `sorry`"] {
        let mut outcome = clean();
        outcome.messages = vec![message(Severity::Warning, at(2, 0), text)];
        assert_eq!(
            reasons_of(&outcome),
            [NotVerifiedReason::SorryWarning { start: at(2, 0) }],
            "{text}"
        );
    }
}

#[test]
fn sorry_ax_is_a_disallowed_axiom() {
    let outcome = CheckOutcome {
        axioms: vec![reported("main", &["propext", "sorryAx"])],
        ..CheckOutcome::default()
    };
    assert_eq!(
        reasons_of(&outcome),
        [NotVerifiedReason::DisallowedAxioms {
            declaration: "main".to_owned(),
            axioms: vec!["sorryAx".to_owned()]
        }]
    );
}

#[test]
fn a_user_axiom_is_disallowed_even_beside_the_standard_ones() {
    let outcome = CheckOutcome {
        axioms: vec![
            reported("helper", &["propext"]),
            reported(
                "main",
                &[
                    "propext",
                    "Classical.choice",
                    "Quot.sound",
                    "my_axiom",
                    "Foo.propext",
                ],
            ),
        ],
        ..CheckOutcome::default()
    };
    assert_eq!(
        reasons_of(&outcome),
        [NotVerifiedReason::DisallowedAxioms {
            declaration: "main".to_owned(),
            axioms: vec!["my_axiom".to_owned(), "Foo.propext".to_owned()]
        }]
    );
}

#[test]
fn a_missing_axiom_report_is_not_verified() {
    let outcome = CheckOutcome {
        axioms: vec![AxiomReport {
            declaration: "main".to_owned(),
            check: AxiomCheck::NotReported {
                problems: vec!["unknown constant 'main'".to_owned()],
            },
        }],
        ..CheckOutcome::default()
    };
    let reasons = reasons_of(&outcome);
    assert_eq!(
        reasons,
        [NotVerifiedReason::AxiomsNotReported {
            declaration: "main".to_owned(),
            problems: vec!["unknown constant 'main'".to_owned()]
        }]
    );
    assert_eq!(
        reasons[0].to_string(),
        "`#print axioms main` gave no report (unknown constant 'main')"
    );
}

#[test]
fn checking_no_declaration_is_not_verified() {
    assert_eq!(
        reasons_of(&CheckOutcome::default()),
        [NotVerifiedReason::NoDeclarationChecked]
    );
}

#[test]
fn a_fatal_processing_error_is_not_verified() {
    let mut outcome = clean();
    outcome.fatal_processing_error = true;
    assert_eq!(
        reasons_of(&outcome),
        [NotVerifiedReason::FatalProcessingError]
    );
}

#[test]
fn every_reason_is_listed() {
    let outcome = CheckOutcome {
        messages: vec![
            message(Severity::Error, at(3, 1), "type mismatch"),
            message(Severity::Warning, at(2, 0), SORRY_WARNING_TEXT),
        ],
        sorries: vec![SorryReport {
            start: at(4, 2),
            goal: "⊢ q".to_owned(),
            proof_state: None,
        }],
        axioms: vec![reported("main", &["sorryAx"])],
        ..CheckOutcome::default()
    };
    let described: Vec<String> = reasons_of(&outcome)
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        described,
        [
            "lean error at 3:1: type mismatch",
            "lean warns at 2:0: declaration uses 'sorry'",
            "the proof uses `sorry` at 4:2",
            "`main` depends on axioms beyond propext, Classical.choice, Quot.sound: sorryAx",
        ]
    );
}

#[test]
fn axiom_reports_parse_in_both_forms() {
    assert_eq!(
        parse_axiom_message("'Nat.le_antisymm' depends on axioms: [propext]"),
        Some(("Nat.le_antisymm".to_owned(), vec!["propext".to_owned()]))
    );
    assert_eq!(
        parse_axiom_message("'trivial_fact' does not depend on any axioms"),
        Some(("trivial_fact".to_owned(), vec![]))
    );
    assert_eq!(parse_axiom_message("declaration uses 'sorry'"), None);
}

// ---------------------------------------------------------------------------------------------
// Messages to steps.

/// A proof with a nested step: `constructor` and its two bullets, the bullets holding tactics.
const PROOF: &str = "theorem t (α : Type) : p ∧ q := by\n  constructor\n  · simp [hα]\n    exact hp\n  · exact hq\n";

fn range_of(text: &str, needle: &str) -> ByteRange {
    let start = text.find(needle).expect("needle");
    ByteRange::new(start, start + needle.len())
}

fn steps() -> Vec<ByteRange> {
    vec![
        range_of(PROOF, "constructor"),
        range_of(PROOF, "· simp [hα]\n    exact hp"),
        range_of(PROOF, "simp [hα]"),
        range_of(PROOF, "exact hp"),
        range_of(PROOF, "· exact hq"),
        range_of(PROOF, "exact hq"),
    ]
}

fn lean_position_of(needle: &str) -> LeanPosition {
    let offset = PROOF.find(needle).expect("needle");
    LineIndex::new(PROOF).to_lean(PROOF, ByteOffset(offset))
}

#[test]
fn messages_map_to_the_innermost_step() {
    let messages = vec![
        message(
            Severity::Error,
            lean_position_of("hα]"),
            "unknown identifier 'hα'",
        ),
        message(
            Severity::Error,
            lean_position_of("· simp"),
            "unsolved goals",
        ),
        message(
            Severity::Error,
            lean_position_of("hq"),
            "unknown identifier 'hq'",
        ),
        message(Severity::Error, lean_position_of("constructor"), "no"),
        message(
            Severity::Error,
            lean_position_of("theorem"),
            "outside every step",
        ),
        message(Severity::Error, at(99, 0), "past the end"),
    ];
    assert_eq!(
        map_messages_to_steps(PROOF, &steps(), &messages),
        [Some(2), Some(1), Some(5), Some(0), None, None]
    );
    // The column of `hα]` counts `α` once: one codepoint, two bytes.
    assert_eq!(lean_position_of("hα]"), at(3, 10));
}

#[test]
fn ranges_are_half_open_and_equal_ranges_prefer_the_later_step() {
    let ranges = [
        ByteRange::new(0, 10),
        ByteRange::new(10, 20),
        ByteRange::new(10, 20),
    ];
    assert_eq!(innermost_step_containing(&ranges, ByteOffset(9)), Some(0));
    assert_eq!(innermost_step_containing(&ranges, ByteOffset(10)), Some(2));
    assert_eq!(innermost_step_containing(&ranges, ByteOffset(20)), None);
    assert_eq!(innermost_step_containing(&[], ByteOffset(0)), None);
    assert_eq!(
        innermost_step_containing(&[ByteRange::new(5, 5)], ByteOffset(5)),
        None,
        "an empty step contains nothing"
    );
}
