//! Finding a model: a local directory, or a Hugging Face repo id fetched into the standard
//! Hugging Face cache (the layout huggingface_hub uses, so either tool finds what the other
//! downloaded), honouring HF_HOME, HF_HUB_CACHE, HF_HUB_OFFLINE, HF_ENDPOINT and HF_TOKEN.
//!
//! Cache layout: `models--ORG--NAME/blobs/ETAG` holds each file's bytes,
//! `snapshots/COMMIT/FILE` is a relative symlink to its blob, `refs/REVISION` holds the commit a
//! branch or tag pointed to, and `.no_exist/COMMIT/FILE` marks an optional file the repo lacks.
//! A blob is written to a temporary file next to it and renamed into place only once its size
//! matches what the hub announced, so no later run ever trusts a half-written file.

use crate::checkpoint::{INDEX_FILE, SINGLE_FILE};
use serde_json::Value as JsonValue;
use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

pub const DEFAULT_ENDPOINT: &str = "https://huggingface.co";
pub const DEFAULT_REVISION: &str = "main";
/// Files a model directory needs besides its weights.
pub const REQUIRED_FILES: [&str; 2] = ["config.json", "tokenizer.json"];
/// Files fetched when the repo has them; a 404 for one of these is fine.
pub const OPTIONAL_FILES: [&str; 5] = [
    "generation_config.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "chat_template.jinja",
    // Proofwright's own per-model settings (the verifier's calibrated threshold, the template).
    "proofwright.json",
];

// Every limit and duration of the fetcher, in one place.
/// Time allowed to open a connection to the hub or its file storage.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Time allowed from sending a request to receiving the response headers.
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(30);
/// Longest silence allowed while a file's bytes are arriving.
const READ_TIMEOUT: Duration = Duration::from_secs(60);
/// Redirects followed for a download (the hub sends large files to a CDN) or for a renamed repo.
const MAX_REDIRECTS: u32 = 10;
/// Bytes copied between progress reports.
const DOWNLOAD_CHUNK_BYTES: usize = 1 << 20;
/// Longest repo id huggingface_hub accepts.
const MAX_REPO_ID_LENGTH: usize = 96;
/// A commit is named by 40 hexadecimal digits.
const COMMIT_HASH_LENGTH: usize = 40;
const USER_AGENT: &str = concat!("proofwright/", env!("CARGO_PKG_VERSION"));

/// What to do on a machine that cannot reach the hub, shared by every error that needs it.
pub const HOW_TO_GET_A_MODEL: &str = "to get a model without network here: on a machine with \
    network run `huggingface-cli download ORG/NAME` (or `hf download ORG/NAME`), which fills the \
    Hugging Face cache ($HF_HOME/hub, by default ~/.cache/huggingface/hub); copy that cache folder \
    to this machine and set HF_HOME to the folder that holds `hub` (or HF_HUB_CACHE to the `hub` \
    folder itself), or copy the model's snapshot folder and pass its path instead of the repo id; \
    without HF_HUB_OFFLINE and with network, Proofwright downloads the model itself";

