//! Shared helpers for the process tests: building and locating the Lean stand-in test double,
//! and giving each test its own folder, script, request log and pid file.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use proofwright_lean::process::{BackendKind, LaunchCommand, PoolSettings};
use serde_json::Value;

/// Set to a prebuilt stand-in executable to skip building it.
pub const STAND_IN_OVERRIDE_VARIABLE: &str = "PROOFWRIGHT_LEAN_STAND_IN_BINARY";
pub const SCRIPT_VARIABLE: &str = "PROOFWRIGHT_LEAN_STAND_IN_SCRIPT";
pub const LOG_VARIABLE: &str = "PROOFWRIGHT_LEAN_STAND_IN_LOG";
pub const PID_FILE_VARIABLE: &str = "PROOFWRIGHT_LEAN_STAND_IN_PID_FILE";

/// A request timeout far above anything the stand-in needs, for a loaded 2-core machine.
pub const GENEROUS_TIMEOUT: Duration = Duration::from_secs(120);
/// The timeout for tests that make the stand-in hang: short, since it must fire.
pub const SHORT_TIMEOUT: Duration = Duration::from_secs(3);

/// The stand-in executable. It lives in its own package (`tests/lean-stand-in`), so Cargo does
/// not hand its path to these tests; it is built once per test binary with `cargo build`
/// (through escargot, which reads the path from Cargo's JSON messages) into the same target
/// folder, which is quick when `cargo test --workspace` has already built it.
pub fn stand_in_binary() -> &'static Path {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY.get_or_init(|| {
        if let Some(path) = std::env::var_os(STAND_IN_OVERRIDE_VARIABLE) {
            return PathBuf::from(path);
        }
        let manifest = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("..")
            .join("tests")
            .join("lean-stand-in")
            .join("Cargo.toml");
        let run = escargot::CargoBuild::new()
            .manifest_path(&manifest)
            .package("lean-stand-in-test-double")
            .bin("lean-stand-in-test-double")
            .current_release()
            .run()
            .unwrap_or_else(|error| {
                panic!(
                    "could not build the lean stand-in test double from {}: {error}",
                    manifest.display()
                )
            });
        run.path().to_path_buf()
    })
}

/// The path of a scripted fixture in `tests/process/`.
pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("process")
        .join(name)
}

/// One test's stand-in setup: a temporary working folder, a script, a log and a pid file.
pub struct StandIn {
    pub folder: tempfile::TempDir,
    pub script: PathBuf,
}

impl StandIn {
    pub fn new(fixture_name: &str) -> StandIn {
        StandIn {
            folder: tempfile::tempdir().expect("temporary folder"),
            script: fixture(fixture_name),
        }
    }

    pub fn log_path(&self) -> PathBuf {
        self.folder.path().join("requests.jsonl")
    }

    pub fn pid_file(&self) -> PathBuf {
        self.folder.path().join("pids.txt")
    }

    /// Adds the stand-in's variables to a launch command.
    pub fn instrument(&self, launch: LaunchCommand) -> LaunchCommand {
        launch
            .with_environment(SCRIPT_VARIABLE, &self.script)
            .with_environment(LOG_VARIABLE, self.log_path())
            .with_environment(PID_FILE_VARIABLE, self.pid_file())
    }

    pub fn launch(&self, backend: BackendKind) -> LaunchCommand {
        let arguments: &[&str] = match backend {
            BackendKind::Repl => &["exe", "repl"],
            BackendKind::LanguageServer => &["serve"],
        };
        self.instrument(
            LaunchCommand::new(stand_in_binary(), self.folder.path()).with_arguments(arguments),
        )
    }

    /// Every log line the stand-in processes wrote, parsed.
    pub fn log_entries(&self) -> Vec<Value> {
        std::fs::read_to_string(self.log_path())
            .unwrap_or_default()
            .lines()
            .map(|line| serde_json::from_str(line).expect("log lines are JSON"))
            .collect()
    }

    /// The requests the stand-in processes received, in order.
    pub fn received(&self) -> Vec<Value> {
        self.log_entries()
            .into_iter()
            .filter_map(|entry| entry.get("received").cloned())
            .collect()
    }

    /// The process ids of every stand-in start, in order.
    pub fn started_process_ids(&self) -> Vec<u64> {
        self.log_entries()
            .into_iter()
            .filter(|entry| entry.get("started").is_some())
            .filter_map(|entry| entry.get("pid").and_then(Value::as_u64))
            .collect()
    }
}

/// Pool settings with generous timeouts and no address-space limit (the test machine decides).
pub fn test_settings() -> PoolSettings {
    PoolSettings {
        request_timeout: GENEROUS_TIMEOUT,
        startup_timeout: GENEROUS_TIMEOUT,
        address_space_limit_bytes: None,
        ..PoolSettings::default()
    }
}

/// Whether a process is gone: no such process, or a zombie waiting for its parent (a process
/// orphaned by the kill is reparented, and this test cannot make its new parent reap it).
pub fn process_is_gone(process_id: u64) -> bool {
    match std::fs::read_to_string(format!("/proc/{process_id}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_some_and(|state| state == "Z" || state == "X"),
    }
}

/// Whether a stand-in process no longer exists at all (it was reaped). A process with the same
/// id that is not a stand-in (the id was reused) counts as reaped too.
pub fn process_is_reaped(process_id: u64) -> bool {
    match std::fs::read(format!("/proc/{process_id}/cmdline")) {
        Err(_) => true,
        Ok(command_line) => {
            let command_line = String::from_utf8_lossy(&command_line);
            let is_stand_in = command_line.contains("lean-stand-in-test-double")
                || command_line.contains("/lake\0");
            // A zombie has an empty command line: killed but not reaped.
            !(is_stand_in || command_line.is_empty())
        }
    }
}

/// Polls `condition` every 50 ms for up to 30 s; a generous bound for a loaded machine, not a
/// timing assertion.
pub async fn eventually(mut condition: impl FnMut() -> bool) -> bool {
    for _ in 0..600 {
        if condition() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    condition()
}
