//! End-to-end tests of `proofwright check`: the real binary over Lean files, with the tiny
//! trained demo prover (tests/fixtures/tiny-prover) and, where Lean is wanted, the Lean
//! stand-in test double. Every status, every output format, the exit codes, determinism,
//! `--fix` and its refusal when the file changed, and the time budget.

mod support;

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use support::{proofwright_binary, tiny_prover, workspace_root, StandInProject};

/// Small budgets: these tests run a debug build on a loaded 2-core machine.
const SMALL_SEARCH: [&str; 8] = [
    "--samples",
    "2",
    "--rounds",
    "1",
    "--max-new-tokens",
    "48",
    "--seed",
    "3",
];

/// The SARIF 2.1.0 schema, fetched by scripts/fetch-test-data from the npm registry.
fn sarif_schema_path() -> PathBuf {
    std::env::var_os("PROOFWRIGHT_SARIF_SCHEMA")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            workspace_root()
                .join("target")
                .join("test-data")
                .join("sarif-2.1.0-rtm.5.json")
        })
}

fn check(arguments: &[&str], configure: impl FnOnce(&mut Command)) -> Output {
    let mut command = Command::new(proofwright_binary());
    command.arg("check").args(arguments);
    configure(&mut command);
    command.output().expect("proofwright runs")
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).expect("UTF-8 output")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn json_report(output: &Output) -> Value {
    serde_json::from_str(&stdout(output)).unwrap_or_else(|error| {
        panic!(
            "check printed no JSON ({error}); stderr: {}\nstdout: {}",
            stderr(output),
            stdout(output)
        )
    })
}

/// A copy of examples/ in a temporary folder (so `--fix` never touches the repository).
fn examples_copy() -> tempfile::TempDir {
    let copy = tempfile::tempdir().expect("temporary folder");
    copy_tree(&workspace_root().join("examples"), copy.path());
    copy
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("folder");
    for entry in std::fs::read_dir(from).expect("readable") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("type").is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}

fn statuses(report: &Value) -> Vec<(String, String)> {
    report["files"]
        .as_array()
        .expect("files")
        .iter()
        .flat_map(|file| file["proofs"].as_array().expect("proofs").iter())
        .map(|proof| {
            (
                proof["declaration"]
                    .as_str()
                    .unwrap_or("example")
                    .to_owned(),
                proof["status"].as_str().expect("status").to_owned(),
            )
        })
        .collect()
}

/// Without Lean: every proof is judged by the neural verifier, every sorry gets a search, and
/// the run is deterministic for a seed.
#[test]
fn examples_without_lean_are_judged_neurally_and_deterministically() {
    let examples = examples_copy();
    let file = examples.path().join("Examples").join("Basic.lean");
    let model = tiny_prover();
    let run = || {
        check(
            &[
                file.to_str().expect("path"),
                "--model",
                model.to_str().expect("path"),
                "--lean",
                "off",
                "--format",
                "json",
            ]
            .iter()
            .chain(SMALL_SEARCH.iter())
            .copied()
            .collect::<Vec<_>>(),
            |_| {},
        )
    };
    let first = run();
    assert_eq!(
        first.status.code(),
        Some(1),
        "sorries are left: {}",
        stderr(&first)
    );
    let report = json_report(&first);
    assert_eq!(report["version"], 1);
    assert_eq!(report["lean"], "off");
    assert_eq!(report["model"]["template"], "completion");
    let statuses = statuses(&report);
    let status_of = |name: &str| {
        statuses
            .iter()
            .find(|(declaration, _)| declaration == name)
            .map(|(_, status)| status.as_str())
            .unwrap_or_else(|| panic!("{name} is in the report: {statuses:?}"))
    };
    // Proofs with a sorry are unproved; finished ones are neural or flagged, never verified.
    assert_eq!(status_of("add_zero_example"), "unproved");
    assert_eq!(status_of("gt_of_eq_add_two"), "unproved");
    for name in ["add_comm_example", "add_comm_term", "calc_add_one_le"] {
        assert!(
            matches!(status_of(name), "neural" | "flagged"),
            "{name}: {}",
            status_of(name)
        );
    }
    assert!(!statuses.iter().any(|(_, status)| status == "lean-verified"));
    let sorries = report["files"][0]["sorries"].as_array().expect("sorries");
    assert_eq!(sorries.len(), 4, "{sorries:#?}");
    // The tiny prover memorised a proof of add_zero_example: the search finds a candidate.
    let add_zero = sorries
        .iter()
        .find(|sorry| sorry["declaration"] == "add_zero_example")
        .expect("the add_zero_example sorry");
    let best = &add_zero["best"];
    assert!(
        best.is_object(),
        "a proposal for add_zero_example: {add_zero:#}"
    );
    assert!(matches!(
        best["status"].as_str(),
        Some("neural" | "flagged")
    ));
    assert!(!best["new_text"].as_str().expect("text").contains("sorry"));
    assert_eq!(report["summary"]["sorries"], 4);

    let second = run();
    assert_eq!(
        stdout(&first),
        stdout(&second),
        "the same seed gives the same report"
    );
}