/// Progress of one file's download, for the caller to draw (the library prints nothing).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DownloadProgress {
    /// The file's path inside the repo, e.g. `model-00001-of-00002.safetensors`.
    pub file_name: String,
    pub bytes_done: u64,
    pub bytes_total: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum HubError {
    #[error(
        "`{text}` is neither an existing model directory nor a Hugging Face repo id: {problem}; \
         pass a directory holding config.json, or ORG/NAME or ORG/NAME@REVISION"
    )]
    InvalidModelSpec { text: String, problem: String },
    #[error("{variable}=`{value}` is invalid: {problem}")]
    InvalidSetting {
        variable: &'static str,
        value: String,
        problem: String,
    },
    #[error(
        "cannot find the Hugging Face cache: neither HF_HOME, HF_HUB_CACHE nor HOME is set; \
         set HF_HOME to a writable folder"
    )]
    NoCacheDirectory,
    #[error(
        "{repo_id}@{revision} is not in the Hugging Face cache at {cache_dir} ({missing}) and \
         HF_HUB_OFFLINE is set; {how_to}",
        how_to = HOW_TO_GET_A_MODEL
    )]
    OfflineNotCached {
        repo_id: String,
        revision: String,
        cache_dir: PathBuf,
        missing: String,
    },
    #[error(
        "cannot reach the Hugging Face hub at {endpoint} to fetch {repo_id} ({message}) and it \
         is not in the cache at {cache_dir}; check the network or HF_ENDPOINT; {how_to}",
        how_to = HOW_TO_GET_A_MODEL
    )]
    Unreachable {
        endpoint: String,
        repo_id: String,
        cache_dir: PathBuf,
        message: String,
    },
    #[error(
        "repository {repo_id} was not found at {endpoint}; check the spelling, set HF_TOKEN if \
         it is private, or pass an existing directory if you meant a local path"
    )]
    RepoNotFound { repo_id: String, endpoint: String },
    #[error(
        "repository {repo_id} is gated or private (HTTP {status}); accept its terms on the \
         hub's page for it and set HF_TOKEN to a token of an account that has access"
    )]
    AccessDenied { repo_id: String, status: u16 },
    #[error(
        "repository {repo_id} has no revision `{revision}`; pass an existing branch, tag or commit"
    )]
    RevisionNotFound { repo_id: String, revision: String },
    #[error(
        "{repo_id}@{revision} has no {file}; a model repo needs config.json, tokenizer.json and \
         safetensors weights"
    )]
    FileNotFound {
        repo_id: String,
        revision: String,
        file: String,
    },
    #[error(
        "{repo_id}@{revision} has neither {SINGLE_FILE} nor {INDEX_FILE}; only safetensors \
         checkpoints are supported"
    )]
    NoWeights { repo_id: String, revision: String },
    #[error("the hub answered HTTP {status} for {url}; the server failed, try again later")]
    ServerError { url: String, status: u16 },
    #[error("the hub answered HTTP {status} for {url}{detail}")]
    UnexpectedStatus {
        url: String,
        status: u16,
        detail: String,
    },
    #[error(
        "the answer for {url} lacks the `{header}` header; is HF_ENDPOINT a Hugging Face hub?"
    )]
    MissingHeader { url: String, header: &'static str },
    #[error("the answer for {url} has an invalid `{header}` header `{value}`")]
    InvalidHeader {
        url: String,
        header: &'static str,
        value: String,
    },
    #[error(
        "downloading {file} failed after {bytes_done} of {bytes_total} bytes ({message}); \
         nothing was kept, run again to retry"
    )]
    Interrupted {
        file: String,
        bytes_done: u64,
        bytes_total: u64,
        message: String,
    },
    #[error(
        "downloading {file} gave {bytes_received} bytes but the hub announced {bytes_announced}; \
         nothing was kept, run again to retry"
    )]
    SizeMismatch {
        file: String,
        bytes_received: u64,
        bytes_announced: u64,
    },
    #[error("{path}: {problem}")]
    InvalidIndex { path: PathBuf, problem: String },
    #[error("{path}: cannot write to the Hugging Face cache: {source}; check its permissions or set HF_HOME")]
    Cache {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

pub type HubResult<T> = std::result::Result<T, HubError>;

/// What `--model` names: a local model directory or a repo on the hub.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModelSpec {
    Directory(PathBuf),
    HubRepo(HubRepo),
}

/// A model repo on the hub at a revision (a branch, tag or commit).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HubRepo {
    pub repo_id: String,
    pub revision: String,
}

impl HubRepo {
    /// The repo's folder in the cache: `models--ORG--NAME`.
    pub fn cache_folder_name(&self) -> String {
        format!("models--{}", self.repo_id.replace('/', "--"))
    }
}

impl ModelSpec {
    /// An existing directory, else `ORG/NAME` or `ORG/NAME@REVISION`.
    pub fn parse(text: &str) -> HubResult<Self> {
        let invalid = |problem: &str| HubError::InvalidModelSpec {
            text: text.to_owned(),
            problem: problem.to_owned(),
        };
        if text.is_empty() {
            return Err(invalid("it is empty"));
        }
        let path = Path::new(text);
        if path.is_dir() {
            return Ok(ModelSpec::Directory(path.to_owned()));
        }
        let looks_like_a_path =
            text.starts_with(['/', '.', '~']) || text.ends_with('/') || text.contains('\\');
        if looks_like_a_path {
            return Err(invalid("no such directory"));
        }
        let (repo_id, revision) = match text.split_once('@') {
            Some((repo_id, revision)) => (repo_id, revision),
            None => (text, DEFAULT_REVISION),
        };
        validate_repo_id(repo_id).map_err(|problem| invalid(&problem))?;
        validate_revision(revision).map_err(|problem| invalid(&problem))?;
        Ok(ModelSpec::HubRepo(HubRepo {
            repo_id: repo_id.to_owned(),
            revision: revision.to_owned(),
        }))
    }
}

fn validate_repo_id(repo_id: &str) -> Result<(), String> {
    let parts: Vec<&str> = repo_id.split('/').collect();
    if parts.len() != 2 {
        return Err(format!(
            "a repo id has exactly one `/` (ORG/NAME), `{repo_id}` has {}",
            parts.len() - 1
        ));
    }
    if repo_id.len() > MAX_REPO_ID_LENGTH {
        return Err(format!(
            "a repo id has at most {MAX_REPO_ID_LENGTH} characters"
        ));
    }
    for part in parts {
        if part.is_empty() {
            return Err("ORG and NAME must not be empty".to_owned());
        }
        if let Some(bad) = part
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
        {
            return Err(format!(
                "`{bad}` is not allowed in a repo id (letters, digits, `-`, `_` and `.` are)"
            ));
        }
        if part.contains("--") || part.contains("..") {
            return Err("`--` and `..` are not allowed in a repo id".to_owned());
        }
        if part.starts_with(['-', '.']) || part.ends_with(['-', '.']) {
            return Err("ORG and NAME must not start or end with `-` or `.`".to_owned());
        }
    }
    Ok(())
}

