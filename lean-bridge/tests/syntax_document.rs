//! `ParsedDocument` after edits: the outline equals a fresh parse of the edited text, tree-sitter
//! re-parses incrementally, only declarations whose text changed are re-analysed, and edits that
//! do not fit the document are errors, not panics. Positions: LSP (UTF-16) and Lean (codepoint)
//! conversions of the outline's ranges on CRLF, tab and non-ASCII text.

use proofwright_lean::position::{ByteOffset, ByteRange, LeanPosition, LineIndex, Utf16Position};
use proofwright_lean::syntax::{
    outline, EditError, ParsedDocument, PositionedOutline, StepKind, TextEdit,
};

fn fixture(name: &str) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/syntax/cases")
        .join(name);
    std::fs::read_to_string(path).unwrap()
}

fn edit_at(text: &str, needle: &str, replacement: &str) -> TextEdit {
    let start = text
        .find(needle)
        .unwrap_or_else(|| panic!("{needle:?} not in text"));
    TextEdit {
        range: ByteRange::new(start, start + needle.len()),
        new_text: replacement.to_string(),
    }
}

fn assert_same_as_fresh(document: &ParsedDocument) {
    let fresh = ParsedDocument::new(document.text().to_string());
    assert_eq!(document.outline(), fresh.outline());
    assert_eq!(
        document.tree().map(|tree| tree.root_node().to_sexp()),
        fresh.tree().map(|tree| tree.root_node().to_sexp())
    );
}

#[test]
fn editing_one_proof_reanalyses_only_that_declaration() {
    let text = fixture("mathlib_style.lean");
    let mut document = ParsedDocument::new(text.clone());
    let declarations = document.outline().declarations.len();
    assert_eq!(declarations, 5);

    let edit = edit_at(
        &text,
        "  · linarith\n\nlemma",
        "  · nlinarith [h]\n    done\n\nlemma",
    );
    let stats = document.apply_edit(&edit).unwrap();
    assert_eq!(stats.declarations_analyzed, 1);
    assert_eq!(stats.declarations_reused, declarations - 1);
    assert_same_as_fresh(&document);
    let edited = &document.outline().declarations[2];
    let texts: Vec<&str> = edited.steps.iter().map(|step| step.text.as_str()).collect();
    assert_eq!(
        texts,
        vec![
            "refine ⟨(x + y) / 2, ?_, ?_⟩",
            "· linarith",
            "linarith",
            "· nlinarith [h]\n    done",
            "nlinarith [h]",
            "done",
        ]
    );
    assert_eq!(edited.steps[3].kind, StepKind::Focus);
}

#[test]
fn a_clean_tree_is_reparsed_incrementally_and_a_tree_with_errors_from_scratch() {
    // tree-sitter parses this fixture without errors.
    let text = fixture("focus_bullets.lean");
    let mut document = ParsedDocument::new(text.clone());
    assert!(!document.tree().unwrap().root_node().has_error());
    let stats = document
        .apply_edit(&edit_at(
            &text,
            "exact hq\n  · constructor",
            "exact hq\n  · skip\n    constructor",
        ))
        .unwrap();
    assert!(stats.incremental_parse);
    assert_eq!(stats.declarations_analyzed, 1);
    assert_eq!(stats.declarations_reused, 1);
    assert_same_as_fresh(&document);

    // `induction … with | …` alternatives are beyond the grammar: the incremental result has
    // ERROR nodes, whose recovery depends on the old tree, so the document parses afresh.
    let end = document.text().len();
    let stats = document
        .apply_edit(&TextEdit {
            range: ByteRange::new(end, end),
            new_text: "\ntheorem t (n : Nat) : n = n := by\n  induction n with\n  | zero => rfl\n  | succ k ih => rfl\n".to_string(),
        })
        .unwrap();
    assert!(!stats.incremental_parse);
    assert_eq!(stats.declarations_reused, 2);
    assert_same_as_fresh(&document);
}

