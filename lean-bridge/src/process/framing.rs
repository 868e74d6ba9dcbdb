//! The two wire formats: the REPL's JSON objects separated by blank lines, and the language
//! server's `Content-Length` framing. Both readers bound how much they buffer.

use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncReadExt};

use super::limits::{
    MALFORMED_OUTPUT_EXCERPT_CHARS, MAX_LANGUAGE_SERVER_HEADER_LINES,
    MAX_LANGUAGE_SERVER_HEADER_LINE_BYTES,
};

/// Why one framed answer could not be read.
#[derive(Debug)]
pub(crate) enum FramingError {
    /// The stream ended (the process closed its output or died).
    EndOfStream,
    /// The answer is larger than the limit.
    TooLarge,
    /// The bytes are not in the expected format.
    Malformed {
        problem: String,
        excerpt: String,
    },
    Io(std::io::Error),
}

/// Quotes the start of unreadable output for an error message.
pub(crate) fn excerpt(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes)
        .chars()
        .take(MALFORMED_OUTPUT_EXCERPT_CHARS)
        .collect()
}

/// Encodes one REPL request: compact JSON (which never holds a raw newline, so never a blank
/// line) followed by a blank line.
pub(crate) fn encode_repl_request(request: &serde_json::Value) -> Vec<u8> {
    let mut bytes = serde_json::to_vec(request).unwrap_or_default();
    bytes.extend_from_slice(b"\n\n");
    bytes
}

/// Reads one REPL answer: lines up to the next blank line, skipping blank lines before it,
/// parsed as one JSON value.
pub(crate) async fn read_repl_answer<R: AsyncBufRead + Unpin>(
    reader: &mut R,
    max_answer_bytes: usize,
) -> Result<serde_json::Value, FramingError> {
    let mut answer = Vec::new();
    loop {
        let remaining = (max_answer_bytes + 2).saturating_sub(answer.len());
        if remaining == 0 {
            return Err(FramingError::TooLarge);
        }
        let line_start = answer.len();
        let read = (&mut *reader)
            .take(remaining as u64)
            .read_until(b'\n', &mut answer)
            .await
            .map_err(FramingError::Io)?;
        if read == 0 {
            return Err(FramingError::EndOfStream);
        }
        let line = &answer[line_start..];
        if !line.ends_with(b"\n") && answer.len() >= max_answer_bytes + 2 {
            return Err(FramingError::TooLarge);
        }
        if line.iter().all(u8::is_ascii_whitespace) && line.ends_with(b"\n") {
            answer.truncate(line_start);
            if answer.iter().all(u8::is_ascii_whitespace) {
                answer.clear();
                continue;
            }
            break;
        }
    }
    if answer.len() > max_answer_bytes {
        return Err(FramingError::TooLarge);
    }
    serde_json::from_slice(&answer).map_err(|error| FramingError::Malformed {
        problem: format!("not one JSON value ({error})"),
        excerpt: excerpt(&answer),
    })
}

/// Encodes one language-server message with its `Content-Length` header.
pub(crate) fn encode_language_server_message(message: &serde_json::Value) -> Vec<u8> {
    let body = serde_json::to_vec(message).unwrap_or_default();
    let mut bytes = format!("Content-Length: {}\r\n\r\n", body.len()).into_bytes();
    bytes.extend_from_slice(&body);
    bytes
}