fn validate_revision(revision: &str) -> Result<(), String> {
    if revision.is_empty() {
        return Err("the revision after `@` is empty".to_owned());
    }
    if revision
        .chars()
        .any(|c| c.is_whitespace() || c.is_control())
    {
        return Err("the revision must not contain spaces or control characters".to_owned());
    }
    if revision
        .split('/')
        .any(|part| part.is_empty() || part == "..")
    {
        return Err(format!("`{revision}` is not a branch, tag or commit name"));
    }
    Ok(())
}

fn is_commit_hash(revision: &str) -> bool {
    revision.len() == COMMIT_HASH_LENGTH && revision.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Where and how to reach the hub, read from the same environment variables huggingface_hub
/// reads.
#[derive(Clone, PartialEq, Eq)]
pub struct HubSettings {
    /// The `hub` cache folder that holds `models--ORG--NAME` folders.
    pub cache_dir: PathBuf,
    /// Base URL, without a trailing `/`.
    pub endpoint: String,
    /// Resolve from the cache only, never touch the network.
    pub offline: bool,
    pub token: Option<String>,
}

impl std::fmt::Debug for HubSettings {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("HubSettings")
            .field("cache_dir", &self.cache_dir)
            .field("endpoint", &self.endpoint)
            .field("offline", &self.offline)
            .field("token", &self.token.as_ref().map(|_| "(set)"))
            .finish()
    }
}

impl HubSettings {
    /// Reads HF_HOME, HF_HUB_CACHE, HF_HUB_OFFLINE, HF_ENDPOINT, HF_TOKEN (and the token file
    /// under HF_HOME) from the process environment.
    pub fn from_environment() -> HubResult<Self> {
        HubSettings::from_variables(|name| std::env::var(name).ok())
    }

    /// Like [`HubSettings::from_environment`], reading variables through `lookup` (tests pass
    /// their own instead of changing the process environment). Empty values count as unset.
    pub fn from_variables(lookup: impl Fn(&str) -> Option<String>) -> HubResult<Self> {
        let variable = |name: &str| lookup(name).filter(|value| !value.is_empty());
        let home = variable("HOME").map(PathBuf::from);
        let expand_home = |value: String| -> PathBuf {
            match (value.strip_prefix("~/"), &home) {
                (Some(rest), Some(home)) => home.join(rest),
                _ => PathBuf::from(value),
            }
        };
        let hf_home = match variable("HF_HOME") {
            Some(value) => Some(expand_home(value)),
            None => match (variable("XDG_CACHE_HOME"), &home) {
                (Some(xdg_cache), _) => Some(expand_home(xdg_cache).join("huggingface")),
                (None, Some(home)) => Some(home.join(".cache").join("huggingface")),
                (None, None) => None,
            },
        };
        let cache_dir = match variable("HF_HUB_CACHE").or_else(|| variable("HUGGINGFACE_HUB_CACHE"))
        {
            Some(value) => expand_home(value),
            None => hf_home
                .as_ref()
                .ok_or(HubError::NoCacheDirectory)?
                .join("hub"),
        };
        let offline = match variable("HF_HUB_OFFLINE") {
            Some(value) => parse_flag("HF_HUB_OFFLINE", &value)?,
            None => match variable("TRANSFORMERS_OFFLINE") {
                Some(value) => parse_flag("TRANSFORMERS_OFFLINE", &value)?,
                None => false,
            },
        };
        let endpoint = match variable("HF_ENDPOINT") {
            Some(value) => {
                let trimmed = value.trim_end_matches('/').to_owned();
                if !(trimmed.starts_with("http://") || trimmed.starts_with("https://")) {
                    return Err(HubError::InvalidSetting {
                        variable: "HF_ENDPOINT",
                        value,
                        problem: "it must be a URL starting with http:// or https://".to_owned(),
                    });
                }
                trimmed
            }
            None => DEFAULT_ENDPOINT.to_owned(),
        };
        let token_file = variable("HF_TOKEN_PATH")
            .map(expand_home)
            .or_else(|| hf_home.as_ref().map(|hf_home| hf_home.join("token")));
        let token = variable("HF_TOKEN")
            .or_else(|| variable("HUGGING_FACE_HUB_TOKEN"))
            .map(|token| token.trim().to_owned())
            .or_else(|| {
                let text = std::fs::read_to_string(token_file?).ok()?;
                Some(text.trim().to_owned())
            })
            .filter(|token| !token.is_empty());
        Ok(HubSettings {
            cache_dir,
            endpoint,
            offline,
            token,
        })
    }
}

/// huggingface_hub's truthy values; anything else that is not a falsy value is an error rather
/// than a silent "online".
fn parse_flag(variable: &'static str, value: &str) -> HubResult<bool> {
    match value.to_ascii_lowercase().as_str() {
        "1" | "on" | "yes" | "true" => Ok(true),
        "0" | "off" | "no" | "false" => Ok(false),
        _ => Err(HubError::InvalidSetting {
            variable,
            value: value.to_owned(),
            problem: "use 1 (or true, yes, on) or 0 (or false, no, off)".to_owned(),
        }),
    }
}