/// With the stand-in as Lean (REPL backend): a finished proof Lean accepts is lean-verified,
/// the sorry's proposal is verified and `--fix` writes it, and the run then exits 0.
#[test]
fn lean_verified_proposals_are_written_by_fix() {
    let project = StandInProject::new(None, true);
    let original = "theorem add_comm_example (a b : Nat) : a + b = b + a := by\n  omega\n\ntheorem add_zero_example (n : Nat) : n + 0 = n := by sorry\n";
    let file = project.write("Project/Basic.lean", original);
    let model = tiny_prover();
    let output = check(
        &[
            file.to_str().expect("path"),
            "--model",
            model.to_str().expect("path"),
            "--lean",
            "require",
            "--fix",
            "--format",
            "json",
            "--samples",
            "2",
            "--rounds",
            "1",
            "--max-new-tokens",
            "48",
        ],
        |command| project.configure(command),
    );
    let report = json_report(&output);
    assert_eq!(
        statuses(&report)[0],
        ("add_comm_example".to_owned(), "lean-verified".to_owned())
    );
    let sorry = &report["files"][0]["sorries"][0];
    assert_eq!(sorry["best"]["status"], "lean-verified", "{sorry:#}");
    assert_eq!(sorry["best"]["applied"], true);
    assert_eq!(sorry["search_end"], "lean-verified");
    assert_eq!(report["files"][0]["fixed"], true);
    let fixed = std::fs::read_to_string(&file).expect("readable");
    assert!(!fixed.contains("sorry"), "{fixed}");
    let new_text = sorry["best"]["new_text"].as_str().expect("text");
    assert!(fixed.contains(new_text), "{fixed}");
    assert!(
        fixed.starts_with("theorem add_comm_example"),
        "the rest is kept: {fixed}"
    );
    assert_eq!(
        output.status.code(),
        Some(0),
        "nothing left to complain about: {}",
        stderr(&output)
    );
    // Lean was asked through the REPL, with the axiom check.
    let commands: Vec<String> = project
        .received()
        .iter()
        .filter_map(|request| request["cmd"].as_str().map(str::to_owned))
        .collect();
    assert!(
        commands
            .iter()
            .any(|command| command.starts_with("#print axioms add_zero_example")),
        "{commands:#?}"
    );
}

/// Lean's errors flag the steps they fall in, whatever the neural score, and feed refinement.
#[test]
fn lean_errors_flag_steps() {
    let script = workspace_root().join("server/tests/check/simp_fails.json");
    let project = StandInProject::new(Some(&script), true);
    let file = project.write(
        "Project/Basic.lean",
        "theorem uses_simp (n : Nat) : n + 0 = n := by\n  simp\n",
    );
    let model = tiny_prover();
    let output = check(
        &[
            file.to_str().expect("path"),
            "--model",
            model.to_str().expect("path"),
            "--lean",
            "require",
            "--format",
            "json",
        ],
        |command| project.configure(command),
    );
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let report = json_report(&output);
    let proof = &report["files"][0]["proofs"][0];
    assert_eq!(proof["status"], "flagged");
    let flagged = &proof["flagged"][0];
    assert_eq!(flagged["rule"], "lean-error");
    assert_eq!(flagged["text"], "simp");
    assert!(flagged["reasons"][0]
        .as_str()
        .expect("reason")
        .contains("simp made no progress"));
    assert_eq!(
        flagged["range"]["lean"]["start"],
        serde_json::json!({"line": 2, "column": 2})
    );
}

