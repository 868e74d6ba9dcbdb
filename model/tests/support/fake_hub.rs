//! TEST DOUBLE, never shipped: a fake Hugging Face hub on 127.0.0.1 that serves checkpoint
//! folders the way the hub does: `/{repo}/resolve/{revision}/{file}` answers HEAD and GET with
//! X-Repo-Commit, ETag and Content-Length, and large files (safetensors) redirect to a storage URL
//! with X-Linked-Etag and X-Linked-Size, as the hub's LFS files do. Shared by the model crate's
//! fetch tests and the binary's (`server/tests/model_fetch_cli.rs` includes it by path).

// Each test binary that includes this file uses a different part of it.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

/// A deterministic stand-in for a content hash, `n_hex` hexadecimal digits long.
pub fn fake_hash(bytes: &[u8], n_hex: usize) -> String {
    let mut hex = String::new();
    let mut seed: u64 = 0xcbf2_9ce4_8422_2325;
    while hex.len() < n_hex {
        let mut hash = seed;
        for byte in bytes {
            hash ^= u64::from(*byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
        hex.push_str(&format!("{hash:016x}"));
        seed = seed.wrapping_add(1);
    }
    hex.truncate(n_hex);
    hex
}

#[derive(Clone)]
pub struct ServedRepo {
    pub commit: String,
    pub files: BTreeMap<String, Vec<u8>>,
}

impl ServedRepo {
    /// Every file of `dir` (a checkpoint folder) but a fixture's `expected.json`, at `commit`.
    pub fn from_dir(dir: &Path, commit: &str) -> Self {
        let mut files = BTreeMap::new();
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if name != "expected.json" {
                files.insert(name, std::fs::read(&path).unwrap());
            }
        }
        ServedRepo {
            commit: commit.to_owned(),
            files,
        }
    }

    pub fn is_large(file: &str) -> bool {
        file.ends_with(".safetensors")
    }

    /// The blob name the cache should use: the LFS sha256 for large files, the git hash else.
    pub fn etag(&self, file: &str) -> String {
        let bytes = &self.files[file];
        if ServedRepo::is_large(file) {
            fake_hash(bytes, 64)
        } else {
            fake_hash(bytes, 40)
        }
    }
}

/// How the fake hub misbehaves.
#[derive(Clone, Default)]
pub struct Faults {
    /// Send this many bytes of the named file's body, then close the connection.
    pub truncate: Option<(String, usize)>,
    /// Answer every request with this status.
    pub status_for_everything: Option<u16>,
}

#[derive(Clone)]
pub struct Logged {
    pub method: String,
    pub path: String,
    pub authorization: Option<String>,
}

pub struct FakeHub {
    pub endpoint: String,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    log: Arc<Mutex<Vec<Logged>>>,
}

impl FakeHub {
    pub fn start(repos: BTreeMap<String, ServedRepo>, faults: Faults) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let stop = Arc::new(AtomicBool::new(false));
        let log = Arc::new(Mutex::new(Vec::new()));
        let thread = {
            let stop = stop.clone();
            let log = log.clone();
            let endpoint = endpoint.clone();
            std::thread::spawn(move || {
                for stream in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(stream) = stream else { continue };
                    // A client that hangs up early must not stop the server.
                    let _ = answer(stream, &repos, &faults, &endpoint, &log);
                }
            })
        };
        FakeHub {
            endpoint,
            stop,
            thread: Some(thread),
            log,
        }
    }

    pub fn requests(&self) -> Vec<Logged> {
        self.log.lock().unwrap().clone()
    }

    pub fn clear_log(&self) {
        self.log.lock().unwrap().clear();
    }
}

