//! Weights from safetensors files: one `model.safetensors`, or the shards that
//! `model.safetensors.index.json` lists. Files are memory-mapped and their headers validated by
//! the `safetensors` crate (lengths, offsets that neither overlap nor run past the file) before
//! any tensor is read.

use crate::config::{io_error, read_json};
use crate::error::{ModelError, Result};
use proofwright_kernels::{DType, Matrix, Storage};
use safetensors::tensor::{Dtype as FileDType, TensorView};
use safetensors::SafeTensors;
use std::collections::HashMap;
use std::fs::File;
use std::path::{Component, Path, PathBuf};

pub const SINGLE_FILE: &str = "model.safetensors";
pub const INDEX_FILE: &str = "model.safetensors.index.json";

/// The Hugging Face cache keeps a snapshot's files as symlinks into the repo's `blobs` folder
/// (`models--ORG--NAME/snapshots/COMMIT/FILE -> ../../blobs/ETAG`): for a model directory that is
/// such a snapshot, that folder, where its shards may resolve.
fn hub_cache_blobs(model_dir_real: &Path) -> Option<PathBuf> {
    let snapshots = model_dir_real.parent()?;
    let repo = snapshots.parent()?;
    let is_snapshot = snapshots.file_name()? == "snapshots"
        && repo.file_name()?.to_str()?.starts_with("models--");
    is_snapshot.then(|| repo.join("blobs"))
}

/// The memory maps of a checkpoint's files, which tensors borrow while weights are built.
pub struct MappedFiles {
    files: Vec<(PathBuf, memmap2::Mmap)>,
    /// For sharded checkpoints, which file each tensor is in.
    weight_map: Option<HashMap<String, usize>>,
}

impl MappedFiles {
    pub fn open(model_dir: &Path) -> Result<Self> {
        let index_path = model_dir.join(INDEX_FILE);
        if index_path.exists() {
            return Self::open_sharded(model_dir, &index_path);
        }
        let single = model_dir.join(SINGLE_FILE);
        if !single.exists() {
            let what = if model_dir.join("pytorch_model.bin").exists() {
                "safetensors weights (model.safetensors or model.safetensors.index.json); \
                 only PyTorch .bin weights are here: convert them to safetensors"
            } else {
                "weights: model.safetensors, or shards listed in model.safetensors.index.json"
            };
            return Err(ModelError::MissingFile { path: single, what });
        }
        Ok(MappedFiles {
            files: vec![(single.clone(), map(&single)?)],
            weight_map: None,
        })
    }

    fn open_sharded(model_dir: &Path, index_path: &Path) -> Result<Self> {
        let index = read_json(index_path)?;
        let Some(entries) = index.get("weight_map").and_then(|map| map.as_object()) else {
            return Err(ModelError::ConfigField {
                path: index_path.to_owned(),
                field: "weight_map".to_owned(),
                problem: "is missing or not an object of tensor name → file name".to_owned(),
            });
        };
        let model_dir_real = model_dir
            .canonicalize()
            .map_err(|e| io_error(model_dir, e))?;
        let hub_blobs = hub_cache_blobs(&model_dir_real);
        let mut file_indices: HashMap<String, usize> = HashMap::new();
        let mut files = Vec::new();
        let mut weight_map = HashMap::new();
        for (tensor, file) in entries {
            let entry_error = |file: &str, problem: &str| ModelError::WeightMapEntry {
                path: index_path.to_owned(),
                tensor: tensor.clone(),
                file: file.to_owned(),
                problem: problem.to_owned(),
            };
            let Some(file) = file.as_str() else {
                return Err(entry_error(&file.to_string(), "is not a string"));
            };
            let file_idx = match file_indices.get(file) {
                Some(&idx) => idx,
                None => {
                    let relative = Path::new(file);
                    if relative.is_absolute() || relative.has_root() {
                        return Err(entry_error(
                            file,
                            "is an absolute path; shards must be inside the model directory",
                        ));
                    }
                    if relative
                        .components()
                        .any(|c| !matches!(c, Component::Normal(_)))
                    {
                        return Err(entry_error(file, "contains `..` or `.`; shards must be plain names inside the model directory"));
                    }
                    let shard_path = model_dir.join(relative);
                    let real = shard_path.canonicalize().map_err(|source| {
                        if source.kind() == std::io::ErrorKind::NotFound {
                            entry_error(file, "names a file that does not exist")
                        } else {
                            ModelError::Io {
                                path: shard_path.clone(),
                                source,
                            }
                        }
                    })?;
                    let inside_blobs = hub_blobs
                        .as_ref()
                        .is_some_and(|blobs| real.starts_with(blobs));
                    if !real.starts_with(&model_dir_real) && !inside_blobs {
                        return Err(entry_error(
                            file,
                            "resolves (through a symlink) outside the model directory",
                        ));
                    }
                    files.push((shard_path.clone(), map(&shard_path)?));
                    file_indices.insert(file.to_owned(), files.len() - 1);
                    files.len() - 1
                }
            };
            weight_map.insert(tensor.clone(), file_idx);
        }
        Ok(MappedFiles {
            files,
            weight_map: Some(weight_map),
        })
    }

    /// Parses and validates every file's header.
    pub fn parse(&self) -> Result<Tensors<'_>> {
        let mut parsed = Vec::with_capacity(self.files.len());
        for (path, bytes) in &self.files {
            let tensors =
                SafeTensors::deserialize(bytes).map_err(|error| ModelError::SafeTensors {
                    path: path.clone(),
                    problem: describe(&error),
                })?;
            parsed.push((path.as_path(), tensors));
        }
        Ok(Tensors {
            parsed,
            weight_map: self.weight_map.as_ref(),
        })
    }

    /// Total size of the weight files in bytes.
    pub fn total_bytes(&self) -> usize {
        self.files.iter().map(|(_, bytes)| bytes.len()).sum()
    }
}

