//! Finding a Lean toolchain: `lean`/`lake` on PATH or under elan's home, the project's
//! `lean-toolchain`, and the Lake project root; or a typed reason why Lean is unavailable.
//!
//! Discovery reads the file system but takes its environment (PATH, HOME, ELAN_HOME) as an
//! explicit [`DiscoveryEnvironment`], so callers and tests decide what it sees.

use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};

/// The environment variables discovery looks at, passed in rather than read globally.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DiscoveryEnvironment {
    /// The value of `PATH`.
    pub path: Option<OsString>,
    /// The value of `HOME`; elan's default home is `$HOME/.elan`.
    pub home: Option<PathBuf>,
    /// The value of `ELAN_HOME`, which overrides `$HOME/.elan`.
    pub elan_home: Option<PathBuf>,
}

impl DiscoveryEnvironment {
    /// Reads PATH, HOME and ELAN_HOME from this process's environment.
    pub fn from_process_environment() -> Self {
        DiscoveryEnvironment {
            path: std::env::var_os("PATH"),
            home: std::env::var_os("HOME").map(PathBuf::from),
            elan_home: std::env::var_os("ELAN_HOME").map(PathBuf::from),
        }
    }

    /// Elan's home: `ELAN_HOME` when set and non-empty, else `$HOME/.elan`.
    pub fn elan_home(&self) -> Option<PathBuf> {
        match &self.elan_home {
            Some(elan_home) if !elan_home.as_os_str().is_empty() => Some(elan_home.clone()),
            _ => self
                .home
                .as_ref()
                .filter(|home| !home.as_os_str().is_empty())
                .map(|home| home.join(".elan")),
        }
    }
}

/// A toolchain name as written in `lean-toolchain`, such as `leanprover/lean4:v4.9.0`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ToolchainName(String);

impl ToolchainName {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The directory names elan may have installed this toolchain under, in `toolchains/`.
    /// Elan replaces `/` with `--` and `:` with `---`; a bare version such as `v4.9.0` is
    /// short for `leanprover/lean4:v4.9.0`, and a linked toolchain keeps its plain name.
    pub fn elan_directory_names(&self) -> Vec<String> {
        let sanitize = |name: &str| name.replace('/', "--").replace(':', "---");
        let mut names = vec![sanitize(&self.0)];
        if !self.0.contains(':') && !self.0.contains('/') {
            names.push(sanitize(&format!("leanprover/lean4:{}", self.0)));
        }
        names
    }
}

/// Why the contents of a `lean-toolchain` file do not name a toolchain.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ToolchainFileProblem {
    #[error("the file is empty")]
    Empty,
    #[error("the file has more than one non-empty line")]
    SeveralLines,
    #[error("the name {name:?} contains whitespace or control characters")]
    InvalidCharacters { name: String },
}

/// Parses the contents of a `lean-toolchain` file: one toolchain name on one line.
pub fn parse_lean_toolchain(contents: &str) -> Result<ToolchainName, ToolchainFileProblem> {
    let mut lines = contents
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty());
    let name = lines.next().ok_or(ToolchainFileProblem::Empty)?;
    if lines.next().is_some() {
        return Err(ToolchainFileProblem::SeveralLines);
    }
    if name
        .chars()
        .any(|character| character.is_whitespace() || character.is_control())
    {
        return Err(ToolchainFileProblem::InvalidCharacters {
            name: name.to_owned(),
        });
    }
    Ok(ToolchainName(name.to_owned()))
}

/// A Lake project: the folder holding `lakefile.lean` or `lakefile.toml`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LakeProject {
    pub root: PathBuf,
    pub lakefile: PathBuf,
    /// Whether the project depends on (or is) leanprover-community/repl, so that
    /// `lake exe repl` can run in it.
    pub has_repl_package: bool,
}

/// The Lake project that holds `start` (a file or a folder): the nearest folder, searching
/// upward, with a `lakefile.lean` or `lakefile.toml`.
pub fn find_lake_project(start: &Path) -> Option<LakeProject> {
    for directory in search_directories(start) {
        for lakefile_name in ["lakefile.lean", "lakefile.toml"] {
            let lakefile = directory.join(lakefile_name);
            if lakefile.is_file() {
                return Some(LakeProject {
                    root: directory.to_path_buf(),
                    has_repl_package: project_has_repl_package(directory, &lakefile),
                    lakefile,
                });
            }
        }
    }
    None
}

