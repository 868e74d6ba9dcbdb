//! Process tests against the Lean stand-in test double (tests/lean-stand-in): the REPL and
//! language-server clients, and the pool's limits: timeouts that kill the process group,
//! crashes, garbage, huge answers, LRU eviction, the process cap and recycling.
//!
//! None of this runs real Lean; the stand-in speaks the documented protocol shapes only.

#[path = "process/support.rs"]
mod support;

use std::num::{NonZeroU32, NonZeroUsize};

use proofwright_lean::position::{ByteOffset, LeanPosition, LineIndex};
use proofwright_lean::process::{
    discover_toolchain, judge, AxiomCheck, BackendKind, BackendLaunches, CheckRequest,
    DiscoveryEnvironment, LeanPool, LeanProcessError, NotVerifiedReason, PoolKey, PoolSettings,
    ProofStatus, RequestPhase, Severity, Verdict,
};
use serde_json::Value;
use support::{
    eventually, process_is_gone, process_is_reaped, stand_in_binary, test_settings, StandIn,
    SHORT_TIMEOUT,
};

fn pool_for(stand_in: &StandIn, settings: PoolSettings) -> LeanPool {
    LeanPool::new(
        settings,
        BackendLaunches {
            language_server: Some(stand_in.launch(BackendKind::LanguageServer)),
            repl: Some(stand_in.launch(BackendKind::Repl)),
        },
    )
}

fn request(text: &str, axiom_declarations: &[&str]) -> CheckRequest {
    CheckRequest {
        text: text.to_owned(),
        goal_positions: Vec::new(),
        axiom_declarations: axiom_declarations
            .iter()
            .map(|name| name.to_string())
            .collect(),
    }
}

/// The Lean position of the first occurrence of `needle` in `text`.
fn position_of(text: &str, needle: &str) -> LeanPosition {
    let offset = text.find(needle).expect("needle in text");
    LineIndex::new(text).to_lean(text, ByteOffset(offset))
}

fn reasons(verdict: &Verdict) -> Vec<NotVerifiedReason> {
    match verdict {
        Verdict::LeanVerified => Vec::new(),
        Verdict::NotVerified { reasons } => reasons.clone(),
    }
}

const GOOD_DOCUMENT: &str = "import Mathlib\n\ntheorem good_one : True := trivial\n";

// ---------------------------------------------------------------------------------------------
// The REPL.

#[tokio::test]
async fn repl_imports_the_header_once_and_reuses_its_environment() {
    let stand_in = StandIn::new("normal.json");
    let pool = pool_for(&stand_in, test_settings());

    let first = pool
        .check(BackendKind::Repl, &request(GOOD_DOCUMENT, &["good_one"]))
        .await
        .expect("first check");
    assert_eq!(judge(&first.outcome), Verdict::LeanVerified);

    let failing = "import Mathlib\n\ntheorem bad_one (𝔽 : Type) : True := by\n  bad_step\n";
    let second = pool
        .check(BackendKind::Repl, &request(failing, &["bad_one"]))
        .await
        .expect("second check");
    assert_eq!(
        first.ticket, second.ticket,
        "the same process answered both"
    );

    // The error is reported at its place in the whole document, not in the body alone.
    let errors: Vec<_> = second
        .outcome
        .messages
        .iter()
        .filter(|message| message.severity == Severity::Error)
        .collect();
    assert_eq!(errors.len(), 1, "{:?}", second.outcome.messages);
    assert_eq!(errors[0].start, position_of(failing, "bad_step"));
    assert_eq!(errors[0].start, LeanPosition { line: 4, column: 2 });
    assert_eq!(errors[0].text, "unknown identifier 'bad_step'");

    let received = stand_in.received();
    let without_environment: Vec<&Value> = received
        .iter()
        .filter(|request| request.get("env").is_none())
        .collect();
    assert_eq!(
        without_environment,
        [&serde_json::json!({ "cmd": "import Mathlib" })],
        "only the header is sent without an environment"
    );
    let bodies: Vec<&Value> = received
        .iter()
        .filter(|request| {
            request
                .get("cmd")
                .and_then(Value::as_str)
                .is_some_and(|command| command.contains("theorem"))
        })
        .collect();
    assert_eq!(bodies.len(), 2);
    for body in bodies {
        assert_eq!(body.get("env"), Some(&serde_json::json!(0)));
        let command = body["cmd"].as_str().unwrap();
        assert!(!command.contains("import"), "{command}");
    }
    assert_eq!(pool.statistics().started, 1);
}

