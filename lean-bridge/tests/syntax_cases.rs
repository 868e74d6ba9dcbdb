//! Data-driven outline tests: every `tests/syntax/cases/*.lean` fixture is outlined, checked
//! against the outline invariants, and compared with its snapshot in `tests/syntax/snapshots/`
//! (update with `INSTA_UPDATE=always cargo test -p proofwright-lean --test syntax_cases`, then
//! review the diff). The fixtures under `tests/syntax/positioned/` also snapshot the JSON with
//! LSP and Lean positions.

#[path = "syntax/render.rs"]
mod render;

use proofwright_lean::syntax::{invariant_violations, outline, PositionedOutline};

fn settings() -> insta::Settings {
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path("syntax/snapshots");
    settings.set_prepend_module_to_snapshot(false);
    settings
}

#[test]
fn outline_cases() {
    settings().bind(|| {
        insta::glob!("syntax/cases", "*.lean", |path| {
            let text = std::fs::read_to_string(path).unwrap();
            let outline = outline(&text);
            let violations = invariant_violations(&text, &outline);
            assert!(violations.is_empty(), "{}: {violations:#?}", path.display());
            insta::assert_snapshot!("outline", render::render(&text, &outline));
        });
    });
}

#[test]
fn positioned_json_cases() {
    settings().bind(|| {
        insta::glob!("syntax/positioned", "*.lean", |path| {
            let text = std::fs::read_to_string(path).unwrap();
            let positioned = PositionedOutline::new(&text, &outline(&text));
            let json = serde_json::to_string_pretty(&positioned).unwrap();
            insta::assert_snapshot!("positioned", json);
        });
    });
}

/// A fixture directory that glob finds nothing in would make the tests above pass vacuously.
#[test]
fn fixtures_are_present() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/syntax");
    let count = |dir: &str| {
        std::fs::read_dir(root.join(dir))
            .unwrap()
            .filter(|entry| {
                entry
                    .as_ref()
                    .unwrap()
                    .path()
                    .extension()
                    .is_some_and(|ext| ext == "lean")
            })
            .count()
    };
    assert!(count("cases") >= 30, "expected at least 30 outline cases");
    assert!(count("positioned") >= 2, "expected positioned JSON cases");
}