/// The nearest `lean-toolchain` file in `start` or a folder above it.
pub fn find_toolchain_file(start: &Path) -> Option<PathBuf> {
    search_directories(start)
        .map(|directory| directory.join("lean-toolchain"))
        .find(|candidate| candidate.is_file())
}

/// Where a discovered `lean` came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ToolchainSource {
    /// The toolchain named in `lean-toolchain`, installed by elan; its binaries are used
    /// directly, without elan's proxies.
    ElanToolchain {
        name: ToolchainName,
        directory: PathBuf,
    },
    /// A `lean` found in a PATH folder (which may be elan's proxy when no toolchain is named).
    SearchPath { directory: PathBuf },
    /// Elan's proxy in `$ELAN_HOME/bin`, which is not on PATH; elan picks the toolchain.
    ElanProxy { elan_home: PathBuf },
}

/// A usable Lean installation for one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeanToolchain {
    pub lean: PathBuf,
    /// `lake`, when one was found next to `lean` (or on PATH).
    pub lake: Option<PathBuf>,
    pub source: ToolchainSource,
    /// The `lean-toolchain` file and the name in it, when there is one.
    pub toolchain_file: Option<(PathBuf, ToolchainName)>,
    /// The Lake project holding the file, when there is one.
    pub project: Option<LakeProject>,
    /// The folder discovery started from (the file's folder).
    pub start_directory: PathBuf,
}

/// How to start one Lean process: program, arguments, working folder and extra environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LaunchCommand {
    pub program: PathBuf,
    pub arguments: Vec<OsString>,
    pub working_directory: PathBuf,
    /// Variables set for the process on top of this process's environment.
    pub environment: Vec<(OsString, OsString)>,
}

impl LaunchCommand {
    pub fn new(program: impl Into<PathBuf>, working_directory: impl Into<PathBuf>) -> Self {
        LaunchCommand {
            program: program.into(),
            arguments: Vec::new(),
            working_directory: working_directory.into(),
            environment: Vec::new(),
        }
    }

    pub fn with_arguments<I, S>(mut self, arguments: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        self.arguments.extend(arguments.into_iter().map(Into::into));
        self
    }

    pub fn with_environment(
        mut self,
        name: impl Into<OsString>,
        value: impl Into<OsString>,
    ) -> Self {
        self.environment.push((name.into(), value.into()));
        self
    }
}

/// Why Lean cannot be used for a file, with a message that says what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LeanUnavailable {
    #[error(
        "lean is not on PATH and elan is not installed{}; install Lean with elan or put `lean` on PATH",
        match elan_home { Some(home) => format!(" at {}", home.display()), None => " (HOME and ELAN_HOME are unset)".to_owned() }
    )]
    NoLeanExecutable { elan_home: Option<PathBuf> },

    #[error(
        "the toolchain `{toolchain}` named in {} is not installed under {}; run `elan toolchain install {toolchain}`",
        toolchain_file.display(),
        elan_home.join("toolchains").display()
    )]
    ToolchainNotInstalled {
        toolchain: String,
        toolchain_file: PathBuf,
        elan_home: PathBuf,
    },

    #[error("could not read {}: {reason}; check its permissions", toolchain_file.display())]
    UnreadableToolchainFile {
        toolchain_file: PathBuf,
        reason: String,
    },

    #[error(
        "{} does not name a toolchain ({problem}); it should hold one line such as `leanprover/lean4:v4.9.0`",
        toolchain_file.display()
    )]
    InvalidToolchainFile {
        toolchain_file: PathBuf,
        problem: ToolchainFileProblem,
    },

    #[error(
        "{} is not inside a Lake project (no lakefile.lean or lakefile.toml there or in any folder above); the REPL backend needs one",
        searched_from.display()
    )]
    NotInLakeProject { searched_from: PathBuf },

    #[error(
        "found lean at {} but no `lake` beside it or on PATH; install a complete toolchain with elan",
        lean.display()
    )]
    NoLakeExecutable { lean: PathBuf },

    #[error(
        "the Lake project at {} does not depend on leanprover-community/repl; require it in the lakefile and run `lake update` to use the REPL backend",
        project_root.display()
    )]
    ReplNotInProject { project_root: PathBuf },
}

