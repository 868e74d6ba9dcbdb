//! The LSP base protocol on a byte stream: `Content-Length` framed messages, read with bounds
//! on every header and body, and resynchronised after a bad header by scanning for the next
//! `Content-Length:`.

use super::limits::{
    MALFORMED_EXCERPT_CHARS, MAX_HEADER_LINES, MAX_HEADER_LINE_BYTES, MAX_MESSAGE_BYTES,
    READ_CHUNK_BYTES,
};
use tokio::io::{AsyncRead, AsyncReadExt};

const CONTENT_LENGTH_HEADER: &[u8] = b"content-length:";

/// Why a message could not be read. After one of these the reader skips to the next
/// `Content-Length:` header, so the stream goes on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    #[error(
        "the Content-Length header {value:?} is not a number; send the body's length in bytes"
    )]
    ContentLengthNotANumber { value: String },
    #[error(
        "the Content-Length {length} is larger than the {limit}-byte limit; split the message or \
         send less"
    )]
    ContentLengthTooLarge { length: u128, limit: usize },
    #[error("the message has no Content-Length header; every message needs one")]
    MissingContentLength,
    #[error("a header line is longer than {limit} bytes; headers are `Name: value` lines")]
    HeaderLineTooLong { limit: usize },
    #[error("the message has more than {limit} header lines; send Content-Length and at most Content-Type")]
    TooManyHeaderLines { limit: usize },
    #[error("the header line {line:?} is not `Name: value`")]
    MalformedHeader { line: String },
    #[error("the Content-Type {value:?} is not supported; send utf-8 JSON (or leave it out)")]
    UnsupportedContentType { value: String },
}

/// Reads framed messages from `input`, with its own buffer (so that a header split across
/// reads is found whole when resynchronising).
pub struct FrameReader<R> {
    input: R,
    buffer: Vec<u8>,
    /// Where the unread part of `buffer` starts.
    start: usize,
    /// Set after a bad header: skip input until the next `Content-Length:`.
    resynchronise: bool,
}

impl<R: AsyncRead + Unpin> FrameReader<R> {
    pub fn new(input: R) -> Self {
        FrameReader {
            input,
            buffer: Vec::new(),
            start: 0,
            resynchronise: false,
        }
    }

    /// The next message body; `Ok(None)` at the end of the input (a message cut short by the
    /// end counts as the end).
    pub async fn next_body(&mut self) -> std::io::Result<Option<Result<Vec<u8>, FrameError>>> {
        if self.resynchronise {
            self.resynchronise = false;
            if !self.skip_to_next_header().await? {
                return Ok(None);
            }
        }
        match self.read_header().await? {
            HeaderOutcome::End => Ok(None),
            HeaderOutcome::Bad(error) => {
                self.resynchronise = true;
                Ok(Some(Err(error)))
            }
            HeaderOutcome::Length(length) => {
                while self.unread().len() < length {
                    if !self.fill().await? {
                        tracing::warn!(
                            "the input ended inside a message body ({length} bytes announced)"
                        );
                        return Ok(None);
                    }
                }
                let body = self.unread()[..length].to_vec();
                self.start += length;
                Ok(Some(Ok(body)))
            }
        }
    }

    fn unread(&self) -> &[u8] {
        &self.buffer[self.start..]
    }

    /// Reads more input into the buffer; false at the end of the input.
    async fn fill(&mut self) -> std::io::Result<bool> {
        if self.start > 0 && self.start * 2 >= self.buffer.len() {
            self.buffer.drain(..self.start);
            self.start = 0;
        }
        let mut chunk = [0u8; READ_CHUNK_BYTES];
        let n_read = self.input.read(&mut chunk).await?;
        self.buffer.extend_from_slice(&chunk[..n_read]);
        Ok(n_read > 0)
    }