/// The model directory `spec` names: the directory itself, or the repo's snapshot folder in
/// the cache after fetching whatever is missing (config.json, tokenizer.json, the safetensors
/// weights and every shard an index lists, plus the optional files the repo has). The result
/// is a directory `LanguageModel::load` accepts.
pub fn resolve_model(
    spec: &ModelSpec,
    settings: &HubSettings,
    progress: &dyn Fn(DownloadProgress),
) -> HubResult<PathBuf> {
    match spec {
        ModelSpec::Directory(path) => Ok(path.clone()),
        ModelSpec::HubRepo(repo) => {
            let cache = RepoCache::new(&settings.cache_dir, repo);
            if settings.offline {
                return cache.complete_snapshot(&repo.revision).map_err(|missing| {
                    HubError::OfflineNotCached {
                        repo_id: repo.repo_id.clone(),
                        revision: repo.revision.clone(),
                        cache_dir: settings.cache_dir.clone(),
                        missing,
                    }
                });
            }
            let fetcher = Fetcher {
                client: HubClient::new(settings),
                cache,
                repo,
                progress,
            };
            fetcher.fetch()
        }
    }
}

/// One repo's folder in the cache.
struct RepoCache {
    root: PathBuf,
}

impl RepoCache {
    fn new(cache_dir: &Path, repo: &HubRepo) -> Self {
        RepoCache {
            root: cache_dir.join(repo.cache_folder_name()),
        }
    }

    fn blobs_dir(&self) -> PathBuf {
        self.root.join("blobs")
    }

    fn snapshot_dir(&self, commit: &str) -> PathBuf {
        self.root.join("snapshots").join(commit)
    }

    fn ref_path(&self, revision: &str) -> PathBuf {
        self.root.join("refs").join(revision)
    }

    fn no_exist_path(&self, commit: &str, file: &str) -> PathBuf {
        self.root.join(".no_exist").join(commit).join(file)
    }

    /// The commit a revision names: itself when it is a commit hash, else what `refs/` says.
    fn cached_commit(&self, revision: &str) -> Option<String> {
        if is_commit_hash(revision) {
            return Some(revision.to_owned());
        }
        let text = std::fs::read_to_string(self.ref_path(revision)).ok()?;
        let commit = text.trim();
        is_commit_hash(commit).then(|| commit.to_owned())
    }

    /// The snapshot folder of `revision` when it holds a whole model, else what is missing.
    fn complete_snapshot(&self, revision: &str) -> Result<PathBuf, String> {
        let commit = self
            .cached_commit(revision)
            .ok_or_else(|| format!("no {} holds its commit", self.ref_path(revision).display()))?;
        let snapshot = self.snapshot_dir(&commit);
        let mut missing: Vec<String> = REQUIRED_FILES
            .iter()
            .filter(|file| !snapshot.join(file).is_file())
            .map(|file| (*file).to_owned())
            .collect();
        if !snapshot.join(SINGLE_FILE).is_file() {
            match shard_names(&snapshot.join(INDEX_FILE)) {
                Ok(shards) => missing.extend(
                    shards
                        .into_iter()
                        .filter(|shard| !snapshot.join(shard).is_file()),
                ),
                Err(_) => missing.push(format!("{SINGLE_FILE} or {INDEX_FILE}")),
            }
        }
        if missing.is_empty() {
            Ok(snapshot)
        } else {
            Err(format!(
                "snapshot {} lacks {}",
                snapshot.display(),
                missing.join(", ")
            ))
        }
    }

    /// Records which commit `revision` pointed to, atomically.
    fn write_ref(&self, revision: &str, commit: &str) -> HubResult<()> {
        let ref_path = self.ref_path(revision);
        let parent = ref_path.parent().unwrap_or(&self.root);
        create_dir_all(parent)?;
        let mut temporary = tempfile::NamedTempFile::new_in(parent).map_err(cache_error(parent))?;
        temporary
            .write_all(commit.as_bytes())
            .map_err(cache_error(&ref_path))?;
        temporary
            .persist(&ref_path)
            .map_err(|error| cache_error(&ref_path)(error.error))?;
        Ok(())
    }

    /// Points `snapshots/COMMIT/FILE` at `blobs/ETAG` with a relative symlink, as
    /// huggingface_hub does (a copy where symlinks are unavailable).
    fn link_snapshot_file(&self, commit: &str, file: &str, blob_path: &Path) -> HubResult<()> {
        let link_path = self.snapshot_dir(commit).join(file);
        let parent = link_path.parent().unwrap_or(&self.root);
        create_dir_all(parent)?;
        match std::fs::symlink_metadata(&link_path) {
            Ok(_) => std::fs::remove_file(&link_path).map_err(cache_error(&link_path))?,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
            Err(error) => return Err(cache_error(&link_path)(error)),
        }
        // snapshots/COMMIT/<file's folders>/FILE -> ../../(../ per folder)blobs/ETAG
        let depth = 2 + file.matches('/').count();
        let mut target = PathBuf::new();
        for _ in 0..depth {
            target.push("..");
        }
        target.push("blobs");
        target.push(blob_path.file_name().unwrap_or_default());
        link_or_copy(&target, blob_path, &link_path)
    }
}