#[test]
fn edits_that_change_declaration_boundaries_match_a_fresh_parse() {
    let text = fixture("swallowed_declarations.lean");
    let mut document = ParsedDocument::new(text.clone());
    // Close the bracket that made tree-sitter swallow the rest of the file.
    document
        .apply_edit(&edit_at(&text, "simp [foo,", "simp [foo]"))
        .unwrap();
    assert_same_as_fresh(&document);
    // Comment out a whole declaration, then delete everything, then type a new file.
    let start = document.text().find("theorem a2").unwrap();
    document
        .apply_edit(&TextEdit {
            range: ByteRange::new(start, start),
            new_text: "/-".to_string(),
        })
        .unwrap();
    assert_same_as_fresh(&document);
    assert_eq!(document.outline().declarations.len(), 1);
    let length = document.text().len();
    document
        .apply_edit(&TextEdit {
            range: ByteRange::new(0, length),
            new_text: String::new(),
        })
        .unwrap();
    assert_same_as_fresh(&document);
    assert!(document.outline().declarations.is_empty());
    for (offset, piece) in [
        "theorem t : True := by",
        "\n  trivial",
        "\n\nexample : 1 = 1 := rfl",
    ]
    .iter()
    .scan(0, |offset, piece| {
        let at = *offset;
        *offset += piece.len();
        Some((at, piece))
    }) {
        document
            .apply_edit(&TextEdit {
                range: ByteRange::new(offset, offset),
                new_text: piece.to_string(),
            })
            .unwrap();
        assert_same_as_fresh(&document);
    }
    assert_eq!(document.outline().declarations.len(), 2);
}

#[test]
fn typing_a_proof_character_by_character_matches_a_fresh_parse_at_every_step() {
    let target = fixture("induction_alternatives.lean");
    let mut document = ParsedDocument::new(String::new());
    for ch in target.chars() {
        let end = document.text().len();
        document
            .apply_edit(&TextEdit {
                range: ByteRange::new(end, end),
                new_text: ch.to_string(),
            })
            .unwrap();
        assert_eq!(document.outline(), &outline(document.text()));
    }
    assert_same_as_fresh(&document);
    assert_eq!(document.text(), target);
}

#[test]
fn edits_that_do_not_fit_are_errors() {
    let mut document = ParsedDocument::new("theorem t : 1 ≤ 2 := by decide");
    let before = document.outline().clone();
    let reversed = document.apply_edit(&TextEdit {
        range: ByteRange::new(5, 2),
        new_text: String::new(),
    });
    assert_eq!(reversed, Err(EditError::Reversed { start: 5, end: 2 }));
    let past_end = document.apply_edit(&TextEdit {
        range: ByteRange::new(0, 999),
        new_text: String::new(),
    });
    assert!(matches!(
        past_end,
        Err(EditError::OutOfBounds { length: 32, .. })
    ));
    let inside_char = document.text().find('≤').unwrap() + 1;
    let split = document.apply_edit(&TextEdit {
        range: ByteRange::new(inside_char, inside_char),
        new_text: "x".to_string(),
    });
    assert_eq!(
        split,
        Err(EditError::NotCharBoundary {
            offset: inside_char
        })
    );
    assert_eq!(document.outline(), &before);
}

#[test]
fn lsp_and_lean_positions_on_crlf_tabs_and_wide_characters() {
    let text = "theorem t (a₁ : ℕ) : ∀ b, a₁ ≤ b → True := by\r\n\tintro b _\r\n\t· exact 𝔽.trivial sorry\r\n";
    let outline = outline(text);
    let index = LineIndex::new(text);
    let sorry = &outline.sorries[0];
    // `sorry` on line 3 (1-based) after `\t· exact 𝔽.trivial `: the tab is one column, `𝔽` is
    // one codepoint but two UTF-16 units and four bytes.
    let lean = index.to_lean(text, sorry.range.start);
    assert_eq!(
        lean,
        LeanPosition {
            line: 3,
            column: 19
        }
    );
    let lsp = index.to_utf16(text, sorry.range.start);
    assert_eq!(
        lsp,
        Utf16Position {
            line: 2,
            character: 20
        }
    );
    assert_eq!(index.from_utf16(text, lsp), sorry.range.start);
    assert_eq!(index.from_lean(text, lean), sorry.range.start);

    let positioned = PositionedOutline::new(text, &outline);
    let declaration = &positioned.declarations[0];
    // The declaration ends before the final CRLF; its end is on line 3.
    assert_eq!(declaration.range.lean.end.line, 3);
    assert_eq!(
        declaration.range.bytes.end,
        ByteOffset(text.len() - "\r\n".len())
    );
    let intro = &declaration.steps[0];
    assert_eq!(intro.text, "intro b _");
    assert_eq!(
        intro.range.lsp.start,
        Utf16Position {
            line: 1,
            character: 1
        }
    );
    assert_eq!(intro.range.lean.start, LeanPosition { line: 2, column: 1 });
    let focus = &declaration.steps[1];
    assert_eq!(focus.kind, StepKind::Focus);
    assert_eq!(
        focus.range.lean.end,
        LeanPosition {
            line: 3,
            column: 24
        }
    );
    assert_eq!(
        focus.range.lsp.end,
        Utf16Position {
            line: 2,
            character: 25
        }
    );
}
