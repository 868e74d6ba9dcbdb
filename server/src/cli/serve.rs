//! `proofwright serve`: runs the language server on stdin/stdout (docs/lsp.md), logging to
//! stderr. The command-line options are the settings used until the editor sends its own.

use super::prover_options::ProverOptions;
use crate::lsp::{DeviceChoice, ModelChoice, ModelLoader, ServeOptions, ServerSettings};
use crate::prover::ProverModel;
use anyhow::bail;
use clap::Args;
use proofwright_lean::process::DiscoveryEnvironment;
use proofwright_model::device::{select_device, DeviceRequest};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

/// The log filter used when PROOFWRIGHT_LOG is not set.
const DEFAULT_LOG_FILTER: &str = "info";
/// The environment variable holding the log filter (`tracing` directives, e.g. `debug`).
const LOG_FILTER_VARIABLE: &str = "PROOFWRIGHT_LOG";

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Also run Lean's language server (`lake serve`) and forward every Lean request to it,
    /// merging answers, so one server gives both (for eglot).
    #[arg(long)]
    pub proxy_lean: bool,
    /// Quiet time after an edit before background verification, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = crate::lsp::limits::DEFAULT_DEBOUNCE.as_millis() as u64)]
    pub debounce_ms: u64,
    /// Standard input and output carry the protocol (the only transport; accepted because
    /// editors pass it).
    #[arg(long)]
    pub stdio: bool,
    #[command(flatten)]
    pub prover: ProverOptions,
}

pub fn run(args: ServeArgs) -> anyhow::Result<ExitCode> {
    let filter = tracing_subscriber::EnvFilter::try_from_env(LOG_FILTER_VARIABLE)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(DEFAULT_LOG_FILTER));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .try_init();
    if args.debounce_ms > crate::lsp::limits::MAX_DEBOUNCE_MS {
        bail!(
            "--debounce-ms must be at most {}, not {}",
            crate::lsp::limits::MAX_DEBOUNCE_MS,
            args.debounce_ms
        );
    }
    let search = args.prover.search_settings()?;
    let defaults = ServerSettings {
        model: args.prover.model.clone(),
        template: args.prover.template_choice(),
        device: match args.prover.device.device {
            DeviceRequest::Auto => DeviceChoice::Auto,
            DeviceRequest::Cpu => DeviceChoice::Cpu,
            DeviceRequest::Cuda => DeviceChoice::Cuda,
        },
        threads: args.prover.threads,
        samples: search.n_samples,
        rounds: search.n_rounds,
        max_new_tokens: search.max_new_tokens,
        seed: search.seed,
        temperature: search.temperature,
        verifier: search.verifier,
        verifier_threshold: search.flag_threshold,
        lean: args.prover.lean_mode(),
        debounce: Duration::from_millis(args.debounce_ms),
        time_budget: search.time_budget,
    };
    let loader: ModelLoader = Arc::new(|choice: &ModelChoice| {
        let request = match choice.device {
            DeviceChoice::Auto => DeviceRequest::Auto,
            DeviceChoice::Cpu => DeviceRequest::Cpu,
            DeviceChoice::Cuda => DeviceRequest::Cuda,
        };
        let selection = select_device(request)?;
        if let Some(reason) = &selection.fallback_reason {
            tracing::info!("no usable GPU, the model runs on the CPU: {reason}");
        }
        let directory = super::model_source::resolve(&choice.model)?;
        ProverModel::load_on(
            &choice.model,
            &directory,
            choice.template,
            choice.threads,
            &selection.device,
        )
    });
    let code = crate::lsp::serve(
        ServeOptions {
            defaults,
            loader,
            discovery: DiscoveryEnvironment::from_process_environment(),
        },
        args.proxy_lean,
    )?;
    Ok(ExitCode::from(code))
}
