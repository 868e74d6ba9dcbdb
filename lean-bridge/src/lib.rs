//! proofwright-lean: Lean 4 syntax (outline, proof steps, sorries) and managed Lean processes.
//!
//! This crate knows nothing of models or LSP types. Parsing never fails: every parser returns
//! its best result together with a list of problems.

pub mod position;
pub mod process;
pub mod syntax;
