//! `proofwright outline FILE... [--json]`: print declarations, proof steps and sorries.
//!
//! Text is for people: Lean positions (`line:column`, 1-based lines, 0-based codepoint columns,
//! as Lean prints them) and step trees indented by depth. `--json` prints one JSON object per
//! file and line, documented in `docs/outline.md`. A file that cannot be read, or is not UTF-8,
//! is reported on standard error by name; the other files are still outlined and the exit
//! status is 2.

use super::EXIT_USAGE_OR_ENVIRONMENT;
use anyhow::Context;
use clap::Args;
use proofwright_lean::position::{ByteRange, LineIndex};
use proofwright_lean::syntax::{outline, Outline, PositionedOutline, ProofKind, SorryKind};
use serde::Serialize;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// How many characters of a step's first line the text output shows.
const STEP_TEXT_DISPLAY_CHARS: usize = 72;

#[derive(Debug, Args)]
pub struct OutlineArgs {
    /// Lean files to outline.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Print one JSON document per file instead of text.
    #[arg(long)]
    pub json: bool,
}

/// One line of `--json` output.
#[derive(Debug, Serialize)]
struct FileOutline<'a> {
    /// The path as given on the command line.
    file: &'a str,
    #[serde(flatten)]
    outline: PositionedOutline,
}

pub fn run(args: OutlineArgs) -> anyhow::Result<ExitCode> {
    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let mut failed = false;
    let mut printed_any = false;
    for path in &args.files {
        let text = match read_lean_file(path) {
            Ok(text) => text,
            Err(error) => {
                // Flush what was printed for earlier files so the error appears after it.
                out.flush().context("cannot write to standard output")?;
                eprintln!("error: {error:#}");
                failed = true;
                continue;
            }
        };
        let outline = outline(&text);
        let name = path.display().to_string();
        if args.json {
            let line = FileOutline {
                file: &name,
                outline: PositionedOutline::new(&text, &outline),
            };
            serde_json::to_writer(&mut out, &line).context("cannot write JSON output")?;
            writeln!(out).context("cannot write to standard output")?;
        } else {
            if printed_any {
                writeln!(out).context("cannot write to standard output")?;
            }
            write_text(&mut out, &name, &text, &outline)
                .context("cannot write to standard output")?;
        }
        printed_any = true;
    }
    out.flush().context("cannot write to standard output")?;
    Ok(if failed {
        ExitCode::from(EXIT_USAGE_OR_ENVIRONMENT)
    } else {
        ExitCode::SUCCESS
    })
}

/// Reads `path` as UTF-8 text, naming the file in every error.
fn read_lean_file(path: &Path) -> anyhow::Result<String> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    String::from_utf8(bytes).map_err(|error| {
        let offset = error.utf8_error().valid_up_to();
        anyhow::anyhow!(
            "{} is not UTF-8 (invalid byte at offset {offset}): Lean source files must be \
             UTF-8, re-save it with that encoding",
            path.display()
        )
    })
}

fn position(text: &str, index: &LineIndex, range: ByteRange) -> String {
    let start = index.to_lean(text, range.start);
    format!("{}:{}", start.line, start.column)
}

/// The first line of `text`, shortened to [`STEP_TEXT_DISPLAY_CHARS`], with `…` where
/// something was left out.
fn display_text(text: &str) -> String {
    let mut lines = text.lines();
    let first = lines.next().unwrap_or("");
    let mut shown: String = first.chars().take(STEP_TEXT_DISPLAY_CHARS).collect();
    if shown.len() < first.len() || lines.next().is_some() {
        shown.push_str(" …");
    }
    shown
}

fn write_text(
    out: &mut impl Write,
    name: &str,
    text: &str,
    outline: &Outline,
) -> std::io::Result<()> {
    let index = LineIndex::new(text);
    let plural = |count: usize, word: &str| {
        if count == 1 {
            format!("{count} {word}")
        } else {
            format!("{count} {word}s")
        }
    };
    let sorry_count = outline.sorries.len();
    let sorry_word = if sorry_count == 1 { "sorry" } else { "sorries" };
    writeln!(
        out,
        "{name}: {}, {sorry_count} {sorry_word}, {}",
        plural(outline.declarations.len(), "declaration"),
        plural(outline.problems.len(), "problem"),
    )?;
    for declaration in &outline.declarations {
        let label = match &declaration.name {
            Some(name) => format!("{} {name}", declaration.kind.keyword()),
            None => declaration.kind.keyword().to_string(),
        };
        let proof = match declaration.proof_kind {
            Some(ProofKind::Tactic) => "tactic proof",
            Some(ProofKind::Term) => "term proof",
            Some(ProofKind::Equations) => "equations",
            Some(ProofKind::Where) => "where",
            None => "no proof",
        };
        writeln!(
            out,
            "  {label}  {}  {proof}, {}",
            position(text, &index, declaration.range),
            plural(declaration.steps.len(), "step")
        )?;
        for step in &declaration.steps {
            let indent = "  ".repeat(step.depth as usize + 2);
            writeln!(
                out,
                "{indent}{}  {}",
                position(text, &index, step.range),
                display_text(&step.text)
            )?;
        }
    }
    if !outline.sorries.is_empty() {
        writeln!(out, "  sorries:")?;
    }
    for sorry in &outline.sorries {
        let word = match sorry.kind {
            SorryKind::Sorry => "sorry",
            SorryKind::Admit => "admit",
        };
        let declaration = sorry
            .declaration
            .and_then(|idx| outline.declarations.get(idx));
        let holder = match declaration {
            Some(declaration) => match &declaration.name {
                Some(name) => format!(" in {} {name}", declaration.kind.keyword()),
                None => format!(" in {}", declaration.kind.keyword()),
            },
            None => String::new(),
        };
        writeln!(
            out,
            "    {name}:{}  {word}{holder}",
            position(text, &index, sorry.range)
        )?;
    }
    if !outline.problems.is_empty() {
        writeln!(out, "  problems:")?;
    }
    for problem in &outline.problems {
        let note = if problem.kind.is_parser_note() {
            "note: "
        } else {
            ""
        };
        writeln!(
            out,
            "    {name}:{}  {note}{}",
            position(text, &index, problem.range),
            problem.message
        )?;
    }
    Ok(())
}
