//! Row-major weight matrices in their storage type (`[rows, cols]`, as Hugging Face stores a
//! linear layer's weight: `[out_features, in_features]`).

use crate::DType;
use half::{bf16, f16};

/// The elements of a matrix, kept in the checkpoint's own type so that decoding reads as few
/// bytes as the checkpoint holds.
#[derive(Debug, Clone)]
pub enum Storage {
    F32(Vec<f32>),
    F16(Vec<f16>),
    BF16(Vec<bf16>),
}

impl Storage {
    pub fn dtype(&self) -> DType {
        match self {
            Storage::F32(_) => DType::F32,
            Storage::F16(_) => DType::F16,
            Storage::BF16(_) => DType::BF16,
        }
    }

    pub fn len(&self) -> usize {
        match self {
            Storage::F32(values) => values.len(),
            Storage::F16(values) => values.len(),
            Storage::BF16(values) => values.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum MatrixError {
    #[error("a {rows}x{cols} matrix needs {expected} elements but {found} were given")]
    ElementCount {
        rows: usize,
        cols: usize,
        expected: usize,
        found: usize,
    },
    #[error("cannot concatenate matrices with {left} and {right} columns")]
    ColumnMismatch { left: usize, right: usize },
    #[error("cannot concatenate matrices stored as {left} and {right}")]
    DTypeMismatch { left: DType, right: DType },
}

/// A row-major matrix of weights.
#[derive(Debug, Clone)]
pub struct Matrix {
    rows: usize,
    cols: usize,
    storage: Storage,
}

impl Matrix {
    pub fn new(rows: usize, cols: usize, storage: Storage) -> Result<Self, MatrixError> {
        let expected = rows * cols;
        if storage.len() != expected {
            return Err(MatrixError::ElementCount {
                rows,
                cols,
                expected,
                found: storage.len(),
            });
        }
        Ok(Matrix {
            rows,
            cols,
            storage,
        })
    }

    pub fn rows(&self) -> usize {
        self.rows
    }

    pub fn cols(&self) -> usize {
        self.cols
    }

    pub fn dtype(&self) -> DType {
        self.storage.dtype()
    }

    pub fn storage(&self) -> &Storage {
        &self.storage
    }

    /// Bytes the elements occupy, which is what one pass over the matrix reads.
    pub fn size_in_bytes(&self) -> usize {
        self.storage.len() * self.dtype().size_in_bytes()
    }

    /// Copies row `row_idx` into `out` as `f32` (an embedding lookup).
    ///
    /// # Panics
    /// If `row_idx >= rows` or `out.len() != cols`: callers check token ids first.
    pub fn row_to_f32(&self, row_idx: usize, out: &mut [f32]) {
        assert!(row_idx < self.rows && out.len() == self.cols);
        let range = row_idx * self.cols..(row_idx + 1) * self.cols;
        match &self.storage {
            Storage::F32(values) => out.copy_from_slice(&values[range]),
            Storage::F16(values) => {
                for (dst, src) in out.iter_mut().zip(&values[range]) {
                    *dst = src.to_f32();
                }
            }
            Storage::BF16(values) => {
                for (dst, src) in out.iter_mut().zip(&values[range]) {
                    *dst = src.to_f32();
                }
            }
        }
    }

    /// Stacks matrices with the same column count and storage type on top of each other
    /// (used to fuse the q/k/v and gate/up projections into one pass over the input).
    pub fn concat_rows(parts: Vec<Matrix>) -> Result<Matrix, MatrixError> {
        let mut parts = parts.into_iter();
        let Some(first) = parts.next() else {
            return Ok(Matrix {
                rows: 0,
                cols: 0,
                storage: Storage::F32(Vec::new()),
            });
        };
        let Matrix {
            mut rows,
            cols,
            mut storage,
        } = first;
        for part in parts {
            if part.cols != cols {
                return Err(MatrixError::ColumnMismatch {
                    left: cols,
                    right: part.cols,
                });
            }
            rows += part.rows;
            match (&mut storage, part.storage) {
                (Storage::F32(all), Storage::F32(more)) => all.extend(more),
                (Storage::F16(all), Storage::F16(more)) => all.extend(more),
                (Storage::BF16(all), Storage::BF16(more)) => all.extend(more),
                (all, more) => {
                    return Err(MatrixError::DTypeMismatch {
                        left: all.dtype(),
                        right: more.dtype(),
                    })
                }
            }
        }
        Ok(Matrix {
            rows,
            cols,
            storage,
        })
    }
}
