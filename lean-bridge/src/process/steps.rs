//! Mapping Lean's messages back to the proof steps they fall in, from plain inputs: the text
//! and the byte range of every step (steps may nest).

use super::outcome::LeanMessage;
use crate::position::{ByteOffset, ByteRange, LeanPosition, LineIndex};

/// The index of the innermost step whose range contains `offset` (the shortest one; among
/// equal ranges, the later one), or `None` when no step does.
pub fn innermost_step_containing(step_ranges: &[ByteRange], offset: ByteOffset) -> Option<usize> {
    step_ranges
        .iter()
        .enumerate()
        .filter(|(_, range)| range.contains(offset))
        .min_by(|(left_index, left), (right_index, right)| {
            left.len()
                .cmp(&right.len())
                .then(right_index.cmp(left_index))
        })
        .map(|(index, _)| index)
}

/// The step holding a Lean position in `text`.
pub fn step_at_lean_position(
    text: &str,
    index: &LineIndex,
    step_ranges: &[ByteRange],
    position: LeanPosition,
) -> Option<usize> {
    innermost_step_containing(step_ranges, index.from_lean(text, position))
}

/// For each message, the index of the innermost step containing its start position.
pub fn map_messages_to_steps(
    text: &str,
    step_ranges: &[ByteRange],
    messages: &[LeanMessage],
) -> Vec<Option<usize>> {
    let index = LineIndex::new(text);
    messages
        .iter()
        .map(|message| step_at_lean_position(text, &index, step_ranges, message.start))
        .collect()
}
