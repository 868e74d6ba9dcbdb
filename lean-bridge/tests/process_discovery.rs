//! Toolchain discovery against fake installations in temporary folders: found on PATH, in
//! elan's home (explicit or under HOME), through `lean-toolchain`, the Lake project root, and
//! every reason Lean is unavailable. The fake executables are never run.

#![cfg(unix)]

use std::path::{Path, PathBuf};

use proofwright_lean::process::discovery::ToolchainFileProblem;
use proofwright_lean::process::{
    discover_toolchain, find_lake_project, DiscoveryEnvironment, LaunchCommand, LeanUnavailable,
    ToolchainSource,
};

struct Sandbox {
    folder: tempfile::TempDir,
}

impl Sandbox {
    fn new() -> Sandbox {
        Sandbox {
            folder: tempfile::tempdir().expect("temporary folder"),
        }
    }

    fn path(&self, relative: &str) -> PathBuf {
        self.folder.path().join(relative)
    }

    fn write(&self, relative: &str, contents: &str) -> PathBuf {
        let path = self.path(relative);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, contents).unwrap();
        path
    }

    /// A fake executable (a shell script that is never run).
    fn executable(&self, relative: &str) -> PathBuf {
        use std::os::unix::fs::PermissionsExt;
        let path = self.write(relative, "#!/bin/sh\nexit 1\n");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        path
    }

    fn elan_toolchain(&self, elan_home: &str, directory: &str) -> PathBuf {
        let bin = format!("{elan_home}/toolchains/{directory}/bin");
        self.executable(&format!("{bin}/lake"));
        self.executable(&format!("{bin}/lean"))
    }
}

fn environment(
    path: &[&Path],
    home: Option<&Path>,
    elan_home: Option<&Path>,
) -> DiscoveryEnvironment {
    DiscoveryEnvironment {
        path: Some(std::env::join_paths(path).unwrap()),
        home: home.map(Path::to_path_buf),
        elan_home: elan_home.map(Path::to_path_buf),
    }
}

fn arguments(launch: &LaunchCommand) -> Vec<&str> {
    launch
        .arguments
        .iter()
        .map(|argument| argument.to_str().unwrap())
        .collect()
}

#[test]
fn lean_on_path_is_found_with_lake_beside_it() {
    let sandbox = Sandbox::new();
    let lean = sandbox.executable("opt/lean/bin/lean");
    let lake = sandbox.executable("opt/lean/bin/lake");
    sandbox.write("opt/lean/bin/not-executable", "");
    let file = sandbox.write("scratch/Test.lean", "");
    let empty = sandbox.path("empty-bin");
    std::fs::create_dir_all(&empty).unwrap();
    let found = discover_toolchain(
        &environment(&[&empty, &sandbox.path("opt/lean/bin")], None, None),
        &file,
    )
    .expect("found");
    assert_eq!(found.lean, lean);
    assert_eq!(found.lake, Some(lake));
    assert_eq!(
        found.source,
        ToolchainSource::SearchPath {
            directory: sandbox.path("opt/lean/bin")
        }
    );
    assert_eq!(found.project, None);
    assert_eq!(found.toolchain_file, None);

    // Outside a Lake project the language server is `lean --server` in the file's folder.
    let launch = found.language_server_launch().expect("language server");
    assert_eq!(launch.program, found.lean);
    assert_eq!(arguments(&launch), ["--server"]);
    assert_eq!(launch.working_directory, sandbox.path("scratch"));
    assert_eq!(
        found.repl_launch(),
        Err(LeanUnavailable::NotInLakeProject {
            searched_from: sandbox.path("scratch")
        })
    );
}

#[test]
fn a_file_that_is_not_executable_is_not_lean() {
    let sandbox = Sandbox::new();
    sandbox.write("bin/lean", "not executable");
    let file = sandbox.write("Test.lean", "");
    let result = discover_toolchain(&environment(&[&sandbox.path("bin")], None, None), &file);
    assert_eq!(
        result,
        Err(LeanUnavailable::NoLeanExecutable { elan_home: None })
    );
}

