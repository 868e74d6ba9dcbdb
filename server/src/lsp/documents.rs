//! Open documents. Text sync happens on the main loop and costs a string edit; the outline
//! (keyword scan + segmenter) is made on one analysis thread, which publishes a snapshot (text,
//! line index, outline) per version, outlining only the newest when edits pile up. Requests that
//! need the outline wait for the snapshot of their version without blocking the main loop.

use proofwright_lean::position::{ByteRange, LineIndex, Utf16Position};
use proofwright_lean::syntax::Outline;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{mpsc, Arc, Mutex, MutexGuard};
use tokio::sync::watch;
use tower_lsp_server::ls_types::{Position, TextDocumentContentChangeEvent, Uri};

/// The file name given to documents that are not files (`untitled:`): Lean discovery starts in
/// the server's working folder.
const UNTITLED_FILE_NAME: &str = "Untitled.lean";

/// One edit in byte offsets of the text before it: `start..old_end` became `new_len` bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByteEdit {
    pub start: usize,
    pub old_end: usize,
    pub new_len: usize,
}

impl ByteEdit {
    /// Where `range` lies after this edit; `None` when the edit touches its inside. An edit that
    /// ends where the range starts moves it; one that starts where it ends leaves it.
    pub fn map_range(&self, range: ByteRange) -> Option<ByteRange> {
        let shift = |offset: usize| offset + self.new_len - (self.old_end - self.start);
        if self.old_end <= range.start.0 {
            Some(ByteRange::new(shift(range.start.0), shift(range.end.0)))
        } else if self.start >= range.end.0 {
            Some(range)
        } else {
            None
        }
    }
}

/// A version of a document with its outline.
#[derive(Debug)]
pub struct DocumentSnapshot {
    pub uri: Uri,
    pub path: PathBuf,
    pub version: i32,
    pub text: Arc<str>,
    pub line_index: LineIndex,
    pub outline: Outline,
}

impl DocumentSnapshot {
    /// The document as the prover takes it.
    pub fn proof_document(&self) -> crate::prover::ProofDocument<'_> {
        crate::prover::ProofDocument {
            text: &self.text,
            outline: &self.outline,
            path: &self.path,
        }
    }

    /// The byte offset of an LSP position, or why it is not in the document. A character past
    /// the end of its line means the end of the line (as LSP says); a line past the end is an
    /// error.
    pub fn offset_of(&self, position: Position) -> Result<usize, DocumentError> {
        offset_of(&self.text, &self.line_index, position)
    }

    pub fn range_of(&self, range: ByteRange) -> tower_lsp_server::ls_types::Range {
        lsp_range(&self.text, &self.line_index, range)
    }
}

pub fn offset_of(
    text: &str,
    line_index: &LineIndex,
    position: Position,
) -> Result<usize, DocumentError> {
    if position.line as usize >= line_index.line_count() {
        return Err(DocumentError::PositionPastEnd {
            line: position.line,
            character: position.character,
            n_lines: line_index.line_count(),
        });
    }
    Ok(line_index
        .from_utf16(
            text,
            Utf16Position {
                line: position.line,
                character: position.character,
            },
        )
        .0)
}

pub fn lsp_range(
    text: &str,
    line_index: &LineIndex,
    range: ByteRange,
) -> tower_lsp_server::ls_types::Range {
    let start = line_index.to_utf16(text, range.start);
    let end = line_index.to_utf16(text, range.end);
    tower_lsp_server::ls_types::Range {
        start: Position::new(start.line, start.character),
        end: Position::new(end.line, end.character),
    }
}

/// Why a document or a position in it cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DocumentError {
    #[error("{uri} is not open; send textDocument/didOpen first")]
    NotOpen { uri: String },
    #[error("{uri} was closed while the request waited")]
    Closed { uri: String },
    #[error("{uri} changed to version {current} while the request for version {requested} waited")]
    Changed {
        uri: String,
        requested: i32,
        current: i32,
    },
    #[error(
        "position {line}:{character} is past the end of the document ({n_lines} lines); send a position inside it"
    )]
    PositionPastEnd {
        line: u32,
        character: u32,
        n_lines: usize,
    },
}

/// What the main loop keeps of an open document.
struct OpenDocument {
    version: i32,
    text: String,
    line_index: LineIndex,
    snapshots: watch::Receiver<Option<Arc<DocumentSnapshot>>>,
}

/// The result of applying a `didChange`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppliedChange {
    pub version: i32,
    pub edits: Vec<ByteEdit>,
}

enum AnalysisMessage {
    Open {
        uri: Uri,
        path: PathBuf,
        version: i32,
        text: Arc<str>,
        snapshots: watch::Sender<Option<Arc<DocumentSnapshot>>>,
    },
    Change {
        uri: Uri,
        version: i32,
        text: Arc<str>,
    },
    Close {
        uri: Uri,
    },
}

