//! Rendering a [`CheckReport`]: readable text, JSON, SARIF 2.1.0, JUnit XML and GitHub Actions
//! annotation lines. Each renderer is a pure function from the report to a string.

use super::report::{CheckReport, FileReport, FlaggedEntry, ProofEntry, SorryEntry, TogetherEntry};
use proofwright_lean::syntax::PositionedRange;
use serde_json::{json, Value};
use std::fmt::Write as _;

/// SARIF's schema URI for version 2.1.0.
const SARIF_SCHEMA: &str = "https://json.schemastore.org/sarif-2.1.0.json";
const INFORMATION_URI: &str = "https://github.com/proofwright/proofwright";

/// The rules results refer to, with a one-line description each.
const RULES: [(&str, &str); 4] = [
    ("lean-error", "Lean reported an error in this proof step"),
    (
        "flagged-step",
        "The neural verifier flagged this proof step",
    ),
    (
        "unproved",
        "The proof is not complete (a sorry remains, or there is no proof)",
    ),
    ("sorry", "A sorry or admit stands in for a proof"),
];

pub fn json(report: &CheckReport) -> String {
    let mut text = serde_json::to_string_pretty(report).expect("the report serialises");
    text.push('\n');
    text
}

fn status_line(proof: &ProofEntry) -> String {
    match (proof.status, proof.score) {
        ("lean-verified", _) => "lean-verified".to_owned(),
        (status, Some(score)) => format!("{status} {score:.2}"),
        (status, None) => status.to_owned(),
    }
}

fn proof_name(proof: &ProofEntry) -> String {
    match &proof.declaration {
        Some(name) => name.clone(),
        None => format!("{} at line {}", proof.kind, proof.range.lean.start.line),
    }
}

fn at(range: &PositionedRange) -> String {
    format!("{}:{}", range.lean.start.line, range.lean.start.column + 1)
}

/// Readable text: one line per proof, the flagged steps under it, the best proposal under each
/// sorry, then a summary.
pub fn text(report: &CheckReport) -> String {
    let mut out = String::new();
    for file in &report.files {
        let _ = writeln!(out, "{}", file.path);
        if let Some(error) = &file.error {
            let _ = writeln!(out, "  error: {error}");
            continue;
        }
        for proof in &file.proofs {
            let marker = match proof.status {
                "lean-verified" => "✓",
                "neural" => "~",
                "flagged" => "!",
                _ => "?",
            };
            let _ = writeln!(
                out,
                "  {marker} {:<40} {}",
                proof_name(proof),
                status_line(proof)
            );
            if let Some(reason) = &proof.reason {
                let _ = writeln!(out, "      {reason}");
            }
            for flagged in &proof.flagged {
                write_flagged(&mut out, flagged, "      ");
            }
        }
        for sorry in &file.sorries {
            let _ = write!(out, "  sorry at {}", at(&sorry.range));
            match (&sorry.best, &sorry.error) {
                (_, Some(error)) => {
                    let _ = writeln!(out, ": no search ({error})");
                }
                (Some(best), None) => {
                    let score = best
                        .score
                        .map(|score| format!(" {score:.2}"))
                        .unwrap_or_default();
                    let applied = if best.applied {
                        ", written to the file"
                    } else {
                        ""
                    };
                    let _ = writeln!(out, ": best proposal ({}{score}{applied}):", best.status);
                    for line in best.new_text.trim_start_matches('\n').lines() {
                        let _ = writeln!(out, "      {}", line.trim_start());
                    }
                    for flagged in &best.flagged {
                        write_flagged(&mut out, flagged, "      ");
                    }
                }
                (None, None) => {
                    let _ = writeln!(out, ": no proposal ({})", sorry.search_end);
                }
            }
            if let Some(together) = &sorry.together {
                let _ = writeln!(out, "      {}", together_line(together));
            }
        }
        if let Some(refused) = &file.fix_refused {
            let _ = writeln!(out, "  not fixed: {refused}");
        }
        if file.fixed {
            let _ = writeln!(out, "  fixed: proposals written to the file");
        }
    }
    let summary = &report.summary;
    let _ = writeln!(
        out,
        "{} files, {} proofs: {} lean-verified, {} neural, {} flagged, {} unproved; {} sorries, {} with a proposal, {} written{}",
        summary.files,
        summary.proofs,
        summary.lean_verified,
        summary.neural,
        summary.flagged,
        summary.unproved,
        summary.sorries,
        summary.sorries_with_proposal,
        summary.proposals_applied,
        if summary.file_errors > 0 {
            format!("; {} files could not be read", summary.file_errors)
        } else {
            String::new()
        }
    );
    let _ = writeln!(
        out,
        "model: {} ({}); lean: {}",
        report.model.spec, report.model.template, report.lean
    );
    out
}

