//! `--device` on the commands that run a model, where no GPU is usable. The tests hide every GPU
//! with `CUDA_VISIBLE_DEVICES=-1`, so they check the same behaviour on machines with and without
//! one: `auto` falls back to the CPU with one note on standard error and the CPU's exact
//! output, `cpu` says nothing, and `cuda` is an error (exit status 2) that says why.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Hides every GPU from the CUDA driver, where there is one.
const HIDE_GPUS: (&str, &str) = ("CUDA_VISIBLE_DEVICES", "-1");
const FALLBACK_NOTE: &str = "note: no usable GPU, running on the CPU: ";

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../model/tests/fixtures/qwen3-default-f32-legacy")
}

struct Output {
    status: i32,
    stdout: String,
    stderr: String,
}

fn proofwright(args: &[&str]) -> Output {
    let output = Command::new(env!("CARGO_BIN_EXE_proofwright"))
        .args(args)
        .env(HIDE_GPUS.0, HIDE_GPUS.1)
        .output()
        .expect("the proofwright binary runs");
    Output {
        status: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8(output.stdout).unwrap(),
        stderr: String::from_utf8(output.stderr).unwrap(),
    }
}

fn generate(device: &str) -> Output {
    let model = fixture();
    proofwright(&[
        "generate",
        "--model",
        model.to_str().unwrap(),
        "--prompt",
        "theorem foo : a + b = b + a := by",
        "--max-new-tokens",
        "6",
        "--temperature",
        "0",
        "--json",
        "--device",
        device,
    ])
}

#[test]
fn auto_falls_back_to_the_cpu_with_one_note_and_the_cpu_output() {
    let cpu = generate("cpu");
    assert_eq!(cpu.status, 0, "{}", cpu.stderr);
    assert_eq!(cpu.stderr, "", "the cpu device is never a fallback");

    let auto = generate("auto");
    assert_eq!(auto.status, 0, "{}", auto.stderr);
    assert_eq!(
        auto.stdout, cpu.stdout,
        "auto without a GPU is the CPU engine"
    );
    let lines: Vec<&str> = auto.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "one note: {:?}", auto.stderr);
    assert!(lines[0].starts_with(FALLBACK_NOTE), "{}", lines[0]);
    assert!(
        lines[0].len() > FALLBACK_NOTE.len(),
        "the note gives the reason"
    );
}

#[test]
fn cuda_without_a_usable_gpu_is_an_error_that_says_why() {
    let model = fixture();
    let model = model.to_str().unwrap();
    let runs = [
        generate("cuda"),
        proofwright(&[
            "score",
            "--model",
            model,
            "--prompt",
            "theorem",
            "--continuation",
            " foo",
            "--json",
            "--device",
            "cuda",
        ]),
        proofwright(&[
            "bench",
            "--synthetic",
            "qwen2-0.5b",
            "--prompt-tokens",
            "1",
            "--new-tokens",
            "1",
            "--device",
            "cuda",
        ]),
    ];
    for output in runs {
        assert_eq!(output.status, 2, "{}", output.stderr);
        assert_eq!(output.stdout, "");
        let message = output.stderr.trim_end();
        assert!(
            message.starts_with("error: the cuda device cannot be used: "),
            "{message}"
        );
        // Either the driver is missing or it reports no GPU (CUDA_VISIBLE_DEVICES hides them).
        assert!(
            message.contains("libcuda") || message.contains("reports no GPU"),
            "{message}"
        );
    }
}

#[test]
fn an_unknown_device_is_a_usage_error_listing_the_choices() {
    let output = generate("gpu");
    assert_eq!(output.status, 2);
    assert!(
        output.stderr.contains("[possible values: auto, cpu, cuda]"),
        "{}",
        output.stderr
    );
}