fn sample_project_report(format: &str, output_file: &Path) -> Output {
    let examples = examples_copy();
    let file = examples.path().join("Examples").join("Logic.lean");
    let model = tiny_prover();
    check(
        &[
            file.to_str().expect("path"),
            "--model",
            model.to_str().expect("path"),
            "--lean",
            "off",
            "--format",
            format,
            "--output",
            output_file.to_str().expect("path"),
            "--samples",
            "1",
            "--rounds",
            "0",
            "--max-new-tokens",
            "32",
        ],
        |_| {},
    )
}

/// SARIF is valid against the SARIF 2.1.0 schema; JUnit is well-formed XML with a test case per
/// proof and sorry; GitHub annotation lines have the documented shape; text has a summary.
#[test]
fn every_output_format_is_well_formed() {
    let folder = tempfile::tempdir().expect("temporary folder");

    let sarif_path = folder.path().join("report.sarif");
    let output = sample_project_report("sarif", &sarif_path);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert!(
        output.stdout.is_empty(),
        "--output leaves standard output empty"
    );
    let sarif: Value =
        serde_json::from_str(&std::fs::read_to_string(&sarif_path).expect("sarif")).expect("JSON");
    let schema_path = sarif_schema_path();
    // The rtm.5 schema has one pattern with an unescaped `]` (a literal in ECMAScript regular
    // expressions, an error for the regex engine here); escaping it keeps its meaning.
    let schema_text = std::fs::read_to_string(&schema_path)
        .map(|text| text.replace("[a-zA-Z]{2}]?$", "[a-zA-Z]{2}\\\\]?$"));
    let schema: Value = serde_json::from_str(&schema_text.unwrap_or_else(|error| {
        panic!(
            "the SARIF schema is missing at {} ({error}); run scripts/fetch-test-data (scripts/test does) or set PROOFWRIGHT_SARIF_SCHEMA",
            schema_path.display()
        )
    }))
    .expect("schema JSON");
    let validator = jsonschema::validator_for(&schema)
        .unwrap_or_else(|error| panic!("the SARIF schema does not compile: {error}"));
    let problems: Vec<String> = validator
        .iter_errors(&sarif)
        .map(|error| format!("{error} at {}", error.instance_path()))
        .collect();
    assert!(
        problems.is_empty(),
        "SARIF schema violations: {problems:#?}"
    );
    // The validator is live: a level SARIF does not define is caught.
    let mut broken = sarif.clone();
    broken["runs"][0]["results"][0]["level"] = Value::from("loud");
    assert!(!validator.is_valid(&broken));
    let results = sarif["runs"][0]["results"].as_array().expect("results");
    assert!(results.iter().any(|result| result["ruleId"] == "sorry"));
    assert!(results.iter().all(
        |result| result["locations"][0]["physicalLocation"]["region"]["startLine"].as_u64()
            > Some(0)
    ));

    let junit_path = folder.path().join("report.xml");
    sample_project_report("junit", &junit_path);
    let junit = std::fs::read_to_string(&junit_path).expect("junit");
    let document = roxmltree::Document::parse(&junit).expect("well-formed XML");
    let root = document.root_element();
    assert_eq!(root.tag_name().name(), "testsuites");
    let cases: Vec<_> = root
        .descendants()
        .filter(|node| node.has_tag_name("testcase"))
        .collect();
    let failures = cases
        .iter()
        .filter(|case| case.children().any(|child| child.has_tag_name("failure")))
        .count();
    assert_eq!(
        root.attribute("tests"),
        Some(cases.len().to_string().as_str())
    );
    assert_eq!(
        root.attribute("failures"),
        Some(failures.to_string().as_str())
    );
    assert!(failures > 0);

    let github_path = folder.path().join("report.txt");
    sample_project_report("github", &github_path);
    let github = std::fs::read_to_string(&github_path).expect("annotations");
    assert!(!github.is_empty());
    for line in github.lines() {
        let (command, message) = line
            .split_once("::")
            .and_then(|(_, rest)| rest.split_once("::"))
            .unwrap_or_else(|| panic!("{line}"));
        let (level, properties) = command.split_once(' ').unwrap_or_else(|| panic!("{line}"));
        assert!(matches!(level, "error" | "warning"), "{line}");
        let keys: Vec<&str> = properties
            .split(',')
            .map(|pair| pair.split_once('=').map_or("", |(key, _)| key))
            .collect();
        assert_eq!(
            keys,
            ["file", "line", "col", "endLine", "endColumn", "title"],
            "{line}"
        );
        assert!(!message.is_empty() && !message.contains('\n'));
    }

    let text_path = folder.path().join("report.txt");
    sample_project_report("text", &text_path);
    let text = std::fs::read_to_string(&text_path).expect("text");
    assert!(text.contains("Logic.lean"), "{text}");
    assert!(
        text.lines()
            .any(|line| line.contains("proofs:") && line.contains("sorries")),
        "{text}"
    );
}

