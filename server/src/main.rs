//! The `proofwright` binary: command-line entry point.

use std::process::ExitCode;

fn main() -> ExitCode {
    proofwright::cli::main()
}
