//! `proofwright serve`: the language server (LSP 3.17 over stdio, with tower-lsp-server). The
//! only place with LSP types. It adds what Lean's own server lacks: neural step scores and flags
//! as diagnostics, next-step completion, prove / refine / alternative / verify as code actions and
//! commands, per-proof status as code lens, hover explanations; with `--proxy-lean` it also runs
//! Lean's server behind itself. docs/lsp.md is the reference.
//!
//! Threads: the main loop ([`transport`]) reads messages and runs handlers on a small tokio
//! runtime; documents are outlined on one analysis thread ([`documents`]); prover work runs on
//! worker threads behind a bounded queue ([`work_queue`]) with one model shared by all
//! ([`engine`]).

mod backend;
mod documents;
mod engine;
mod framing;
pub mod limits;
mod present;
mod proxy;
mod settings;
mod transport;
mod work_queue;

pub use backend::{Backend, ServeOptions, ServerResources};
pub use documents::{DocumentSnapshot, DocumentStore};
pub use engine::ModelLoader;
pub use settings::{DeviceChoice, ModelChoice, ServerSettings};

use std::time::Duration;
use tower_lsp_server::LspService;

/// Threads of the async runtime that runs the main loop and the handlers.
const RUNTIME_THREADS: usize = 2;
/// How long the runtime may take to stop once the session is over.
const RUNTIME_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(2);

/// The process exit status after a session: 0 when `shutdown` came before `exit`, 1 otherwise
/// (as LSP asks).
pub fn serve(options: ServeOptions, proxy_lean: bool) -> anyhow::Result<u8> {
    use anyhow::Context;
    let resources = ServerResources::start().context("cannot start the server's threads")?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(RUNTIME_THREADS)
        .thread_name("proofwright-lsp")
        .enable_all()
        .build()
        .context("cannot start the server's async runtime")?;
    let (core, end) = runtime.block_on(async {
        let (service, socket) =
            LspService::build(|client| Backend::new(client, options, resources))
                .custom_method(
                    "window/workDoneProgress/cancel",
                    Backend::work_done_progress_cancel,
                )
                .custom_method("proofwright/debug/panic", Backend::debug_panic)
                .finish();
        let core = service.inner().core();
        let end = transport::run_session(
            tokio::io::stdin(),
            tokio::io::stdout(),
            service,
            socket,
            proxy_lean,
        )
        .await;
        (core, end)
    });
    tracing::info!("session over; stopping workers and Lean");
    // Blocking teardown, outside the runtime: workers, the outline thread, Lean's processes.
    core.teardown();
    let shutdown = core.shutdown_requested();
    drop(core);
    runtime.shutdown_timeout(RUNTIME_SHUTDOWN_TIMEOUT);
    Ok(if end.exit_received && shutdown { 0 } else { 1 })
}
