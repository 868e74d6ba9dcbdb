//! `proofwright bench`: prefill and decode speed, peak memory, and how close decoding comes
//! to the memory-bandwidth roofline of the device that runs it (the CPU's memory, or the GPU's
//! device-to-device copy bandwidth).

use super::engine::{DeviceArgs, ThreadArgs};
use anyhow::Context;
use clap::{Args, ValueEnum};
use proofwright_kernels::{cpu, detected_instruction_set, DType};
use proofwright_model::device::Device;
use proofwright_model::{synthetic, LanguageModel, Transformer};
use std::num::NonZeroUsize;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

/// Size of each of the two buffers of the bandwidth copy: far larger than any cache.
const BANDWIDTH_BUFFER_BYTES: usize = 512 << 20;
const BANDWIDTH_REPETITIONS: usize = 5;
/// Seed of synthetic weights and of the benchmark's prompt tokens.
const BENCH_SEED: u64 = 1234;
/// Untimed runs of the measured work before the timed one on a GPU: its first run pays for
/// loading kernels, cuBLAS's heuristics and capturing each decode step's CUDA graph. The CPU has
/// no such first-use costs worth a second run.
const GPU_WARM_UP_RUNS: usize = 1;

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum WeightType {
    F32,
    F16,
    Bf16,
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("source").required(true).args(["model", "synthetic"])))]
pub struct BenchArgs {
    /// A Hugging Face model directory.
    #[arg(long, value_name = "DIR")]
    pub model: Option<PathBuf>,
    /// A model of a published shape with random weights: qwen2-0.5b, qwen2-1.5b, qwen3-1.7b,
    /// llama-7b.
    #[arg(long, value_name = "NAME")]
    pub synthetic: Option<String>,
    /// Storage type of synthetic weights.
    #[arg(long, value_enum, default_value = "bf16")]
    pub dtype: WeightType,
    /// Prompt length for the prefill measurement.
    #[arg(long, value_name = "P", default_value = "128")]
    pub prompt_tokens: NonZeroUsize,
    /// Tokens decoded per sample.
    #[arg(long, value_name = "G", default_value = "32")]
    pub new_tokens: NonZeroUsize,
    /// Samples decoded together as one batch.
    #[arg(long, value_name = "N", default_value = "1")]
    pub samples: NonZeroUsize,
    /// Print a JSON summary as the last line.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub device: DeviceArgs,
    #[command(flatten)]
    pub threads: ThreadArgs,
}