/// One line on how a sorry fared with the other sorries of its declaration.
fn together_line(together: &TogetherEntry) -> String {
    match &together.reason {
        None => format!(
            "checked together with the other sorries of its declaration ({} in all): {}",
            together.sorries, together.status
        ),
        Some(reason) => format!("not filled together: {reason}"),
    }
}

fn write_flagged(out: &mut String, flagged: &FlaggedEntry, indent: &str) {
    let snippet: String = flagged
        .text
        .lines()
        .next()
        .unwrap_or("")
        .chars()
        .take(60)
        .collect();
    let _ = writeln!(out, "{indent}{} `{snippet}`", at(&flagged.range));
    for reason in &flagged.reasons {
        let _ = writeln!(out, "{indent}  {reason}");
    }
}

/// One finding, the unit every machine format reports.
struct Finding<'a> {
    file: &'a FileReport,
    rule: &'static str,
    level: &'static str,
    range: &'a PositionedRange,
    title: String,
    message: String,
    /// A replacement that fixes it: (range, new text).
    fix: Option<(&'a PositionedRange, &'a str)>,
}

fn findings(report: &CheckReport) -> Vec<Finding<'_>> {
    let mut findings = Vec::new();
    for file in &report.files {
        for proof in &file.proofs {
            for flagged in &proof.flagged {
                findings.push(Finding {
                    file,
                    rule: flagged.rule,
                    level: if flagged.rule == "lean-error" {
                        "error"
                    } else {
                        "warning"
                    },
                    range: &flagged.range,
                    title: format!("{} in {}", flagged.rule, proof_name(proof)),
                    message: flagged.reasons.join("; "),
                    fix: None,
                });
            }
            if proof.status == "unproved" {
                findings.push(Finding {
                    file,
                    rule: "unproved",
                    level: "error",
                    range: &proof.range,
                    title: format!("unproved: {}", proof_name(proof)),
                    message: proof
                        .reason
                        .clone()
                        .unwrap_or_else(|| "the proof is not complete".to_owned()),
                    fix: None,
                });
            }
        }
        for sorry in &file.sorries {
            findings.push(sorry_finding(file, sorry));
        }
    }
    findings
}

fn sorry_finding<'a>(file: &'a FileReport, sorry: &'a SorryEntry) -> Finding<'a> {
    let in_declaration = sorry
        .declaration
        .as_ref()
        .map(|name| format!(" in {name}"))
        .unwrap_or_default();
    let (message, fix) = match &sorry.best {
        Some(best) => (
            format!(
                "sorry{in_declaration}; best proposal ({}{}): {}",
                best.status,
                best.score
                    .map(|score| format!(" {score:.2}"))
                    .unwrap_or_default(),
                best.new_text.trim()
            ),
            Some((&best.replace, best.new_text.as_str())),
        ),
        None => (
            format!(
                "sorry{in_declaration}; no proposal found ({})",
                sorry.search_end
            ),
            None,
        ),
    };
    let message = match &sorry.together {
        Some(together) => format!("{message}; {}", together_line(together)),
        None => message,
    };
    Finding {
        file,
        rule: "sorry",
        level: "warning",
        range: &sorry.range,
        title: format!("sorry{in_declaration}"),
        message,
        fix,
    }
}

fn sarif_region(range: &PositionedRange) -> Value {
    // SARIF lines and columns are 1-based; columns count UTF-16 code units by default.
    json!({
        "startLine": range.lsp.start.line + 1,
        "startColumn": range.lsp.start.character + 1,
        "endLine": range.lsp.end.line + 1,
        "endColumn": range.lsp.end.character + 1,
    })
}

/// SARIF 2.1.0: one run, one result per finding; sorries with a proposal carry it as a fix.
pub fn sarif(report: &CheckReport) -> String {
    let results: Vec<Value> = findings(report)
        .iter()
        .map(|finding| {
            let mut result = json!({
                "ruleId": finding.rule,
                "ruleIndex": RULES.iter().position(|(id, _)| *id == finding.rule).unwrap_or(0),
                "level": finding.level,
                "message": {"text": finding.message},
                "locations": [{
                    "physicalLocation": {
                        "artifactLocation": {"uri": uri_for(&finding.file.path)},
                        "region": sarif_region(finding.range),
                    }
                }],
            });
            if let Some((range, new_text)) = finding.fix {
                result["fixes"] = json!([{
                    "description": {"text": "the best proposal found"},
                    "artifactChanges": [{
                        "artifactLocation": {"uri": uri_for(&finding.file.path)},
                        "replacements": [{
                            "deletedRegion": sarif_region(range),
                            "insertedContent": {"text": new_text},
                        }],
                    }],
                }]);
            }
            result
        })
        .collect();
    let rules: Vec<Value> = RULES
        .iter()
        .map(|(id, description)| json!({"id": id, "shortDescription": {"text": description}}))
        .collect();
    let log = json!({
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": report.tool.name,
                "version": report.tool.version,
                "informationUri": INFORMATION_URI,
                "rules": rules,
            }},
            "results": results,
        }],
    });
    let mut text = serde_json::to_string_pretty(&log).expect("the log serialises");
    text.push('\n');
    text
}