#[tokio::test]
async fn repl_reports_sorries_with_proof_states_and_runs_tactics_on_them() {
    let stand_in = StandIn::new("normal.json");
    let pool = pool_for(&stand_in, test_settings());
    let text = "import Mathlib\n\ntheorem pending (p q : Prop) : p ∧ q := by\n  sorry\n";
    let checked = pool
        .check(BackendKind::Repl, &request(text, &["pending"]))
        .await
        .expect("check");

    let outcome = &checked.outcome;
    assert_eq!(outcome.sorries.len(), 1);
    assert_eq!(outcome.sorries[0].start, position_of(text, "sorry"));
    let proof_state = outcome.sorries[0].proof_state.expect("a proof state");

    let verdict = judge(outcome);
    let reasons = reasons(&verdict);
    assert!(reasons
        .iter()
        .any(|reason| matches!(reason, NotVerifiedReason::Sorry { .. })));
    assert!(reasons
        .iter()
        .any(|reason| matches!(reason, NotVerifiedReason::SorryWarning { start } if *start == position_of(text, "theorem"))));
    assert!(reasons.contains(&NotVerifiedReason::DisallowedAxioms {
        declaration: "pending".to_owned(),
        axioms: vec!["sorryAx".to_owned()],
    }));

    let split = pool
        .run_tactic(&checked.ticket, proof_state, "constructor")
        .await
        .expect("tactic");
    assert_eq!(split.goals, ["⊢ left goal", "⊢ right goal"]);
    assert_eq!(
        split.proof_status,
        Some(ProofStatus::Incomplete("open goals remain".to_owned()))
    );
    let next_state = split.proof_state.expect("a new proof state");
    let finished = pool
        .run_tactic(&checked.ticket, next_state, "exact finished")
        .await
        .expect("tactic");
    assert_eq!(finished.proof_status, Some(ProofStatus::Completed));
    assert!(finished.goals.is_empty());

    let tactic_requests: Vec<Value> = stand_in
        .received()
        .into_iter()
        .filter(|request| request.get("tactic").is_some())
        .collect();
    assert_eq!(
        tactic_requests,
        [
            serde_json::json!({ "tactic": "constructor", "proofState": proof_state }),
            serde_json::json!({ "tactic": "exact finished", "proofState": next_state }),
        ]
    );

    // An unknown proof state is the REPL refusing, and the process stays usable.
    let refused = pool.run_tactic(&checked.ticket, 9_999, "simp").await;
    assert!(
        matches!(&refused, Err(LeanProcessError::ReplRejected { message }) if message.contains("Unknown proof state")),
        "{refused:?}"
    );
    assert!(pool
        .check(BackendKind::Repl, &request(GOOD_DOCUMENT, &[]))
        .await
        .is_ok());
    assert_eq!(pool.statistics().started, 1);
}

#[tokio::test]
async fn repl_reads_goals_at_positions_from_all_tactics() {
    let stand_in = StandIn::new("normal.json");
    let pool = pool_for(&stand_in, test_settings());
    let text = "import Mathlib\n\ntheorem swap (a b : Nat) : a + b = b + a := by\n  simp only [add_comm]\n";
    let inside = position_of(text, "only");
    let outside = position_of(text, "theorem");
    let check = CheckRequest {
        text: text.to_owned(),
        goal_positions: vec![inside, outside],
        axiom_declarations: vec!["swap".to_owned()],
    };
    let outcome = pool
        .check(BackendKind::Repl, &check)
        .await
        .expect("check")
        .outcome;
    assert_eq!(outcome.goals.len(), 2);
    assert_eq!(outcome.goals[0].position, inside);
    assert_eq!(
        outcome.goals[0].goals,
        Some(vec!["a b : Nat\n⊢ a + b = b + a".to_owned()])
    );
    assert_eq!(outcome.goals[1].goals, None);
    let body = stand_in
        .received()
        .into_iter()
        .find(|request| request.get("allTactics").is_some())
        .expect("the body asked for all tactics");
    assert_eq!(body["allTactics"], serde_json::json!(true));
}

