//! proofwright-kernels: the compute room. Weight buffers and the op set a decoder-only
//! transformer needs (linear layers, RMSNorm, rotary embeddings, attention pieces, SiLU·mul),
//! implemented for the CPU with runtime-selected SIMD. It knows nothing of models, tokens,
//! Lean or LSP.

pub mod cpu;
mod dtype;
mod matrix;

pub use cpu::simd::{detected_instruction_set, InstructionSet};
pub use dtype::DType;
pub use matrix::{Matrix, MatrixError, Storage};