/// Finds the Lean toolchain that should check `file` (a file or a folder).
///
/// Order: the toolchain named in the nearest `lean-toolchain`, when elan has it installed;
/// otherwise `lean` on PATH (unless it is elan's proxy and the named toolchain is missing,
/// since the proxy would try to download it); otherwise elan's proxy in `$ELAN_HOME/bin`.
pub fn discover_toolchain(
    environment: &DiscoveryEnvironment,
    file: &Path,
) -> Result<LeanToolchain, LeanUnavailable> {
    let start_directory = starting_directory(file);
    let project = find_lake_project(&start_directory);
    let toolchain_file = match find_toolchain_file(&start_directory) {
        Some(path) => Some(read_toolchain_file(&path)?),
        None => None,
    };
    let elan_home = environment.elan_home();
    let path_lean = find_on_search_path(environment.path.as_ref(), "lean");
    let found = |lean: PathBuf, lake: Option<PathBuf>, source: ToolchainSource| LeanToolchain {
        lean,
        lake,
        source,
        toolchain_file: toolchain_file.clone(),
        project: project.clone(),
        start_directory: start_directory.clone(),
    };

    if let (Some((toolchain_path, name)), Some(elan_home)) = (&toolchain_file, &elan_home) {
        let toolchains = elan_home.join("toolchains");
        if toolchains.is_dir() {
            for directory_name in name.elan_directory_names() {
                let directory = toolchains.join(directory_name);
                let lean = directory.join("bin").join("lean");
                if is_executable(&lean) {
                    let lake =
                        Some(directory.join("bin").join("lake")).filter(|lake| is_executable(lake));
                    let source = ToolchainSource::ElanToolchain {
                        name: name.clone(),
                        directory,
                    };
                    return Ok(found(lean, lake, source));
                }
            }
            let path_lean_is_standalone = path_lean
                .as_ref()
                .is_some_and(|lean| !lies_under(lean, elan_home));
            if !path_lean_is_standalone {
                return Err(LeanUnavailable::ToolchainNotInstalled {
                    toolchain: name.as_str().to_owned(),
                    toolchain_file: toolchain_path.clone(),
                    elan_home: elan_home.clone(),
                });
            }
        }
    }

    if let Some(lean) = path_lean {
        let directory = lean.parent().map(Path::to_path_buf).unwrap_or_default();
        let beside = directory.join("lake");
        let lake = if is_executable(&beside) {
            Some(beside)
        } else {
            find_on_search_path(environment.path.as_ref(), "lake")
        };
        return Ok(found(lean, lake, ToolchainSource::SearchPath { directory }));
    }

    if let Some(elan_home) = &elan_home {
        let lean = elan_home.join("bin").join("lean");
        if is_executable(&lean) {
            let lake = Some(elan_home.join("bin").join("lake")).filter(|lake| is_executable(lake));
            let source = ToolchainSource::ElanProxy {
                elan_home: elan_home.clone(),
            };
            return Ok(found(lean, lake, source));
        }
    }

    Err(LeanUnavailable::NoLeanExecutable { elan_home })
}

impl LeanToolchain {
    /// How to start Lean's language server for this file: `lake serve` in the Lake project's
    /// root, else `lean --server` in the file's folder.
    pub fn language_server_launch(&self) -> Result<LaunchCommand, LeanUnavailable> {
        match &self.project {
            Some(project) => {
                let lake = self
                    .lake
                    .clone()
                    .ok_or_else(|| LeanUnavailable::NoLakeExecutable {
                        lean: self.lean.clone(),
                    })?;
                Ok(LaunchCommand::new(lake, &project.root).with_arguments(["serve"]))
            }
            None => {
                Ok(LaunchCommand::new(&self.lean, &self.start_directory)
                    .with_arguments(["--server"]))
            }
        }
    }

    /// How to start the leanprover-community REPL: `lake exe repl` in the Lake project's root.
    pub fn repl_launch(&self) -> Result<LaunchCommand, LeanUnavailable> {
        let project = self
            .project
            .as_ref()
            .ok_or_else(|| LeanUnavailable::NotInLakeProject {
                searched_from: self.start_directory.clone(),
            })?;
        if !project.has_repl_package {
            return Err(LeanUnavailable::ReplNotInProject {
                project_root: project.root.clone(),
            });
        }
        let lake = self
            .lake
            .clone()
            .ok_or_else(|| LeanUnavailable::NoLakeExecutable {
                lean: self.lean.clone(),
            })?;
        Ok(LaunchCommand::new(lake, &project.root).with_arguments(["exe", "repl"]))
    }
}