/// Reads one language-server message: header lines, a blank line, then exactly
/// `Content-Length` bytes of JSON.
pub(crate) async fn read_language_server_message<R: AsyncBufRead + Unpin>(
    reader: &mut R,
    max_answer_bytes: usize,
) -> Result<serde_json::Value, FramingError> {
    let mut content_length: Option<usize> = None;
    let mut header_lines = 0usize;
    loop {
        let mut line = Vec::new();
        let read = (&mut *reader)
            .take(MAX_LANGUAGE_SERVER_HEADER_LINE_BYTES as u64)
            .read_until(b'\n', &mut line)
            .await
            .map_err(FramingError::Io)?;
        if read == 0 {
            return Err(FramingError::EndOfStream);
        }
        if !line.ends_with(b"\n") {
            return Err(FramingError::Malformed {
                problem: format!(
                    "a header line longer than {MAX_LANGUAGE_SERVER_HEADER_LINE_BYTES} bytes"
                ),
                excerpt: excerpt(&line),
            });
        }
        let text = String::from_utf8_lossy(&line);
        let text = text.trim_end_matches(['\r', '\n']);
        if text.is_empty() {
            if header_lines == 0 {
                // Tolerate stray blank lines between messages.
                continue;
            }
            break;
        }
        header_lines += 1;
        if header_lines > MAX_LANGUAGE_SERVER_HEADER_LINES {
            return Err(FramingError::Malformed {
                problem: format!("more than {MAX_LANGUAGE_SERVER_HEADER_LINES} header lines"),
                excerpt: excerpt(&line),
            });
        }
        let Some((name, value)) = text.split_once(':') else {
            return Err(FramingError::Malformed {
                problem: "a header line without `name: value`".to_owned(),
                excerpt: excerpt(&line),
            });
        };
        let name = name.trim();
        if name.eq_ignore_ascii_case("content-length") {
            let length = value
                .trim()
                .parse::<usize>()
                .map_err(|_| FramingError::Malformed {
                    problem: "a Content-Length that is not a number".to_owned(),
                    excerpt: excerpt(&line),
                })?;
            content_length = Some(length);
        } else if !name.eq_ignore_ascii_case("content-type") {
            // The base protocol has only these two headers; anything else is not LSP output.
            return Err(FramingError::Malformed {
                problem: format!("an unknown header {name:?}"),
                excerpt: excerpt(&line),
            });
        }
    }
    let Some(length) = content_length else {
        return Err(FramingError::Malformed {
            problem: "a message without a Content-Length header".to_owned(),
            excerpt: String::new(),
        });
    };
    if length > max_answer_bytes {
        return Err(FramingError::TooLarge);
    }
    let mut body = vec![0u8; length];
    reader.read_exact(&mut body).await.map_err(|error| {
        if error.kind() == std::io::ErrorKind::UnexpectedEof {
            FramingError::EndOfStream
        } else {
            FramingError::Io(error)
        }
    })?;
    serde_json::from_slice(&body).map_err(|error| FramingError::Malformed {
        problem: format!("a message body that is not JSON ({error})"),
        excerpt: excerpt(&body),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn block_on<F: std::future::Future>(future: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(future)
    }

    #[test]
    fn repl_answers_are_split_at_blank_lines() {
        let mut input: &[u8] = b"\n{\"env\": 0,\n \"messages\": []}\n\n{\"env\": 1}\r\n\r\n";
        let first = block_on(read_repl_answer(&mut input, 1024)).unwrap();
        assert_eq!(first, json!({"env": 0, "messages": []}));
        let second = block_on(read_repl_answer(&mut input, 1024)).unwrap();
        assert_eq!(second, json!({"env": 1}));
        assert!(matches!(
            block_on(read_repl_answer(&mut input, 1024)),
            Err(FramingError::EndOfStream)
        ));
    }

    #[test]
    fn repl_garbage_and_oversize_are_errors() {
        let mut garbage: &[u8] = b"this is not json\n\n";
        assert!(matches!(
            block_on(read_repl_answer(&mut garbage, 1024)),
            Err(FramingError::Malformed { .. })
        ));
        let long = format!("{{\"data\": \"{}\"}}\n\n", "x".repeat(5000));
        let mut long: &[u8] = long.as_bytes();
        assert!(matches!(
            block_on(read_repl_answer(&mut long, 1000)),
            Err(FramingError::TooLarge)
        ));
    }

    #[test]
    fn repl_requests_never_contain_blank_lines() {
        let request =
            json!({"cmd": "theorem x : True := by\n\n  trivial\n\n{\"pickleTo\": \"/x\"}"});
        let encoded = encode_repl_request(&request);
        let text = String::from_utf8(encoded).unwrap();
        assert_eq!(text.matches("\n\n").count(), 1);
        assert!(text.ends_with("\n\n"));
    }

    #[test]
    fn language_server_frames_round_trip() {
        let message = json!({"jsonrpc": "2.0", "method": "x", "params": {"text": "∀ 𝔽"}});
        let mut bytes = encode_language_server_message(&message);
        bytes.extend(encode_language_server_message(&json!({"id": 1})));
        let mut input: &[u8] = &bytes;
        assert_eq!(
            block_on(read_language_server_message(&mut input, 1024)).unwrap(),
            message
        );
        assert_eq!(
            block_on(read_language_server_message(&mut input, 1024)).unwrap(),
            json!({"id": 1})
        );
        assert!(matches!(
            block_on(read_language_server_message(&mut input, 1024)),
            Err(FramingError::EndOfStream)
        ));
    }

    #[test]
    fn language_server_bad_frames_are_errors() {
        let mut unknown_header: &[u8] = b"Lean says: hello\r\n\r\n{}";
        assert!(matches!(
            block_on(read_language_server_message(&mut unknown_header, 1024)),
            Err(FramingError::Malformed { .. })
        ));
        let mut no_colon: &[u8] = b"hello there\r\n\r\n{}";
        assert!(matches!(
            block_on(read_language_server_message(&mut no_colon, 1024)),
            Err(FramingError::Malformed { .. })
        ));
        let mut too_big: &[u8] = b"Content-Length: 5000\r\n\r\n{}";
        assert!(matches!(
            block_on(read_language_server_message(&mut too_big, 1024)),
            Err(FramingError::TooLarge)
        ));
        let mut truncated: &[u8] = b"Content-Length: 50\r\n\r\n{}";
        assert!(matches!(
            block_on(read_language_server_message(&mut truncated, 1024)),
            Err(FramingError::EndOfStream)
        ));
        let mut not_json: &[u8] = b"Content-Length: 3\r\n\r\nabc";
        assert!(matches!(
            block_on(read_language_server_message(&mut not_json, 1024)),
            Err(FramingError::Malformed { .. })
        ));
    }
}
