//! `config.json`, `generation_config.json` and `tokenizer_config.json`, in both layouts seen in
//! the wild: the older one (`rope_theta`, `rope_scaling` with `type`, `torch_dtype`) and the one
//! transformers 5 writes (`rope_parameters` with `rope_type`, `dtype`).

use crate::error::{ModelError, Result};
use crate::rope::{RopeConfig, RopeScaling};
use proofwright_kernels::DType;
use serde_json::{Map, Value};
use std::path::{Path, PathBuf};

/// Decoder-only architectures the engine runs (the `architectures[0]` of `config.json`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Architecture {
    Llama,
    Mistral,
    Qwen2,
    Qwen3,
}

impl Architecture {
    pub const SUPPORTED: [(&'static str, Architecture); 4] = [
        ("LlamaForCausalLM", Architecture::Llama),
        ("MistralForCausalLM", Architecture::Mistral),
        ("Qwen2ForCausalLM", Architecture::Qwen2),
        ("Qwen3ForCausalLM", Architecture::Qwen3),
    ];

    pub fn hf_name(self) -> &'static str {
        Self::SUPPORTED
            .iter()
            .find(|(_, arch)| *arch == self)
            .map(|(name, _)| *name)
            .unwrap_or("")
    }

    fn supported_list() -> String {
        Self::SUPPORTED
            .iter()
            .map(|(name, _)| *name)
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// The shape and hyper-parameters of a model, read from `config.json`.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelConfig {
    pub architecture: Architecture,
    pub hidden_size: usize,
    pub intermediate_size: usize,
    pub num_hidden_layers: usize,
    pub num_attention_heads: usize,
    pub num_key_value_heads: usize,
    pub head_dim: usize,
    pub vocab_size: usize,
    pub max_position_embeddings: usize,
    pub rms_norm_eps: f32,
    pub rope: RopeConfig,
    pub tie_word_embeddings: bool,
    /// Bias on the q, k and v projections.
    pub qkv_bias: bool,
    /// Bias on the output projection.
    pub o_bias: bool,
    /// Bias on the MLP projections (Llama's `mlp_bias`).
    pub mlp_bias: bool,
    /// Per-head RMSNorm of queries and keys before rotation (Qwen3).
    pub qk_norm: bool,
    /// Sliding attention window for each layer (`None`: full attention).
    pub layer_sliding_window: Vec<Option<usize>>,
    /// The weights' declared storage type, if config.json names one.
    pub dtype: Option<DType>,
    pub bos_token_id: Option<u32>,
    pub eos_token_ids: Vec<u32>,
}

impl ModelConfig {
    pub fn from_file(path: &Path) -> Result<Self> {
        let value = read_json(path)?;
        Self::from_json(path, &value)
    }