    async fn read_header(&mut self) -> std::io::Result<HeaderOutcome> {
        let mut content_length: Option<Result<usize, FrameError>> = None;
        let mut problem: Option<FrameError> = None;
        let mut n_lines = 0usize;
        loop {
            let line = match self.read_line().await? {
                LineOutcome::End => return Ok(HeaderOutcome::End),
                LineOutcome::TooLong => {
                    return Ok(HeaderOutcome::Bad(FrameError::HeaderLineTooLong {
                        limit: MAX_HEADER_LINE_BYTES,
                    }))
                }
                LineOutcome::Line(line) => line,
            };
            if line.is_empty() {
                if n_lines == 0 {
                    // Blank lines between messages are tolerated.
                    continue;
                }
                break;
            }
            n_lines += 1;
            if n_lines > MAX_HEADER_LINES {
                return Ok(HeaderOutcome::Bad(FrameError::TooManyHeaderLines {
                    limit: MAX_HEADER_LINES,
                }));
            }
            let text = String::from_utf8_lossy(&line).into_owned();
            let Some((name, value)) = text.split_once(':') else {
                problem.get_or_insert(FrameError::MalformedHeader {
                    line: excerpt(&text),
                });
                continue;
            };
            let value = value.trim();
            if name.trim().eq_ignore_ascii_case("content-length") {
                content_length = Some(parse_content_length(value));
            } else if name.trim().eq_ignore_ascii_case("content-type") {
                let charset_ok = value
                    .split(';')
                    .skip(1)
                    .filter_map(|parameter| parameter.trim().strip_prefix("charset="))
                    .all(|charset| {
                        let charset = charset.trim_matches('"');
                        charset.eq_ignore_ascii_case("utf-8")
                            || charset.eq_ignore_ascii_case("utf8")
                    });
                if !charset_ok {
                    problem.get_or_insert(FrameError::UnsupportedContentType {
                        value: excerpt(value),
                    });
                }
            }
        }
        if let Some(problem) = problem {
            return Ok(HeaderOutcome::Bad(problem));
        }
        Ok(match content_length {
            None => HeaderOutcome::Bad(FrameError::MissingContentLength),
            Some(Err(error)) => HeaderOutcome::Bad(error),
            Some(Ok(length)) => HeaderOutcome::Length(length),
        })
    }

    /// One header line without its `\r\n` or `\n`.
    async fn read_line(&mut self) -> std::io::Result<LineOutcome> {
        loop {
            let unread = self.unread();
            if let Some(newline) = unread.iter().position(|byte| *byte == b'\n') {
                if newline > MAX_HEADER_LINE_BYTES {
                    self.start += newline + 1;
                    return Ok(LineOutcome::TooLong);
                }
                let mut line = unread[..newline].to_vec();
                self.start += newline + 1;
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                return Ok(LineOutcome::Line(line));
            }
            if unread.len() > MAX_HEADER_LINE_BYTES {
                self.start = self.buffer.len();
                return Ok(LineOutcome::TooLong);
            }
            if !self.fill().await? {
                return Ok(LineOutcome::End);
            }
        }
    }

    /// Skips input up to the next `Content-Length:` (any case); false at the end of the input.
    async fn skip_to_next_header(&mut self) -> std::io::Result<bool> {
        loop {
            if let Some(found) = find_ignoring_case(self.unread(), CONTENT_LENGTH_HEADER) {
                self.start += found;
                return Ok(true);
            }
            // Keep a tail that may hold the start of the header.
            let keep = CONTENT_LENGTH_HEADER.len() - 1;
            self.start = self.buffer.len().saturating_sub(keep).max(self.start);
            if !self.fill().await? {
                return Ok(false);
            }
        }
    }
}

enum HeaderOutcome {
    End,
    Length(usize),
    Bad(FrameError),
}

enum LineOutcome {
    End,
    TooLong,
    Line(Vec<u8>),
}

fn parse_content_length(value: &str) -> Result<usize, FrameError> {
    match value.parse::<u128>() {
        Ok(length) if length > MAX_MESSAGE_BYTES as u128 => {
            Err(FrameError::ContentLengthTooLarge {
                length,
                limit: MAX_MESSAGE_BYTES,
            })
        }
        Ok(length) => Ok(length as usize),
        Err(_) => Err(FrameError::ContentLengthNotANumber {
            value: excerpt(value),
        }),
    }
}

fn find_ignoring_case(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window.eq_ignore_ascii_case(needle))
}

/// The start of `text`, for error messages.
pub fn excerpt(text: &str) -> String {
    let mut excerpt: String = text.chars().take(MALFORMED_EXCERPT_CHARS).collect();
    if excerpt.len() < text.len() {
        excerpt.push('…');
    }
    excerpt
}

