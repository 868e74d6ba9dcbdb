//! Benchmark: how long `proofwright serve` takes to absorb an edit of a 2,000-line Lean file.
//!
//! Three numbers per keystroke, over a typing session (insertions and deletions spread over the
//! file, sent as incremental `didChange`s):
//! - text sync: the main loop's own work for a `didChange` (UTF-16 → bytes, the string edit,
//!   handing the edit to the outline thread), measured in-process on the document store;
//! - outline ready: from the `didChange` until the outline of the new version is published by
//!   the outline thread (keyword scan and segmenter), in-process;
//! - round trip: the real binary over stdio: a `didChange` followed by a `textDocument/codeLens`
//!   request, which waits for the new version's outline, until its answer arrives.
//!
//! Run with `cargo bench -p proofwright --bench lsp_text_sync`; results go in
//! docs/benchmarks.md with the machine named.

use proofwright::lsp::DocumentStore;
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use tower_lsp_server::ls_types::{Position, Range, TextDocumentContentChangeEvent, Uri};

/// Lines in the benchmark file.
const TARGET_LINES: usize = 2_000;
/// Keystrokes per measured session.
const KEYSTROKES: usize = 1_000;
/// Keystrokes before measuring, to warm caches and the allocator.
const WARMUP_KEYSTROKES: usize = 50;
/// What is typed, character by character, then deleted again.
const TYPED: &str = "simp [Nat.add_comm]";

/// A Lean file of about `TARGET_LINES` lines: theorems with multi-step tactic proofs, nested
/// alternatives, a `calc`, doc comments and non-ASCII notation.
fn benchmark_file() -> String {
    let mut text = String::from("import Std\n\nnamespace Bench\n\n");
    let mut idx = 0;
    while text.lines().count() < TARGET_LINES - 12 {
        text.push_str(&format!(
            "/-- Adding `c` on both sides keeps `≤` ({idx}). -/\n\
             theorem le_add_{idx} (a b c : Nat) (h : a ≤ b) : a + c ≤ b + c := by\n\
             \x20 have h₂ : c ≤ c := Nat.le_refl c\n\
             \x20 induction c with\n\
             \x20 | zero => simp [h]\n\
             \x20 | succ n ih =>\n\
             \x20   simp only [Nat.add_succ]\n\
             \x20   omega\n\
             \n\
             theorem calc_{idx} (a b : Nat) (h : a = b) : a + 0 = b := by\n\
             \x20 calc a + 0 = a := by simp\n\
             \x20   _ = b := h\n\
             \n"
        ));
        idx += 1;
    }
    text.push_str("end Bench\n");
    text
}

/// Where the typing happens: the end of `simp only [Nat.add_succ]` lines spread over the file.
fn typing_spots(text: &str) -> Vec<Position> {
    let lines: Vec<&str> = text.lines().collect();
    let spots: Vec<Position> = lines
        .iter()
        .enumerate()
        .filter(|(_, line)| line.trim() == "simp only [Nat.add_succ]")
        .map(|(line_idx, line)| Position::new(line_idx as u32, line.chars().count() as u32))
        .collect();
    // Ten spots from the start to the end of the file.
    (0..10)
        .map(|spot_idx| spots[spot_idx * (spots.len() - 1) / 9])
        .collect()
}

/// The keystrokes: at each spot, type `; ` and `TYPED` one character at a time, then delete
/// them one at a time.
fn keystrokes(spots: &[Position], count: usize) -> Vec<TextDocumentContentChangeEvent> {
    let typed: Vec<char> = format!("; {TYPED}").chars().collect();
    let mut changes = Vec::new();
    'sessions: for spot in spots.iter().cycle() {
        for (typed_idx, character) in typed.iter().enumerate() {
            let at = Position::new(spot.line, spot.character + typed_idx as u32);
            changes.push(TextDocumentContentChangeEvent {
                range: Some(Range::new(at, at)),
                range_length: None,
                text: character.to_string(),
            });
        }
        for typed_idx in (0..typed.len()).rev() {
            let start = Position::new(spot.line, spot.character + typed_idx as u32);
            let end = Position::new(spot.line, spot.character + typed_idx as u32 + 1);
            changes.push(TextDocumentContentChangeEvent {
                range: Some(Range::new(start, end)),
                range_length: None,
                text: String::new(),
            });
        }
        if changes.len() >= count {
            break 'sessions;
        }
    }
    changes.truncate(count);
    changes
}

