//! Positions in Lean source: byte offsets internally, converted at the edges to LSP positions
//! (0-based lines, UTF-16 code units) and to Lean's positions (1-based lines, codepoint columns).
//!
//! Lines end at `\n`; in a CRLF file the `\r` before it belongs to the line ending and is never
//! counted in a column. Tabs count as one column, as they do for both LSP and Lean.

use serde::{Deserialize, Serialize};

/// A byte offset into a document's UTF-8 text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ByteOffset(pub usize);

/// A half-open byte range `[start, end)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ByteRange {
    pub start: ByteOffset,
    pub end: ByteOffset,
}

impl ByteRange {
    pub fn new(start: usize, end: usize) -> Self {
        ByteRange {
            start: ByteOffset(start),
            end: ByteOffset(end),
        }
    }
    pub fn len(&self) -> usize {
        self.end.0.saturating_sub(self.start.0)
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    pub fn contains(&self, offset: ByteOffset) -> bool {
        self.start <= offset && offset < self.end
    }
    /// Whether `other` lies entirely inside `self`.
    pub fn encloses(&self, other: &ByteRange) -> bool {
        self.start <= other.start && other.end <= self.end
    }
    pub fn slice<'text>(&self, text: &'text str) -> &'text str {
        text.get(self.start.0..self.end.0).unwrap_or("")
    }
}

/// An LSP position: 0-based line, column in UTF-16 code units.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Utf16Position {
    pub line: u32,
    pub character: u32,
}

/// A Lean position as the REPL and Lean's messages report it: 1-based line, 0-based column
/// counted in Unicode codepoints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct LeanPosition {
    pub line: u32,
    pub column: u32,
}

/// Start offsets of every line of one text, for converting between position kinds.
///
/// The index does not own the text; every query takes the same text it was built from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineIndex {
    line_starts: Vec<usize>,
    text_len: usize,
}

impl LineIndex {
    pub fn new(text: &str) -> Self {
        let mut line_starts = vec![0];
        line_starts.extend(text.match_indices('\n').map(|(idx, _)| idx + 1));
        LineIndex {
            line_starts,
            text_len: text.len(),
        }
    }

    pub fn line_count(&self) -> usize {
        self.line_starts.len()
    }

    /// The 0-based line that holds `offset` (offsets past the end belong to the last line).
    pub fn line_of(&self, offset: ByteOffset) -> usize {
        let offset = offset.0.min(self.text_len);
        self.line_starts.partition_point(|&start| start <= offset) - 1
    }

    /// Byte range of a 0-based line's content, without its `\n` or `\r\n` ending.
    pub fn line_range(&self, text: &str, line: usize) -> ByteRange {
        let start = self.line_starts.get(line).copied().unwrap_or(self.text_len);
        let mut end = self
            .line_starts
            .get(line + 1)
            .map(|next| next - 1)
            .unwrap_or(self.text_len);
        if end > start && text.as_bytes().get(end - 1) == Some(&b'\r') {
            end -= 1;
        }
        ByteRange::new(start, end)
    }

    /// Converts a byte offset to an LSP position. An offset inside a multi-byte character or
    /// past the end is clamped to the nearest earlier character boundary or to the end.
    pub fn to_utf16(&self, text: &str, offset: ByteOffset) -> Utf16Position {
        let line = self.line_of(offset);
        let column_text = self.column_text(text, line, offset);
        let character = column_text.chars().map(char::len_utf16).sum::<usize>();
        Utf16Position {
            line: line as u32,
            character: character as u32,
        }
    }

    /// Converts an LSP position to a byte offset. A line past the end gives the end of the text;
    /// a character past the end of its line gives the end of that line (as LSP asks).
    pub fn from_utf16(&self, text: &str, position: Utf16Position) -> ByteOffset {
        let line = position.line as usize;
        if line >= self.line_starts.len() {
            return ByteOffset(self.text_len);
        }
        let range = self.line_range(text, line);
        let mut units = 0usize;
        for (idx, ch) in range.slice(text).char_indices() {
            if units >= position.character as usize {
                return ByteOffset(range.start.0 + idx);
            }
            units += ch.len_utf16();
        }
        range.end
    }

