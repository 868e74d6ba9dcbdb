//! Options shared by the commands that run a model: where it is and how many threads to use.

use anyhow::Context;
use clap::Args;
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
    pub fn load(&self) -> anyhow::Result<LanguageModel> {
        LanguageModel::load(&self.model)
            .with_context(|| format!("cannot load the model in {}", self.model.display()))
    }
}