#[cfg(unix)]
fn link_or_copy(relative_target: &Path, _blob_path: &Path, link_path: &Path) -> HubResult<()> {
    std::os::unix::fs::symlink(relative_target, link_path).map_err(cache_error(link_path))
}

#[cfg(not(unix))]
fn link_or_copy(_relative_target: &Path, blob_path: &Path, link_path: &Path) -> HubResult<()> {
    std::fs::copy(blob_path, link_path)
        .map(|_| ())
        .map_err(cache_error(link_path))
}

fn cache_error(path: &Path) -> impl Fn(std::io::Error) -> HubError + '_ {
    move |source| HubError::Cache {
        path: path.to_owned(),
        source,
    }
}

fn create_dir_all(path: &Path) -> HubResult<()> {
    std::fs::create_dir_all(path).map_err(cache_error(path))
}

/// The shard files an index's `weight_map` lists, each once, checked to stay inside the
/// snapshot folder.
fn shard_names(index_path: &Path) -> HubResult<Vec<String>> {
    let invalid = |problem: String| HubError::InvalidIndex {
        path: index_path.to_owned(),
        problem,
    };
    let bytes = std::fs::read(index_path).map_err(|error| invalid(error.to_string()))?;
    let index: JsonValue = serde_json::from_slice(&bytes)
        .map_err(|error| invalid(format!("invalid JSON: {error}")))?;
    let weight_map = index
        .get("weight_map")
        .and_then(JsonValue::as_object)
        .ok_or_else(|| invalid("`weight_map` is missing or not an object".to_owned()))?;
    let mut shards = BTreeSet::new();
    for (tensor, file) in weight_map {
        let file = file
            .as_str()
            .ok_or_else(|| invalid(format!("`weight_map` entry for `{tensor}` is not a string")))?;
        let escapes = file.is_empty()
            || file.starts_with('/')
            || file.contains('\\')
            || file
                .split('/')
                .any(|part| part.is_empty() || part == "." || part == "..");
        if escapes {
            return Err(invalid(format!(
                "`weight_map` entry `{file}` for `{tensor}` is not a file name inside the repo"
            )));
        }
        shards.insert(file.to_owned());
    }
    if shards.is_empty() {
        return Err(invalid("`weight_map` lists no files".to_owned()));
    }
    Ok(shards.into_iter().collect())
}

/// What the hub says about one file at one revision.
struct FileMetadata {
    commit: String,
    etag: String,
    size: u64,
    /// Where the bytes are: the resolve URL, or the storage URL the hub redirects to.
    download_url: String,
}

/// A failed metadata request, kept apart so the caller can tell "no such file" (fine for an
/// optional file) and "no network" (fall back to the cache) from the rest.
enum MetadataFailure {
    NotFound(HubError),
    Unreachable(String),
    Other(HubError),
}

struct HubClient {
    endpoint: String,
    token: Option<String>,
    /// Follows no redirects, so that the hub's own answer (with its X-Repo-Commit and sizes)
    /// is the one read.
    metadata_agent: ureq::Agent,
    download_agent: ureq::Agent,
}

impl HubClient {
    fn new(settings: &HubSettings) -> Self {
        let agent = |max_redirects: u32| {
            ureq::Agent::config_builder()
                .http_status_as_error(false)
                .max_redirects(max_redirects)
                .max_redirects_will_error(false)
                .redirect_auth_headers(ureq::config::RedirectAuthHeaders::SameHost)
                .timeout_connect(Some(CONNECT_TIMEOUT))
                .timeout_recv_response(Some(RESPONSE_TIMEOUT))
                .timeout_per_read(Some(READ_TIMEOUT))
                .user_agent(USER_AGENT)
                .build()
                .new_agent()
        };
        HubClient {
            endpoint: settings.endpoint.clone(),
            token: settings.token.clone(),
            metadata_agent: agent(0),
            download_agent: agent(MAX_REDIRECTS),
        }
    }

    fn resolve_url(&self, repo_id: &str, revision: &str, file: &str) -> String {
        format!(
            "{}/{}/resolve/{}/{}",
            self.endpoint,
            repo_id,
            percent_encode(revision, false),
            percent_encode(file, true)
        )
    }

