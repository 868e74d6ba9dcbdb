//! Which files `check` reads: every `.lean` file under the given paths, honouring `.gitignore`
//! (inside or outside a git repository) and skipping Lake's `.lake/` build folders. A file named
//! explicitly is always read.

use anyhow::{bail, Context};
use ignore::WalkBuilder;
use std::path::{Path, PathBuf};

/// Lake's build and package folder, never checked.
const LAKE_BUILD_FOLDER: &str = ".lake";

/// The `.lean` files under `paths`, sorted, without duplicates.
pub fn lean_files(paths: &[PathBuf]) -> anyhow::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for path in paths {
        let metadata =
            std::fs::metadata(path).with_context(|| format!("cannot read {}", path.display()))?;
        if metadata.is_file() {
            files.push(path.clone());
            continue;
        }
        let walker = WalkBuilder::new(path)
            .require_git(false)
            .hidden(false)
            .filter_entry(|entry| {
                entry.file_name() != LAKE_BUILD_FOLDER && entry.file_name() != ".git"
            })
            .build();
        for entry in walker {
            let entry = entry.with_context(|| format!("cannot walk {}", path.display()))?;
            let is_file = entry.file_type().is_some_and(|kind| kind.is_file());
            if is_file
                && entry
                    .path()
                    .extension()
                    .is_some_and(|extension| extension == "lean")
            {
                files.push(entry.into_path());
            }
        }
    }
    files.sort();
    files.dedup();
    Ok(files)
}

/// The default paths: the Lake project holding the current folder.
pub fn default_paths(current_directory: &Path) -> anyhow::Result<Vec<PathBuf>> {
    match proofwright_lean::process::find_lake_project(current_directory) {
        Some(project) => Ok(vec![project.root]),
        None => bail!(
            "no paths given and {} is not inside a Lake project (no lakefile.lean or lakefile.toml here or above); name the files or folders to check",
            current_directory.display()
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn walks_lean_files_honouring_gitignore_and_skipping_lake() {
        let root = tempfile::tempdir().expect("temporary folder");
        let write = |relative: &str| {
            let path = root.path().join(relative);
            std::fs::create_dir_all(path.parent().expect("parent")).expect("folder");
            std::fs::write(&path, "theorem t : True := trivial\n").expect("write");
        };
        write("A.lean");
        write("Sub/B.lean");
        write("Sub/notes.md");
        write(".lake/packages/dep/C.lean");
        write("ignored/D.lean");
        std::fs::write(root.path().join(".gitignore"), "ignored/\n").expect("gitignore");
        let files = lean_files(&[root.path().to_owned()]).expect("walks");
        let relative: Vec<String> = files
            .iter()
            .map(|file| {
                file.strip_prefix(root.path())
                    .expect("inside")
                    .display()
                    .to_string()
            })
            .collect();
        assert_eq!(relative, ["A.lean", "Sub/B.lean"]);
        // Named explicitly, an ignored file is read.
        let explicit = lean_files(&[root.path().join("ignored/D.lean")]).expect("walks");
        assert_eq!(explicit.len(), 1);
        let missing = lean_files(&[root.path().join("nope")]).expect_err("missing path");
        assert!(format!("{missing:#}").contains("cannot read"));
    }
}
