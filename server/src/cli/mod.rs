//! Command-line interface: argument parsing and the one place that prints for humans.

mod outline;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// Exit status for usage or environment errors (bad arguments, missing files, no model).
pub const EXIT_USAGE_OR_ENVIRONMENT: u8 = 2;

#[derive(Debug, Parser)]
#[command(name = "proofwright", version, about = "An AI proof assistant backend for Lean 4")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Print the outline of Lean files: declarations, proof steps and sorries.
    Outline(outline::OutlineArgs),
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Outline(args) => outline::run(args),
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(EXIT_USAGE_OR_ENVIRONMENT)
        }
    }
}
