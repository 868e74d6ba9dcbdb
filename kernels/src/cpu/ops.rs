//! Element-wise and row-wise ops. They are written as plain loops over fixed-width chunks with
//! independent accumulators, which the compiler turns into vector code on every target.

use super::PARALLEL_MIN_ROWS;
use rayon::prelude::*;

/// Width of the independent partial sums in [`dot`]; a multiple of every vector width we target.
const DOT_LANES: usize = 16;

/// Σ a[i]·b[i].
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    debug_assert_eq!(a.len(), b.len());
    let mut partial = [0f32; DOT_LANES];
    let mut a_chunks = a.chunks_exact(DOT_LANES);
    let mut b_chunks = b.chunks_exact(DOT_LANES);
    for (a_chunk, b_chunk) in (&mut a_chunks).zip(&mut b_chunks) {
        for lane in 0..DOT_LANES {
            partial[lane] += a_chunk[lane] * b_chunk[lane];
        }
    }
    let tail: f32 = a_chunks
        .remainder()
        .iter()
        .zip(b_chunks.remainder())
        .map(|(x, y)| x * y)
        .sum();
    partial.iter().sum::<f32>() + tail
}

/// y += alpha · x.
pub fn axpy(alpha: f32, x: &[f32], y: &mut [f32]) {
    debug_assert_eq!(x.len(), y.len());
    for (yv, xv) in y.iter_mut().zip(x) {
        *yv += alpha * xv;
    }
}

/// dst += src.
pub fn add_in_place(dst: &mut [f32], src: &[f32]) {
    debug_assert_eq!(dst.len(), src.len());
    for (d, s) in dst.iter_mut().zip(src) {
        *d += s;
    }
}

/// RMSNorm of each `width`-wide row of `input` into `output`:
/// `output = input / sqrt(mean(input²) + eps) · weight`, as transformers computes it in f32.
pub fn rms_norm(input: &[f32], weight: &[f32], eps: f32, output: &mut [f32]) {
    let width = weight.len();
    debug_assert_eq!(input.len(), output.len());
    debug_assert_eq!(input.len() % width.max(1), 0);
    let norm_row = |(in_row, out_row): (&[f32], &mut [f32])| {
        let mean_square = dot(in_row, in_row) / width as f32;
        let inverse_rms = 1.0 / (mean_square + eps).sqrt();
        for ((o, &x), &w) in out_row.iter_mut().zip(in_row).zip(weight) {
            *o = w * (x * inverse_rms);
        }
    };
    if input.len() / width.max(1) >= PARALLEL_MIN_ROWS {
        input
            .par_chunks(width)
            .zip(output.par_chunks_mut(width))
            .for_each(norm_row);
    } else {
        input
            .chunks(width)
            .zip(output.chunks_mut(width))
            .for_each(norm_row);
    }
}

/// For rows laid out as `[gate (width) | up (width)]`, writes `silu(gate) · up` into `output`
/// rows of `width`. This is the SwiGLU of Llama-family MLPs after a fused gate/up projection.
pub fn silu_mul(gate_up: &[f32], width: usize, output: &mut [f32]) {
    debug_assert_eq!(gate_up.len(), 2 * output.len());
    let apply = |(pair, out_row): (&[f32], &mut [f32])| {
        let (gate, up) = pair.split_at(width);
        for ((o, &g), &u) in out_row.iter_mut().zip(gate).zip(up) {
            *o = g / (1.0 + (-g).exp()) * u;
        }
    };
    if output.len() / width.max(1) >= PARALLEL_MIN_ROWS {
        gate_up
            .par_chunks(2 * width)
            .zip(output.par_chunks_mut(width))
            .for_each(apply);
    } else {
        gate_up
            .chunks(2 * width)
            .zip(output.chunks_mut(width))
            .for_each(apply);
    }
}

/// Rotary position embedding in the "rotate half" layout transformers uses for Llama, Mistral
/// and Qwen: element `i` pairs with `i + half`. `cos` and `sin` hold `half` values each.
pub fn apply_rotary_half(head: &mut [f32], cos: &[f32], sin: &[f32]) {
    let half = cos.len();
    debug_assert_eq!(head.len(), 2 * half);
    let (first, second) = head.split_at_mut(half);
    for idx in 0..half {
        let (x1, x2) = (first[idx], second[idx]);
        first[idx] = x1 * cos[idx] - x2 * sin[idx];
        second[idx] = x2 * cos[idx] + x1 * sin[idx];
    }
}

/// Replaces `values` by their softmax.
pub fn softmax_in_place(values: &mut [f32]) {
    let max = values.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut total = 0.0;
    for v in values.iter_mut() {
        *v = (*v - max).exp();
        total += *v;
    }
    let inverse = 1.0 / total;
    for v in values.iter_mut() {
        *v *= inverse;
    }
}

/// Replaces `values` by their log-softmax (the sum of exponentials is taken in f64 so long
/// vocabularies lose no precision).
pub fn log_softmax_in_place(values: &mut [f32]) {
    let max = values.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let total: f64 = values.iter().map(|&v| f64::from(v - max).exp()).sum();
    let log_total = total.ln() as f32 + max;
    for v in values.iter_mut() {
        *v -= log_total;
    }
}