    /// A HEAD request for the file, following only relative redirects (a renamed repo), as
    /// huggingface_hub does; an absolute redirect (large files live on a CDN) is where the
    /// bytes will be fetched from.
    fn file_metadata(
        &self,
        repo: &HubRepo,
        revision: &str,
        file: &str,
    ) -> Result<FileMetadata, MetadataFailure> {
        let mut url = self.resolve_url(&repo.repo_id, revision, file);
        for _ in 0..=MAX_REDIRECTS {
            let mut request = self
                .metadata_agent
                .head(&url)
                .header("Accept-Encoding", "identity");
            if let Some(token) = &self.token {
                request = request.header("Authorization", format!("Bearer {token}"));
            }
            let response = request
                .call()
                .map_err(|error| MetadataFailure::Unreachable(error.to_string()))?;
            let status = response.status().as_u16();
            let header = |name: &str| {
                response
                    .headers()
                    .get(name)
                    .and_then(|value| value.to_str().ok())
                    .map(str::to_owned)
            };
            let location = header("Location");
            if (300..400).contains(&status) {
                if let Some(location) = location.as_deref().filter(|l| l.starts_with('/')) {
                    url = format!("{}{}", origin_of(&self.endpoint), location);
                    continue;
                }
            }
            if status >= 400 || (300..400).contains(&status) && location.is_none() {
                return Err(self.status_failure(repo, revision, file, &url, status, &header));
            }
            let required = |name: &'static str| {
                header(name).ok_or(MetadataFailure::Other(HubError::MissingHeader {
                    url: url.clone(),
                    header: name,
                }))
            };
            let commit = required("X-Repo-Commit")?;
            let etag = match header("X-Linked-Etag") {
                Some(etag) => etag,
                None => required("ETag")?,
            };
            let etag = etag.trim_start_matches("W/").trim_matches('"').to_owned();
            let etag_is_safe = !etag.is_empty()
                && etag
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'));
            if !etag_is_safe {
                return Err(MetadataFailure::Other(HubError::InvalidHeader {
                    url,
                    header: "ETag",
                    value: etag,
                }));
            }
            let size_text = match header("X-Linked-Size") {
                Some(size) => size,
                None => required("Content-Length")?,
            };
            let size = size_text.trim().parse::<u64>().map_err(|_| {
                MetadataFailure::Other(HubError::InvalidHeader {
                    url: url.clone(),
                    header: "Content-Length",
                    value: size_text.clone(),
                })
            })?;
            if !is_commit_hash(&commit) {
                return Err(MetadataFailure::Other(HubError::InvalidHeader {
                    url,
                    header: "X-Repo-Commit",
                    value: commit,
                }));
            }
            let download_url = match location {
                Some(location) if (300..400).contains(&status) => location,
                _ => url,
            };
            return Ok(FileMetadata {
                commit,
                etag,
                size,
                download_url,
            });
        }
        Err(MetadataFailure::Other(HubError::UnexpectedStatus {
            url,
            status: 310,
            detail: format!(": more than {MAX_REDIRECTS} redirects"),
        }))
    }

    fn status_failure(
        &self,
        repo: &HubRepo,
        revision: &str,
        file: &str,
        url: &str,
        status: u16,
        header: &dyn Fn(&str) -> Option<String>,
    ) -> MetadataFailure {
        let error_code = header("X-Error-Code").unwrap_or_default();
        match (error_code.as_str(), status) {
            ("RepoNotFound", _) | ("", 401) => MetadataFailure::Other(HubError::RepoNotFound {
                repo_id: repo.repo_id.clone(),
                endpoint: self.endpoint.clone(),
            }),
            ("GatedRepo", _) | ("", 403) => MetadataFailure::Other(HubError::AccessDenied {
                repo_id: repo.repo_id.clone(),
                status,
            }),
            ("RevisionNotFound", _) => MetadataFailure::Other(HubError::RevisionNotFound {
                repo_id: repo.repo_id.clone(),
                revision: repo.revision.clone(),
            }),
            ("EntryNotFound", _) | ("", 404) => MetadataFailure::NotFound(HubError::FileNotFound {
                repo_id: repo.repo_id.clone(),
                revision: revision.to_owned(),
                file: file.to_owned(),
            }),
            (_, 500..=599) => MetadataFailure::Other(HubError::ServerError {
                url: url.to_owned(),
                status,
            }),
            (code, _) => {
                let message = header("X-Error-Message").unwrap_or_default();
                let detail = match (code.is_empty(), message.is_empty()) {
                    (true, true) => String::new(),
                    (false, true) => format!(" ({code})"),
                    (true, false) => format!(": {message}"),
                    (false, false) => format!(" ({code}): {message}"),
                };
                MetadataFailure::Other(HubError::UnexpectedStatus {
                    url: url.to_owned(),
                    status,
                    detail,
                })
            }
        }
    }

    /// Streams the file's bytes into a temporary file in `blobs/` and renames it to
    /// `blobs/ETAG` once exactly `size` bytes arrived. On any failure the temporary file is
    /// removed.
    fn download_blob(
        &self,
        metadata: &FileMetadata,
        file: &str,
        blob_path: &Path,
        progress: &dyn Fn(DownloadProgress),
    ) -> HubResult<()> {
        let report = |bytes_done: u64| {
            progress(DownloadProgress {
                file_name: file.to_owned(),
                bytes_done,
                bytes_total: metadata.size,
            })
        };
        let interrupted = |bytes_done: u64, message: String| HubError::Interrupted {
            file: file.to_owned(),
            bytes_done,
            bytes_total: metadata.size,
            message,
        };
        let mut request = self
            .download_agent
            .get(&metadata.download_url)
            .header("Accept-Encoding", "identity");
        if let Some(token) = &self.token {
            if metadata.download_url.starts_with(&self.endpoint) {
                request = request.header("Authorization", format!("Bearer {token}"));
            }
        }
        let response = request
            .call()
            .map_err(|error| interrupted(0, error.to_string()))?;
        let status = response.status().as_u16();
        if status >= 500 {
            return Err(HubError::ServerError {
                url: metadata.download_url.clone(),
                status,
            });
        }
        if status != 200 {
            return Err(HubError::UnexpectedStatus {
                url: metadata.download_url.clone(),
                status,
                detail: format!(" while downloading {file}"),
            });
        }
        let blobs_dir = blob_path.parent().unwrap_or(Path::new("."));
        create_dir_all(blobs_dir)?;
        let mut temporary = tempfile::Builder::new()
            .prefix(&format!("{}.", metadata.etag))
            .suffix(".incomplete")
            .tempfile_in(blobs_dir)
            .map_err(cache_error(blobs_dir))?;
        let mut reader = response.into_body().into_reader();
        let mut buffer = vec![0u8; DOWNLOAD_CHUNK_BYTES];
        let mut bytes_done: u64 = 0;
        report(0);
        loop {
            let n_read = match reader.read(&mut buffer) {
                Ok(0) => break,
                Ok(n_read) => n_read,
                Err(error) if error.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(error) => return Err(interrupted(bytes_done, error.to_string())),
            };
            bytes_done += n_read as u64;
            if bytes_done > metadata.size {
                return Err(HubError::SizeMismatch {
                    file: file.to_owned(),
                    bytes_received: bytes_done,
                    bytes_announced: metadata.size,
                });
            }
            temporary
                .write_all(&buffer[..n_read])
                .map_err(cache_error(temporary.path()))?;
            report(bytes_done);
        }
        if bytes_done != metadata.size {
            return Err(HubError::SizeMismatch {
                file: file.to_owned(),
                bytes_received: bytes_done,
                bytes_announced: metadata.size,
            });
        }
        temporary
            .as_file()
            .sync_all()
            .map_err(cache_error(temporary.path()))?;
        temporary
            .persist(blob_path)
            .map_err(|error| cache_error(blob_path)(error.error))?;
        Ok(())
    }
}

