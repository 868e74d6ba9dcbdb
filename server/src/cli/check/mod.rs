//! `proofwright check`: runs the prover over every proof of a project, headless, for CI. For each
//! proof its status and flagged steps; for each `sorry` the best proposal the search finds;
//! with `--fix`, writes lean-verified proposals into the files.
//!
//! Exit status: 0 when nothing is flagged or unproved and no `sorry` is left; 1 when something
//! is; 2 for usage or environment errors (bad arguments, no model, `--lean require` without
//! Lean).

mod fix;
mod format;
mod report;
mod walk;

use super::prover_options::ProverOptions;
use crate::prover::joint::holes_of;
use crate::prover::{
    HoleSearch, JointOutcome, LeanAccess, NotCheckedReason, ProofDocument, Provenance, Prover,
    SearchOutcome, Target, TextReplacement, WorkControl,
};
use anyhow::Context;
use clap::{Args, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use proofwright_lean::process::DiscoveryEnvironment;
use proofwright_lean::syntax::outline;
use report::{
    proof_entry, proposal_entry, together_entry, CheckReport, FileReport, ModelInfo, Positions,
    SettingsInfo, SorryEntry, Summary, ToolInfo, CHECK_JSON_VERSION,
};
use std::collections::{BTreeSet, HashMap};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

/// Exit status when something is flagged or unproved, or a `sorry` is left.
pub const EXIT_FINDINGS: u8 = 1;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    Text,
    Json,
    Sarif,
    Junit,
    Github,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Lean files or folders (default: the Lake project holding the current folder).
    #[arg(value_name = "PATHS")]
    pub paths: Vec<PathBuf>,
    #[command(flatten)]
    pub prover: ProverOptions,
    /// Write lean-verified proposals for sorries into the files (atomically; a file that
    /// changed since it was read is left alone).
    #[arg(long)]
    pub fix: bool,
    /// With --fix, also write proposals that only the neural verifier accepted.
    #[arg(long, requires = "fix")]
    pub fix_unverified: bool,
    #[arg(long, value_enum, default_value = "text")]
    pub format: OutputFormat,
    /// Write the report here instead of standard output.
    #[arg(long, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

/// One file read and outlined, waiting to be checked.
struct PendingFile {
    path: PathBuf,
    display_path: String,
    text: Result<String, String>,
}

pub fn run(args: CheckArgs) -> anyhow::Result<ExitCode> {
    let current_directory = std::env::current_dir().context("cannot read the current folder")?;
    let paths = if args.paths.is_empty() {
        walk::default_paths(&current_directory)?
    } else {
        args.paths.clone()
    };
    let files = walk::lean_files(&paths)?;
    let settings = args.prover.search_settings()?;
    let lean = Arc::new(LeanAccess::new(
        args.prover.lean_mode(),
        DiscoveryEnvironment::from_process_environment(),
        Default::default(),
    ));
    let model = Arc::new(args.prover.load_model()?);
    let prover = Prover::new(model.clone(), lean.clone());

    let pending: Vec<PendingFile> = files
        .into_iter()
        .map(|path| {
            let text = read_lean_file(&path);
            PendingFile {
                display_path: display_path(&path, &current_directory),
                path,
                text,
            }
        })
        .collect();
    let n_items: usize = pending
        .iter()
        .filter_map(|file| file.text.as_ref().ok())
        .map(|text| {
            let outline = outline(text);
            (0..outline.declarations.len())
                .filter(|idx| crate::prover::is_proof(&outline, *idx))
                .count()
                + outline.sorries.len()
        })
        .sum();
    let progress = if std::io::stderr().is_terminal() {
        let bar = ProgressBar::new(n_items as u64);
        bar.set_style(
            ProgressStyle::with_template("{spinner} [{bar:30}] {pos}/{len} {wide_msg}")
                .expect("valid template")
                .progress_chars("=> "),
        );
        bar
    } else {
        ProgressBar::hidden()
    };

    let mut reports = Vec::new();
    let mut lean_description = String::new();
    for file in pending {
        if lean_description.is_empty() {
            lean_description = lean.for_file(&file.path)?.describe();
        }
        let report = check_file(&prover, &file, &settings, &args, &progress)?;
        reports.push(report);
    }
    progress.finish_and_clear();
    if lean_description.is_empty() {
        lean_description = lean
            .for_file(&current_directory.join("Check.lean"))?
            .describe();
    }
    let mut summary = Summary::default();
    reports.iter().for_each(|file| summary.add(file));
    let report = CheckReport {
        version: CHECK_JSON_VERSION,
        tool: ToolInfo {
            name: "proofwright",
            version: env!("CARGO_PKG_VERSION"),
        },
        model: ModelInfo {
            spec: model.spec.clone(),
            directory: model.model_dir.display().to_string(),
            template: model.family.name(),
            device: model.device_description.clone(),
        },
        lean: lean_description,
        settings: SettingsInfo {
            verifier: match settings.verifier {
                crate::prover::VerifierMode::Fast => "fast",
                crate::prover::VerifierMode::Deep => "deep",
            },
            threshold: settings.flag_threshold.unwrap_or(model.flag_threshold),
            samples: settings.n_samples.get(),
            rounds: settings.n_rounds,
            seed: settings.seed,
        },
        files: reports,
        summary,
    };
    let rendered = match args.format {
        OutputFormat::Text => format::text(&report),
        OutputFormat::Json => format::json(&report),
        OutputFormat::Sarif => format::sarif(&report),
        OutputFormat::Junit => format::junit(&report),
        OutputFormat::Github => format::github(&report),
    };
    match &args.output {
        Some(path) => std::fs::write(path, rendered)
            .with_context(|| format!("cannot write the report to {}", path.display()))?,
        None => print!("{rendered}"),
    }
    lean.shutdown();
    Ok(if report.summary.is_clean() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_FINDINGS)
    })
}

