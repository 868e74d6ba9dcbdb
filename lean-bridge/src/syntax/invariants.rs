//! The structural promises of an outline, checked: every range lies in the text on character
//! boundaries, declarations do not overlap, steps nest (children inside their parent, siblings
//! in order without overlap, all inside the proof), and `sorry`s point at what holds them.
//! The property tests and the fuzz target assert that this finds nothing.

use super::model::{Declaration, Outline};
use crate::position::ByteRange;

/// Describes every broken promise of `outline` (made from `text`); empty when it is sound.
pub fn invariant_violations(text: &str, outline: &Outline) -> Vec<String> {
    let mut violations = Vec::new();
    let mut check_range = |what: &str, range: ByteRange, violations: &mut Vec<String>| {
        let sound = range.start <= range.end
            && range.end.0 <= text.len()
            && text.is_char_boundary(range.start.0)
            && text.is_char_boundary(range.end.0);
        if !sound {
            violations.push(format!(
                "{what} {}..{} is not a range of the text ({} bytes) on character boundaries",
                range.start.0,
                range.end.0,
                text.len()
            ));
        }
        sound
    };

    for (idx, declaration) in outline.declarations.iter().enumerate() {
        let label = format!("declaration {idx}");
        check_range(&label, declaration.range, &mut violations);
        if let Some(next) = outline.declarations.get(idx + 1) {
            if next.range.start < declaration.range.end {
                violations.push(format!("{label} overlaps the next declaration"));
            }
        }
        let parts = [
            ("keyword", Some(declaration.keyword_range)),
            ("name", declaration.name_range),
            ("statement", declaration.statement_range),
            ("type", declaration.type_range),
            ("proof", declaration.proof_range),
        ];
        for (part, range) in parts {
            let Some(range) = range else { continue };
            if check_range(&format!("{label} {part}"), range, &mut violations)
                && !declaration.range.encloses(&range)
            {
                violations.push(format!("{label} {part} lies outside the declaration"));
            }
        }
        if let (Some(statement), Some(type_range)) =
            (declaration.statement_range, declaration.type_range)
        {
            if !statement.encloses(&type_range) {
                violations.push(format!("{label} type lies outside its statement"));
            }
        }
        if let (Some(statement), Some(proof)) =
            (declaration.statement_range, declaration.proof_range)
        {
            if proof.start < statement.end {
                violations.push(format!("{label} proof starts before its statement ends"));
            }
        }
        step_violations(text, &label, declaration, &mut check_range, &mut violations);
    }

    for (idx, sorry) in outline.sorries.iter().enumerate() {
        let label = format!("sorry {idx}");
        check_range(&label, sorry.range, &mut violations);
        if let Some(next) = outline.sorries.get(idx + 1) {
            if next.range.start < sorry.range.end {
                violations.push(format!("{label} is out of order"));
            }
        }
        match sorry
            .declaration
            .map(|declaration| outline.declarations.get(declaration))
        {
            Some(None) => violations.push(format!("{label} names a missing declaration")),
            Some(Some(declaration)) => {
                if !declaration.range.encloses(&sorry.range) {
                    violations.push(format!("{label} lies outside its declaration"));
                }
                match sorry.step.map(|step| declaration.steps.get(step)) {
                    Some(None) => violations.push(format!("{label} names a missing step")),
                    Some(Some(step)) if !step.range.encloses(&sorry.range) => {
                        violations.push(format!("{label} lies outside its step"));
                    }
                    _ => {}
                }
            }
            None => {
                if sorry.step.is_some() {
                    violations.push(format!("{label} has a step but no declaration"));
                }
            }
        }
    }

    for (idx, problem) in outline.problems.iter().enumerate() {
        check_range(&format!("problem {idx}"), problem.range, &mut violations);
    }
    violations
}

fn step_violations(
    text: &str,
    label: &str,
    declaration: &Declaration,
    check_range: &mut impl FnMut(&str, ByteRange, &mut Vec<String>) -> bool,
    violations: &mut Vec<String>,
) {
    if !declaration.steps.is_empty() && declaration.proof_range.is_none() {
        violations.push(format!("{label} has steps but no proof"));
    }
    // The end of the previous sibling, per parent (index 0 for top-level steps).
    let mut last_sibling_end: Vec<Option<usize>> = vec![None; declaration.steps.len() + 1];
    for (idx, step) in declaration.steps.iter().enumerate() {
        let step_label = format!("{label} step {idx}");
        if !check_range(&step_label, step.range, violations) {
            continue;
        }
        if step.range.is_empty() {
            violations.push(format!("{step_label} is empty"));
        }
        if step.text != step.range.slice(text) {
            violations.push(format!("{step_label} text differs from its range"));
        }
        if let Some(proof) = declaration.proof_range {
            if !proof.encloses(&step.range) {
                violations.push(format!("{step_label} lies outside the proof"));
            }
        }
        let sibling_slot = match step.parent {
            None => {
                if step.depth != 0 {
                    violations.push(format!(
                        "{step_label} has no parent but depth {}",
                        step.depth
                    ));
                }
                0
            }
            Some(parent) if parent >= idx => {
                violations.push(format!(
                    "{step_label} names parent {parent}, not an earlier step"
                ));
                continue;
            }
            Some(parent) => {
                let parent_step = &declaration.steps[parent];
                if step.depth != parent_step.depth + 1 {
                    violations.push(format!("{step_label} depth is not its parent's plus one"));
                }
                if !parent_step.range.encloses(&step.range) {
                    violations.push(format!("{step_label} lies outside its parent {parent}"));
                }
                parent + 1
            }
        };
        if let Some(previous_end) = last_sibling_end[sibling_slot] {
            if step.range.start.0 < previous_end {
                violations.push(format!(
                    "{step_label} overlaps or precedes its previous sibling"
                ));
            }
        }
        last_sibling_end[sibling_slot] = Some(step.range.end.0);
    }
}