fn percentile(sorted: &[Duration], fraction: f64) -> Duration {
    let idx = ((sorted.len() as f64 - 1.0) * fraction).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

fn report(name: &str, mut samples: Vec<Duration>) -> Value {
    samples.sort();
    let to_ms = |duration: Duration| duration.as_secs_f64() * 1_000.0;
    let summary = json!({
        "measure": name,
        "samples": samples.len(),
        "p50_ms": to_ms(percentile(&samples, 0.50)),
        "p90_ms": to_ms(percentile(&samples, 0.90)),
        "p99_ms": to_ms(percentile(&samples, 0.99)),
        "max_ms": to_ms(*samples.last().unwrap_or(&Duration::ZERO)),
    });
    println!(
        "{name:>14}: p50 {:.3} ms  p90 {:.3} ms  p99 {:.3} ms  max {:.3} ms  ({} samples)",
        summary["p50_ms"].as_f64().unwrap_or(0.0),
        summary["p90_ms"].as_f64().unwrap_or(0.0),
        summary["p99_ms"].as_f64().unwrap_or(0.0),
        summary["max_ms"].as_f64().unwrap_or(0.0),
        samples.len()
    );
    summary
}

fn in_process(
    text: &str,
    changes: &[TextDocumentContentChangeEvent],
) -> (Vec<Duration>, Vec<Duration>) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let store = DocumentStore::start().expect("document store");
    let uri: Uri = "file:///bench/Bench.lean".parse().expect("uri");
    store.open(uri.clone(), 1, text.to_owned());
    runtime
        .block_on(store.snapshot(&uri, 1))
        .expect("first outline");
    let mut sync = Vec::new();
    let mut outline = Vec::new();
    for (change_idx, change) in changes.iter().enumerate() {
        let version = change_idx as i32 + 2;
        let started = Instant::now();
        store
            .change(&uri, version, vec![change.clone()])
            .expect("change applies");
        let synced = started.elapsed();
        runtime
            .block_on(store.snapshot(&uri, version))
            .expect("outline");
        let outlined = started.elapsed();
        if change_idx >= WARMUP_KEYSTROKES {
            sync.push(synced);
            outline.push(outlined);
        }
    }
    store.stop();
    (sync, outline)
}

fn read_message(reader: &mut impl BufRead) -> Option<Value> {
    let mut length = None;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).ok()? == 0 {
            return None;
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            if name.eq_ignore_ascii_case("content-length") {
                length = value.trim().parse::<usize>().ok();
            }
        }
    }
    let mut body = vec![0u8; length?];
    reader.read_exact(&mut body).ok()?;
    serde_json::from_slice(&body).ok()
}

fn round_trips(text: &str, changes: &[TextDocumentContentChangeEvent]) -> Vec<Duration> {
    let folder = std::env::temp_dir();
    let mut child = Command::new(env!("CARGO_BIN_EXE_proofwright"))
        .args(["serve", "--stdio"])
        .env("PATH", "")
        .env("PROOFWRIGHT_LOG", "warn")
        .current_dir(&folder)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("proofwright serve starts");
    let mut stdin = child.stdin.take().expect("stdin");
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
    let mut send = |message: Value| {
        let body = message.to_string();
        write!(stdin, "Content-Length: {}\r\n\r\n{body}", body.len()).expect("write");
        stdin.flush().expect("flush");
    };
    let mut wait_for = |id: i64| loop {
        let message = read_message(&mut stdout).expect("the server answers");
        if message.get("id") == Some(&json!(id)) && message.get("method").is_none() {
            return message;
        }
    };
    let uri = "file:///bench/Bench.lean";
    // No model: the server outlines and answers code lens without one.
    send(json!({"jsonrpc": "2.0", "id": 0, "method": "initialize",
                "params": {"capabilities": {}, "initializationOptions": {"model": "/nonexistent/bench-model", "lean": "off"}}}));
    wait_for(0);
    send(json!({"jsonrpc": "2.0", "method": "initialized", "params": {}}));
    send(json!({"jsonrpc": "2.0", "method": "textDocument/didOpen",
                "params": {"textDocument": {"uri": uri, "languageId": "lean4", "version": 1, "text": text}}}));
    let mut samples = Vec::new();
    for (change_idx, change) in changes.iter().enumerate() {
        let version = change_idx as i64 + 2;
        let started = Instant::now();
        send(json!({"jsonrpc": "2.0", "method": "textDocument/didChange",
                    "params": {"textDocument": {"uri": uri, "version": version}, "contentChanges": [change]}}));
        send(
            json!({"jsonrpc": "2.0", "id": version, "method": "textDocument/codeLens",
                    "params": {"textDocument": {"uri": uri}}}),
        );
        let answer = wait_for(version);
        assert!(answer.get("result").is_some(), "code lens failed: {answer}");
        if change_idx >= WARMUP_KEYSTROKES {
            samples.push(started.elapsed());
        }
    }
    send(json!({"jsonrpc": "2.0", "id": -1, "method": "shutdown"}));
    wait_for(-1);
    send(json!({"jsonrpc": "2.0", "method": "exit"}));
    let _ = child.wait();
    samples
}

fn main() {
    let text = benchmark_file();
    let spots = typing_spots(&text);
    let changes = keystrokes(&spots, KEYSTROKES + WARMUP_KEYSTROKES);
    println!(
        "lsp_text_sync: {} lines, {} bytes, {} keystrokes measured after {} warm-up",
        text.lines().count(),
        text.len(),
        KEYSTROKES,
        WARMUP_KEYSTROKES
    );
    let (sync, outline) = in_process(&text, &changes);
    let summaries = vec![
        report("text sync", sync),
        report("outline ready", outline),
        report("round trip", round_trips(&text, &changes)),
    ];
    println!(
        "{}",
        json!({"lines": text.lines().count(), "results": summaries})
    );
}