pub fn run(args: BenchArgs) -> anyhow::Result<ExitCode> {
    let n_threads = args.threads.install(rayon::current_num_threads)?;
    let device = args.device.select()?;
    let load_start = Instant::now();
    let transformer = match (&args.model, &args.synthetic) {
        (Some(dir), _) => {
            LanguageModel::load_on(dir, &device)
                .with_context(|| format!("cannot load the model in {}", dir.display()))?
                .transformer
        }
        (None, Some(name)) => {
            let dtype = match args.dtype {
                WeightType::F32 => DType::F32,
                WeightType::F16 => DType::F16,
                WeightType::Bf16 => DType::BF16,
            };
            args.threads
                .install(|| synthetic::synthetic_transformer(name, dtype, BENCH_SEED))??
                .to_device(&device)
                .context("cannot move the synthetic model to the device")?
        }
        (None, None) => anyhow::bail!("give --model DIR or --synthetic NAME"),
    };
    let load_seconds = load_start.elapsed().as_secs_f64();
    let context = transformer.config.context_length();
    let total_tokens = args.prompt_tokens.get() + args.new_tokens.get();
    anyhow::ensure!(
        total_tokens <= context,
        "--prompt-tokens + --new-tokens ({total_tokens}) exceed the model's context ({context})"
    );

    let warm_up_runs = if device.is_gpu() { GPU_WARM_UP_RUNS } else { 0 };
    let measurement = args
        .threads
        .install(|| measure(&transformer, &args, warm_up_runs))??;
    let bandwidth = measure_bandwidth(&device, &args)?;
    let weight_bytes = transformer.weights.bytes_read_per_token();
    let decode_steps_per_second = measurement.decode_tok_s / args.samples.get() as f64;
    let roofline_fraction = weight_bytes as f64 * decode_steps_per_second / bandwidth;
    let peak_rss_bytes = peak_resident_bytes().unwrap_or(0);

    let config = &transformer.config;
    println!(
        "model: {} ({}, {} layers, hidden {}, vocab {}), weights {} ({:.1} MB read per decode step), loaded in {:.1} s",
        args.synthetic.as_deref().map_or_else(
            || args.model.as_ref().map(|p| p.display().to_string()).unwrap_or_default(),
            |name| format!("synthetic {name}")
        ),
        config.architecture.hf_name(),
        config.num_hidden_layers,
        config.hidden_size,
        config.vocab_size,
        transformer.weights.dtype(),
        weight_bytes as f64 / 1e6,
        load_seconds,
    );
    if device.is_gpu() {
        println!(
            "device: {}, prompt {} tokens, {} samples × {} new tokens, timed after {warm_up_runs} untimed warm-up run(s)",
            transformer.device_description(),
            args.prompt_tokens,
            args.samples,
            args.new_tokens
        );
    } else {
        println!(
            "threads: {n_threads}, kernels: {}, prompt {} tokens, {} samples × {} new tokens",
            detected_instruction_set().name(),
            args.prompt_tokens,
            args.samples,
            args.new_tokens
        );
    }
    println!("prefill: {:.1} tokens/s", measurement.prefill_tok_s);
    println!(
        "decode: {:.2} tokens/s ({:.2} steps/s)",
        measurement.decode_tok_s, decode_steps_per_second
    );
    let bandwidth_kind = if device.is_gpu() {
        "GPU memory bandwidth (device-to-device copy, read+write)"
    } else {
        "memory bandwidth (copy, read+write)"
    };
    println!("{bandwidth_kind}: {:.1} GB/s", bandwidth / 1e9);
    println!("roofline fraction: {roofline_fraction:.3}");
    println!(
        "peak resident memory: {:.1} MB",
        peak_rss_bytes as f64 / 1e6
    );
    if args.json {
        let mut summary = serde_json::json!({
            "prefill_tok_s": measurement.prefill_tok_s,
            "decode_tok_s": measurement.decode_tok_s,
            "peak_rss_bytes": peak_rss_bytes,
            "bandwidth_gb_s": bandwidth / 1e9,
            "roofline_fraction": roofline_fraction,
        });
        // Only GPU runs warm up, so the CPU's summary keeps its keys.
        if warm_up_runs > 0 {
            summary["warm_up_runs"] = warm_up_runs.into();
        }
        println!("{summary}");
    }
    Ok(ExitCode::SUCCESS)
}

struct Measurement {
    prefill_tok_s: f64,
    decode_tok_s: f64,
}

/// Times the prompt's prefill and the decode steps, after `warm_up_runs` untimed runs of the
/// same work (the GPU keeps its KV cache and captured graphs between runs of one size).
fn measure(
    transformer: &Transformer,
    args: &BenchArgs,
    warm_up_runs: usize,
) -> anyhow::Result<Measurement> {
    let vocab = transformer.config.vocab_size as u64;
    let mut state = BENCH_SEED;
    let prompt: Vec<u32> = (0..args.prompt_tokens.get())
        .map(|_| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((state >> 33) % vocab) as u32
        })
        .collect();
    for _ in 0..warm_up_runs {
        transformer
            .measure_speed(&prompt, args.samples, args.new_tokens.get())
            .context("the untimed warm-up run failed")?;
    }
    let timing = transformer.measure_speed(&prompt, args.samples, args.new_tokens.get())?;
    Ok(Measurement {
        prefill_tok_s: args.prompt_tokens.get() as f64 / timing.prefill_seconds,
        decode_tok_s: (args.samples.get() * args.new_tokens.get()) as f64 / timing.decode_seconds,
    })
}

/// The roofline's bandwidth: a large copy in the CPU's memory, or on the GPU.
fn measure_bandwidth(device: &Device, args: &BenchArgs) -> anyhow::Result<f64> {
    match device {
        Device::Cpu => args
            .threads
            .install(|| cpu::measure_copy_bandwidth(BANDWIDTH_BUFFER_BYTES, BANDWIDTH_REPETITIONS)),
        #[cfg(feature = "cuda")]
        Device::Cuda(gpu) => gpu
            .measure_copy_bandwidth(BANDWIDTH_BUFFER_BYTES, BANDWIDTH_REPETITIONS)
            .context("cannot measure the GPU's memory bandwidth"),
    }
}

/// The process's peak resident set size (VmHWM), where the OS reports it.
fn peak_resident_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with("VmHWM:"))?;
    let kilobytes: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kilobytes * 1024)
}
