//! Command-line interface: argument parsing and the one place that prints for humans.

mod bench;
mod check;
mod engine;
mod generate;
pub mod model_source;
mod outline;
pub mod prover_options;
mod score;
mod serve;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// Exit status for usage or environment errors (bad arguments, missing files, no model).
pub const EXIT_USAGE_OR_ENVIRONMENT: u8 = 2;

#[derive(Debug, Parser)]
#[command(
    name = "proofwright",
    version,
    about = "An AI proof assistant backend for Lean 4"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Sample continuations of a prompt with a Hugging Face checkpoint.
    Generate(generate::GenerateArgs),
    /// Teacher-forced log-probability of each token of a continuation given a prompt.
    Score(score::ScoreArgs),
    /// Measure prefill and decode speed against the memory-bandwidth roofline.
    Bench(bench::BenchArgs),
    /// Print the outline of Lean files: declarations, proof steps and sorries.
    Outline(outline::OutlineArgs),
    /// Check every proof of a project: status, flagged steps, proposals for sorries (for CI).
    Check(check::CheckArgs),
    /// Run the language server on stdin/stdout, beside Lean's (or in front of it: --proxy-lean).
    Serve(serve::ServeArgs),
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Generate(args) => generate::run(args),
        Command::Score(args) => score::run(args),
        Command::Bench(args) => bench::run(args),
        Command::Outline(args) => outline::run(args),
        Command::Check(args) => check::run(args),
        Command::Serve(args) => serve::run(args),
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(EXIT_USAGE_OR_ENVIRONMENT)
        }
    }
}