fn map(path: &Path) -> Result<memmap2::Mmap> {
    let file = File::open(path).map_err(|e| io_error(path, e))?;
    // SAFETY: the map is read-only; a file changed underneath us while loading can at worst
    // give wrong weights, which the shape and header checks catch in the common cases.
    unsafe { memmap2::Mmap::map(&file) }.map_err(|source| ModelError::Io {
        path: path.to_owned(),
        source,
    })
}

fn describe(error: &safetensors::SafeTensorError) -> String {
    use safetensors::SafeTensorError as E;
    match error {
        E::HeaderTooSmall => {
            "the file is shorter than its 8-byte header length (truncated?)".to_owned()
        }
        E::HeaderTooLarge => "the header length is larger than the format allows".to_owned(),
        E::InvalidHeaderLength => {
            "the header length is larger than the file (truncated?)".to_owned()
        }
        E::InvalidOffset(name) => {
            format!("tensor `{name}` has offsets that overlap another tensor or leave a gap")
        }
        E::MetadataIncompleteBuffer => {
            "the tensors' offsets do not match the file's size (truncated or out-of-range offsets)"
                .to_owned()
        }
        other => other.to_string(),
    }
}

/// The parsed files, from which tensors are read by name.
pub struct Tensors<'data> {
    parsed: Vec<(&'data Path, SafeTensors<'data>)>,
    weight_map: Option<&'data HashMap<String, usize>>,
}

impl<'data> Tensors<'data> {
    /// Whether a tensor is present in the checkpoint.
    pub fn contains(&self, name: &str) -> bool {
        match self.weight_map {
            Some(map) => map.contains_key(name),
            None => self
                .parsed
                .iter()
                .any(|(_, file)| file.tensor(name).is_ok()),
        }
    }

    fn view(&self, name: &str) -> Result<(&'data Path, TensorView<'data>)> {
        let candidates: Vec<usize> = match self.weight_map {
            Some(map) => match map.get(name) {
                Some(&idx) => vec![idx],
                None => Vec::new(),
            },
            None => (0..self.parsed.len()).collect(),
        };
        for idx in &candidates {
            let (path, file) = &self.parsed[*idx];
            if let Ok(view) = file.tensor(name) {
                return Ok((path, view));
            }
        }
        let path = match (self.weight_map, candidates.first()) {
            (Some(_), Some(&idx)) => self.parsed[idx].0.to_owned(),
            _ => self
                .parsed
                .first()
                .map(|(p, _)| p.to_path_buf())
                .unwrap_or_default(),
        };
        Err(ModelError::MissingTensor {
            path,
            tensor: name.to_owned(),
        })
    }

    /// A tensor as a matrix of `expected` shape in its own storage type.
    pub fn matrix(
        &self,
        name: &str,
        expected: [usize; 2],
        declared: Option<DType>,
    ) -> Result<Matrix> {
        let (path, view) = self.view(name)?;
        check_shape(path, name, view.shape(), &expected)?;
        let storage = storage(path, name, &view, declared)?;
        Matrix::new(expected[0], expected[1], storage).map_err(|error| ModelError::SafeTensors {
            path: path.to_owned(),
            problem: format!("tensor `{name}`: {error}"),
        })
    }

    /// A 1-dimensional tensor (norm weights, biases) widened to f32.
    pub fn vector(
        &self,
        name: &str,
        expected_len: usize,
        declared: Option<DType>,
    ) -> Result<Vec<f32>> {
        let (path, view) = self.view(name)?;
        check_shape(path, name, view.shape(), &[expected_len])?;
        Ok(match storage(path, name, &view, declared)? {
            Storage::F32(values) => values,
            Storage::F16(values) => values.iter().map(|v| v.to_f32()).collect(),
            Storage::BF16(values) => values.iter().map(|v| v.to_f32()).collect(),
        })
    }
}

fn check_shape(path: &Path, name: &str, found: &[usize], expected: &[usize]) -> Result<()> {
    if found != expected {
        return Err(ModelError::TensorShape {
            path: path.to_owned(),
            tensor: name.to_owned(),
            found: found.to_vec(),
            expected: expected.to_vec(),
        });
    }
    Ok(())
}

fn storage(path: &Path, name: &str, view: &TensorView, declared: Option<DType>) -> Result<Storage> {
    let found = match view.dtype() {
        FileDType::F32 => DType::F32,
        FileDType::F16 => DType::F16,
        FileDType::BF16 => DType::BF16,
        other => {
            return Err(ModelError::TensorDType {
                path: path.to_owned(),
                tensor: name.to_owned(),
                found: format!("{other:?}"),
                expected: "only F32, F16 and BF16 weights are supported".to_owned(),
            })
        }
    };
    if let Some(declared) = declared {
        if declared != found {
            return Err(ModelError::TensorDType {
                path: path.to_owned(),
                tensor: name.to_owned(),
                found: found.to_string(),
                expected: format!(
                    "config.json declares {} ({declared})",
                    declared.torch_name()
                ),
            });
        }
    }
    // The data may sit at any alignment inside the map; copying aligns it.
    let bytes = view.data();
    Ok(match found {
        DType::F32 => Storage::F32(bytemuck::pod_collect_to_vec(bytes)),
        DType::F16 => Storage::F16(bytemuck::pod_collect_to_vec(bytes)),
        DType::BF16 => Storage::BF16(bytemuck::pod_collect_to_vec(bytes)),
    })
}
