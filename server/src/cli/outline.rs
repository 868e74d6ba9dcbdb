//! `proofwright outline FILE... [--json]`: print declarations, proof steps and sorries.

use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, Args)]
pub struct OutlineArgs {
    /// Lean files to outline.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Print one JSON document per file instead of text.
    #[arg(long)]
    pub json: bool,
}

pub fn run(_args: OutlineArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("outline is not implemented yet")
}