/// `scheme://host[:port]` of a URL.
fn origin_of(url: &str) -> &str {
    let after_scheme = url.find("://").map_or(0, |index| index + 3);
    match url[after_scheme..].find('/') {
        Some(index) => &url[..after_scheme + index],
        None => url,
    }
}

/// Percent-encodes everything but unreserved characters (and `/` when `keep_slash`), as
/// huggingface_hub's `quote` does for revisions and file names.
fn percent_encode(text: &str, keep_slash: bool) -> String {
    let mut encoded = String::with_capacity(text.len());
    for byte in text.bytes() {
        let unreserved = byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~');
        if unreserved || (keep_slash && byte == b'/') {
            encoded.push(byte as char);
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}

/// One online fetch of a repo into the cache.
struct Fetcher<'a> {
    client: HubClient,
    cache: RepoCache,
    repo: &'a HubRepo,
    progress: &'a dyn Fn(DownloadProgress),
}

impl Fetcher<'_> {
    fn fetch(&self) -> HubResult<PathBuf> {
        let first_file = REQUIRED_FILES[0];
        // The first answer fixes the commit; every other file is fetched at that commit so that
        // the snapshot is consistent even if the branch moves meanwhile.
        let config_metadata =
            match self
                .client
                .file_metadata(self.repo, &self.repo.revision, first_file)
            {
                Ok(metadata) => metadata,
                Err(MetadataFailure::Unreachable(message)) => {
                    return self
                        .cache
                        .complete_snapshot(&self.repo.revision)
                        .map_err(|_| HubError::Unreachable {
                            endpoint: self.client.endpoint.clone(),
                            repo_id: self.repo.repo_id.clone(),
                            cache_dir: self
                                .cache
                                .root
                                .parent()
                                .unwrap_or(&self.cache.root)
                                .to_owned(),
                            message,
                        })
                }
                // A failing hub is no reason to refuse a model that is already here, as
                // with huggingface_hub; a definite answer (no such repo) is.
                Err(MetadataFailure::Other(error @ HubError::ServerError { .. })) => {
                    return self
                        .cache
                        .complete_snapshot(&self.repo.revision)
                        .map_err(|_| error)
                }
                Err(MetadataFailure::NotFound(error) | MetadataFailure::Other(error)) => {
                    return Err(error)
                }
            };
        let commit = config_metadata.commit.clone();
        self.ensure_file(&commit, first_file, Some(config_metadata))?;
        for file in &REQUIRED_FILES[1..] {
            self.ensure_file(&commit, file, None)?;
        }
        self.ensure_weights(&commit)?;
        for file in OPTIONAL_FILES {
            self.ensure_optional_file(&commit, file)?;
        }
        if self.repo.revision != commit {
            self.cache.write_ref(&self.repo.revision, &commit)?;
        }
        Ok(self.cache.snapshot_dir(&commit))
    }

    fn ensure_weights(&self, commit: &str) -> HubResult<()> {
        if self.is_cached(commit, SINGLE_FILE) {
            return Ok(());
        }
        if !self.is_cached(commit, INDEX_FILE) {
            match self.client.file_metadata(self.repo, commit, SINGLE_FILE) {
                Ok(metadata) => return self.ensure_file(commit, SINGLE_FILE, Some(metadata)),
                Err(MetadataFailure::NotFound(_)) => {}
                Err(failure) => return Err(self.failure_error(failure)),
            }
            match self.client.file_metadata(self.repo, commit, INDEX_FILE) {
                Ok(metadata) => self.ensure_file(commit, INDEX_FILE, Some(metadata))?,
                Err(MetadataFailure::NotFound(_)) => {
                    return Err(HubError::NoWeights {
                        repo_id: self.repo.repo_id.clone(),
                        revision: self.repo.revision.clone(),
                    })
                }
                Err(failure) => return Err(self.failure_error(failure)),
            }
        }
        let index_path = self.cache.snapshot_dir(commit).join(INDEX_FILE);
        for shard in shard_names(&index_path)? {
            self.ensure_file(commit, &shard, None)?;
        }
        Ok(())
    }

    fn ensure_optional_file(&self, commit: &str, file: &str) -> HubResult<()> {
        if self.is_cached(commit, file) || self.cache.no_exist_path(commit, file).exists() {
            return Ok(());
        }
        match self.client.file_metadata(self.repo, commit, file) {
            Ok(metadata) => self.ensure_file(commit, file, Some(metadata)),
            Err(MetadataFailure::NotFound(_)) => {
                // Remembered as huggingface_hub does, so that later runs (and offline ones)
                // need not ask again.
                let marker = self.cache.no_exist_path(commit, file);
                create_dir_all(marker.parent().unwrap_or(&self.cache.root))?;
                std::fs::write(&marker, b"").map_err(cache_error(&marker))
            }
            Err(failure) => Err(self.failure_error(failure)),
        }
    }

    fn is_cached(&self, commit: &str, file: &str) -> bool {
        // `is_file` follows the symlink, so a link whose blob is gone counts as missing.
        self.cache.snapshot_dir(commit).join(file).is_file()
    }

    /// Makes `snapshots/COMMIT/FILE` present: already there, linked to a blob already
    /// downloaded, or downloaded now.
    fn ensure_file(
        &self,
        commit: &str,
        file: &str,
        metadata: Option<FileMetadata>,
    ) -> HubResult<()> {
        if self.is_cached(commit, file) {
            return Ok(());
        }
        let metadata = match metadata {
            Some(metadata) => metadata,
            None => self
                .client
                .file_metadata(self.repo, commit, file)
                .map_err(|failure| self.failure_error(failure))?,
        };
        let blob_path = self.cache.blobs_dir().join(&metadata.etag);
        let blob_is_complete = std::fs::metadata(&blob_path)
            .map(|blob| blob.is_file() && blob.len() == metadata.size)
            .unwrap_or(false);
        if !blob_is_complete {
            self.client
                .download_blob(&metadata, file, &blob_path, self.progress)?;
        }
        self.cache.link_snapshot_file(commit, file, &blob_path)
    }

    fn failure_error(&self, failure: MetadataFailure) -> HubError {
        match failure {
            MetadataFailure::NotFound(error) | MetadataFailure::Other(error) => error,
            MetadataFailure::Unreachable(message) => HubError::Unreachable {
                endpoint: self.client.endpoint.clone(),
                repo_id: self.repo.repo_id.clone(),
                cache_dir: self
                    .cache
                    .root
                    .parent()
                    .unwrap_or(&self.cache.root)
                    .to_owned(),
                message,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{origin_of, parse_flag, percent_encode};

    #[test]
    fn revisions_and_file_names_are_encoded_like_huggingface_hub() {
        assert_eq!(percent_encode("refs/pr/1", false), "refs%2Fpr%2F1");
        assert_eq!(
            percent_encode("sub dir/a+b.json", true),
            "sub%20dir/a%2Bb.json"
        );
        assert_eq!(percent_encode("v1.0_rc-2~x", false), "v1.0_rc-2~x");
    }

    #[test]
    fn origin_keeps_scheme_host_and_port() {
        assert_eq!(
            origin_of("http://127.0.0.1:8080/base"),
            "http://127.0.0.1:8080"
        );
        assert_eq!(
            origin_of("https://huggingface.co"),
            "https://huggingface.co"
        );
    }

    #[test]
    fn offline_flag_takes_huggingface_hub_values_and_rejects_others() {
        for (value, expected) in [
            ("1", true),
            ("TRUE", true),
            ("on", true),
            ("0", false),
            ("no", false),
        ] {
            assert_eq!(
                parse_flag("HF_HUB_OFFLINE", value).ok(),
                Some(expected),
                "{value}"
            );
        }
        assert!(parse_flag("HF_HUB_OFFLINE", "maybe").is_err());
    }
}
