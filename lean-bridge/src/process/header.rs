//! Splitting a Lean document into its import header and the rest, so processes can be keyed by
//! the header and the REPL can import it once and reuse the environment.

use crate::position::{ByteOffset, LeanPosition, LineIndex};

/// A document split at the end of its import header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderSplit {
    /// The header as written (`module`, `prelude` and `import` lines with the comments between
    /// them), up to the end of its last command; trailing whitespace is not included.
    pub header: String,
    /// Where the body starts: after the header and the rest of the header's last line.
    pub body_start: ByteOffset,
    /// The Lean position of `body_start` in the whole document.
    pub body_start_position: LeanPosition,
}

impl HeaderSplit {
    pub fn body<'text>(&self, text: &'text str) -> &'text str {
        text.get(self.body_start.0..).unwrap_or("")
    }

    /// Converts a position reported for the body alone (as the REPL reports it for a command
    /// sent with the header's environment) to a position in the whole document.
    pub fn body_position_to_document(&self, position: LeanPosition) -> LeanPosition {
        let line = position.line.max(1);
        LeanPosition {
            line: line + self.body_start_position.line - 1,
            column: if line == 1 {
                position.column + self.body_start_position.column
            } else {
                position.column
            },
        }
    }
}

/// Splits `text` after its import header. Never fails: a document without a header has an
/// empty header and a body that is the whole text.
pub fn split_import_header(text: &str) -> HeaderSplit {
    let bytes = text.as_bytes();
    let mut cursor = 0usize;
    let mut header_end = 0usize;
    loop {
        cursor = skip_whitespace_and_comments(text, cursor);
        let word = word_at(text, cursor);
        match word {
            "prelude" | "module" => {
                cursor += word.len();
                header_end = cursor;
            }
            "public" | "meta" | "private" | "import" => {
                // Module-system modifiers may stand before `import`; `all` may follow it.
                let mut scan = cursor;
                let mut saw_import = false;
                loop {
                    let modifier = word_at(text, scan);
                    match modifier {
                        "public" | "meta" | "private" if !saw_import => {
                            scan = skip_spaces(bytes, scan + modifier.len());
                        }
                        "import" if !saw_import => {
                            saw_import = true;
                            scan = skip_spaces(bytes, scan + modifier.len());
                        }
                        "all" | "runtime" if saw_import => {
                            scan = skip_spaces(bytes, scan + modifier.len());
                        }
                        _ => break,
                    }
                }
                let module_name_length = module_name_length(&text[scan..]);
                if !saw_import || module_name_length == 0 {
                    break;
                }
                cursor = scan + module_name_length;
                header_end = cursor;
            }
            _ => break,
        }
    }
    let mut body_start = header_end;
    if header_end > 0 {
        let rest_of_line_end = text[header_end..]
            .find('\n')
            .map(|idx| header_end + idx + 1)
            .unwrap_or(text.len());
        if text[header_end..rest_of_line_end].trim().is_empty() {
            body_start = rest_of_line_end;
        }
    }
    let index = LineIndex::new(text);
    HeaderSplit {
        header: text[..header_end].to_owned(),
        body_start: ByteOffset(body_start),
        body_start_position: index.to_lean(text, ByteOffset(body_start)),
    }
}

fn word_at(text: &str, cursor: usize) -> &str {
    let rest = &text[cursor..];
    let length = rest
        .find(|character: char| !(character.is_alphanumeric() || character == '_'))
        .unwrap_or(rest.len());
    &rest[..length]
}

fn skip_spaces(bytes: &[u8], mut cursor: usize) -> usize {
    while cursor < bytes.len() && (bytes[cursor] == b' ' || bytes[cursor] == b'\t') {
        cursor += 1;
    }
    cursor
}

