//! Where a model comes from: a local Hugging Face model directory, or a repo id fetched into
//! the Hugging Face cache (with a progress bar on a terminal).

use anyhow::bail;
use std::path::{Path, PathBuf};

/// The directory holding the model `spec` names.
pub fn resolve(spec: &str) -> anyhow::Result<PathBuf> {
    let path = Path::new(spec);
    if path.is_dir() {
        return Ok(path.to_owned());
    }
    if path.exists() {
        bail!("{spec} is not a directory; --model takes a Hugging Face model directory or a repo id such as ORG/NAME");
    }
    bail!(
        "{spec} is not a directory, and fetching repo ids from the Hugging Face hub is not built yet; download the model with `huggingface-cli download {spec}` and pass its directory"
    )
}