/// 0 when every proof is verified and no sorry is left; 2 for usage and environment errors.
#[test]
fn exit_codes_follow_the_documentation() {
    let project = StandInProject::new(None, true);
    let clean = project.write(
        "Project/Clean.lean",
        "theorem t (a b : Nat) : a + b = b + a := by\n  omega\n",
    );
    let model = tiny_prover();
    let model = model.to_str().expect("path");
    let output = check(
        &[
            clean.to_str().expect("path"),
            "--model",
            model,
            "--lean",
            "require",
        ],
        |command| project.configure(command),
    );
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}{}",
        stdout(&output),
        stderr(&output)
    );
    assert!(
        stdout(&output).contains("1 lean-verified"),
        "{}",
        stdout(&output)
    );

    let missing = check(&["no/such/file.lean", "--model", model], |_| {});
    assert_eq!(missing.status.code(), Some(2));
    assert!(
        stderr(&missing).contains("no/such/file.lean"),
        "{}",
        stderr(&missing)
    );

    let bad_threshold = check(
        &[
            clean.to_str().expect("path"),
            "--model",
            model,
            "--threshold",
            "3",
        ],
        |_| {},
    );
    assert_eq!(bad_threshold.status.code(), Some(2));
    assert!(
        stderr(&bad_threshold).contains("--threshold"),
        "{}",
        stderr(&bad_threshold)
    );

    let no_model = check(
        &[
            clean.to_str().expect("path"),
            "--model",
            "./no-such-model-dir",
        ],
        |_| {},
    );
    assert_eq!(no_model.status.code(), Some(2));
    assert!(
        stderr(&no_model).contains("no-such-model-dir"),
        "{}",
        stderr(&no_model)
    );

    let no_lean_home = tempfile::tempdir().expect("temporary folder");
    let no_lean = check(
        &[
            clean.to_str().expect("path"),
            "--model",
            model,
            "--lean",
            "require",
        ],
        |command| {
            command
                .env("ELAN_HOME", no_lean_home.path())
                .env("PATH", "")
                .env_remove("HOME");
        },
    );
    assert_eq!(no_lean.status.code(), Some(2));
    assert!(
        stderr(&no_lean).contains("lean is required"),
        "{}",
        stderr(&no_lean)
    );
}

