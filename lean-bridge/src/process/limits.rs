//! Every duration, size and count limit of the Lean process manager, named, in one place.
//!
//! The pool's settings start from these values ([`super::PoolSettings::default`]); callers may
//! override them. `docs/lean-processes.md` lists them with the reasons for each value.

use std::num::{NonZeroU32, NonZeroUsize};
use std::time::Duration;

/// How many Lean processes (REPLs and language servers together) the pool keeps alive at once.
/// A Lean process that imports Mathlib holds several GiB of memory, so the cap is small.
pub const DEFAULT_MAX_PROCESSES: NonZeroUsize = match NonZeroUsize::new(4) {
    Some(count) => count,
    None => unreachable!(),
};

/// How long one check or tactic request may run before its process group is killed.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// How long starting a process may take: spawning, the language server's `initialize`, and the
/// REPL's import header. Importing Mathlib into a fresh process takes minutes on a slow machine.
pub const DEFAULT_STARTUP_TIMEOUT: Duration = Duration::from_secs(600);

/// The address-space limit (`RLIMIT_AS`) set on every Lean process, in bytes. This bounds
/// virtual memory, which includes the memory-mapped `.olean` files of every import, so it is set
/// well above the resident size of a Mathlib process.
pub const DEFAULT_ADDRESS_SPACE_LIMIT_BYTES: u64 = 16 * 1024 * 1024 * 1024;

/// A process is shut down and replaced after answering this many requests. The REPL keeps every
/// environment and proof state it ever made, so a long-lived REPL only grows.
pub const DEFAULT_USES_BEFORE_RECYCLE: NonZeroU32 = match NonZeroU32::new(200) {
    Some(count) => count,
    None => unreachable!(),
};

/// The largest single answer (one REPL JSON object or one language-server message) read from a
/// process. Larger answers are refused rather than buffered.
pub const DEFAULT_MAX_ANSWER_BYTES: usize = 64 * 1024 * 1024;

/// How much of a process's standard error is kept for error reports (the last bytes written).
pub const STDERR_TAIL_BYTES: usize = 16 * 1024;

/// How long to wait for a killed process to be reaped before giving up on its exit status.
pub const REAP_TIMEOUT: Duration = Duration::from_secs(10);

/// After a process closes its output unexpectedly, how long to wait for it to exit on its own
/// (to report its real exit status) before the process group is killed.
pub const CRASH_EXIT_GRACE: Duration = Duration::from_secs(2);

/// How often to look whether an exiting process has finished, during [`CRASH_EXIT_GRACE`].
pub const CRASH_EXIT_POLL_INTERVAL: Duration = Duration::from_millis(20);

/// How long to wait for the standard-error reader to drain after a process is gone.
pub const STDERR_DRAIN_TIMEOUT: Duration = Duration::from_secs(1);

/// The longest header line accepted in the language server's `Content-Length` framing.
pub const MAX_LANGUAGE_SERVER_HEADER_LINE_BYTES: usize = 8 * 1024;

/// The most header lines accepted before one language-server message body.
pub const MAX_LANGUAGE_SERVER_HEADER_LINES: usize = 32;

/// How many characters of unreadable output an error message quotes.
pub const MALFORMED_OUTPUT_EXCERPT_CHARS: usize = 200;

/// The longest declaration name accepted for `#print axioms`.
pub const MAX_DECLARATION_NAME_BYTES: usize = 1024;

/// The file name of the scratch document the language-server backend opens, placed in the
/// launch command's working directory. The file is never written to disk.
pub const SCRATCH_DOCUMENT_FILE_NAME: &str = "ProofwrightScratch.lean";
