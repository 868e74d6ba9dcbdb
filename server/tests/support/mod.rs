//! Shared helpers for the end-to-end tests that run the real `proofwright` binary: the binary,
//! the model fixtures, and a Lean project whose toolchain is the Lean stand-in test double
//! (tests/lean-stand-in), found by the binary's own toolchain discovery through `ELAN_HOME`.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// Set to a prebuilt stand-in executable to skip building it.
pub const STAND_IN_OVERRIDE_VARIABLE: &str = "PROOFWRIGHT_LEAN_STAND_IN_BINARY";
pub const STAND_IN_SCRIPT_VARIABLE: &str = "PROOFWRIGHT_LEAN_STAND_IN_SCRIPT";
pub const STAND_IN_LOG_VARIABLE: &str = "PROOFWRIGHT_LEAN_STAND_IN_LOG";
/// The toolchain the fake project names.
const TOOLCHAIN: &str = "leanprover/lean4:v4.19.0";
const TOOLCHAIN_FOLDER: &str = "leanprover--lean4---v4.19.0";

pub fn proofwright_binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_proofwright"))
}

pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the server crate is inside the workspace")
        .to_owned()
}

/// The tiny trained demo prover (tests/fixtures/tiny-prover).
pub fn tiny_prover() -> PathBuf {
    workspace_root()
        .join("tests")
        .join("fixtures")
        .join("tiny-prover")
}

/// A random-weight fixture checkpoint from model/tests/fixtures.
pub fn random_fixture(name: &str) -> PathBuf {
    workspace_root()
        .join("model")
        .join("tests")
        .join("fixtures")
        .join(name)
}

/// The stand-in executable, built once per test binary with `cargo build` (quick when
/// `cargo test --workspace` has built it already).
pub fn stand_in_binary() -> &'static Path {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY.get_or_init(|| {
        if let Some(path) = std::env::var_os(STAND_IN_OVERRIDE_VARIABLE) {
            return PathBuf::from(path);
        }
        let manifest = workspace_root()
            .join("tests")
            .join("lean-stand-in")
            .join("Cargo.toml");
        escargot::CargoBuild::new()
            .manifest_path(&manifest)
            .package("lean-stand-in-test-double")
            .bin("lean-stand-in-test-double")
            .current_release()
            .run()
            .unwrap_or_else(|error| {
                panic!("could not build the lean stand-in test double: {error}")
            })
            .path()
            .to_path_buf()
    })
}

/// A temporary Lake project whose toolchain (under a temporary `ELAN_HOME`) is the stand-in.
pub struct StandInProject {
    pub folder: tempfile::TempDir,
    pub script: Option<PathBuf>,
}

impl StandInProject {
    /// A project with the REPL dependency (so the REPL backend is used) when `with_repl`, and
    /// `script` (a stand-in fixture) driving the stand-in's answers.
    pub fn new(script: Option<&Path>, with_repl: bool) -> StandInProject {
        let folder = tempfile::tempdir().expect("temporary folder");
        let bin = folder
            .path()
            .join("elan")
            .join("toolchains")
            .join(TOOLCHAIN_FOLDER)
            .join("bin");
        std::fs::create_dir_all(&bin).expect("toolchain folder");
        for tool in ["lean", "lake"] {
            std::os::unix::fs::symlink(stand_in_binary(), bin.join(tool)).expect("symlink");
        }
        let project = folder.path().join("project");
        std::fs::create_dir_all(&project).expect("project folder");
        std::fs::write(project.join("lakefile.toml"), "name = \"project\"\n").expect("lakefile");
        std::fs::write(project.join("lean-toolchain"), format!("{TOOLCHAIN}\n"))
            .expect("toolchain");
        if with_repl {
            std::fs::write(
                project.join("lake-manifest.json"),
                r#"{"version": 7, "packages": [{"name": "REPL", "type": "git"}]}"#,
            )
            .expect("manifest");
        }
        StandInProject {
            folder,
            script: script.map(Path::to_owned),
        }
    }

    pub fn project(&self) -> PathBuf {
        self.folder.path().join("project")
    }

    pub fn elan_home(&self) -> PathBuf {
        self.folder.path().join("elan")
    }

    pub fn log_path(&self) -> PathBuf {
        self.folder.path().join("stand-in-requests.jsonl")
    }

    /// Writes a file into the project and returns its path.
    pub fn write(&self, relative: &str, text: &str) -> PathBuf {
        let path = self.project().join(relative);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("folder");
        std::fs::write(&path, text).expect("write");
        path
    }

    /// Points a command at this toolchain: discovery finds no `lean` on PATH and takes the
    /// project's toolchain from `ELAN_HOME`.
    pub fn configure(&self, command: &mut Command) {
        command
            .env("ELAN_HOME", self.elan_home())
            .env("PATH", "")
            .env_remove("HOME")
            .env(STAND_IN_LOG_VARIABLE, self.log_path());
        match &self.script {
            Some(script) => command.env(STAND_IN_SCRIPT_VARIABLE, script),
            None => command.env_remove(STAND_IN_SCRIPT_VARIABLE),
        };
    }

    /// Every request the stand-in received, parsed.
    pub fn received(&self) -> Vec<serde_json::Value> {
        std::fs::read_to_string(self.log_path())
            .unwrap_or_default()
            .lines()
            .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
            .filter_map(|entry| entry.get("received").cloned())
            .collect()
    }
}
