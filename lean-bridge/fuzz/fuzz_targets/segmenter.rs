//! Fuzz target: any bytes (read as UTF-8, invalid sequences replaced) outline without panicking,
//! and the outline keeps its promises: ranges inside the text on character boundaries, steps
//! nested inside their parent and their proof, siblings in order without overlap.
#![no_main]

use libfuzzer_sys::fuzz_target;
use proofwright_lean::syntax::{invariant_violations, outline, outline_without_tree_sitter};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    for outline in [outline(&text), outline_without_tree_sitter(&text)] {
        let violations = invariant_violations(&text, &outline);
        assert!(violations.is_empty(), "{violations:#?}");
    }
});
