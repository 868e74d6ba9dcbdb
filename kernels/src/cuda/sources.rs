//! The CUDA C sources under `kernels/cuda/`, embedded in the binary, and the kernels each one
//! defines (the names the Rust side launches).

/// Name under which `common.cuh` is offered to every source's `#include`.
pub const COMMON_HEADER_NAME: &str = "common.cuh";
/// Helpers every kernel file includes.
pub const COMMON_HEADER: &str = include_str!("../../cuda/common.cuh");

/// One `.cu` file and the `extern "C"` kernels it defines.
#[derive(Debug)]
pub struct KernelSource {
    pub file: &'static str,
    pub text: &'static str,
    pub functions: &'static [&'static str],
}

pub const ELEMENTWISE: KernelSource = KernelSource {
    file: "elementwise.cu",
    text: include_str!("../../cuda/elementwise.cu"),
    functions: &[
        "embedding_f32",
        "embedding_bf16",
        "embedding_f16",
        "rms_norm",
        "silu_mul",
        "add_bias",
        "convert_to_bf16",
        "convert_to_f16",
        "gather_rows",
    ],
};

pub const ROPE: KernelSource = KernelSource {
    file: "rope.cu",
    text: include_str!("../../cuda/rope.cu"),
    functions: &["qkv_prepare_f32", "qkv_prepare_bf16", "qkv_prepare_f16"],
};

pub const LINEAR: KernelSource = KernelSource {
    file: "linear.cu",
    text: include_str!("../../cuda/linear.cu"),
    functions: &[
        "linear_skinny_f32",
        "linear_skinny_bf16",
        "linear_skinny_f16",
    ],
};

pub const ATTENTION: KernelSource = KernelSource {
    file: "attention.cu",
    text: include_str!("../../cuda/attention.cu"),
    functions: &[
        "attention_prefill_f32",
        "attention_prefill_bf16",
        "attention_prefill_f16",
        "attention_decode_f32",
        "attention_decode_bf16",
        "attention_decode_f16",
        "attention_decode_reduce",
        "copy_blocks",
    ],
};

pub const SAMPLING: KernelSource = KernelSource {
    file: "sampling.cu",
    text: include_str!("../../cuda/sampling.cu"),
    functions: &["sample_rows", "gather_log_probs"],
};

/// Every kernel file.
pub const KERNEL_SOURCES: &[KernelSource] = &[ELEMENTWISE, ROPE, LINEAR, ATTENTION, SAMPLING];
