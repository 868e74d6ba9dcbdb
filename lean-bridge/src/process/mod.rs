//! Lean processes: toolchain discovery, the language-server and REPL clients, and the pool.
//!
//! - [`discovery`]: find `lean`/`lake`, the `lean-toolchain` and the Lake project, or say why
//!   Lean is unavailable ([`LeanUnavailable`]).
//! - [`LeanSession`]: one running process of either backend ([`BackendKind`]) behind one
//!   interface: check a document ([`CheckRequest`] → [`CheckOutcome`]), run a tactic.
//! - [`LeanPool`]: processes shared by import header, capped, evicted least-recently-used,
//!   recycled, restarted after crashes, killed as a process group on timeout.
//! - [`verdict`]: the trust rule that decides `lean-verified`; [`steps`]: messages to steps.
//!
//! All limits are in [`limits`]. `docs/lean-processes.md` describes the whole module.

mod child;
pub mod discovery;
pub mod error;
mod framing;
pub mod header;
pub mod language_server;
pub mod limits;
pub mod outcome;
pub mod pool;
pub mod repl;
pub mod session;
pub mod steps;
pub mod verdict;

pub use discovery::{
    discover_toolchain, find_lake_project, parse_lean_toolchain, DiscoveryEnvironment, LakeProject,
    LaunchCommand, LeanToolchain, LeanUnavailable, ToolchainName, ToolchainSource,
};
pub use error::{BackendKind, LeanProcessError, RequestPhase};
pub use header::{split_import_header, HeaderSplit};
pub use outcome::{
    parse_axiom_message, AxiomCheck, AxiomReport, CheckOutcome, CheckRequest, GoalReport,
    LeanMessage, ProofStatus, Severity, SorryReport, TacticOutcome,
};
pub use pool::{
    BackendLaunches, LeanPool, PoolKey, PoolSettings, PoolStatistics, PooledCheck, ProcessTicket,
};
pub use session::{LeanSession, SessionLimits};
pub use steps::{innermost_step_containing, map_messages_to_steps};
pub use verdict::{judge, NotVerifiedReason, Verdict, ALLOWED_AXIOMS};