    /// Converts a byte offset to Lean's position (1-based line, codepoint column).
    pub fn to_lean(&self, text: &str, offset: ByteOffset) -> LeanPosition {
        let line = self.line_of(offset);
        let column = self.column_text(text, line, offset).chars().count();
        LeanPosition {
            line: line as u32 + 1,
            column: column as u32,
        }
    }

    /// Converts Lean's position to a byte offset, clamping as [`LineIndex::from_utf16`] does.
    /// Line 0 (invalid in Lean) is read as line 1.
    pub fn from_lean(&self, text: &str, position: LeanPosition) -> ByteOffset {
        let line = position.line.max(1) as usize - 1;
        if line >= self.line_starts.len() {
            return ByteOffset(self.text_len);
        }
        let range = self.line_range(text, line);
        match range
            .slice(text)
            .char_indices()
            .nth(position.column as usize)
        {
            Some((idx, _)) => ByteOffset(range.start.0 + idx),
            None => range.end,
        }
    }

    /// The text of `line` from its start up to `offset`, with `offset` clamped to the line's
    /// content and to a character boundary.
    fn column_text<'text>(&self, text: &'text str, line: usize, offset: ByteOffset) -> &'text str {
        let range = self.line_range(text, line);
        let mut end = offset.0.clamp(range.start.0, range.end.0);
        while end > range.start.0 && !text.is_char_boundary(end) {
            end -= 1;
        }
        &text[range.start.0..end]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ascii_round_trip() {
        let text = "theorem t : True := by\n  trivial\n";
        let index = LineIndex::new(text);
        let offset = ByteOffset(text.find("trivial").unwrap());
        assert_eq!(
            index.to_utf16(text, offset),
            Utf16Position {
                line: 1,
                character: 2
            }
        );
        assert_eq!(
            index.to_lean(text, offset),
            LeanPosition { line: 2, column: 2 }
        );
        assert_eq!(
            index.from_utf16(
                text,
                Utf16Position {
                    line: 1,
                    character: 2
                }
            ),
            offset
        );
        assert_eq!(
            index.from_lean(text, LeanPosition { line: 2, column: 2 }),
            offset
        );
    }

    #[test]
    fn non_ascii_columns_differ_by_unit() {
        // `∀` is 3 bytes, 1 UTF-16 unit, 1 codepoint; `𝔽` is 4 bytes, 2 UTF-16 units, 1 codepoint.
        let text = "∀ 𝔽 x, ⟨a⟩ ≤ b";
        let index = LineIndex::new(text);
        let offset = ByteOffset(text.find('x').unwrap());
        assert_eq!(offset.0, 3 + 1 + 4 + 1);
        assert_eq!(index.to_utf16(text, offset).character, 5);
        assert_eq!(index.to_lean(text, offset).column, 4);
        assert_eq!(
            index.from_utf16(
                text,
                Utf16Position {
                    line: 0,
                    character: 5
                }
            ),
            offset
        );
        assert_eq!(
            index.from_lean(text, LeanPosition { line: 1, column: 4 }),
            offset
        );
    }

    #[test]
    fn crlf_and_tabs() {
        let text = "a\r\n\tb\r\nc";
        let index = LineIndex::new(text);
        let b = ByteOffset(text.find('b').unwrap());
        assert_eq!(
            index.to_utf16(text, b),
            Utf16Position {
                line: 1,
                character: 1
            }
        );
        assert_eq!(index.to_lean(text, b), LeanPosition { line: 2, column: 1 });
        // A character past the end of a CRLF line lands before the `\r`.
        let end_of_first = index.from_utf16(
            text,
            Utf16Position {
                line: 0,
                character: 99,
            },
        );
        assert_eq!(end_of_first, ByteOffset(1));
        assert_eq!(index.line_range(text, 1).slice(text), "\tb");
    }

    #[test]
    fn out_of_range_is_clamped() {
        let text = "ab\n";
        let index = LineIndex::new(text);
        assert_eq!(
            index.from_utf16(
                text,
                Utf16Position {
                    line: 7,
                    character: 0
                }
            ),
            ByteOffset(3)
        );
        assert_eq!(
            index.to_utf16(text, ByteOffset(99)),
            Utf16Position {
                line: 1,
                character: 0
            }
        );
        // An offset inside a multi-byte character is clamped to its start.
        let text = "≤";
        let index = LineIndex::new(text);
        assert_eq!(index.to_utf16(text, ByteOffset(1)).character, 0);
    }
}