impl Drop for FakeHub {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.endpoint.trim_start_matches("http://"));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn answer(
    stream: TcpStream,
    repos: &BTreeMap<String, ServedRepo>,
    faults: &Faults,
    endpoint: &str,
    log: &Mutex<Vec<Logged>>,
) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    let mut authorization = None;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line == "\r\n" {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            if name.eq_ignore_ascii_case("authorization") {
                authorization = Some(value.trim().to_owned());
            }
        }
    }
    let mut parts = request_line.split_whitespace();
    let method = parts.next().unwrap_or("").to_owned();
    let path = parts.next().unwrap_or("").to_owned();
    log.lock().unwrap().push(Logged {
        method: method.clone(),
        path: path.clone(),
        authorization,
    });
    let mut stream = stream;
    let send_body = method == "GET";
    let respond = |stream: &mut TcpStream,
                   status: &str,
                   headers: &[(&str, String)],
                   body: &[u8],
                   body_length: usize|
     -> std::io::Result<()> {
        let mut head = format!("HTTP/1.1 {status}\r\nConnection: close\r\n");
        for (name, value) in headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str(&format!("Content-Length: {body_length}\r\n\r\n"));
        stream.write_all(head.as_bytes())?;
        if send_body {
            stream.write_all(body)?;
        }
        stream.flush()
    };
    if let Some(status) = faults.status_for_everything {
        let body = b"internal error";
        return respond(
            &mut stream,
            &format!("{status} Failed"),
            &[],
            body,
            body.len(),
        );
    }
    // Storage URLs: /cdn/{repo as org--name}/{file}
    if let Some(rest) = path.strip_prefix("/cdn/") {
        let (repo_folder, file) = rest.split_once('/').unwrap_or((rest, ""));
        let repo = repos.get(&repo_folder.replace("--", "/"));
        let Some(bytes) = repo.and_then(|repo| repo.files.get(file)) else {
            return respond(&mut stream, "404 Not Found", &[], b"", 0);
        };
        if let Some((truncated_file, n_sent)) = &faults.truncate {
            if truncated_file == file {
                return respond(&mut stream, "200 OK", &[], &bytes[..*n_sent], bytes.len());
            }
        }
        return respond(&mut stream, "200 OK", &[], bytes, bytes.len());
    }
    // Resolve URLs: /{org}/{name}/resolve/{revision}/{file}
    let segments: Vec<&str> = path.trim_start_matches('/').splitn(5, '/').collect();
    let [org, name, "resolve", revision, file] = segments.as_slice() else {
        return respond(&mut stream, "404 Not Found", &[], b"", 0);
    };
    let repo_id = format!("{org}/{name}");
    let Some(repo) = repos.get(&repo_id) else {
        // The hub answers 401 for a repo it does not show to an anonymous caller.
        let headers = [
            ("X-Error-Code", "RepoNotFound".to_owned()),
            ("X-Error-Message", "Repository not found".to_owned()),
        ];
        return respond(&mut stream, "401 Unauthorized", &headers, b"", 0);
    };
    if *revision != "main" && *revision != repo.commit {
        let headers = [("X-Error-Code", "RevisionNotFound".to_owned())];
        return respond(&mut stream, "404 Not Found", &headers, b"", 0);
    }
    let Some(bytes) = repo.files.get(*file) else {
        let headers = [
            ("X-Error-Code", "EntryNotFound".to_owned()),
            ("X-Repo-Commit", repo.commit.clone()),
        ];
        return respond(&mut stream, "404 Not Found", &headers, b"", 0);
    };
    let git_etag = format!("\"{}\"", fake_hash(bytes, 40));
    if ServedRepo::is_large(file) {
        let headers = [
            ("X-Repo-Commit", repo.commit.clone()),
            ("ETag", git_etag),
            ("X-Linked-Etag", format!("\"{}\"", repo.etag(file))),
            ("X-Linked-Size", bytes.len().to_string()),
            (
                "Location",
                format!("{endpoint}/cdn/{}/{file}", repo_id.replace('/', "--")),
            ),
        ];
        return respond(&mut stream, "302 Found", &headers, b"", 0);
    }
    let headers = [("X-Repo-Commit", repo.commit.clone()), ("ETag", git_etag)];
    respond(&mut stream, "200 OK", &headers, bytes, bytes.len())
}