    pub fn from_json(path: &Path, value: &Value) -> Result<Self> {
        let fields = Fields {
            path,
            object: as_object(path, value, "config.json")?,
        };
        let architecture_name = match fields.object.get("architectures") {
            Some(Value::Array(names)) if !names.is_empty() => {
                names[0].as_str().map(str::to_owned).ok_or_else(|| {
                    fields.error("architectures", "must be a list of strings".to_owned())
                })?
            }
            _ => {
                return Err(fields.error(
                    "architectures",
                    format!(
                        "is missing; expected one of {}",
                        Architecture::supported_list()
                    ),
                ))
            }
        };
        let architecture = Architecture::SUPPORTED
            .iter()
            .find(|(name, _)| *name == architecture_name)
            .map(|(_, arch)| *arch)
            .ok_or_else(|| ModelError::UnsupportedArchitecture {
                path: path.to_owned(),
                found: architecture_name.clone(),
                supported: Architecture::supported_list(),
            })?;

        let hidden_size = fields.required_usize("hidden_size")?;
        let num_attention_heads = fields.required_usize("num_attention_heads")?;
        let num_key_value_heads = fields
            .optional_usize("num_key_value_heads")?
            .unwrap_or(num_attention_heads);
        if num_attention_heads == 0 || num_key_value_heads == 0 {
            return Err(fields.error("num_attention_heads", "must be positive".to_owned()));
        }
        if num_attention_heads % num_key_value_heads != 0 {
            return Err(fields.error(
                "num_key_value_heads",
                format!("({num_key_value_heads}) must divide num_attention_heads ({num_attention_heads})"),
            ));
        }
        let head_dim = match fields.optional_usize("head_dim")? {
            Some(head_dim) => head_dim,
            None if hidden_size % num_attention_heads == 0 => hidden_size / num_attention_heads,
            None => {
                return Err(fields.error(
                    "head_dim",
                    "is missing and hidden_size is not a multiple of num_attention_heads"
                        .to_owned(),
                ))
            }
        };
        if head_dim == 0 || head_dim % 2 != 0 {
            return Err(fields.error(
                "head_dim",
                format!("({head_dim}) must be even and positive"),
            ));
        }
        let num_hidden_layers = fields.required_usize("num_hidden_layers")?;
        let default_max_positions = match architecture {
            Architecture::Llama => 2048,
            Architecture::Mistral => 4096 * 32,
            Architecture::Qwen2 | Architecture::Qwen3 => 32768,
        };
        let max_position_embeddings = fields
            .optional_usize("max_position_embeddings")?
            .unwrap_or(default_max_positions);
        let default_eps = match architecture {
            Architecture::Llama | Architecture::Qwen2 | Architecture::Qwen3 => 1e-6,
            Architecture::Mistral => 1e-6,
        };
        let rms_norm_eps = fields.optional_f64("rms_norm_eps")?.unwrap_or(default_eps) as f32;
        let attention_bias = fields.optional_bool("attention_bias")?.unwrap_or(false);
        let (qkv_bias, o_bias) = match architecture {
            Architecture::Llama | Architecture::Qwen3 => (attention_bias, attention_bias),
            Architecture::Qwen2 => (true, false),
            Architecture::Mistral => (false, false),
        };
        let mlp_bias = architecture == Architecture::Llama
            && fields.optional_bool("mlp_bias")?.unwrap_or(false);
        let layer_sliding_window = sliding_windows(&fields, architecture, num_hidden_layers)?;
        let dtype = match fields
            .object
            .get("dtype")
            .or_else(|| fields.object.get("torch_dtype"))
        {
            None | Some(Value::Null) => None,
            Some(Value::String(name)) => Some(parse_dtype(name).ok_or_else(|| {
                fields.error(
                    "dtype",
                    format!("`{name}` is not float32, float16 or bfloat16"),
                )
            })?),
            Some(_) => return Err(fields.error("dtype", "must be a string".to_owned())),
        };
        let rope = rope_config(&fields, head_dim, max_position_embeddings)?;

        Ok(ModelConfig {
            architecture,
            hidden_size,
            intermediate_size: fields.required_usize("intermediate_size")?,
            num_hidden_layers,
            num_attention_heads,
            num_key_value_heads,
            head_dim,
            vocab_size: fields.required_usize("vocab_size")?,
            max_position_embeddings,
            rms_norm_eps,
            rope,
            tie_word_embeddings: fields
                .optional_bool("tie_word_embeddings")?
                .unwrap_or(false),
            qkv_bias,
            o_bias,
            mlp_bias,
            qk_norm: architecture == Architecture::Qwen3,
            layer_sliding_window,
            dtype,
            bos_token_id: fields.optional_token_ids("bos_token_id")?.first().copied(),
            eos_token_ids: fields.optional_token_ids("eos_token_id")?,
        })
    }

    /// Width of the query projection (heads × head size).
    pub fn q_dim(&self) -> usize {
        self.num_attention_heads * self.head_dim
    }

    /// Width of the key and of the value projection.
    pub fn kv_dim(&self) -> usize {
        self.num_key_value_heads * self.head_dim
    }