/// The open documents and the analysis thread that outlines them.
pub struct DocumentStore {
    documents: Mutex<HashMap<Uri, OpenDocument>>,
    analysis: Mutex<Option<mpsc::Sender<AnalysisMessage>>>,
    analysis_thread: Mutex<Option<std::thread::JoinHandle<()>>>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl DocumentStore {
    pub fn start() -> std::io::Result<DocumentStore> {
        let (sender, receiver) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("proofwright-lsp-outline".to_owned())
            .spawn(move || analysis_loop(receiver))?;
        Ok(DocumentStore {
            documents: Mutex::new(HashMap::new()),
            analysis: Mutex::new(Some(sender)),
            analysis_thread: Mutex::new(Some(thread)),
        })
    }

    fn send(&self, message: AnalysisMessage) {
        if let Some(sender) = lock(&self.analysis).as_ref() {
            if sender.send(message).is_err() {
                tracing::error!("the outline thread has stopped; outlines are no longer updated");
            }
        }
    }

    /// Opens (or reopens) `uri`.
    pub fn open(&self, uri: Uri, version: i32, text: String) {
        let path = document_path(&uri);
        let (sender, receiver) = watch::channel(None);
        let shared: Arc<str> = Arc::from(text.as_str());
        let line_index = LineIndex::new(&text);
        lock(&self.documents).insert(
            uri.clone(),
            OpenDocument {
                version,
                text,
                line_index,
                snapshots: receiver,
            },
        );
        self.send(AnalysisMessage::Open {
            uri,
            path,
            version,
            text: shared,
            snapshots: sender,
        });
    }

    /// Applies the changes of a `didChange` in order. Ranges are LSP positions in the text as
    /// it is before each change; a change without a range replaces the whole text. A change
    /// whose end comes before its start is skipped (and logged).
    pub fn change(
        &self,
        uri: &Uri,
        version: i32,
        changes: Vec<TextDocumentContentChangeEvent>,
    ) -> Result<AppliedChange, DocumentError> {
        let mut documents = lock(&self.documents);
        let document = documents
            .get_mut(uri)
            .ok_or_else(|| DocumentError::NotOpen {
                uri: uri.as_str().to_owned(),
            })?;
        if version <= document.version {
            tracing::warn!(
                "{}: version {version} after version {}; applying it anyway",
                uri.as_str(),
                document.version
            );
        }
        let mut byte_edits = Vec::with_capacity(changes.len());
        for change in changes {
            let (start, end) = match change.range {
                Some(range) => {
                    let start = clamped_offset(&document.text, &document.line_index, range.start);
                    let end = clamped_offset(&document.text, &document.line_index, range.end);
                    if end < start {
                        tracing::warn!(
                            "{}: a change whose end {:?} comes before its start {:?} was skipped",
                            uri.as_str(),
                            range.end,
                            range.start
                        );
                        continue;
                    }
                    (start, end)
                }
                None => (0, document.text.len()),
            };
            document.text.replace_range(start..end, &change.text);
            document.line_index = LineIndex::new(&document.text);
            byte_edits.push(ByteEdit {
                start,
                old_end: end,
                new_len: change.text.len(),
            });
        }
        document.version = version;
        let text: Arc<str> = Arc::from(document.text.as_str());
        drop(documents);
        self.send(AnalysisMessage::Change {
            uri: uri.clone(),
            version,
            text,
        });
        Ok(AppliedChange {
            version,
            edits: byte_edits,
        })
    }

    pub fn close(&self, uri: &Uri) -> bool {
        let was_open = lock(&self.documents).remove(uri).is_some();
        self.send(AnalysisMessage::Close { uri: uri.clone() });
        was_open
    }

    /// The current version of `uri`.
    pub fn version(&self, uri: &Uri) -> Option<i32> {
        lock(&self.documents)
            .get(uri)
            .map(|document| document.version)
    }

    pub fn open_uris(&self) -> Vec<Uri> {
        lock(&self.documents).keys().cloned().collect()
    }

    /// The snapshot of the current version of `uri`, once outlined.
    pub async fn current_snapshot(
        &self,
        uri: &Uri,
    ) -> Result<Arc<DocumentSnapshot>, DocumentError> {
        let version = self.version(uri).ok_or_else(|| DocumentError::NotOpen {
            uri: uri.as_str().to_owned(),
        })?;
        self.snapshot(uri, version).await
    }

    /// The snapshot of version `version` of `uri`, once outlined; `Changed` when a newer
    /// version arrived first.
    pub async fn snapshot(
        &self,
        uri: &Uri,
        version: i32,
    ) -> Result<Arc<DocumentSnapshot>, DocumentError> {
        let mut receiver = lock(&self.documents)
            .get(uri)
            .map(|document| document.snapshots.clone())
            .ok_or_else(|| DocumentError::NotOpen {
                uri: uri.as_str().to_owned(),
            })?;
        let snapshot = receiver
            .wait_for(|snapshot| {
                snapshot
                    .as_ref()
                    .is_some_and(|snapshot| snapshot.version >= version)
            })
            .await
            .map_err(|_| DocumentError::Closed {
                uri: uri.as_str().to_owned(),
            })?
            .clone()
            .ok_or_else(|| DocumentError::Closed {
                uri: uri.as_str().to_owned(),
            })?;
        if snapshot.version != version {
            return Err(DocumentError::Changed {
                uri: uri.as_str().to_owned(),
                requested: version,
                current: snapshot.version,
            });
        }
        Ok(snapshot)
    }

    /// Stops the analysis thread.
    pub fn stop(&self) {
        lock(&self.analysis).take();
        if let Some(thread) = lock(&self.analysis_thread).take() {
            let _ = thread.join();
        }
    }
}

/// An LSP position clamped into the text (used for edits, which LSP clients keep inside).
fn clamped_offset(text: &str, line_index: &LineIndex, position: Position) -> usize {
    line_index
        .from_utf16(
            text,
            Utf16Position {
                line: position.line,
                character: position.character,
            },
        )
        .0
}

/// The file a document URI names (for finding its Lean project).
pub fn document_path(uri: &Uri) -> PathBuf {
    uri.to_file_path()
        .map(|path| path.into_owned())
        .unwrap_or_else(|| {
            std::env::current_dir()
                .unwrap_or_else(|_| PathBuf::from("."))
                .join(UNTITLED_FILE_NAME)
        })
}

struct AnalysedDocument {
    uri: Uri,
    path: PathBuf,
    snapshots: watch::Sender<Option<Arc<DocumentSnapshot>>>,
}

/// The outline of one version. tree-sitter is left out: in the outline it only confirms where
/// declarations start (`Declaration::source` and the `tree_sitter_*` parser notes), which nothing
/// here reads, and a fresh parse of a large file with errors (most real proofs have some) costs
/// tens of milliseconds, where the keyword scan and segmenter take a few.
pub fn analyse(text: &str) -> Outline {
    proofwright_lean::syntax::outline_without_tree_sitter(text)
}

fn publish(document: &AnalysedDocument, version: i32, text: Arc<str>) {
    let snapshot = DocumentSnapshot {
        uri: document.uri.clone(),
        path: document.path.clone(),
        version,
        line_index: LineIndex::new(&text),
        outline: analyse(&text),
        text,
    };
    document.snapshots.send_replace(Some(Arc::new(snapshot)));
}

fn analysis_loop(receiver: mpsc::Receiver<AnalysisMessage>) {
    let mut documents: HashMap<Uri, AnalysedDocument> = HashMap::new();
    while let Ok(first) = receiver.recv() {
        let mut batch = vec![first];
        batch.extend(receiver.try_iter());
        // Only the newest version of each document in a batch is outlined.
        let mut newest: HashMap<Uri, (i32, Arc<str>)> = HashMap::new();
        for message in batch {
            match message {
                AnalysisMessage::Open {
                    uri,
                    path,
                    version,
                    text,
                    snapshots,
                } => {
                    documents.insert(
                        uri.clone(),
                        AnalysedDocument {
                            uri: uri.clone(),
                            path,
                            snapshots,
                        },
                    );
                    newest.insert(uri, (version, text));
                }
                AnalysisMessage::Change { uri, version, text } => {
                    newest.insert(uri, (version, text));
                }
                AnalysisMessage::Close { uri } => {
                    documents.remove(&uri);
                    newest.remove(&uri);
                }
            }
        }
        for (uri, (version, text)) in newest {
            if let Some(document) = documents.get(&uri) {
                publish(document, version, text);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tower_lsp_server::ls_types::Range;

    #[test]
    fn byte_edits_move_ranges_or_touch_them() {
        let range = ByteRange::new(10, 20);
        let insert = |at: usize, len: usize| ByteEdit {
            start: at,
            old_end: at,
            new_len: len,
        };
        assert_eq!(insert(5, 3).map_range(range), Some(ByteRange::new(13, 23)));
        assert_eq!(insert(10, 3).map_range(range), Some(ByteRange::new(13, 23)));
        assert_eq!(insert(20, 3).map_range(range), Some(range));
        assert_eq!(insert(15, 3).map_range(range), None);
        let delete = ByteEdit {
            start: 0,
            old_end: 4,
            new_len: 0,
        };
        assert_eq!(delete.map_range(range), Some(ByteRange::new(6, 16)));
        let overlapping = ByteEdit {
            start: 8,
            old_end: 12,
            new_len: 0,
        };
        assert_eq!(overlapping.map_range(range), None);
    }

    fn block_on<F: std::future::Future>(future: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .expect("runtime")
            .block_on(future)
    }

    fn change(start: (u32, u32), end: (u32, u32), text: &str) -> TextDocumentContentChangeEvent {
        TextDocumentContentChangeEvent {
            range: Some(Range::new(
                Position::new(start.0, start.1),
                Position::new(end.0, end.1),
            )),
            range_length: None,
            text: text.to_owned(),
        }
    }

    #[test]
    fn changes_are_applied_in_utf16_and_outlined() {
        let store = DocumentStore::start().expect("store");
        let uri: Uri = "file:///project/A.lean".parse().expect("uri");
        store.open(
            uri.clone(),
            1,
            "theorem α_t : True := by\n  sorry\n".to_owned(),
        );
        // `α` is two bytes and one UTF-16 unit: `True` is characters 14..18, bytes 15..19.
        let applied = store
            .change(
                &uri,
                2,
                vec![
                    change((1, 2), (1, 7), "trivial"),
                    change((0, 14), (0, 18), "1 = 1"),
                ],
            )
            .expect("applied");
        assert_eq!(
            applied.edits,
            vec![
                ByteEdit {
                    start: 28,
                    old_end: 33,
                    new_len: 7
                },
                ByteEdit {
                    start: 15,
                    old_end: 19,
                    new_len: 5
                }
            ]
        );
        let snapshot = block_on(store.snapshot(&uri, 2)).expect("snapshot");
        assert_eq!(&*snapshot.text, "theorem α_t : 1 = 1 := by\n  trivial\n");
        assert_eq!(snapshot.outline.sorries.len(), 0);
        assert_eq!(snapshot.outline, analyse(&snapshot.text));
        assert_eq!(snapshot.outline.declarations[0].steps[0].text, "trivial");
        assert_eq!(
            snapshot.offset_of(Position::new(1, 99)),
            Ok(snapshot.text.len() - 1)
        );
        assert_eq!(
            snapshot.offset_of(Position::new(5, 0)),
            Err(DocumentError::PositionPastEnd {
                line: 5,
                character: 0,
                n_lines: 3
            })
        );
        assert_eq!(
            block_on(store.snapshot(&uri, 1)).expect_err("older version"),
            DocumentError::Changed {
                uri: uri.as_str().to_owned(),
                requested: 1,
                current: 2
            }
        );
        store.close(&uri);
        assert!(matches!(
            block_on(store.snapshot(&uri, 2)),
            Err(DocumentError::NotOpen { .. })
        ));
        store.stop();
    }

    /// The analysis outline is the full outline less what only tree-sitter adds.
    #[test]
    fn the_analysis_outline_equals_the_full_outline_but_for_tree_sitter_notes() {
        let corpus = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("..")
            .join("scripts")
            .join("tiny-prover")
            .join("corpus");
        let mut files: Vec<PathBuf> = std::fs::read_dir(&corpus)
            .expect("the tiny-prover corpus")
            .map(|entry| entry.expect("entry").path())
            .collect();
        files.sort();
        assert!(!files.is_empty());
        for file in files {
            let text = std::fs::read_to_string(&file).expect("corpus file");
            let strip = |mut outline: Outline| {
                for declaration in &mut outline.declarations {
                    declaration.source = proofwright_lean::syntax::DeclarationSource::KeywordScan;
                }
                outline
                    .problems
                    .retain(|problem| !problem.kind.is_parser_note());
                outline
            };
            assert_eq!(
                strip(analyse(&text)),
                strip(proofwright_lean::syntax::outline(&text)),
                "{}",
                file.display()
            );
        }
    }

    #[test]
    fn a_full_text_change_replaces_everything() {
        let store = DocumentStore::start().expect("store");
        let uri: Uri = "file:///project/B.lean".parse().expect("uri");
        store.open(uri.clone(), 1, "old".to_owned());
        let applied = store
            .change(
                &uri,
                2,
                vec![TextDocumentContentChangeEvent {
                    range: None,
                    range_length: None,
                    text: "example : True := by\n  sorry\n".to_owned(),
                }],
            )
            .expect("applied");
        assert_eq!(
            applied.edits,
            vec![ByteEdit {
                start: 0,
                old_end: 3,
                new_len: 29
            }]
        );
        let snapshot = block_on(store.snapshot(&uri, 2)).expect("snapshot");
        assert_eq!(snapshot.outline.sorries.len(), 1);
        store.stop();
    }
}