#[test]
fn the_named_toolchain_is_found_in_elan_home() {
    let sandbox = Sandbox::new();
    let lean = sandbox.elan_toolchain("elan", "leanprover--lean4---v4.9.0");
    sandbox.elan_toolchain("elan", "leanprover--lean4---v4.8.0");
    // A different lean on PATH loses to the toolchain the project names.
    sandbox.executable("usr/bin/lean");
    let toolchain_file = sandbox.write("project/lean-toolchain", "leanprover/lean4:v4.9.0\n");
    sandbox.write(
        "project/lakefile.lean",
        "import Lake\nopen Lake DSL\npackage project\n",
    );
    let file = sandbox.write("project/Project/Deep/Main.lean", "");

    let found = discover_toolchain(
        &environment(
            &[&sandbox.path("usr/bin")],
            None,
            Some(&sandbox.path("elan")),
        ),
        &file,
    )
    .expect("found");
    assert_eq!(found.lean, lean);
    assert_eq!(
        found.lake,
        Some(sandbox.path("elan/toolchains/leanprover--lean4---v4.9.0/bin/lake"))
    );
    assert!(matches!(
        &found.source,
        ToolchainSource::ElanToolchain { name, .. } if name.as_str() == "leanprover/lean4:v4.9.0"
    ));
    assert_eq!(
        found.toolchain_file.as_ref().map(|(path, _)| path),
        Some(&toolchain_file)
    );

    let project = found.project.clone().expect("in a Lake project");
    assert_eq!(project.root, sandbox.path("project"));
    assert!(!project.has_repl_package);
    let launch = found.language_server_launch().expect("language server");
    assert_eq!(launch.program, found.lake.clone().unwrap());
    assert_eq!(arguments(&launch), ["serve"]);
    assert_eq!(launch.working_directory, sandbox.path("project"));
    assert_eq!(
        found.repl_launch(),
        Err(LeanUnavailable::ReplNotInProject {
            project_root: sandbox.path("project")
        })
    );
}

#[test]
fn elan_home_defaults_to_dot_elan_under_home() {
    let sandbox = Sandbox::new();
    let lean = sandbox.elan_toolchain("home/.elan", "leanprover--lean4---v4.10.0");
    sandbox.write("project/lean-toolchain", "v4.10.0");
    sandbox.write("project/lakefile.toml", "name = \"project\"\n");
    let file = sandbox.write("project/Main.lean", "");
    let found = discover_toolchain(&environment(&[], Some(&sandbox.path("home")), None), &file)
        .expect("found");
    assert_eq!(found.lean, lean);
}

#[test]
fn elan_proxy_is_used_when_no_toolchain_is_named_and_lean_is_not_on_path() {
    let sandbox = Sandbox::new();
    let proxy = sandbox.executable("elan/bin/lean");
    sandbox.executable("elan/bin/lake");
    let file = sandbox.write("Loose.lean", "");
    let found = discover_toolchain(&environment(&[], None, Some(&sandbox.path("elan"))), &file)
        .expect("found");
    assert_eq!(found.lean, proxy);
    assert_eq!(
        found.source,
        ToolchainSource::ElanProxy {
            elan_home: sandbox.path("elan")
        }
    );
}

#[test]
fn no_lean_and_no_elan_is_unavailable_with_a_reason() {
    let sandbox = Sandbox::new();
    let file = sandbox.write("Loose.lean", "");
    let home = sandbox.path("home");
    let result = discover_toolchain(&environment(&[], Some(&home), None), &file);
    let expected = LeanUnavailable::NoLeanExecutable {
        elan_home: Some(home.join(".elan")),
    };
    assert_eq!(result, Err(expected.clone()));
    let message = expected.to_string();
    assert!(
        message.starts_with("lean is not on PATH and elan is not installed at "),
        "{message}"
    );
    assert!(message.contains("install Lean with elan"), "{message}");

    let nothing = DiscoveryEnvironment::default();
    let message = discover_toolchain(&nothing, &file).unwrap_err().to_string();
    assert!(
        message.contains("HOME and ELAN_HOME are unset"),
        "{message}"
    );
}

#[test]
fn a_named_toolchain_that_is_not_installed_is_unavailable() {
    let sandbox = Sandbox::new();
    sandbox.elan_toolchain("elan", "leanprover--lean4---v4.8.0");
    // Elan's proxy on PATH would try to download the toolchain, so it does not count.
    sandbox.executable("elan/bin/lean");
    let toolchain_file = sandbox.write("project/lean-toolchain", "leanprover/lean4:v4.99.0\n");
    let file = sandbox.write("project/Main.lean", "");
    let elan = sandbox.path("elan");
    let result = discover_toolchain(&environment(&[&elan.join("bin")], None, Some(&elan)), &file);
    let expected = LeanUnavailable::ToolchainNotInstalled {
        toolchain: "leanprover/lean4:v4.99.0".to_owned(),
        toolchain_file,
        elan_home: elan.clone(),
    };
    assert_eq!(result, Err(expected.clone()));
    assert!(expected
        .to_string()
        .contains("run `elan toolchain install leanprover/lean4:v4.99.0`"));

    // A standalone lean on PATH is still used.
    let standalone = sandbox.executable("nix/bin/lean");
    let found = discover_toolchain(
        &environment(&[&sandbox.path("nix/bin")], None, Some(&elan)),
        &file,
    )
    .expect("found");
    assert_eq!(found.lean, standalone);
}

