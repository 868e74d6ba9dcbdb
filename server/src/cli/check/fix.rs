//! `check --fix`: writes chosen proposals into a file atomically (a temporary file in the same
//! folder, then a rename), and refuses when the file changed since it was read.

use crate::prover::TextReplacement;
use anyhow::{bail, Context};
use std::io::Write;
use std::path::Path;

/// Applies non-overlapping `replacements` to `original` (the text read earlier) and writes the
/// result to `path`, unless the file no longer holds `original`.
pub fn write_fixed(
    path: &Path,
    original: &str,
    replacements: &[TextReplacement],
) -> anyhow::Result<String> {
    let mut ordered: Vec<&TextReplacement> = replacements.iter().collect();
    ordered.sort_by_key(|replacement| replacement.range.start);
    for pair in ordered.windows(2) {
        if pair[0].range.end > pair[1].range.start {
            bail!(
                "two proposals for {} overlap; fix one at a time",
                path.display()
            );
        }
    }
    let mut fixed = original.to_owned();
    for replacement in ordered.iter().rev() {
        fixed = replacement.apply(&fixed);
    }
    let current =
        std::fs::read(path).with_context(|| format!("cannot read {} again", path.display()))?;
    if current != original.as_bytes() {
        bail!(
            "{} changed since it was read; not writing (run check again)",
            path.display()
        );
    }
    let folder = path
        .parent()
        .filter(|parent| !parent.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut temporary = tempfile::NamedTempFile::new_in(folder)
        .with_context(|| format!("cannot create a temporary file in {}", folder.display()))?;
    temporary
        .write_all(fixed.as_bytes())
        .and_then(|()| temporary.as_file().sync_all())
        .with_context(|| format!("cannot write a temporary file in {}", folder.display()))?;
    let permissions = std::fs::metadata(path)
        .with_context(|| format!("cannot read the permissions of {}", path.display()))?
        .permissions();
    std::fs::set_permissions(temporary.path(), permissions)
        .with_context(|| format!("cannot copy the permissions of {}", path.display()))?;
    temporary
        .persist(path)
        .with_context(|| format!("cannot replace {}", path.display()))?;
    Ok(fixed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proofwright_lean::position::ByteRange;

    #[test]
    fn writes_replacements_and_refuses_a_changed_file() {
        let folder = tempfile::tempdir().expect("temporary folder");
        let path = folder.path().join("A.lean");
        let original = "theorem a : True := by sorry\ntheorem b : True := by sorry\n";
        std::fs::write(&path, original).expect("write");
        let first = original.find("sorry").expect("sorry");
        let second = original.rfind("sorry").expect("sorry");
        let replacements = [
            TextReplacement {
                range: ByteRange::new(second, second + 5),
                new_text: "trivial".to_owned(),
            },
            TextReplacement {
                range: ByteRange::new(first, first + 5),
                new_text: "trivial".to_owned(),
            },
        ];
        let fixed = write_fixed(&path, original, &replacements).expect("writes");
        assert_eq!(
            fixed,
            "theorem a : True := by trivial\ntheorem b : True := by trivial\n"
        );
        assert_eq!(std::fs::read_to_string(&path).expect("read"), fixed);

        let error = write_fixed(&path, original, &replacements).expect_err("the file changed");
        assert!(format!("{error:#}").contains("changed since it was read"));
        assert_eq!(
            std::fs::read_to_string(&path).expect("read"),
            fixed,
            "left untouched"
        );

        let overlapping = [replacements[0].clone(), replacements[0].clone()];
        assert!(write_fixed(&path, &fixed, &overlapping).is_err());
    }
}
