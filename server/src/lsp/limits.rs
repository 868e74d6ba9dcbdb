//! Every limit, duration and default of the language server, in one place.

use std::time::Duration;

/// The largest JSON-RPC message body accepted, from the editor or from Lean's server: a
/// `Content-Length` above it is answered with an error and the stream resynchronised.
pub const MAX_MESSAGE_BYTES: usize = 64 * 1024 * 1024;
/// The longest header line (`Content-Length: …`) accepted before the header is rejected.
pub const MAX_HEADER_LINE_BYTES: usize = 8 * 1024;
/// The most header lines one message may have.
pub const MAX_HEADER_LINES: usize = 32;
/// Bytes read from an input stream at a time.
pub const READ_CHUNK_BYTES: usize = 64 * 1024;
/// How much unparseable input an error message quotes.
pub const MALFORMED_EXCERPT_CHARS: usize = 120;

/// Prover jobs waiting in the queue (both priorities together); a request beyond it is answered
/// with an error that says the server is busy.
pub const WORK_QUEUE_CAPACITY: usize = 64;
/// Threads that run prover jobs. The model runs its math on its own thread pool; two workers
/// let one job use the model while another waits on Lean.
pub const WORKER_THREADS: usize = 2;

/// Quiet time after an edit before background verification starts, unless configured.
pub const DEFAULT_DEBOUNCE: Duration = Duration::from_millis(500);
/// The longest debounce a user may configure.
pub const MAX_DEBOUNCE_MS: u64 = 60_000;
/// The most candidates per round a user may configure.
pub const MAX_SAMPLES: usize = 64;
/// The most refinement rounds a user may configure.
pub const MAX_ROUNDS: usize = 1_000;
/// The most new tokens per candidate a user may configure.
pub const MAX_NEW_TOKENS: usize = 32_768;
/// The longest search budget a user may configure, in seconds.
pub const MAX_TIME_BUDGET_SECONDS: f64 = 24.0 * 3600.0;
/// The most model threads a user may configure.
pub const MAX_THREADS: usize = 1_024;

/// How long the server waits for the editor's answer to `workspace/configuration`.
pub const CONFIGURATION_REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// How long the server waits for the editor's answer to `workspace/applyEdit`.
pub const APPLY_EDIT_TIMEOUT: Duration = Duration::from_secs(30);
/// How long the server waits for the editor's answer to `window/workDoneProgress/create`.
pub const PROGRESS_CREATE_TIMEOUT: Duration = Duration::from_secs(5);
/// Bursts of status changes are sent as one `proofwright/status` notification at most this
/// often.
pub const STATUS_NOTIFICATION_INTERVAL: Duration = Duration::from_millis(100);

/// Next-step proposals offered by completion.
pub const COMPLETION_PROPOSALS: usize = 4;
/// A flagged step scoring below this is a warning; at or above, information.
pub const WARNING_SCORE: f32 = 0.1;

/// How long `--proxy-lean` waits for Lean's server to answer `initialize`.
pub const LEAN_PROXY_INITIALIZE_TIMEOUT: Duration = Duration::from_secs(120);
/// After `exit` is forwarded, how long Lean's server may take to exit before its process group
/// is killed.
pub const LEAN_PROXY_EXIT_GRACE: Duration = Duration::from_secs(2);
/// The prefix of request ids the proxy gives Lean's server-to-client requests, so the editor's
/// answers can be routed back.
pub const LEAN_PROXY_ID_PREFIX: &str = "lean-proxy:";

/// How long the server waits, at the end of a session, for queued output to be written.
pub const OUTPUT_FLUSH_TIMEOUT: Duration = Duration::from_secs(5);
/// How long the server waits, at the end of a session, for worker threads to finish the job in
/// hand (they are cancelled first).
pub const WORKER_STOP_TIMEOUT: Duration = Duration::from_secs(5);

/// Set to `1` to enable the `proofwright/debug/panic` request, which panics on purpose (in the
/// handler or on a worker thread) so that tests can check that the server survives it.
pub const PANIC_REQUEST_VARIABLE: &str = "PROOFWRIGHT_LSP_ENABLE_PANIC_REQUEST";
