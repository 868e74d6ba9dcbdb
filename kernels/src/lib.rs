//! proofwright-kernels: the compute room. Weight buffers and the op set a decoder-only
//! transformer needs (linear layers, RMSNorm, rotary embeddings, attention, SiLU·mul,
//! sampling), implemented for the CPU with runtime-selected SIMD and, behind the `cuda`
//! feature, for NVIDIA GPUs (`cuda`), plus the bookkeeping of a paged KV cache (`paged`). It
//! knows nothing of models, tokens, Lean or LSP.

pub mod cpu;
#[cfg(feature = "cuda")]
pub mod cuda;
mod dtype;
mod matrix;
pub mod paged;

pub use cpu::simd::{detected_instruction_set, InstructionSet};
pub use dtype::DType;
pub use matrix::{Matrix, MatrixError, Storage};