fn read_lean_file(path: &Path) -> Result<String, String> {
    let bytes = std::fs::read(path).map_err(|error| format!("cannot read it: {error}"))?;
    String::from_utf8(bytes).map_err(|error| {
        format!(
            "it is not UTF-8 (invalid byte at offset {})",
            error.utf8_error().valid_up_to()
        )
    })
}

fn display_path(path: &Path, current_directory: &Path) -> String {
    path.strip_prefix(current_directory)
        .unwrap_or(path)
        .display()
        .to_string()
}

fn check_file(
    prover: &Prover,
    file: &PendingFile,
    settings: &crate::prover::SearchSettings,
    args: &CheckArgs,
    progress: &ProgressBar,
) -> anyhow::Result<FileReport> {
    let text = match &file.text {
        Ok(text) => text,
        Err(error) => {
            return Ok(FileReport {
                path: file.display_path.clone(),
                error: Some(error.clone()),
                proofs: Vec::new(),
                sorries: Vec::new(),
                fixed: false,
                fix_refused: None,
            })
        }
    };
    let outline = outline(text);
    let document = ProofDocument {
        text,
        outline: &outline,
        path: &file.path,
    };
    let positions = Positions::new(text);
    let mut proofs = Vec::new();
    let mut proof_declarations = Vec::new();
    for (declaration_idx, declaration) in outline.declarations.iter().enumerate() {
        if !crate::prover::is_proof(&outline, declaration_idx) {
            continue;
        }
        progress.set_message(format!(
            "{}: verifying {}",
            file.display_path,
            declaration
                .name
                .as_deref()
                .unwrap_or(declaration.kind.keyword())
        ));
        match prover.verify(
            &document,
            declaration_idx,
            settings,
            &WorkControl::unbounded(),
        ) {
            Ok(report) => proofs.push(proof_entry(declaration, &report, &positions)),
            Err(error) if is_environment_error(&error) => return Err(error),
            Err(error) => proofs.push(unjudged_entry(declaration, &error, &positions)),
        }
        proof_declarations.push(declaration_idx);
        progress.inc(1);
    }
    // Every sorry gets its own search against the file as read, so every proposal's edit is
    // against the same text and several are applied together from the last to the first.
    let mut searches: Vec<Result<SearchOutcome, String>> = Vec::new();
    for (sorry_idx, sorry) in outline.sorries.iter().enumerate() {
        progress.set_message(format!(
            "{}: searching for a proof of the sorry at {}",
            file.display_path,
            positions.range(sorry.range).lean.start.line
        ));
        let control = WorkControl {
            cancellation: Default::default(),
            deadline: Some(Instant::now() + settings.time_budget),
            progress: &|event| {
                progress.set_message(format!("{}: {}", file.display_path, event.message()))
            },
        };
        match prover.search(&document, Target::Sorry { sorry_idx }, settings, &control) {
            Ok(outcome) => searches.push(Ok(outcome)),
            Err(error) if is_environment_error(&error) => return Err(error),
            Err(error) => searches.push(Err(format!("{error:#}"))),
        }
        progress.inc(1);
    }
    let joint = check_holes_together(prover, &document, &searches, settings, file, progress)?;
    let mut sorries = Vec::new();
    let mut replacements: Vec<(usize, TextReplacement, bool)> = Vec::new();
    for (sorry_idx, (sorry, search)) in outline.sorries.iter().zip(&searches).enumerate() {
        let declaration_name = sorry
            .declaration
            .and_then(|idx| outline.declarations[idx].name.clone());
        let joint_outcome = sorry.declaration.and_then(|idx| joint.get(&idx));
        let together = joint_outcome.and_then(|outcome| {
            together_entry(
                outcome,
                sorry_idx,
                &outline,
                declaration_name.as_deref(),
                &positions,
            )
        });
        let entry = match search {
            Ok(outcome) => {
                // A part of a combination Lean accepted stands as lean-verified; otherwise the
                // search's own best.
                let chosen = joint_outcome
                    .and_then(|outcome| outcome.verified_part(sorry_idx))
                    .map(|part| &part.candidate)
                    .or_else(|| outcome.best());
                let best = chosen.map(|candidate| proposal_entry(candidate, &positions));
                if let Some(candidate) = chosen {
                    let acceptable = match &candidate.provenance {
                        Provenance::LeanVerified => true,
                        Provenance::Neural { .. } => args.fix_unverified,
                        _ => false,
                    };
                    if acceptable {
                        replacements.push((
                            sorries.len(),
                            candidate.replacement.clone(),
                            matches!(candidate.provenance, Provenance::LeanVerified),
                        ));
                    }
                }
                SorryEntry {
                    range: positions.range(sorry.range),
                    declaration: declaration_name,
                    best,
                    rounds_run: outcome.rounds_run,
                    search_end: outcome.end.label().to_owned(),
                    error: None,
                    together,
                }
            }
            Err(error) => SorryEntry {
                range: positions.range(sorry.range),
                declaration: declaration_name,
                best: None,
                rounds_run: 0,
                search_end: "not-searched".to_owned(),
                error: Some(error.clone()),
                together,
            },
        };
        sorries.push(entry);
    }
    let mut report = FileReport {
        path: file.display_path.clone(),
        error: None,
        proofs,
        sorries,
        fixed: false,
        fix_refused: None,
    };
    if args.fix && !replacements.is_empty() {
        let edits: Vec<TextReplacement> = replacements
            .iter()
            .map(|(_, edit, _)| edit.clone())
            .collect();
        match fix::write_fixed(&file.path, text, &edits) {
            Ok(_) => {
                report.fixed = true;
                for (entry_idx, _, _) in &replacements {
                    if let Some(best) = report.sorries[*entry_idx].best.as_mut() {
                        best.applied = true;
                    }
                }
                mark_fixed_proofs(&mut report, &outline, &proof_declarations, &replacements);
            }
            Err(error) => report.fix_refused = Some(format!("{error:#}")),
        }
    }
    Ok(report)
}

