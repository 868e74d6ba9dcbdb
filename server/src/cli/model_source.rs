//! Where a model comes from: a local Hugging Face model directory, or a repo id fetched into
//! the Hugging Face cache (honouring HF_HOME, HF_HUB_CACHE, HF_HUB_OFFLINE, HF_ENDPOINT,
//! HF_TOKEN), with a progress bar on a terminal.

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use proofwright_model::{resolve_model, DownloadProgress, HubSettings, ModelSpec};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Mutex;

/// The directory holding the model `spec` names, fetching a repo id when it is not cached.
pub fn resolve(spec: &str) -> anyhow::Result<PathBuf> {
    let parsed = ModelSpec::parse(spec).with_context(|| format!("--model {spec}"))?;
    if let ModelSpec::Directory(directory) = parsed {
        return Ok(directory);
    }
    let settings =
        HubSettings::from_environment().context("cannot read the Hugging Face settings")?;
    let bar: Mutex<Option<(String, ProgressBar)>> = Mutex::new(None);
    let show = std::io::stderr().is_terminal();
    let progress = |update: DownloadProgress| {
        if !show {
            return;
        }
        let mut current = bar.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if current
            .as_ref()
            .is_none_or(|(name, _)| *name != update.file_name)
        {
            if let Some((_, finished)) = current.take() {
                finished.finish();
            }
            let new_bar = ProgressBar::new(update.bytes_total);
            new_bar.set_style(
                ProgressStyle::with_template(
                    "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec}",
                )
                .expect("valid template")
                .progress_chars("=> "),
            );
            new_bar.set_message(update.file_name.clone());
            *current = Some((update.file_name.clone(), new_bar));
        }
        if let Some((_, active)) = current.as_ref() {
            active.set_position(update.bytes_done);
        }
    };
    let resolved = resolve_model(&parsed, &settings, &progress);
    if let Some((_, finished)) = bar
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .take()
    {
        finished.finish();
    }
    resolved.with_context(|| format!("cannot get the model {spec}"))
}
