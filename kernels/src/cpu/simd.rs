//! Which vector instruction set the CPU kernels use, detected once at run time.

use std::sync::OnceLock;

/// Vector instruction sets the kernels have code paths for, best first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum InstructionSet {
    /// Portable Rust, no explicit vector instructions.
    Scalar,
    /// AVX2 with FMA and F16C (x86-64 since 2013).
    Avx2,
    /// AVX-512 Foundation.
    Avx512,
}

impl InstructionSet {
    pub fn name(self) -> &'static str {
        match self {
            InstructionSet::Scalar => "scalar",
            InstructionSet::Avx2 => "avx2",
            InstructionSet::Avx512 => "avx512",
        }
    }

    /// Every instruction set this CPU can run, for tests that compare each path.
    pub fn all_supported() -> Vec<InstructionSet> {
        let best = detected_instruction_set();
        [
            InstructionSet::Scalar,
            InstructionSet::Avx2,
            InstructionSet::Avx512,
        ]
        .into_iter()
        .filter(|isa| *isa <= best)
        .collect()
    }
}

/// The best instruction set this CPU supports.
pub fn detected_instruction_set() -> InstructionSet {
    static DETECTED: OnceLock<InstructionSet> = OnceLock::new();
    *DETECTED.get_or_init(detect)
}

#[cfg(target_arch = "x86_64")]
fn detect() -> InstructionSet {
    if is_x86_feature_detected!("avx512f") {
        InstructionSet::Avx512
    } else if is_x86_feature_detected!("avx2")
        && is_x86_feature_detected!("fma")
        && is_x86_feature_detected!("f16c")
    {
        InstructionSet::Avx2
    } else {
        InstructionSet::Scalar
    }
}

#[cfg(not(target_arch = "x86_64"))]
fn detect() -> InstructionSet {
    InstructionSet::Scalar
}