#[tokio::test]
async fn user_text_never_becomes_a_pickle_request() {
    let stand_in = StandIn::new("normal.json");
    let pool = pool_for(&stand_in, test_settings());
    let sneaky = "import Mathlib\n\ntheorem t : True := trivial\n\n\n{\"pickleTo\": \"/tmp/proofwright-pwned.olean\", \"env\": 0}\n\n{\"unpickleEnvFrom\": \"/etc/passwd\"}\n\n";
    let outcome = pool
        .check(BackendKind::Repl, &request(sneaky, &["t"]))
        .await
        .expect("check");
    drop(outcome);
    let received = stand_in.received();
    assert!(!received.is_empty());
    for request in &received {
        let object = request.as_object().expect("requests are objects");
        for key in object.keys() {
            assert!(
                ["cmd", "env", "allTactics", "tactic", "proofState"].contains(&key.as_str()),
                "unexpected request key {key:?} in {request}"
            );
        }
    }
    // The whole sneaky body arrived as one command's text.
    assert!(received.iter().any(
        |request| request["cmd"].as_str().is_some_and(
            |command| command.contains("pickleTo") && command.contains("unpickleEnvFrom")
        )
    ));
    assert!(!std::path::Path::new("/tmp/proofwright-pwned.olean").exists());
}

#[tokio::test]
async fn declaration_names_cannot_smuggle_commands() {
    let stand_in = StandIn::new("normal.json");
    let pool = pool_for(&stand_in, test_settings());
    for backend in [BackendKind::Repl, BackendKind::LanguageServer] {
        let result = pool
            .check(
                backend,
                &request(GOOD_DOCUMENT, &["good_one\n#eval IO.Process.exit 0"]),
            )
            .await;
        assert!(
            matches!(result, Err(LeanProcessError::InvalidDeclarationName { .. })),
            "{result:?}"
        );
        // Refusing the name leaves the process usable.
        assert!(pool
            .check(backend, &request(GOOD_DOCUMENT, &["good_one"]))
            .await
            .is_ok());
    }
    assert!(!stand_in
        .received()
        .iter()
        .any(|request| request.to_string().contains("IO.Process.exit")));
    assert_eq!(pool.statistics().started, 2);
}

// ---------------------------------------------------------------------------------------------
// The language server.

