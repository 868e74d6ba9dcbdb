//! `proofwright generate`: sample continuations of a prompt.

use super::engine::{DeviceArgs, ModelArgs, ThreadArgs};
use anyhow::Context;
use clap::Args;
use proofwright_model::{GenerationRequest, SamplingParams};
use std::num::NonZeroUsize;
use std::process::ExitCode;

/// transformers' defaults, used when neither the command line nor generation_config.json says.
const DEFAULT_MAX_NEW_TOKENS: usize = 256;
const DEFAULT_SAMPLING_TOP_K: usize = 50;
const DEFAULT_SAMPLING_TEMPERATURE: f32 = 1.0;

#[derive(Debug, Args)]
pub struct GenerateArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    /// The text to continue.
    #[arg(long)]
    pub prompt: String,
    /// Most tokens to generate per sample (default: generation_config.json's, else 256).
    #[arg(long, value_name = "N")]
    pub max_new_tokens: Option<usize>,
    /// Sampling temperature; 0 means greedy (default: greedy unless generation_config.json
    /// sets do_sample, then its temperature).
    #[arg(long, value_name = "T", allow_negative_numbers = true)]
    pub temperature: Option<f32>,
    /// Keep only the K most likely tokens when sampling; 0 turns it off (default 50).
    #[arg(long, value_name = "K")]
    pub top_k: Option<usize>,
    /// Nucleus sampling: keep the most likely tokens up to probability P (default 1.0, off).
    #[arg(long, value_name = "P", allow_negative_numbers = true)]
    pub top_p: Option<f32>,
    /// Random seed; the same seed gives the same samples.
    #[arg(long, value_name = "S", default_value_t = 0)]
    pub seed: u64,
    /// Number of samples, decoded together as one batch.
    #[arg(long, value_name = "N", default_value = "1")]
    pub samples: NonZeroUsize,
    /// Stop a sample when this text appears (may be repeated); the text is cut before it.
    #[arg(long = "stop", value_name = "TEXT")]
    pub stop_strings: Vec<String>,
    /// Print one JSON object per sample, one per line.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub device: DeviceArgs,
    #[command(flatten)]
    pub threads: ThreadArgs,
}

pub fn run(args: GenerateArgs) -> anyhow::Result<ExitCode> {
    if let Some(temperature) = args.temperature {
        anyhow::ensure!(
            temperature.is_finite() && temperature >= 0.0,
            "--temperature must be a number ≥ 0, got {temperature}"
        );
    }
    if let Some(top_p) = args.top_p {
        anyhow::ensure!(
            top_p > 0.0 && top_p <= 1.0,
            "--top-p must be in (0, 1], got {top_p}"
        );
    }
    let device = args.device.select()?;
    let model = args.model.load(&device)?;
    let defaults = &model.generation_defaults;
    let sampling_by_default = defaults.do_sample.unwrap_or(false);
    let temperature = args.temperature.unwrap_or(if sampling_by_default {
        defaults
            .temperature
            .map_or(DEFAULT_SAMPLING_TEMPERATURE, |t| t as f32)
    } else {
        0.0
    });
    let sampling = SamplingParams {
        temperature,
        top_k: args
            .top_k
            .or(defaults.top_k)
            .unwrap_or(DEFAULT_SAMPLING_TOP_K),
        top_p: args
            .top_p
            .or(defaults.top_p.map(|p| p as f32))
            .unwrap_or(1.0),
        seed: args.seed,
    };
    let request = GenerationRequest {
        prompt_token_ids: model
            .encode_prompt(&args.prompt)
            .context("cannot encode the prompt")?,
        n_samples: args.samples,
        max_new_tokens: args
            .max_new_tokens
            .or(defaults.max_new_tokens)
            .unwrap_or(DEFAULT_MAX_NEW_TOKENS),
        sampling,
        eos_token_ids: model.eos_token_ids(),
        stop_strings: args.stop_strings.clone(),
    };
    let samples = args.threads.install(|| {
        model
            .transformer
            .generate(&request, &model.tokenizer, &|| false)
    })??;
    for generated in &samples {
        if args.json {
            let line = serde_json::json!({
                "sample": generated.sample_idx,
                "text": generated.text,
                "token_ids": generated.token_ids,
                "finish_reason": generated.finish_reason.as_str(),
            });
            println!("{line}");
        } else {
            if samples.len() > 1 {
                println!(
                    "--- sample {} ({}) ---",
                    generated.sample_idx,
                    generated.finish_reason.as_str()
                );
            }
            println!("{}", generated.text);
        }
    }
    Ok(ExitCode::SUCCESS)
}