    /// The longest sequence (prompt plus generated tokens) the model accepts. Dynamic NTK
    /// scaling exists to run past `max_position_embeddings` and transformers sets it no bound,
    /// so neither do we (`usize::MAX`); memory is then the only limit.
    pub fn context_length(&self) -> usize {
        match self.rope.scaling {
            RopeScaling::Dynamic { .. } => usize::MAX,
            _ => self.max_position_embeddings,
        }
    }
}

fn sliding_windows(
    fields: &Fields,
    architecture: Architecture,
    num_hidden_layers: usize,
) -> Result<Vec<Option<usize>>> {
    let window = fields.optional_usize("sliding_window")?;
    if let Some(Value::Array(layer_types)) = fields.object.get("layer_types") {
        if layer_types.len() != num_hidden_layers {
            return Err(fields.error(
                "layer_types",
                format!(
                    "has {} entries for {num_hidden_layers} layers",
                    layer_types.len()
                ),
            ));
        }
        return layer_types
            .iter()
            .map(|kind| match kind.as_str() {
                Some("full_attention") => Ok(None),
                Some("sliding_attention") => window.map(Some).ok_or_else(|| {
                    fields.error("sliding_window", "is needed by layer_types".to_owned())
                }),
                _ => Err(fields.error(
                    "layer_types",
                    format!("entry {kind} is not full_attention or sliding_attention"),
                )),
            })
            .collect();
    }
    Ok(match architecture {
        Architecture::Mistral => vec![window; num_hidden_layers],
        Architecture::Qwen2 | Architecture::Qwen3 => {
            let enabled = fields.optional_bool("use_sliding_window")?.unwrap_or(false);
            let first_sliding_layer = fields
                .optional_usize("max_window_layers")?
                .unwrap_or(num_hidden_layers);
            (0..num_hidden_layers)
                .map(|layer_idx| {
                    (enabled && layer_idx >= first_sliding_layer)
                        .then_some(window)
                        .flatten()
                })
                .collect()
        }
        Architecture::Llama => vec![None; num_hidden_layers],
    })
}

fn rope_config(
    fields: &Fields,
    head_dim: usize,
    max_position_embeddings: usize,
) -> Result<RopeConfig> {
    // transformers 5 nests everything under `rope_parameters`; older files keep `rope_theta`
    // at the top and the scaling under `rope_scaling`, with its kind under `type`.
    let (parameters, field_name) = match fields.object.get("rope_parameters") {
        Some(Value::Object(parameters)) => (Some(parameters), "rope_parameters"),
        Some(Value::Null) | None => match fields.object.get("rope_scaling") {
            Some(Value::Object(parameters)) => (Some(parameters), "rope_scaling"),
            Some(Value::Null) | None => (None, "rope_scaling"),
            Some(_) => return Err(fields.error("rope_scaling", "must be an object".to_owned())),
        },
        Some(_) => return Err(fields.error("rope_parameters", "must be an object".to_owned())),
    };
    let empty = Map::new();
    let parameters = parameters.unwrap_or(&empty);
    let scaling_fields = Fields {
        path: fields.path,
        object: parameters,
    };
    let theta = match scaling_fields.optional_f64("rope_theta")? {
        Some(theta) => theta,
        None => fields.optional_f64("rope_theta")?.unwrap_or(10000.0),
    };
    let kind = parameters
        .get("rope_type")
        .or_else(|| parameters.get("type"))
        .and_then(Value::as_str)
        .unwrap_or("default");
    let prefixed = |key: &str| format!("{field_name}.{key}");
    let factor = || -> Result<f64> {
        scaling_fields
            .optional_f64("factor")?
            .ok_or_else(|| fields.error(&prefixed("factor"), format!("is required for `{kind}`")))
    };
    let scaling = match kind {
        "default" => RopeScaling::Default,
        "linear" => RopeScaling::Linear { factor: factor()? },
        "dynamic" => RopeScaling::Dynamic { factor: factor()? },
        "llama3" => {
            let required = |key: &str| -> Result<f64> {
                scaling_fields.optional_f64(key)?.ok_or_else(|| {
                    fields.error(&prefixed(key), "is required for `llama3`".to_owned())
                })
            };
            RopeScaling::Llama3 {
                factor: factor()?,
                low_freq_factor: required("low_freq_factor")?,
                high_freq_factor: required("high_freq_factor")?,
                original_max_position_embeddings: required("original_max_position_embeddings")?,
            }
        }
        "yarn" => RopeScaling::Yarn {
            factor: factor()?,
            original_max_position_embeddings: scaling_fields
                .optional_f64("original_max_position_embeddings")?,
            attention_factor: scaling_fields.optional_f64("attention_factor")?,
            beta_fast: scaling_fields.optional_f64("beta_fast")?,
            beta_slow: scaling_fields.optional_f64("beta_slow")?,
            mscale: scaling_fields.optional_f64("mscale")?,
            mscale_all_dim: scaling_fields.optional_f64("mscale_all_dim")?,
            truncate: scaling_fields.optional_bool("truncate")?.unwrap_or(true),
        },
        other => {
            return Err(fields.error(
                &prefixed("rope_type"),
                format!(
                    "`{other}` is not supported; supported: default, linear, dynamic, llama3, yarn"
                ),
            ))
        }
    };
    Ok(RopeConfig {
        theta,
        head_dim,
        max_position_embeddings,
        scaling,
    })
}

fn parse_dtype(name: &str) -> Option<DType> {
    match name.trim_start_matches("torch.") {
        "float32" | "float" => Some(DType::F32),
        "float16" | "half" => Some(DType::F16),
        "bfloat16" => Some(DType::BF16),
        _ => None,
    }
}

/// The defaults `generate` uses when the command line does not set them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GenerationDefaults {
    pub eos_token_ids: Vec<u32>,
    pub bos_token_id: Option<u32>,
    pub do_sample: Option<bool>,
    pub temperature: Option<f64>,
    pub top_k: Option<usize>,
    pub top_p: Option<f64>,
    pub max_new_tokens: Option<usize>,
}

impl GenerationDefaults {
    pub fn from_file(path: &Path) -> Result<Self> {
        let value = read_json(path)?;
        let fields = Fields {
            path,
            object: as_object(path, &value, "generation_config.json")?,
        };
        Ok(GenerationDefaults {
            eos_token_ids: fields.optional_token_ids("eos_token_id")?,
            bos_token_id: fields.optional_token_ids("bos_token_id")?.first().copied(),
            do_sample: fields.optional_bool("do_sample")?,
            temperature: fields.optional_f64("temperature")?,
            top_k: fields.optional_usize("top_k")?,
            top_p: fields.optional_f64("top_p")?,
            max_new_tokens: fields.optional_usize("max_new_tokens")?,
        })
    }
}