#[tokio::test]
async fn language_server_check_collects_diagnostics_goals_and_axioms() {
    let stand_in = StandIn::new("normal.json");
    let pool = pool_for(&stand_in, test_settings());
    // `𝔽` is one codepoint but two UTF-16 units: the column must be converted.
    let text = "import Mathlib\n\ntheorem swap (a b : Nat) : a + b = b + a := by\n  simp only [add_comm]\n\ntheorem broken (𝔽 : Type) : True := by 𝔽 bad_step\n\ntheorem pending : False := by\n  sorry\n";
    let check = CheckRequest {
        text: text.to_owned(),
        goal_positions: vec![position_of(text, "only"), position_of(text, "import")],
        axiom_declarations: vec![
            "swap".to_owned(),
            "pending".to_owned(),
            "missing".to_owned(),
        ],
    };
    let first = pool
        .check(BackendKind::LanguageServer, &check)
        .await
        .expect("check");
    let outcome = &first.outcome;

    let texts: Vec<&str> = outcome
        .messages
        .iter()
        .map(|message| message.text.as_str())
        .collect();
    for noise in [
        "another document",
        "older version",
        "partial diagnostics",
        "unanswered",
    ] {
        assert!(
            !texts.iter().any(|text| text.contains(noise)),
            "{noise}: {texts:?}"
        );
    }
    let error = outcome
        .messages
        .iter()
        .find(|message| message.severity == Severity::Error)
        .expect("an error");
    assert_eq!(error.text, "unknown identifier 'bad_step'");
    assert_eq!(error.start, position_of(text, "bad_step"));
    assert_eq!(
        error.start,
        LeanPosition {
            line: 6,
            column: 41
        }
    );
    let sorry_warning = outcome
        .messages
        .iter()
        .find(|message| message.severity == Severity::Warning)
        .expect("a sorry warning");
    assert_eq!(sorry_warning.text, "declaration uses 'sorry'");
    assert_eq!(sorry_warning.start, position_of(text, "theorem pending"));
    assert!(
        outcome.sorries.is_empty(),
        "the language server reports sorries as warnings"
    );

    assert_eq!(outcome.goals.len(), 2);
    assert_eq!(
        outcome.goals[0].goals,
        Some(vec!["a b : Nat\n⊢ a + b = b + a".to_owned()])
    );
    assert_eq!(outcome.goals[1].goals, None);

    assert_eq!(outcome.axioms.len(), 3);
    assert_eq!(outcome.axioms[0].declaration, "swap");
    assert_eq!(
        outcome.axioms[0].check,
        AxiomCheck::Reported { axioms: vec![] }
    );
    assert_eq!(
        outcome.axioms[1].check,
        AxiomCheck::Reported {
            axioms: vec!["sorryAx".to_owned()]
        }
    );
    assert_eq!(
        outcome.axioms[2].check,
        AxiomCheck::NotReported {
            problems: vec!["unknown constant 'missing'".to_owned()]
        }
    );
    assert!(!outcome.fatal_processing_error);

    // A second version on the same process: the stale diagnostics of version 1 are ignored.
    let second = pool
        .check(
            BackendKind::LanguageServer,
            &request(GOOD_DOCUMENT, &["good_one"]),
        )
        .await
        .expect("second check");
    assert_eq!(second.ticket, first.ticket);
    assert_eq!(
        judge(&second.outcome),
        Verdict::LeanVerified,
        "{:?}",
        second.outcome
    );

    let methods: Vec<String> = stand_in
        .received()
        .iter()
        .filter_map(|message| {
            message
                .get("method")
                .and_then(Value::as_str)
                .map(str::to_owned)
        })
        .collect();
    let opens = methods
        .iter()
        .filter(|method| *method == "textDocument/didOpen")
        .count();
    let changes = methods
        .iter()
        .filter(|method| *method == "textDocument/didChange")
        .count();
    // The header was opened at start; each check is a new version of the same document.
    assert_eq!((opens, changes), (1, 2), "{methods:?}");
    let opened = stand_in
        .received()
        .into_iter()
        .find(|message| message["method"] == "textDocument/didOpen")
        .expect("didOpen");
    assert_eq!(opened["params"]["textDocument"]["text"], "import Mathlib");
    assert_eq!(methods.first().map(String::as_str), Some("initialize"));
    // Both server-to-client requests were answered.
    let answered: Vec<String> = stand_in
        .received()
        .iter()
        .filter(|message| message.get("method").is_none())
        .filter_map(|message| message.get("id").and_then(Value::as_str).map(str::to_owned))
        .collect();
    assert_eq!(
        answered,
        ["stand-in-configuration", "stand-in-registration"]
    );
}

#[tokio::test]
async fn language_server_fatal_progress_is_not_verified() {
    let stand_in = StandIn::new("misbehaving.json");
    let pool = pool_for(&stand_in, test_settings());
    let text = "theorem fine : True := trivial -- fatal_marker\n";
    let outcome = pool
        .check(BackendKind::LanguageServer, &request(text, &["fine"]))
        .await
        .expect("check")
        .outcome;
    assert!(outcome.fatal_processing_error);
    assert_eq!(
        reasons(&judge(&outcome)),
        [NotVerifiedReason::FatalProcessingError]
    );
}

// ---------------------------------------------------------------------------------------------
// Timeouts, crashes, garbage and huge answers.