#[test]
fn bad_toolchain_files_are_unavailable_with_the_problem() {
    let sandbox = Sandbox::new();
    sandbox.executable("bin/lean");
    let toolchain_file = sandbox.write("project/lean-toolchain", "\n\n");
    let file = sandbox.write("project/Main.lean", "");
    let result = discover_toolchain(&environment(&[&sandbox.path("bin")], None, None), &file);
    assert_eq!(
        result,
        Err(LeanUnavailable::InvalidToolchainFile {
            toolchain_file: toolchain_file.clone(),
            problem: ToolchainFileProblem::Empty
        })
    );
    std::fs::write(
        &toolchain_file,
        "leanprover/lean4:v4.9.0\nleanprover/lean4:v4.8.0\n",
    )
    .unwrap();
    let result = discover_toolchain(&environment(&[&sandbox.path("bin")], None, None), &file);
    assert_eq!(
        result,
        Err(LeanUnavailable::InvalidToolchainFile {
            toolchain_file,
            problem: ToolchainFileProblem::SeveralLines
        })
    );
}

#[test]
fn a_project_without_lake_cannot_serve() {
    let sandbox = Sandbox::new();
    let lean = sandbox.executable("bin/lean");
    sandbox.write("project/lakefile.lean", "");
    let file = sandbox.write("project/Main.lean", "");
    let found = discover_toolchain(&environment(&[&sandbox.path("bin")], None, None), &file)
        .expect("found");
    assert_eq!(found.lake, None);
    assert_eq!(
        found.language_server_launch(),
        Err(LeanUnavailable::NoLakeExecutable { lean })
    );
}

#[test]
fn lake_projects_are_found_upward_and_the_innermost_wins() {
    let sandbox = Sandbox::new();
    sandbox.write("outer/lakefile.lean", "");
    sandbox.write("outer/.lake/packages/mathlib/lakefile.lean", "");
    let inner_file = sandbox.write("outer/.lake/packages/mathlib/Mathlib/Logic/Basic.lean", "");
    let outer_file = sandbox.write("outer/Outer/A/B/C.lean", "");
    assert_eq!(
        find_lake_project(&inner_file).map(|project| project.root),
        Some(sandbox.path("outer/.lake/packages/mathlib"))
    );
    assert_eq!(
        find_lake_project(&outer_file).map(|project| project.root),
        Some(sandbox.path("outer"))
    );
    assert_eq!(find_lake_project(&sandbox.path("elsewhere")), None);
    // A folder is a valid starting point too.
    assert_eq!(
        find_lake_project(&sandbox.path("outer/Outer")).map(|project| project.lakefile),
        Some(sandbox.path("outer/lakefile.lean"))
    );
}

#[test]
fn the_repl_package_is_detected_three_ways() {
    let sandbox = Sandbox::new();
    sandbox.executable("bin/lean");
    let lake = sandbox.executable("bin/lake");
    let path = sandbox.path("bin");

    sandbox.write("by-manifest/lakefile.lean", "");
    sandbox.write(
        "by-manifest/lake-manifest.json",
        r#"{"version": "1.1.0", "packages": [{"name": "mathlib"}, {"name": "REPL"}]}"#,
    );
    sandbox.write("by-fetch/lakefile.toml", "");
    std::fs::create_dir_all(sandbox.path("by-fetch/.lake/packages/repl")).unwrap();
    sandbox.write(
        "by-lakefile/lakefile.lean",
        "lean_exe repl where\n  root := `REPL.Main\n",
    );
    sandbox.write("without/lakefile.lean", "");
    sandbox.write(
        "without/lake-manifest.json",
        r#"{"packages": [{"name": "mathlib"}]}"#,
    );

    for project in ["by-manifest", "by-fetch", "by-lakefile"] {
        let file = sandbox.write(&format!("{project}/Main.lean"), "");
        let found = discover_toolchain(&environment(&[&path], None, None), &file).expect("found");
        let launch = found.repl_launch().expect(project);
        assert_eq!(launch.program, lake);
        assert_eq!(arguments(&launch), ["exe", "repl"]);
        assert_eq!(launch.working_directory, sandbox.path(project));
    }
    let file = sandbox.write("without/Main.lean", "");
    let found = discover_toolchain(&environment(&[&path], None, None), &file).expect("found");
    assert!(matches!(
        found.repl_launch(),
        Err(LeanUnavailable::ReplNotInProject { .. })
    ));
}

#[test]
fn the_process_environment_is_read_only_when_asked() {
    let from_process = DiscoveryEnvironment::from_process_environment();
    assert_eq!(from_process.path, std::env::var_os("PATH"));
    let explicit = DiscoveryEnvironment {
        path: None,
        home: Some(PathBuf::from("/home/someone")),
        elan_home: Some(PathBuf::from("")),
    };
    // An empty ELAN_HOME falls back to HOME/.elan, as elan does.
    assert_eq!(
        explicit.elan_home(),
        Some(PathBuf::from("/home/someone/.elan"))
    );
}