/// The length of a module name (`Mathlib.Tactic`, `«My Module».Sub`) at the start of `rest`.
fn module_name_length(rest: &str) -> usize {
    let mut length = 0usize;
    let mut chars = rest.char_indices().peekable();
    while let Some((idx, character)) = chars.next() {
        if character == '«' {
            match rest[idx..].find('»') {
                Some(close) => {
                    length = idx + close + '»'.len_utf8();
                    while chars.peek().is_some_and(|(next, _)| *next < length) {
                        chars.next();
                    }
                }
                None => break,
            }
        } else if character.is_alphanumeric()
            || matches!(character, '_' | '.' | '\'' | '!' | '?')
            || (!character.is_ascii() && !character.is_whitespace())
        {
            length = idx + character.len_utf8();
        } else {
            break;
        }
    }
    length
}

fn skip_whitespace_and_comments(text: &str, mut cursor: usize) -> usize {
    let bytes = text.as_bytes();
    loop {
        while cursor < bytes.len() && (bytes[cursor] as char).is_ascii_whitespace() {
            cursor += 1;
        }
        if text[cursor..].starts_with("--") {
            cursor = text[cursor..]
                .find('\n')
                .map(|idx| cursor + idx + 1)
                .unwrap_or(text.len());
        } else if text[cursor..].starts_with("/-") && !text[cursor..].starts_with("/--") {
            match block_comment_end(text, cursor) {
                Some(end) => cursor = end,
                // An unterminated comment swallows the rest of the file; the header ends here.
                None => return cursor,
            }
        } else {
            return cursor;
        }
    }
}

/// The end of the (nested) block comment starting at `start`, or `None` when it never closes.
fn block_comment_end(text: &str, start: usize) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut depth = 0usize;
    let mut cursor = start;
    while cursor + 1 < bytes.len() {
        match (bytes[cursor], bytes[cursor + 1]) {
            (b'/', b'-') => {
                depth += 1;
                cursor += 2;
            }
            (b'-', b'/') => {
                depth -= 1;
                cursor += 2;
                if depth == 0 {
                    return Some(cursor);
                }
            }
            _ => cursor += 1,
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_after_the_last_import_line() {
        let text = "/- header comment -/\nimport Mathlib.Tactic\n-- note\nimport «Foo Bar».Baz\n\ntheorem t : True := trivial\n";
        let split = split_import_header(text);
        assert_eq!(
            split.header,
            "/- header comment -/\nimport Mathlib.Tactic\n-- note\nimport «Foo Bar».Baz"
        );
        assert_eq!(split.body(text), "\ntheorem t : True := trivial\n");
        assert_eq!(
            split.body_start_position,
            LeanPosition { line: 5, column: 0 }
        );
        assert_eq!(
            split.body_position_to_document(LeanPosition { line: 2, column: 8 }),
            LeanPosition { line: 6, column: 8 }
        );
    }

    #[test]
    fn documents_without_a_header_have_an_empty_one() {
        let text = "theorem import_free : True := trivial";
        let split = split_import_header(text);
        assert_eq!(split.header, "");
        assert_eq!(split.body(text), text);
        assert_eq!(
            split.body_start_position,
            LeanPosition { line: 1, column: 0 }
        );
    }

    #[test]
    fn a_docstring_is_not_a_header_comment() {
        let text = "import Foo\n/-- doc -/\ntheorem t : True := trivial";
        let split = split_import_header(text);
        assert_eq!(split.header, "import Foo");
        assert_eq!(split.body(text), "/-- doc -/\ntheorem t : True := trivial");
    }

    #[test]
    fn code_on_the_header_line_keeps_its_columns() {
        let text = "import Foo theorem t : True := trivial";
        let split = split_import_header(text);
        assert_eq!(split.header, "import Foo");
        assert_eq!(split.body(text), " theorem t : True := trivial");
        assert_eq!(
            split.body_position_to_document(LeanPosition { line: 1, column: 1 }),
            LeanPosition {
                line: 1,
                column: 11
            }
        );
    }

    #[test]
    fn module_system_modifiers_and_prelude() {
        let text = "module\nprelude\npublic import Foo\nmeta import all Bar\ndef x := 1\n";
        let split = split_import_header(text);
        assert_eq!(
            split.header,
            "module\nprelude\npublic import Foo\nmeta import all Bar"
        );
        assert_eq!(split.body(text), "def x := 1\n");
    }
}