#[tokio::test]
async fn a_timeout_kills_the_whole_process_group_and_is_not_retried() {
    let stand_in = StandIn::new("misbehaving.json");
    let settings = PoolSettings {
        request_timeout: SHORT_TIMEOUT,
        ..test_settings()
    };
    let pool = pool_for(&stand_in, settings);
    let text = "import Mathlib\n\ntheorem t : True := by hang_marker\n";
    let result = pool.check(BackendKind::Repl, &request(text, &[])).await;
    assert!(
        matches!(
            result,
            Err(LeanProcessError::TimedOut {
                backend: BackendKind::Repl,
                phase: RequestPhase::Answering,
                ..
            })
        ),
        "{result:?}"
    );

    let pids = std::fs::read_to_string(stand_in.pid_file()).expect("the stand-in wrote its pids");
    let pids: Vec<u64> = pids
        .split_whitespace()
        .map(|pid| pid.parse().unwrap())
        .collect();
    let [stand_in_pid, grandchild_pid] = pids[..] else {
        panic!("expected two pids, got {pids:?}");
    };
    assert!(
        process_is_reaped(stand_in_pid),
        "the stand-in was killed and reaped"
    );
    assert!(
        eventually(|| process_is_gone(grandchild_pid)).await,
        "the grandchild in the same process group was killed"
    );

    let hang_requests = stand_in
        .received()
        .iter()
        .filter(|request| request.to_string().contains("hang_marker"))
        .count();
    assert_eq!(hang_requests, 1, "a timed-out input is not retried");
    let statistics = pool.statistics();
    assert_eq!((statistics.timed_out, statistics.live), (1, 0));

    // The next request gets a fresh process.
    assert!(pool
        .check(BackendKind::Repl, &request(GOOD_DOCUMENT, &[]))
        .await
        .is_ok());
    assert_eq!(pool.statistics().started, 2);
}

#[tokio::test]
async fn a_language_server_timeout_is_reported() {
    let stand_in = StandIn::new("misbehaving.json");
    let settings = PoolSettings {
        request_timeout: SHORT_TIMEOUT,
        ..test_settings()
    };
    let pool = pool_for(&stand_in, settings);
    let result = pool
        .check(
            BackendKind::LanguageServer,
            &request("-- slow_marker\n", &[]),
        )
        .await;
    assert!(
        matches!(
            result,
            Err(LeanProcessError::TimedOut {
                backend: BackendKind::LanguageServer,
                ..
            })
        ),
        "{result:?}"
    );
    let started = stand_in.started_process_ids();
    assert_eq!(started.len(), 1);
    assert!(process_is_reaped(started[0]));
}

#[tokio::test]
async fn a_crash_mid_request_is_reported_and_the_process_restarted() {
    let stand_in = StandIn::new("misbehaving.json");
    let pool = pool_for(&stand_in, test_settings());
    for backend in [BackendKind::Repl, BackendKind::LanguageServer] {
        let result = pool
            .check(
                backend,
                &request("theorem t : True := by crash_marker\n", &[]),
            )
            .await;
        match result {
            Err(LeanProcessError::Crashed {
                backend: crashed,
                exit,
                stderr_tail,
            }) => {
                assert_eq!(crashed, backend);
                assert!(exit.contains("70"), "{exit}");
                assert!(stderr_tail.contains("crashing on purpose"), "{stderr_tail}");
            }
            other => panic!("expected a crash, got {other:?}"),
        }
        let after = pool
            .check(backend, &request("theorem t : True := trivial\n", &["t"]))
            .await;
        assert_eq!(
            judge(&after.expect("the restarted process answers").outcome),
            Verdict::LeanVerified
        );
    }
    let statistics = pool.statistics();
    assert_eq!((statistics.crashed, statistics.started), (2, 4));
    // Started in order: REPL (crashed), REPL, language server (crashed), language server.
    let pids = stand_in.started_process_ids();
    assert_eq!(pids.len(), 4);
    assert!(process_is_reaped(pids[0]) && process_is_reaped(pids[2]));
}

#[tokio::test]
async fn a_process_that_died_while_idle_is_replaced_before_use() {
    let stand_in = StandIn::new("normal.json");
    let pool = pool_for(&stand_in, test_settings());
    let first = pool
        .check(BackendKind::Repl, &request(GOOD_DOCUMENT, &[]))
        .await
        .expect("check");
    let pid = stand_in.started_process_ids()[0];
    let killed = std::process::Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status()
        .expect("run kill");
    assert!(killed.success());
    assert!(
        eventually(|| std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .is_ok_and(|stat| stat.contains(") Z")))
        .await
    );

    let second = pool
        .check(BackendKind::Repl, &request(GOOD_DOCUMENT, &[]))
        .await
        .expect("check");
    assert_ne!(first.ticket, second.ticket);
    let statistics = pool.statistics();
    assert_eq!(
        (
            statistics.found_dead,
            statistics.started,
            statistics.crashed
        ),
        (1, 2, 0)
    );
    assert!(process_is_reaped(pid), "the dead process was reaped");
    // Its proof states are gone with it.
    let gone = pool.run_tactic(&first.ticket, 0, "simp").await;
    assert!(
        matches!(gone, Err(LeanProcessError::ProcessGone)),
        "{gone:?}"
    );
}

