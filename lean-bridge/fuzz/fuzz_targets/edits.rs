//! Fuzz target: a document edited through `ParsedDocument::apply_edit` has exactly the outline
//! of a fresh parse of the edited text. The input is `base 0xFF inserted`, with the first four
//! bytes choosing where the edit starts and how much it removes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use proofwright_lean::position::ByteRange;
use proofwright_lean::syntax::{invariant_violations, ParsedDocument, TextEdit};

fn floor_boundary(text: &str, offset: usize) -> usize {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    offset
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 4 {
        return;
    }
    let position = u16::from_le_bytes([data[0], data[1]]) as usize;
    let removed = u16::from_le_bytes([data[2], data[3]]) as usize % 64;
    let rest = &data[4..];
    let split = rest
        .iter()
        .position(|&byte| byte == 0xFF)
        .unwrap_or(rest.len());
    let base = String::from_utf8_lossy(&rest[..split]).into_owned();
    let inserted = String::from_utf8_lossy(rest.get(split + 1..).unwrap_or(&[])).into_owned();
    let mut document = ParsedDocument::new(base);
    let start = floor_boundary(document.text(), position % (document.text().len() + 1));
    let end = floor_boundary(document.text(), start + removed);
    document
        .apply_edit(&TextEdit {
            range: ByteRange::new(start, end),
            new_text: inserted,
        })
        .expect("the edit fits the document");
    let fresh = ParsedDocument::new(document.text().to_string());
    assert_eq!(document.outline(), fresh.outline());
    let violations = invariant_violations(document.text(), document.outline());
    assert!(violations.is_empty(), "{violations:#?}");
});