/// What `tokenizer_config.json` says beyond `tokenizer.json`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TokenizerSettings {
    pub bos_token: Option<String>,
    pub eos_token: Option<String>,
    /// The default chat template (the one named `default` when several are given).
    pub chat_template: Option<String>,
}

impl TokenizerSettings {
    pub fn from_file(path: &Path) -> Result<Self> {
        let value = read_json(path)?;
        let object = as_object(path, &value, "tokenizer_config.json")?;
        let token = |key: &str| -> Option<String> {
            match object.get(key)? {
                Value::String(content) => Some(content.clone()),
                Value::Object(added) => added.get("content")?.as_str().map(str::to_owned),
                _ => None,
            }
        };
        let chat_template = match object.get("chat_template") {
            Some(Value::String(template)) => Some(template.clone()),
            Some(Value::Array(named)) => named
                .iter()
                .find(|entry| entry.get("name").and_then(Value::as_str) == Some("default"))
                .or_else(|| named.first())
                .and_then(|entry| entry.get("template"))
                .and_then(Value::as_str)
                .map(str::to_owned),
            _ => None,
        };
        Ok(TokenizerSettings {
            bos_token: token("bos_token"),
            eos_token: token("eos_token"),
            chat_template,
        })
    }
}

pub(crate) fn read_json(path: &Path) -> Result<Value> {
    let bytes = std::fs::read(path).map_err(|source| io_error(path, source))?;
    serde_json::from_slice(&bytes).map_err(|source| ModelError::Json {
        path: path.to_owned(),
        source,
    })
}

pub(crate) fn io_error(path: &Path, source: std::io::Error) -> ModelError {
    if source.kind() == std::io::ErrorKind::NotFound {
        ModelError::MissingFile {
            path: path.to_owned(),
            what: "this file",
        }
    } else {
        ModelError::Io {
            path: path.to_owned(),
            source,
        }
    }
}

fn as_object<'v>(path: &Path, value: &'v Value, what: &str) -> Result<&'v Map<String, Value>> {
    value.as_object().ok_or_else(|| ModelError::ConfigField {
        path: path.to_owned(),
        field: "(top level)".to_owned(),
        problem: format!("must be a JSON object, as {what} is"),
    })
}

/// Typed access to the fields of one JSON object, with errors that name the file and field.
struct Fields<'a> {
    path: &'a Path,
    object: &'a Map<String, Value>,
}

impl Fields<'_> {
    fn error(&self, field: &str, problem: String) -> ModelError {
        ModelError::ConfigField {
            path: PathBuf::from(self.path),
            field: field.to_owned(),
            problem,
        }
    }

    fn present(&self, key: &str) -> Option<&Value> {
        self.object.get(key).filter(|value| !value.is_null())
    }

    fn required_usize(&self, key: &str) -> Result<usize> {
        self.optional_usize(key)?
            .ok_or_else(|| self.error(key, "is missing".to_owned()))
    }

    fn optional_usize(&self, key: &str) -> Result<Option<usize>> {
        match self.present(key) {
            None => Ok(None),
            Some(value) => value.as_u64().map(|v| Some(v as usize)).ok_or_else(|| {
                self.error(
                    key,
                    format!("must be a non-negative integer, found {value}"),
                )
            }),
        }
    }

    fn optional_f64(&self, key: &str) -> Result<Option<f64>> {
        match self.present(key) {
            None => Ok(None),
            Some(value) => value
                .as_f64()
                .map(Some)
                .ok_or_else(|| self.error(key, format!("must be a number, found {value}"))),
        }
    }

    fn optional_bool(&self, key: &str) -> Result<Option<bool>> {
        match self.present(key) {
            None => Ok(None),
            Some(value) => value
                .as_bool()
                .map(Some)
                .ok_or_else(|| self.error(key, format!("must be true or false, found {value}"))),
        }
    }

    /// A token id given as one integer or a list of integers.
    fn optional_token_ids(&self, key: &str) -> Result<Vec<u32>> {
        let to_id = |value: &Value| {
            value
                .as_u64()
                .and_then(|v| u32::try_from(v).ok())
                .ok_or_else(|| self.error(key, format!("must hold token ids, found {value}")))
        };
        match self.present(key) {
            None => Ok(Vec::new()),
            Some(Value::Array(values)) => values.iter().map(to_id).collect(),
            Some(value) => Ok(vec![to_id(value)?]),
        }
    }
}
