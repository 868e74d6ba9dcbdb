//! Options shared by the commands that run a model: where it is, which device runs it and how
//! many CPU threads to use.

use anyhow::Context;
use clap::builder::{PossibleValuesParser, TypedValueParser};
use clap::Args;
use proofwright_model::device::{select_device, Device, DeviceRequest};
use proofwright_model::LanguageModel;
use std::num::NonZeroUsize;
use std::path::PathBuf;

#[derive(Debug, Args)]
pub struct ThreadArgs {
    /// Worker threads for the model (default: every core).
    #[arg(long, value_name = "N")]
    pub threads: Option<NonZeroUsize>,
}

impl ThreadArgs {
    /// Runs `work` on a pool of the requested size.
    pub fn install<T: Send>(&self, work: impl FnOnce() -> T + Send) -> anyhow::Result<T> {
        let n_threads = match self.threads {
            Some(n) => n.get(),
            None => std::thread::available_parallelism().map_or(1, NonZeroUsize::get),
        };
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(n_threads)
            .build()
            .context("cannot start the model's worker threads")?;
        Ok(pool.install(work))
    }
}

#[derive(Debug, Args)]
pub struct ModelArgs {
    /// A Hugging Face model directory (config.json, *.safetensors, tokenizer.json).
    #[arg(long, value_name = "DIR")]
    pub model: PathBuf,
}

impl ModelArgs {
    /// Loads the model onto `device`.
    pub fn load(&self, device: &Device) -> anyhow::Result<LanguageModel> {
        LanguageModel::load_on(&self.model, device)
            .with_context(|| format!("cannot load the model in {}", self.model.display()))
    }
}

#[derive(Debug, Args)]
pub struct DeviceArgs {
    /// Where the model runs: auto (the GPU when a usable one is present, else the CPU), cpu,
    /// or cuda (an error when there is no usable GPU).
    #[arg(
        long,
        value_name = "DEVICE",
        default_value = "auto",
        value_parser = PossibleValuesParser::new(DeviceRequest::NAMES)
            .map(|name| name.parse::<DeviceRequest>().expect("clap accepted only known names"))
    )]
    pub device: DeviceRequest,
}

impl DeviceArgs {
    /// Resolves `--device`. When `auto` finds no usable GPU it says so in one line on standard
    /// error and the CPU runs the model.
    pub fn select(&self) -> anyhow::Result<Device> {
        let selection = select_device(self.device)?;
        if let Some(reason) = selection.fallback_reason {
            let first_line = reason.lines().next().unwrap_or_default();
            eprintln!("note: no usable GPU, running on the CPU: {first_line}");
        }
        Ok(selection.device)
    }
}