fn starting_directory(file: &Path) -> PathBuf {
    if file.is_dir() {
        file.to_path_buf()
    } else {
        match file.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
            _ => PathBuf::from("."),
        }
    }
}

fn search_directories(start: &Path) -> impl Iterator<Item = &Path> {
    start.ancestors().filter(|directory| directory.is_dir())
}

fn read_toolchain_file(path: &Path) -> Result<(PathBuf, ToolchainName), LeanUnavailable> {
    let contents =
        fs::read_to_string(path).map_err(|error| LeanUnavailable::UnreadableToolchainFile {
            toolchain_file: path.to_path_buf(),
            reason: error.to_string(),
        })?;
    let name = parse_lean_toolchain(&contents).map_err(|problem| {
        LeanUnavailable::InvalidToolchainFile {
            toolchain_file: path.to_path_buf(),
            problem,
        }
    })?;
    Ok((path.to_path_buf(), name))
}

/// Whether the project depends on the REPL: its manifest lists a package named `repl`, Lake
/// has fetched one into `.lake/packages`, or the lakefile itself declares the `repl` executable.
fn project_has_repl_package(root: &Path, lakefile: &Path) -> bool {
    let is_repl_name = |name: &str| name.eq_ignore_ascii_case("repl");
    if let Ok(manifest) = fs::read_to_string(root.join("lake-manifest.json")) {
        if let Ok(manifest) = serde_json::from_str::<serde_json::Value>(&manifest) {
            let lists_repl = manifest
                .get("packages")
                .and_then(serde_json::Value::as_array)
                .is_some_and(|packages| {
                    packages.iter().any(|package| {
                        package
                            .get("name")
                            .and_then(serde_json::Value::as_str)
                            .is_some_and(is_repl_name)
                    })
                });
            if lists_repl {
                return true;
            }
        }
    }
    if let Ok(entries) = fs::read_dir(root.join(".lake").join("packages")) {
        let fetched = entries.flatten().any(|entry| {
            entry.path().is_dir() && entry.file_name().to_str().is_some_and(is_repl_name)
        });
        if fetched {
            return true;
        }
    }
    fs::read_to_string(lakefile).is_ok_and(|contents| {
        contents.contains("lean_exe repl")
            || contents.contains("lean_exe «repl»")
            || (contents.contains("[[lean_exe]]") && contents.contains("name = \"repl\""))
    })
}

fn find_on_search_path(path: Option<&OsString>, program: &str) -> Option<PathBuf> {
    let path = path?;
    std::env::split_paths(path)
        .filter(|directory| !directory.as_os_str().is_empty())
        .map(|directory| directory.join(program))
        .find(|candidate| is_executable(candidate))
}

fn lies_under(file: &Path, directory: &Path) -> bool {
    let canonical = |path: &Path| fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    file.starts_with(directory) || canonical(file).starts_with(canonical(directory))
}

#[cfg(unix)]
fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    fs::metadata(path)
        .is_ok_and(|metadata| metadata.is_file() && metadata.permissions().mode() & 0o111 != 0)
}

#[cfg(not(unix))]
fn is_executable(path: &Path) -> bool {
    path.is_file()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn toolchain_names_map_to_elan_directories() {
        let name = parse_lean_toolchain("leanprover/lean4:v4.9.0\n").unwrap();
        assert_eq!(name.elan_directory_names(), ["leanprover--lean4---v4.9.0"]);
        let bare = parse_lean_toolchain("  v4.10.0-rc1  \n\n").unwrap();
        assert_eq!(
            bare.elan_directory_names(),
            ["v4.10.0-rc1", "leanprover--lean4---v4.10.0-rc1"]
        );
    }

    #[test]
    fn bad_toolchain_files_are_named() {
        assert_eq!(
            parse_lean_toolchain(" \n"),
            Err(ToolchainFileProblem::Empty)
        );
        assert_eq!(
            parse_lean_toolchain("a\nb\n"),
            Err(ToolchainFileProblem::SeveralLines)
        );
        assert!(matches!(
            parse_lean_toolchain("leanprover/lean4: v4"),
            Err(ToolchainFileProblem::InvalidCharacters { .. })
        ));
    }
}