#[tokio::test]
async fn garbage_output_is_a_clear_error() {
    let stand_in = StandIn::new("misbehaving.json");
    let pool = pool_for(&stand_in, test_settings());
    for backend in [BackendKind::Repl, BackendKind::LanguageServer] {
        let result = pool
            .check(
                backend,
                &request("theorem t : True := by garbage_marker\n", &[]),
            )
            .await;
        match &result {
            Err(LeanProcessError::MalformedOutput {
                backend: failed,
                excerpt,
                ..
            }) => {
                assert_eq!(*failed, backend);
                assert!(excerpt.contains("stand-in garbage"), "{excerpt}");
            }
            other => panic!("expected malformed output, got {other:?}"),
        }
        let message = result.unwrap_err().to_string();
        assert!(message.contains("not a"), "{message}");
        assert!(pool
            .check(backend, &request(GOOD_DOCUMENT, &[]))
            .await
            .is_ok());
    }
    assert_eq!(pool.statistics().failed, 2);
}

#[tokio::test]
async fn a_huge_answer_is_read_whole() {
    let stand_in = StandIn::new("misbehaving.json");
    let pool = pool_for(&stand_in, test_settings());
    for backend in [BackendKind::Repl, BackendKind::LanguageServer] {
        let outcome = pool
            .check(
                backend,
                &request("theorem t : True := by huge_marker\n", &[]),
            )
            .await
            .expect("check")
            .outcome;
        let longest = outcome
            .messages
            .iter()
            .map(|message| message.text.len())
            .max();
        assert_eq!(longest, Some(6_000_000), "{backend}");
    }
}

#[tokio::test]
async fn an_answer_over_the_limit_is_refused() {
    let stand_in = StandIn::new("misbehaving.json");
    let settings = PoolSettings {
        max_answer_bytes: 1_000_000,
        ..test_settings()
    };
    let pool = pool_for(&stand_in, settings);
    for backend in [BackendKind::Repl, BackendKind::LanguageServer] {
        let result = pool
            .check(
                backend,
                &request("theorem t : True := by huge_marker\n", &[]),
            )
            .await;
        assert!(
            matches!(
                result,
                Err(LeanProcessError::AnswerTooLarge {
                    limit_bytes: 1_000_000,
                    ..
                })
            ),
            "{result:?}"
        );
    }
    assert_eq!(pool.statistics().live, 0);
}

// ---------------------------------------------------------------------------------------------
// The pool: reuse, LRU eviction, the cap, recycling, limits.

fn header_document(module: &str) -> String {
    format!("import {module}\n\ntheorem t : True := trivial\n")
}

#[tokio::test]
async fn processes_are_reused_by_header_and_evicted_least_recently_used() {
    let stand_in = StandIn::new("normal.json");
    let settings = PoolSettings {
        max_processes: NonZeroUsize::new(2).unwrap(),
        ..test_settings()
    };
    let pool = pool_for(&stand_in, settings);
    let key = |module: &str| PoolKey {
        backend: BackendKind::Repl,
        import_header: format!("import {module}"),
    };
    let check = |module: &'static str| {
        let pool = &pool;
        async move {
            pool.check(
                BackendKind::Repl,
                &request(&header_document(module), &["t"]),
            )
            .await
            .expect("check")
            .ticket
        }
    };
    let alpha = check("Alpha").await;
    let beta = check("Beta").await;
    let alpha_again = check("Alpha").await;
    assert_eq!(alpha, alpha_again);
    assert_eq!(pool.idle_keys(), [key("Alpha"), key("Beta")]);

    let gamma = check("Gamma").await;
    assert_eq!(
        pool.idle_keys(),
        [key("Gamma"), key("Alpha")],
        "Beta was least recently used"
    );
    let statistics = pool.statistics();
    assert_eq!(
        (statistics.started, statistics.evicted, statistics.live),
        (3, 1, 2)
    );
    let gone = pool.run_tactic(&beta, 0, "simp").await;
    assert!(
        matches!(gone, Err(LeanProcessError::ProcessGone)),
        "{gone:?}"
    );
    assert_ne!(gamma.serial(), beta.serial());

    // Beta's process is dead and reaped.
    let beta_pid = stand_in.started_process_ids()[1];
    assert!(process_is_reaped(beta_pid));
}