/// `--fix` refuses to write a file that changed while check ran, and says so.
#[test]
fn fix_refuses_a_file_changed_since_it_was_read() {
    let script = workspace_root().join("server/tests/check/slow.json");
    let project = StandInProject::new(Some(&script), true);
    let file = project.write(
        "Project/Basic.lean",
        "theorem add_zero_example (n : Nat) : n + 0 = n := by sorry\n",
    );
    let model = tiny_prover();
    let mut command = Command::new(proofwright_binary());
    command.args([
        "check",
        file.to_str().expect("path"),
        "--model",
        model.to_str().expect("path"),
        "--lean",
        "require",
        "--fix",
        "--format",
        "json",
        "--samples",
        "1",
        "--rounds",
        "0",
    ]);
    project.configure(&mut command);
    command
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let child = command.spawn().expect("proofwright starts");
    // Once Lean has been asked anything, the file was read: change it under check's feet.
    let mut asked = false;
    for _ in 0..600 {
        if !project.received().is_empty() {
            asked = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(asked, "check never asked Lean");
    let edited = "theorem add_zero_example (n : Nat) : n + 0 = n := by sorry -- edited meanwhile\n";
    std::fs::write(&file, edited).expect("write");
    let output = child.wait_with_output().expect("check ends");
    let report = json_report(&output);
    let refused = report["files"][0]["fix_refused"]
        .as_str()
        .unwrap_or_else(|| panic!("{report:#}"));
    assert!(refused.contains("changed since it was read"), "{refused}");
    assert_eq!(report["files"][0]["fixed"], false);
    assert_eq!(
        std::fs::read_to_string(&file).expect("readable"),
        edited,
        "the user's edit is kept"
    );
    assert_eq!(output.status.code(), Some(1));
}

/// A search stops when its time budget is spent, and says so.
#[test]
fn the_time_budget_cancels_a_search() {
    let examples = examples_copy();
    let file = examples.path().join("Examples").join("Basic.lean");
    let model = tiny_prover();
    let output = check(
        &[
            file.to_str().expect("path"),
            "--model",
            model.to_str().expect("path"),
            "--lean",
            "off",
            "--format",
            "json",
            "--time-budget",
            "0.000001",
        ],
        |_| {},
    );
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let report = json_report(&output);
    for sorry in report["files"][0]["sorries"].as_array().expect("sorries") {
        assert_eq!(sorry["search_end"], "time-budget-spent", "{sorry:#}");
        assert!(sorry["best"].is_null());
    }
}

/// Deep mode: the model reviews each proof; the tiny prover learned to accept the corpus proofs
/// and to name the bad step of broken ones (here `decide` where the goal has variables).
#[test]
fn deep_reviews_accept_a_good_proof_and_flag_the_step_a_review_names() {
    let folder = tempfile::tempdir().expect("temporary folder");
    let file = folder.path().join("Reviewed.lean");
    std::fs::write(
        &file,
        "theorem add_comm_example (a b : Nat) : a + b = b + a := by\n  omega\n\ntheorem le_trans_example (a b c : Nat) (h1 : a ≤ b) (h2 : b ≤ c) : a ≤ c := by\n  decide\n",
    )
    .expect("write");
    let model = tiny_prover();
    let output = check(
        &[
            file.to_str().expect("path"),
            "--model",
            model.to_str().expect("path"),
            "--lean",
            "off",
            "--verifier",
            "deep",
            "--temperature",
            "0",
            "--format",
            "json",
        ],
        |_| {},
    );
    let report = json_report(&output);
    assert_eq!(report["settings"]["verifier"], "deep");
    let proofs = report["files"][0]["proofs"].as_array().expect("proofs");
    assert_eq!(proofs[0]["status"], "neural", "{:#}", proofs[0]);
    assert_eq!(proofs[0]["score"], 1.0);
    assert_eq!(proofs[1]["status"], "flagged", "{:#}", proofs[1]);
    assert_eq!(proofs[1]["score"], 0.0);
    let decide_step = proofs[1]["flagged"]
        .as_array()
        .expect("flagged")
        .iter()
        .find(|step| step["text"] == "decide")
        .unwrap_or_else(|| panic!("the review names the decide step: {:#}", proofs[1]));
    assert!(decide_step["reasons"][0]
        .as_str()
        .expect("reason")
        .starts_with("review: `decide`"));
    assert_eq!(output.status.code(), Some(1));
}

/// Two declarations with two sorries each: bullets of a conjunction, and a `have … := by sorry`
/// one-liner whose statement the last sorry relies on.
const TWO_HOLE_DECLARATIONS: &str = "theorem swap_conjunction (p q : Prop) (h : p ∧ q) : q ∧ p := by\n  constructor\n  · sorry\n  · sorry\n\ntheorem gt_of_eq_add_two (a b : Nat) (h : a = b + 2) : a > b := by\n  have hb : b < b + 2 := by sorry\n  sorry\n";

/// One deterministic candidate per sorry: the tests below are about what happens to them.
/// One candidate a round; refinement rounds are allowed, so that a search that stops early
/// (a candidate Lean accepts apart from the other sorries) is seen to.
const ONE_CANDIDATE: [&str; 8] = [
    "--samples",
    "1",
    "--rounds",
    "2",
    "--max-new-tokens",
    "48",
    "--seed",
    "3",
];

fn check_two_holes(project: &StandInProject, file: &Path, arguments: &[&str]) -> Output {
    let model = tiny_prover();
    let mut all = vec![
        file.to_str().expect("path"),
        "--model",
        model.to_str().expect("path"),
    ];
    all.extend_from_slice(arguments);
    all.extend_from_slice(&ONE_CANDIDATE);
    check(&all, |command| project.configure(command))
}

/// The first declaration of TWO_HOLE_DECLARATIONS, in a project whose Lean stand-in follows
/// server/tests/check/`script`.json, checked with `--lean require --fix --format json`.
fn fix_first_two_hole_declaration(script: &str) -> (StandInProject, PathBuf, &'static str, Output) {
    let script = workspace_root().join(format!("server/tests/check/{script}.json"));
    let project = StandInProject::new(Some(&script), true);
    let original = &TWO_HOLE_DECLARATIONS[..TWO_HOLE_DECLARATIONS.find("\n\n").expect("two") + 1];
    let file = project.write("Project/Holes.lean", original);
    let output = check_two_holes(
        &project,
        &file,
        &["--lean", "require", "--fix", "--format", "json"],
    );
    (project, file, original, output)
}

fn sorry_entries(report: &Value) -> &Vec<Value> {
    report["files"][0]["sorries"].as_array().expect("sorries")
}

/// The original text with every applied proposal of the report put in, from the last to the
/// first (the ranges are byte ranges of the original).
fn with_applied_proposals(original: &str, report: &Value) -> String {
    let mut edits: Vec<(usize, usize, String)> = sorry_entries(report)
        .iter()
        .filter(|sorry| sorry["best"]["applied"] == true)
        .map(|sorry| {
            let bytes = &sorry["best"]["replace"]["bytes"];
            (
                bytes["start"].as_u64().expect("start") as usize,
                bytes["end"].as_u64().expect("end") as usize,
                sorry["best"]["new_text"].as_str().expect("text").to_owned(),
            )
        })
        .collect();
    edits.sort_by_key(|(start, _, _)| std::cmp::Reverse(*start));
    let mut text = original.to_owned();
    for (start, end, new_text) in edits {
        text.replace_range(start..end, &new_text);
    }
    text
}

/// Every sorry of a declaration has a proposal Lean accepts apart from the others: Lean checks
/// them put together once, every part is lean-verified, and `--fix` writes all of them in one
/// write. Without Lean nothing is put together and nothing neural is written.
#[test]
fn several_sorries_of_a_declaration_are_verified_and_fixed_together() {
    let project = StandInProject::new(None, true);
    let file = project.write("Project/Holes.lean", TWO_HOLE_DECLARATIONS);
    let output = check_two_holes(
        &project,
        &file,
        &["--lean", "require", "--fix", "--format", "json"],
    );
    let report = json_report(&output);
    let sorries = sorry_entries(&report);
    assert_eq!(sorries.len(), 4);
    for sorry in sorries {
        assert_eq!(sorry["best"]["status"], "lean-verified", "{sorry:#}");
        assert_eq!(sorry["best"]["applied"], true, "{sorry:#}");
        // No candidate can be verified alone; refining past one Lean accepts apart from the
        // other sorry could not do better, so the search stops there.
        assert_eq!(sorry["search_end"], "accepted-apart", "{sorry:#}");
        assert_eq!(sorry["rounds_run"], 1, "{sorry:#}");
        assert_eq!(
            sorry["together"],
            serde_json::json!({"status": "lean-verified", "sorries": 2, "accepted_apart": true, "reason": null}),
            "{sorry:#}"
        );
    }
    assert_eq!(
        statuses(&report),
        [
            ("swap_conjunction".to_owned(), "lean-verified".to_owned()),
            ("gt_of_eq_add_two".to_owned(), "lean-verified".to_owned())
        ]
    );
    assert_eq!(report["files"][0]["fixed"], true);
    let fixed = std::fs::read_to_string(&file).expect("readable");
    assert!(!fixed.contains("sorry"), "{fixed}");
    assert_eq!(
        fixed,
        with_applied_proposals(TWO_HOLE_DECLARATIONS, &report),
        "every proposal is written where its sorry was"
    );
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    // Lean was asked about each declaration with both of its sorries filled, axioms included.
    let commands: Vec<String> = project
        .received()
        .iter()
        .filter_map(|request| request["cmd"].as_str().map(str::to_owned))
        .collect();
    let swap_end = fixed
        .find("\n\ntheorem gt_of_eq_add_two")
        .expect("second theorem");
    let filled_swap = &fixed[..swap_end];
    assert!(
        commands
            .iter()
            .any(|command| command.trim_end() == filled_swap),
        "{filled_swap:?} in {commands:#?}"
    );
    assert!(commands
        .iter()
        .any(|command| command.starts_with("#print axioms gt_of_eq_add_two")));

    let without_lean = project.write("Project/NoLean.lean", TWO_HOLE_DECLARATIONS);
    let output = check_two_holes(
        &project,
        &without_lean,
        &["--lean", "off", "--fix", "--format", "json"],
    );
    let report = json_report(&output);
    for sorry in sorry_entries(&report) {
        assert!(sorry["together"].is_null(), "{sorry:#}");
        assert_eq!(sorry["best"]["applied"], false, "{sorry:#}");
    }
    assert_eq!(
        std::fs::read_to_string(&without_lean).expect("readable"),
        TWO_HOLE_DECLARATIONS
    );
    assert_eq!(output.status.code(), Some(1));
}

/// One sorry has no proposal Lean accepts apart from the other: nothing of the declaration is
/// written, and every format says which sorry held the others back.
#[test]
fn a_sorry_without_an_accepted_proposal_holds_back_the_others() {
    let (project, file, original, output) = fix_first_two_hole_declaration("second_sorry_rejected");
    let report = json_report(&output);
    let sorries = sorry_entries(&report);
    assert_eq!(sorries.len(), 2);
    let reason = "the sorry at 4:5 has no proposal that lean accepts apart from the other sorries, so the 2 sorries of swap_conjunction were not filled together";
    for (sorry, accepted_apart) in sorries.iter().zip([true, false]) {
        assert_eq!(
            sorry["together"],
            serde_json::json!({"status": "not-checked", "sorries": 2, "accepted_apart": accepted_apart, "reason": reason}),
            "{sorry:#}"
        );
        assert_eq!(sorry["best"]["status"], "flagged", "{sorry:#}");
        assert_eq!(sorry["best"]["applied"], false);
    }
    assert_eq!(report["files"][0]["fixed"], false);
    assert_eq!(std::fs::read_to_string(&file).expect("readable"), original);
    assert_eq!(output.status.code(), Some(1));

    let text = stdout(&check_two_holes(
        &project,
        &file,
        &["--lean", "require", "--format", "text"],
    ));
    assert_eq!(
        text.matches(&format!("      not filled together: {reason}\n"))
            .count(),
        2,
        "{text}"
    );
    let github = stdout(&check_two_holes(
        &project,
        &file,
        &["--lean", "require", "--format", "github"],
    ));
    let sorry_lines: Vec<&str> = github
        .lines()
        .filter(|line| line.contains("title=sorry in swap_conjunction"))
        .collect();
    assert_eq!(sorry_lines.len(), 2, "{github}");
    assert!(
        sorry_lines
            .iter()
            .all(|line| line.ends_with(&format!("; not filled together: {reason}"))),
        "{github}"
    );
}

/// Lean rejects the proposals put together although it accepts each apart from the other:
/// nothing is written, each keeps its own standing, and the report gives Lean's complaint.
#[test]
fn a_combination_lean_rejects_is_not_written() {
    let (project, file, original, output) = fix_first_two_hole_declaration("combination_rejected");
    let report = json_report(&output);
    let reason = "lean rejects the best proposals of the 2 sorries of swap_conjunction put together (unsolved goals: the bullets do not close the conjunction together); fill them one at a time";
    for sorry in sorry_entries(&report) {
        assert_eq!(
            sorry["together"],
            serde_json::json!({"status": "rejected", "sorries": 2, "accepted_apart": true, "reason": reason}),
            "{sorry:#}"
        );
        assert_eq!(sorry["best"]["status"], "flagged", "{sorry:#}");
        assert_eq!(sorry["best"]["new_text"], "trivial", "{sorry:#}");
        assert_eq!(sorry["best"]["applied"], false);
    }
    assert_eq!(report["files"][0]["fixed"], false);
    assert_eq!(statuses(&report)[0].1, "unproved");
    assert_eq!(std::fs::read_to_string(&file).expect("readable"), original);
    assert_eq!(output.status.code(), Some(1));
    let combined = "  · trivial\n  · trivial";
    assert!(
        project.received().iter().any(|request| request["cmd"]
            .as_str()
            .is_some_and(|command| command.contains(combined))),
        "lean was asked about the combination"
    );
}
