//! `proofwright outline` as a user or tool runs it: the real binary on Lean fixtures, its text
//! and JSON-lines output, and exit status 2 with an error naming the file for missing,
//! unreadable and non-UTF-8 files (the other files are still outlined).

use serde_json::Value;
use std::path::PathBuf;
use std::process::Command;

fn case(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../lean-bridge/tests/syntax/cases")
        .join(name)
}

struct Output {
    status: i32,
    stdout: String,
    stderr: String,
}

fn proofwright(args: &[&str]) -> Output {
    let output = Command::new(env!("CARGO_BIN_EXE_proofwright"))
        .args(args)
        .output()
        .expect("the proofwright binary runs");
    Output {
        status: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8(output.stdout).unwrap(),
        stderr: String::from_utf8(output.stderr).unwrap(),
    }
}

#[test]
fn text_output_lists_declarations_steps_sorries_and_problems() {
    let file = case("sorry_admit.lean");
    let file = file.to_str().unwrap();
    let output = proofwright(&["outline", file]);
    assert_eq!(output.status, 0, "stderr: {}", output.stderr);
    let expected = format!(
        "{file}: 4 declarations, 6 sorries, 0 problems
  theorem top_sorry  1:0  term proof, 0 steps
  theorem tactic_sorry  3:0  tactic proof, 7 steps
    4:2  constructor
    5:2  · sorry
      5:4  sorry
    6:2  · have h : q := by …
      6:4  have h : q := by …
        7:6  admit
      8:4  exact h
  theorem sorry_in_term  10:0  term proof, 0 steps
  theorem sorry_in_calc  14:0  tactic proof, 4 steps
    15:2  calc a = a := rfl …
      15:7  a = a := rfl
      16:4  _ = b := by sorry
        16:16  sorry
  sorries:
    {file}:1:29  sorry in theorem top_sorry
    {file}:5:4  sorry in theorem tactic_sorry
    {file}:7:6  admit in theorem tactic_sorry
    {file}:10:48  sorry in theorem sorry_in_term
    {file}:12:8  sorry
    {file}:16:16  sorry in theorem sorry_in_calc
"
    );
    assert_eq!(output.stdout, expected);
}

#[test]
fn json_output_is_one_object_per_file_with_three_kinds_of_position() {
    let crlf = case("crlf.lean");
    let unicode = case("unicode.lean");
    let output = proofwright(&[
        "outline",
        crlf.to_str().unwrap(),
        unicode.to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(output.status, 0, "stderr: {}", output.stderr);
    let lines: Vec<Value> = output
        .stdout
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["file"], crlf.to_str().unwrap());
    assert_eq!(lines[0]["version"], 1);

    let proof = &lines[0]["declarations"][0];
    assert_eq!(proof["kind"], "theorem");
    assert_eq!(proof["name"], "crlf_proof");
    assert_eq!(proof["proof_kind"], "tactic");
    assert_eq!(proof["source"], "tree_sitter");
    let focus = &proof["steps"][1];
    assert_eq!(focus["kind"], "focus");
    assert_eq!(focus["text"], "· exact hp");
    assert_eq!(focus["depth"], 0);
    assert_eq!(
        focus["range"]["lean"]["start"],
        serde_json::json!({"line": 3, "column": 2})
    );
    assert_eq!(
        focus["range"]["lsp"]["start"],
        serde_json::json!({"line": 2, "character": 2})
    );
    let child = &proof["steps"][2];
    assert_eq!(child["parent"], 1);
    assert_eq!(child["depth"], 1);

    // `a₁ ≤ a₂` in `le_chain`: multi-byte characters make bytes, UTF-16 units and codepoints
    // differ.
    let le_chain = &lines[1]["declarations"][1];
    assert_eq!(le_chain["name"], "le_chain");
    let calc_step = &le_chain["steps"][2];
    assert_eq!(calc_step["kind"], "calc_step");
    assert_eq!(calc_step["text"], "_ ≤ a₃ := h₂");
    let range = &calc_step["range"];
    let bytes = range["bytes"]["end"].as_u64().unwrap() - range["bytes"]["start"].as_u64().unwrap();
    assert_eq!(bytes, "_ ≤ a₃ := h₂".len() as u64);
    assert_eq!(range["lean"]["end"]["column"], 16);
    assert_eq!(range["lsp"]["end"]["character"], 16);
    let weird = &lines[1]["declarations"][2];
    assert_eq!(weird["name"], "«weird name»");
}

#[test]
fn missing_and_non_utf8_files_are_named_errors_with_exit_status_2() {
    let directory = tempfile::tempdir().unwrap();
    let latin1 = directory.path().join("latin1.lean");
    std::fs::write(&latin1, b"theorem caf\xe9 : True := trivial\n").unwrap();
    let missing = directory.path().join("missing.lean");
    let good = case("basic_declarations.lean");
    let output = proofwright(&[
        "outline",
        missing.to_str().unwrap(),
        latin1.to_str().unwrap(),
        directory.path().to_str().unwrap(),
        good.to_str().unwrap(),
    ]);
    assert_eq!(output.status, 2);
    let errors: Vec<&str> = output.stderr.lines().collect();
    assert_eq!(errors.len(), 3, "stderr: {}", output.stderr);
    assert!(errors[0].starts_with(&format!("error: cannot read {}: ", missing.display())));
    assert_eq!(
        errors[1],
        format!(
            "error: {} is not UTF-8 (invalid byte at offset 11): Lean source files must be UTF-8, \
             re-save it with that encoding",
            latin1.display()
        )
    );
    assert!(errors[2].starts_with(&format!(
        "error: cannot read {}: ",
        directory.path().display()
    )));
    // The readable file is still outlined.
    assert!(output
        .stdout
        .starts_with(&format!("{}: 13 declarations", good.display())));
    assert!(!output.stderr.contains("panicked"));
}

#[test]
fn no_files_is_a_usage_error() {
    let output = proofwright(&["outline"]);
    assert_eq!(output.status, 2);
    assert!(output.stderr.contains("FILES"), "stderr: {}", output.stderr);
}