#[tokio::test]
async fn the_process_cap_holds_under_concurrent_requests() {
    let stand_in = StandIn::new("misbehaving.json");
    let settings = PoolSettings {
        max_processes: NonZeroUsize::new(1).unwrap(),
        ..test_settings()
    };
    let pool = pool_for(&stand_in, settings);
    let slow = request(
        "import Alpha\n\ntheorem t : True := by delayed_marker\n",
        &[],
    );
    let other = request("import Beta\n\ntheorem t : True := trivial\n", &[]);
    let (first, second) = tokio::join!(
        pool.check(BackendKind::Repl, &slow),
        pool.check(BackendKind::Repl, &other),
    );
    assert!(first.is_ok() && second.is_ok(), "{first:?} {second:?}");
    let statistics = pool.statistics();
    assert_eq!(
        (statistics.started, statistics.evicted, statistics.live),
        (2, 1, 1)
    );
    // The second process started only after the first was gone.
    let pids = stand_in.started_process_ids();
    assert_eq!(pids.len(), 2);
    assert!(process_is_reaped(pids[0]));
}

#[tokio::test]
async fn processes_are_recycled_after_their_uses() {
    let stand_in = StandIn::new("normal.json");
    let settings = PoolSettings {
        uses_before_recycle: NonZeroU32::new(2).unwrap(),
        ..test_settings()
    };
    let pool = pool_for(&stand_in, settings);
    let mut serials = Vec::new();
    for _ in 0..5 {
        let checked = pool
            .check(BackendKind::Repl, &request(GOOD_DOCUMENT, &[]))
            .await
            .expect("check");
        serials.push(checked.ticket.serial());
    }
    assert_eq!(serials, [1, 1, 2, 2, 3]);
    let statistics = pool.statistics();
    assert_eq!((statistics.recycled, statistics.started), (2, 3));
    let pids = stand_in.started_process_ids();
    assert!(process_is_reaped(pids[0]) && process_is_reaped(pids[1]));
}

#[cfg(target_os = "linux")]
#[tokio::test]
async fn every_process_gets_the_address_space_limit() {
    let stand_in = StandIn::new("normal.json");
    let limit_bytes = 8 * 1024 * 1024 * 1024u64;
    let settings = PoolSettings {
        address_space_limit_bytes: Some(limit_bytes),
        ..test_settings()
    };
    let pool = pool_for(&stand_in, settings);
    pool.check(BackendKind::LanguageServer, &request(GOOD_DOCUMENT, &[]))
        .await
        .expect("check");
    let entries = stand_in.log_entries();
    let limit_line = entries
        .iter()
        .find_map(|entry| entry.get("address_space_limit").and_then(Value::as_str))
        .expect("the stand-in reported its limit");
    assert_eq!(
        limit_line,
        format!("Max address space {limit_bytes} {limit_bytes} bytes")
    );
}

#[tokio::test]
async fn an_unconfigured_backend_is_an_error() {
    let pool = LeanPool::new(test_settings(), BackendLaunches::default());
    let result = pool
        .check(BackendKind::Repl, &request(GOOD_DOCUMENT, &[]))
        .await;
    assert!(
        matches!(
            result,
            Err(LeanProcessError::BackendNotConfigured {
                backend: BackendKind::Repl
            })
        ),
        "{result:?}"
    );
}

#[tokio::test]
async fn a_missing_program_is_a_spawn_error() {
    let folder = tempfile::tempdir().unwrap();
    let launch = proofwright_lean::process::LaunchCommand::new(
        folder.path().join("no-such-lake"),
        folder.path(),
    );
    let pool = LeanPool::new(
        test_settings(),
        BackendLaunches {
            language_server: None,
            repl: Some(launch),
        },
    );
    let result = pool
        .check(BackendKind::Repl, &request(GOOD_DOCUMENT, &[]))
        .await;
    assert!(
        matches!(result, Err(LeanProcessError::SpawnFailed { .. })),
        "{result:?}"
    );
    assert_eq!(pool.statistics().live, 0);
}