/// For every declaration with several sorries, the best proposals of its sorries put together
/// and checked by Lean once (each check under its own `--time-budget` deadline), by
/// declaration index.
fn check_holes_together(
    prover: &Prover,
    document: &ProofDocument,
    searches: &[Result<SearchOutcome, String>],
    settings: &crate::prover::SearchSettings,
    file: &PendingFile,
    progress: &ProgressBar,
) -> anyhow::Result<HashMap<usize, JointOutcome>> {
    let mut outcomes = HashMap::new();
    let declarations: BTreeSet<usize> = document
        .outline
        .sorries
        .iter()
        .filter_map(|sorry| sorry.declaration)
        .collect();
    for declaration_idx in declarations {
        let holes: Vec<HoleSearch> = holes_of(document.outline, declaration_idx)
            .into_iter()
            .map(|sorry_idx| HoleSearch {
                sorry_idx,
                outcome: searches
                    .get(sorry_idx)
                    .and_then(|search| search.as_ref().ok()),
            })
            .collect();
        if holes.len() < 2 {
            continue;
        }
        let control = WorkControl {
            cancellation: Default::default(),
            deadline: Some(Instant::now() + settings.time_budget),
            progress: &|event| {
                progress.set_message(format!("{}: {}", file.display_path, event.message()))
            },
        };
        let outcome = match prover.check_holes_together(document, declaration_idx, &holes, &control)
        {
            Ok(outcome) => outcome,
            Err(error) if is_environment_error(&error) => return Err(error),
            Err(error) => JointOutcome::NotChecked(NotCheckedReason::LeanFailed {
                message: format!("{error:#}"),
            }),
        };
        outcomes.insert(declaration_idx, outcome);
    }
    Ok(outcomes)
}

