//! Errors of the model room. Each names the file, tensor or field at fault and what to do.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("{path}: not found; a Hugging Face model directory needs {what}")]
    MissingFile { path: PathBuf, what: &'static str },
    #[error("{path}: cannot read: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: invalid JSON: {source}")]
    Json {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("{path}: field `{field}` {problem}")]
    ConfigField {
        path: PathBuf,
        field: String,
        problem: String,
    },
    #[error(
        "{path}: architecture `{found}` is not supported; supported architectures: {supported}"
    )]
    UnsupportedArchitecture {
        path: PathBuf,
        found: String,
        supported: String,
    },
    #[error("{path}: not a valid safetensors file: {problem}")]
    SafeTensors { path: PathBuf, problem: String },
    #[error("{path}: tensor `{tensor}` is missing")]
    MissingTensor { path: PathBuf, tensor: String },
    #[error("{path}: tensor `{tensor}` has shape {found:?} but config.json implies {expected:?}")]
    TensorShape {
        path: PathBuf,
        tensor: String,
        found: Vec<usize>,
        expected: Vec<usize>,
    },
    #[error("{path}: tensor `{tensor}` is stored as {found} but {expected}")]
    TensorDType {
        path: PathBuf,
        tensor: String,
        found: String,
        expected: String,
    },
    #[error("{path}: weight_map entry `{file}` for tensor `{tensor}` {problem}")]
    WeightMapEntry {
        path: PathBuf,
        tensor: String,
        file: String,
        problem: String,
    },
    #[error("{path}: invalid tokenizer: {message}")]
    Tokenizer { path: PathBuf, message: String },
    #[error("tokenizer failed on the input text: {message}")]
    Encoding { message: String },
    #[error(
        "the input has {n_tokens} tokens but the model's context holds {context_length}; \
         shorten the prompt"
    )]
    TooLong {
        n_tokens: usize,
        context_length: usize,
    },
    #[error("token id {token_id} is outside the model's vocabulary of {vocab_size}")]
    TokenOutOfVocabulary { token_id: u32, vocab_size: usize },
    #[error("{what} is invalid: {problem}")]
    InvalidRequest { what: &'static str, problem: String },
    #[error("unknown synthetic model `{name}`; known shapes: {known}")]
    UnknownSyntheticShape { name: String, known: String },
    #[error("the cuda device cannot be used: {reason}")]
    DeviceUnavailable { reason: String },
    #[error("{0}")]
    KvCache(#[from] proofwright_kernels::paged::PagedError),
    #[cfg(feature = "cuda")]
    #[error("the GPU failed: {0}")]
    Gpu(#[from] proofwright_kernels::cuda::CudaError),
}

pub type Result<T, E = ModelError> = std::result::Result<T, E>;