// ---------------------------------------------------------------------------------------------
// From discovery to a running process.

#[cfg(unix)]
#[tokio::test]
async fn a_discovered_toolchain_launches_lake_exe_repl_and_lake_serve() {
    let stand_in = StandIn::new("normal.json");
    let root = stand_in.folder.path();
    let elan_home = root.join("elan");
    let bin = elan_home
        .join("toolchains")
        .join("leanprover--lean4---v4.9.0")
        .join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    for tool in ["lean", "lake"] {
        std::os::unix::fs::symlink(stand_in_binary(), bin.join(tool)).unwrap();
    }
    let project = root.join("project");
    std::fs::create_dir_all(project.join("Project")).unwrap();
    std::fs::write(project.join("lakefile.toml"), "name = \"project\"\n").unwrap();
    std::fs::write(project.join("lean-toolchain"), "leanprover/lean4:v4.9.0\n").unwrap();
    std::fs::write(
        project.join("lake-manifest.json"),
        r#"{"version": 7, "packages": [{"name": "REPL", "type": "git"}]}"#,
    )
    .unwrap();
    let file = project.join("Project").join("Main.lean");

    let environment = DiscoveryEnvironment {
        path: Some(std::ffi::OsString::new()),
        home: None,
        elan_home: Some(elan_home.clone()),
    };
    let toolchain = discover_toolchain(&environment, &file).expect("discovered");
    let launches = BackendLaunches::from_toolchain(&toolchain);
    let repl = launches.repl.clone().expect("the project has the REPL");
    let language_server = launches.language_server.clone().expect("a language server");
    assert_eq!(repl.program, bin.join("lake"));
    assert_eq!(repl.working_directory, project);
    let pool = LeanPool::new(
        test_settings(),
        BackendLaunches {
            repl: Some(stand_in.instrument(repl)),
            language_server: Some(stand_in.instrument(language_server)),
        },
    );
    for backend in [BackendKind::Repl, BackendKind::LanguageServer] {
        let outcome = pool
            .check(backend, &request(GOOD_DOCUMENT, &["good_one"]))
            .await
            .expect("check")
            .outcome;
        assert_eq!(judge(&outcome), Verdict::LeanVerified, "{backend}");
    }
    let arguments: Vec<Value> = stand_in
        .log_entries()
        .into_iter()
        .filter_map(|entry| entry.get("arguments").cloned())
        .collect();
    assert_eq!(
        arguments,
        [
            serde_json::json!(["exe", "repl"]),
            serde_json::json!(["serve"])
        ]
    );
    // The language server opened its scratch document in the project root.
    let opened = stand_in
        .received()
        .into_iter()
        .find(|message| message["method"] == "textDocument/didOpen")
        .expect("didOpen");
    let uri = opened["params"]["textDocument"]["uri"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        uri.starts_with("file:///") && uri.ends_with("/project/ProofwrightScratch.lean"),
        "{uri}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pool_can_be_shared_between_spawned_tasks() {
    let stand_in = StandIn::new("normal.json");
    let pool = std::sync::Arc::new(pool_for(&stand_in, test_settings()));
    let tasks: Vec<_> = (0..3)
        .map(|task| {
            let pool = std::sync::Arc::clone(&pool);
            tokio::spawn(async move {
                let text = format!("import Mathlib\n\ntheorem task_{task} : True := trivial\n");
                let name = format!("task_{task}");
                pool.check(BackendKind::Repl, &request(&text, &[name.as_str()]))
                    .await
                    .map(|checked| judge(&checked.outcome))
            })
        })
        .collect();
    for task in tasks {
        let verdict = task.await.expect("the task ran").expect("check");
        assert_eq!(verdict, Verdict::LeanVerified);
    }
    assert!(pool.statistics().live <= test_settings().max_processes.get());
    pool.shutdown().await;
    assert_eq!(pool.statistics().live, 0);
}
