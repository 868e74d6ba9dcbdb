//! Proofwright's binary crate as a library: the prover loop ([`prover`], no LSP types, no
//! terminal output), the language server ([`lsp`], the only place with LSP types) and the
//! command line ([`cli`], the one place that prints for humans). The `proofwright` executable
//! (src/main.rs) only calls [`cli::main`].

pub mod cli;
pub mod lsp;
pub mod prover;
