//! Property tests of the outline on generated input: Lean-like token soup (keywords, brackets,
//! bars, bullets, comments, literals, odd indentation, CRLF, tabs, wide characters) and arbitrary
//! Unicode. Whatever comes in, nothing panics and every structural promise holds: ranges in the
//! text on character boundaries, steps nested in their parent, siblings in order without
//! overlap, everything inside its proof. Edits absorbed incrementally give exactly the outline
//! (and tree-sitter tree) of a fresh parse. Bounded to finish in seconds; failures are kept in
//! `tests/syntax/proptest-regressions.txt`.

use proofwright_lean::position::ByteRange;
use proofwright_lean::syntax::{
    invariant_violations, outline, outline_without_tree_sitter, Outline, ParsedDocument,
    ProblemKind, TextEdit,
};
use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;

const VOCABULARY: &[&str] = &[
    "theorem",
    "lemma",
    "def",
    "example",
    "instance",
    "abbrev",
    "structure",
    "inductive",
    "namespace",
    "end",
    "open",
    "#check",
    "private",
    "@[simp]",
    "/-- doc -/",
    "deriving",
    "where",
    "termination_by",
    "decreasing_by",
    "by",
    "calc",
    "have",
    "show",
    "suffices",
    "let",
    "fun",
    "match",
    "with",
    "induction",
    "cases",
    "rcases",
    "obtain",
    "intro",
    "case",
    "next",
    "conv",
    "first",
    "try",
    "repeat",
    "all_goals",
    "iterate",
    "if",
    "then",
    "else",
    "sorry",
    "admit",
    "simp",
    "rfl",
    "exact",
    "omega",
    "h",
    "x₁",
    "α",
    "ℕ",
    "_",
    "n",
    "0",
    "1",
    ":",
    ":=",
    "=>",
    "=",
    "≤",
    "→",
    "∀",
    "∃",
    "|",
    "|x|",
    "·",
    ".",
    ".inl",
    ";",
    "<;>",
    ",",
    "(",
    ")",
    "[",
    "]",
    "{",
    "}",
    "⟨",
    "⟩",
    "⦃",
    "⦄",
    "-- line comment\n",
    "/- block -/",
    "/-",
    "-/",
    "/- /- nested -/ -/",
    "\"str\"",
    "\"",
    "'a'",
    "'\\''",
    "'",
    "s!\"{x}\"",
    "r#\"raw\"#",
    "«weird name»",
    "«",
    "`(",
    "𝔽",
    "🎉",
    "\t",
    "\r\n",
    "\n",
    "\n",
    "\n  ",
    "\n  ",
    "\n    ",
    "\n      ",
    "\n\n",
    " ",
    " ",
    " ",
];

fn token_soup() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(VOCABULARY), 0..160).prop_map(|words| {
        let mut text = String::new();
        for word in words {
            text.push_str(word);
            if !word.ends_with(char::is_whitespace) {
                text.push(' ');
            }
        }
        text
    })
}

fn lean_like_text() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => token_soup(),
        1 => "[a-z ₁αℕ:=|·.;()\\[\\]⟨⟩{}\"'\n\t\r-]{0,200}",
        1 => any::<String>(),
    ]
}

fn assert_sound(text: &str, outline: &Outline) {
    let violations = invariant_violations(text, outline);
    assert!(violations.is_empty(), "{violations:#?}\ntext: {text:?}");
}

/// The outline without the parts that depend on tree-sitter.
fn without_tree_sitter_parts(mut outline: Outline) -> Outline {
    for declaration in &mut outline.declarations {
        declaration.source = proofwright_lean::syntax::DeclarationSource::KeywordScan;
    }
    outline.problems.retain(|problem| {
        !matches!(
            problem.kind,
            ProblemKind::TreeSitterMissedDeclaration | ProblemKind::TreeSitterUnavailable
        )
    });
    outline
}

/// The nearest character boundary at or before `offset`.
fn floor_boundary(text: &str, offset: usize) -> usize {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    offset
}

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(
            "tests/syntax/proptest-regressions.txt",
        ))),
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config(2048))]

    #[test]
    fn outline_keeps_its_promises_on_any_text(text in lean_like_text()) {
        let with_tree = outline(&text);
        assert_sound(&text, &with_tree);
        let scan_only = outline_without_tree_sitter(&text);
        assert_sound(&text, &scan_only);
        // tree-sitter only labels declarations; it never changes what the outline contains.
        prop_assert_eq!(without_tree_sitter_parts(with_tree), scan_only);
    }
}

proptest! {
    #![proptest_config(config(512))]

    #[test]
    fn incremental_edits_equal_a_fresh_parse(
        base in token_soup(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), 0usize..40, token_soup()), 1..4),
    ) {
        let mut document = ParsedDocument::new(base);
        for (position, removed, inserted) in edits {
            let text = document.text();
            let start = floor_boundary(text, position.index(text.len() + 1));
            let end = floor_boundary(text, start + removed);
            let inserted: String = inserted.chars().take(30).collect();
            document
                .apply_edit(&TextEdit { range: ByteRange::new(start, end), new_text: inserted })
                .unwrap();
            let fresh = ParsedDocument::new(document.text().to_string());
            assert_sound(document.text(), document.outline());
            prop_assert_eq!(document.outline(), fresh.outline());
            let incremental_tree = document.tree().map(|tree| tree.root_node().to_sexp());
            let fresh_tree = fresh.tree().map(|tree| tree.root_node().to_sexp());
            prop_assert_eq!(incremental_tree, fresh_tree);
        }
    }
}
