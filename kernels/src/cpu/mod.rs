//! The CPU implementation of the op set. Every op runs on the caller's rayon pool, so the
//! number of threads is whatever pool the caller installs.

mod bandwidth;
mod linear;
mod ops;
pub mod simd;

pub use bandwidth::measure_copy_bandwidth;
pub use linear::{linear, linear_with};
pub use ops::{
    add_in_place, apply_rotary_half, axpy, dot, log_softmax_in_place, rms_norm, silu_mul,
    softmax_in_place,
};

/// How many tasks a linear layer is split into per worker thread, so uneven progress between
/// threads evens out.
pub const LINEAR_TASKS_PER_THREAD: usize = 4;
/// Upper bound on weight rows one linear task owns: small enough that a task's rows stay in a
/// core's L2 cache while every input row streams past them.
pub const LINEAR_MAX_ROWS_PER_TASK: usize = 64;
/// Below this many rows an element-wise op runs on one thread; thread hand-off costs more.
pub const PARALLEL_MIN_ROWS: usize = 8;