/// A relative path as a URI reference (forward slashes, percent-encoded where needed).
fn uri_for(path: &str) -> String {
    let mut uri = String::new();
    for byte in path.replace('\\', "/").bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'/' => {
                uri.push(byte as char)
            }
            other => {
                let _ = write!(uri, "%{other:02X}");
            }
        }
    }
    uri
}

fn xml_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for character in text.chars() {
        match character {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // Characters XML 1.0 forbids are left out.
            c if (c as u32) < 0x20 && !matches!(c, '\n' | '\r' | '\t') => {}
            c => out.push(c),
        }
    }
    out
}

/// JUnit XML: a test suite per file, a test case per proof (failing when flagged or unproved)
/// and per sorry (failing; its best proposal in the message).
pub fn junit(report: &CheckReport) -> String {
    let mut suites = String::new();
    let mut total_tests = 0;
    let mut total_failures = 0;
    let mut total_errors = 0;
    for file in &report.files {
        let mut cases = String::new();
        let mut tests = 0;
        let mut failures = 0;
        let mut errors = 0;
        if let Some(error) = &file.error {
            tests += 1;
            errors += 1;
            let _ = writeln!(
                cases,
                "    <testcase classname=\"{0}\" name=\"{0}\"><error message=\"{1}\"/></testcase>",
                xml_escape(&file.path),
                xml_escape(error)
            );
        }
        for proof in &file.proofs {
            tests += 1;
            let name = xml_escape(&proof_name(proof));
            let class = xml_escape(&file.path);
            if matches!(proof.status, "flagged" | "unproved") {
                failures += 1;
                let mut details = String::new();
                if let Some(reason) = &proof.reason {
                    let _ = writeln!(details, "{reason}");
                }
                for flagged in &proof.flagged {
                    let _ = writeln!(
                        details,
                        "{} {}",
                        at(&flagged.range),
                        flagged.reasons.join("; ")
                    );
                }
                let _ = writeln!(
                    cases,
                    "    <testcase classname=\"{class}\" name=\"{name}\"><failure type=\"{}\" message=\"{}\">{}</failure></testcase>",
                    proof.status,
                    xml_escape(&status_line(proof)),
                    xml_escape(&details)
                );
            } else {
                let _ = writeln!(
                    cases,
                    "    <testcase classname=\"{class}\" name=\"{name}\"><system-out>{}</system-out></testcase>",
                    xml_escape(&status_line(proof))
                );
            }
        }
        for sorry in &file.sorries {
            tests += 1;
            failures += 1;
            let finding = sorry_finding(file, sorry);
            let _ = writeln!(
                cases,
                "    <testcase classname=\"{}\" name=\"sorry at {}\"><failure type=\"sorry\" message=\"{}\"/></testcase>",
                xml_escape(&file.path),
                at(&sorry.range),
                xml_escape(&finding.message)
            );
        }
        total_tests += tests;
        total_failures += failures;
        total_errors += errors;
        let _ = write!(
            suites,
            "  <testsuite name=\"{}\" tests=\"{tests}\" failures=\"{failures}\" errors=\"{errors}\">\n{cases}  </testsuite>\n",
            xml_escape(&file.path)
        );
    }
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"proofwright\" tests=\"{total_tests}\" failures=\"{total_failures}\" errors=\"{total_errors}\">\n{suites}</testsuites>\n"
    )
}

fn escape_annotation_data(text: &str) -> String {
    text.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

fn escape_annotation_property(text: &str) -> String {
    escape_annotation_data(text)
        .replace(':', "%3A")
        .replace(',', "%2C")
}

/// GitHub Actions workflow commands: one `::error` / `::warning` line per finding.
pub fn github(report: &CheckReport) -> String {
    let mut out = String::new();
    for file in &report.files {
        if let Some(error) = &file.error {
            let _ = writeln!(
                out,
                "::error file={},title=proofwright::{}",
                escape_annotation_property(&file.path),
                escape_annotation_data(error)
            );
        }
    }
    for finding in findings(report) {
        let range = finding.range;
        let _ = writeln!(
            out,
            "::{} file={},line={},col={},endLine={},endColumn={},title={}::{}",
            finding.level,
            escape_annotation_property(&finding.file.path),
            range.lean.start.line,
            range.lean.start.column + 1,
            range.lean.end.line,
            range.lean.end.column + 1,
            escape_annotation_property(&finding.title),
            escape_annotation_data(&finding.message)
        );
    }
    out
}