/// Errors that concern the whole run rather than one proof (`--lean require` without Lean):
/// they end `check` with exit status 2.
fn is_environment_error(error: &anyhow::Error) -> bool {
    error
        .downcast_ref::<crate::prover::LeanRequired>()
        .is_some()
}

/// A proof the prover could not judge (too long for the model's context, say): reported as
/// unproved with the reason, so the run goes on and still fails.
fn unjudged_entry(
    declaration: &proofwright_lean::syntax::Declaration,
    error: &anyhow::Error,
    positions: &Positions,
) -> report::ProofEntry {
    report::ProofEntry {
        declaration: declaration.name.clone(),
        kind: declaration.kind.keyword(),
        range: positions.range(declaration.proof_range.unwrap_or(declaration.range)),
        status: "unproved",
        score: None,
        reason: Some(format!("could not be judged: {error:#}")),
        flagged: Vec::new(),
        lean: None,
    }
}

/// After `--fix`, a proof whose every sorry was replaced now stands as its proposals do: a
/// lean-verified proposal was checked with the whole declaration around it.
fn mark_fixed_proofs(
    report: &mut FileReport,
    outline: &proofwright_lean::syntax::Outline,
    proof_declarations: &[usize],
    replacements: &[(usize, TextReplacement, bool)],
) {
    for (entry_idx, declaration_idx) in proof_declarations.iter().enumerate() {
        let sorry_entries: Vec<usize> = outline
            .sorries
            .iter()
            .enumerate()
            .filter(|(_, sorry)| sorry.declaration == Some(*declaration_idx))
            .map(|(sorry_idx, _)| sorry_idx)
            .collect();
        if sorry_entries.is_empty() {
            continue;
        }
        let applied: Vec<&(usize, TextReplacement, bool)> = sorry_entries
            .iter()
            .filter_map(|sorry_idx| replacements.iter().find(|(idx, _, _)| idx == sorry_idx))
            .collect();
        if applied.len() != sorry_entries.len() {
            continue;
        }
        let proof = &mut report.proofs[entry_idx];
        let all_verified = applied.iter().all(|(_, _, verified)| *verified);
        proof.status = if all_verified {
            "lean-verified"
        } else {
            "neural"
        };
        proof.reason = Some("fixed: its sorries were replaced by proposals".to_owned());
        proof.flagged.clear();
    }
}
