//! `proofwright score`: teacher-forced log-probabilities of a continuation given a prompt.

use super::engine::{DeviceArgs, ModelArgs, ThreadArgs};
use anyhow::Context;
use clap::Args;
use std::process::ExitCode;

#[derive(Debug, Args)]
pub struct ScoreArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    /// The context, encoded with the tokenizer's special tokens (BOS where it adds one).
    #[arg(long, allow_hyphen_values = true)]
    pub prompt: String,
    /// The text to score, encoded on its own without special tokens.
    #[arg(long, allow_hyphen_values = true)]
    pub continuation: String,
    /// Print JSON: prompt_token_ids, continuation_token_ids, logprobs.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub device: DeviceArgs,
    #[command(flatten)]
    pub threads: ThreadArgs,
}

pub fn run(args: ScoreArgs) -> anyhow::Result<ExitCode> {
    let device = args.device.select()?;
    let model = args.model.load(&device)?;
    let prompt_ids = model
        .encode_prompt(&args.prompt)
        .context("cannot encode the prompt")?;
    let continuation_ids = model
        .encode_continuation(&args.continuation)
        .context("cannot encode the continuation")?;
    let logprobs = args
        .threads
        .install(|| model.transformer.score(&prompt_ids, &continuation_ids))??;
    if args.json {
        let document = serde_json::json!({
            "prompt_token_ids": prompt_ids,
            "continuation_token_ids": continuation_ids,
            "logprobs": logprobs,
        });
        println!("{document}");
    } else {
        let total: f32 = logprobs.iter().flatten().sum();
        for (token_id, logprob) in continuation_ids.iter().zip(&logprobs) {
            let piece = model
                .tokenizer
                .decode(std::slice::from_ref(token_id))
                .unwrap_or_default();
            match logprob {
                Some(logprob) => println!("{token_id:>8} {logprob:>10.4}  {piece:?}"),
                None => println!("{token_id:>8} {:>10}  {piece:?}", "(no context)"),
            }
        }
        println!("total log-probability: {total:.4}");
    }
    Ok(ExitCode::SUCCESS)
}