/// A message body with its header, ready to write.
pub fn encode_frame(body: &[u8]) -> Vec<u8> {
    let mut frame = format!("Content-Length: {}\r\n\r\n", body.len()).into_bytes();
    frame.extend_from_slice(body);
    frame
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reader that gives the input in chunks of a fixed size, one chunk per read.
    struct ChunkReader {
        chunks: std::collections::VecDeque<Vec<u8>>,
    }

    impl AsyncRead for ChunkReader {
        fn poll_read(
            mut self: std::pin::Pin<&mut Self>,
            _context: &mut std::task::Context<'_>,
            buffer: &mut tokio::io::ReadBuf<'_>,
        ) -> std::task::Poll<std::io::Result<()>> {
            if let Some(mut chunk) = self.chunks.pop_front() {
                let n_taken = chunk.len().min(buffer.remaining());
                buffer.put_slice(&chunk[..n_taken]);
                if n_taken < chunk.len() {
                    chunk.drain(..n_taken);
                    self.chunks.push_front(chunk);
                }
            }
            std::task::Poll::Ready(Ok(()))
        }
    }

    /// Every body or error the reader gives for `input`, read in chunks of `chunk` bytes.
    fn read_all(input: &[u8], chunk: usize) -> Vec<Result<String, FrameError>> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        runtime.block_on(async {
            let mut reader = FrameReader::new(ChunkReader {
                chunks: input.chunks(chunk).map(<[u8]>::to_vec).collect(),
            });
            let mut out = Vec::new();
            while let Some(item) = reader.next_body().await.expect("no i/o error") {
                out.push(item.map(|body| String::from_utf8(body).expect("utf-8")));
            }
            out
        })
    }

    fn frame(body: &str) -> Vec<u8> {
        encode_frame(body.as_bytes())
    }

    #[test]
    fn messages_are_read_whatever_the_chunking() {
        let mut input = frame(r#"{"a":1}"#);
        input.extend(b"Content-Type: application/vscode-jsonrpc; charset=utf-8\r\nContent-Length: 7\r\n\r\n{\"b\":2}");
        input.extend(frame("{}"));
        for chunk in [1, 2, 3, 7, 1000] {
            let read = read_all(&input, chunk);
            assert_eq!(
                read,
                vec![
                    Ok(r#"{"a":1}"#.to_owned()),
                    Ok(r#"{"b":2}"#.to_owned()),
                    Ok("{}".to_owned())
                ],
                "chunk size {chunk}"
            );
        }
    }

    #[test]
    fn bad_headers_are_errors_and_the_stream_goes_on() {
        let cases: Vec<(&[u8], FrameError)> = vec![
            (
                b"Content-Length: twelve\r\n\r\n{}",
                FrameError::ContentLengthNotANumber {
                    value: "twelve".to_owned(),
                },
            ),
            (
                b"Content-Length: 99999999999999999999999\r\n\r\n{}",
                FrameError::ContentLengthTooLarge {
                    length: 99999999999999999999999,
                    limit: MAX_MESSAGE_BYTES,
                },
            ),
            (
                b"Content-Length: -5\r\n\r\n{}",
                FrameError::ContentLengthNotANumber {
                    value: "-5".to_owned(),
                },
            ),
            (
                b"Content-Type: text/plain\r\n\r\n{}",
                FrameError::MissingContentLength,
            ),
            (
                b"Content-Length: 2\r\nContent-Type: application/json; charset=latin1\r\n\r\n{}",
                FrameError::UnsupportedContentType {
                    value: "application/json; charset=latin1".to_owned(),
                },
            ),
            (
                b"garbage without a colon\r\nContent-Length: 2\r\n\r\n{}",
                FrameError::MalformedHeader {
                    line: "garbage without a colon".to_owned(),
                },
            ),
        ];
        for (bad, expected) in cases {
            let mut input = bad.to_vec();
            input.extend(frame(r#"{"next":true}"#));
            for chunk in [1, 5, 4096] {
                assert_eq!(
                    read_all(&input, chunk),
                    vec![Err(expected.clone()), Ok(r#"{"next":true}"#.to_owned())],
                    "input {:?}, chunk size {chunk}",
                    String::from_utf8_lossy(bad)
                );
            }
        }
    }

    #[test]
    fn an_endless_header_line_is_cut_off() {
        let mut input = vec![b'x'; MAX_HEADER_LINE_BYTES * 3];
        input.extend(b"\r\n\r\n");
        input.extend(frame("{}"));
        assert_eq!(
            read_all(&input, 1000),
            vec![
                Err(FrameError::HeaderLineTooLong {
                    limit: MAX_HEADER_LINE_BYTES
                }),
                Ok("{}".to_owned())
            ]
        );
    }

    #[test]
    fn too_many_header_lines_are_refused() {
        let mut input = Vec::new();
        for _ in 0..=MAX_HEADER_LINES {
            input.extend(b"X-Noise: 1\r\n");
        }
        input.extend(b"\r\n");
        input.extend(frame("{}"));
        assert_eq!(
            read_all(&input, 64),
            vec![
                Err(FrameError::TooManyHeaderLines {
                    limit: MAX_HEADER_LINES
                }),
                Ok("{}".to_owned())
            ]
        );
    }

    #[test]
    fn the_end_of_input_inside_a_message_ends_the_stream() {
        assert_eq!(read_all(b"Content-Length: 10\r\n\r\n{}", 3), vec![]);
        assert_eq!(read_all(b"Content-Len", 3), vec![]);
        assert_eq!(read_all(b"", 3), vec![]);
    }
}
