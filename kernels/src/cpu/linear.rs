//! The linear layer `output = input · weightᵀ (+ bias)`, the op that dominates both prefill and
//! decode. Weights stay in their storage type (F32, F16, BF16) and are widened to f32 in
//! registers, so one decode step reads each weight byte exactly once.
//!
//! Work is split by weight rows: each task owns a band of output columns and sweeps every input
//! row past them in blocks, so a band of weights is read from memory once per call whatever the
//! number of input rows. That is what makes N samples decoded as one batch cost far less than N
//! single decodes.

use super::simd::{detected_instruction_set, InstructionSet};
use super::{LINEAR_MAX_ROWS_PER_TASK, LINEAR_TASKS_PER_THREAD};
use crate::{Matrix, Storage};
use half::{bf16, f16};
use rayon::prelude::*;

/// `output[r][j] = Σ_i input[r][i] · weight[j][i] + bias[j]` for `n_rows` input rows.
///
/// # Panics
/// When the slice lengths disagree with `n_rows` and the weight's shape; callers size them.
pub fn linear(
    input: &[f32],
    n_rows: usize,
    weight: &Matrix,
    bias: Option<&[f32]>,
    output: &mut [f32],
) {
    linear_with(
        detected_instruction_set(),
        input,
        n_rows,
        weight,
        bias,
        output,
    );
}

/// [`linear`] on an explicit instruction set (which must be supported by this CPU; tests use it
/// to check every code path against the same reference).
pub fn linear_with(
    isa: InstructionSet,
    input: &[f32],
    n_rows: usize,
    weight: &Matrix,
    bias: Option<&[f32]>,
    output: &mut [f32],
) {
    let (out_features, in_features) = (weight.rows(), weight.cols());
    assert_eq!(input.len(), n_rows * in_features, "linear: input size");
    assert_eq!(output.len(), n_rows * out_features, "linear: output size");
    assert!(
        isa <= detected_instruction_set(),
        "linear: {isa:?} not supported on this CPU"
    );
    if let Some(bias) = bias {
        assert_eq!(bias.len(), out_features, "linear: bias size");
    }
    if n_rows == 0 || out_features == 0 {
        return;
    }

    let n_threads = rayon::current_num_threads().max(1);
    let rows_per_task = (out_features.div_ceil(n_threads * LINEAR_TASKS_PER_THREAD))
        .clamp(1, LINEAR_MAX_ROWS_PER_TASK)
        .next_multiple_of(4);
    let output_ptr = SharedOutput(output.as_mut_ptr());
    let n_tasks = out_features.div_ceil(rows_per_task);
    (0..n_tasks).into_par_iter().for_each(|task_idx| {
        let row_start = task_idx * rows_per_task;
        let row_end = (row_start + rows_per_task).min(out_features);
        let band = Band {
            input,
            n_rows,
            in_features,
            out_features,
            row_start,
            row_end,
        };
        // SAFETY: tasks own disjoint column bands [row_start, row_end) of every output row, the
        // output buffer outlives the parallel loop, and the sizes were checked above.
        unsafe { run_band(isa, &band, weight.storage(), output_ptr.get()) };
        if let Some(bias) = bias {
            for row_idx in 0..n_rows {
                for (col, bias_value) in bias.iter().enumerate().take(row_end).skip(row_start) {
                    // SAFETY: as above, this task alone writes these elements.
                    unsafe { *output_ptr.get().add(row_idx * out_features + col) += bias_value };
                }
            }
        }
    });
}

/// A raw pointer to the output that tasks write disjoint parts of.
#[derive(Clone, Copy)]
struct SharedOutput(*mut f32);
// SAFETY: see the comment at the use site; every task writes a disjoint set of elements.
unsafe impl Send for SharedOutput {}
unsafe impl Sync for SharedOutput {}
impl SharedOutput {
    fn get(self) -> *mut f32 {
        self.0
    }
}

/// One task's share: weight rows `[row_start, row_end)` against every input row.
struct Band<'a> {
    input: &'a [f32],
    n_rows: usize,
    in_features: usize,
    out_features: usize,
    row_start: usize,
    row_end: usize,
}

unsafe fn run_band(isa: InstructionSet, band: &Band, storage: &Storage, output: *mut f32) {
    match (isa, storage) {
        (InstructionSet::Scalar, Storage::F32(w)) => scalar::band(band, w, |v| v, output),
        (InstructionSet::Scalar, Storage::F16(w)) => scalar::band(band, w, f16::to_f32, output),
        (InstructionSet::Scalar, Storage::BF16(w)) => scalar::band(band, w, bf16::to_f32, output),
        #[cfg(target_arch = "x86_64")]
        (InstructionSet::Avx2, Storage::F32(w)) => avx2::band_f32(band, w.as_ptr(), output),
        #[cfg(target_arch = "x86_64")]
        (InstructionSet::Avx2, Storage::F16(w)) => avx2::band_f16(band, w.as_ptr().cast(), output),
        #[cfg(target_arch = "x86_64")]
        (InstructionSet::Avx2, Storage::BF16(w)) => {
            avx2::band_bf16(band, w.as_ptr().cast(), output)
        }
        #[cfg(target_arch = "x86_64")]
        (InstructionSet::Avx512, Storage::F32(w)) => avx512::band_f32(band, w.as_ptr(), output),
        #[cfg(target_arch = "x86_64")]
        (InstructionSet::Avx512, Storage::F16(w)) => {
            avx512::band_f16(band, w.as_ptr().cast(), output)
        }
        #[cfg(target_arch = "x86_64")]
        (InstructionSet::Avx512, Storage::BF16(w)) => {
            avx512::band_bf16(band, w.as_ptr().cast(), output)
        }
        #[cfg(not(target_arch = "x86_64"))]
        (_, _) => unreachable!("only the scalar path exists off x86-64"),
    }
}

mod scalar {
    use super::Band;

    pub(super) unsafe fn band<E: Copy>(
        band: &Band,
        weight: &[E],
        to_f32: impl Fn(E) -> f32,
        output: *mut f32,
    ) {
        let k = band.in_features;
        for row_idx in 0..band.n_rows {
            let x = &band.input[row_idx * k..(row_idx + 1) * k];
            for col in band.row_start..band.row_end {
                let w = &weight[col * k..(col + 1) * k];
                let sum = x
                    .iter()
                    .zip(w)
                    .map(|(&xv, &wv)| xv * to_f32(wv))
                    .sum::<f32>();
                *output.add(row_idx * band.out_features + col) = sum;
            }
        }
    }
}

/// Generates the blocked kernels of one instruction set: a `block` that computes an
/// `NX × NW` tile of dot products (NX input rows against NW weight rows, all accumulators in
/// registers), and per storage type a `band_*` that tiles a task's band with it.
macro_rules! vector_kernels {
    (
        feature = $feature:literal,
        vector = $vector:ty,
        lanes = $lanes:expr,
        max_input_rows = $max_nx:expr,
        zero = $zero:path,
        load_f32 = $load_f32:path,
        fma = $fma:path,
        reduce = $reduce:path,
        kernels = [$(($band_fn:ident, $elem:ty, $load:path, $scalar:path)),* $(,)?]
    ) => {
        $(
            #[target_feature(enable = $feature)]
            pub(super) unsafe fn $band_fn(band: &Band, weight: *const $elem, output: *mut f32) {
                #[target_feature(enable = $feature)]
                unsafe fn block<const NX: usize, const NW: usize>(
                    x: *const f32,
                    w: *const $elem,
                    k: usize,
                    output: *mut f32,
                    output_stride: usize,
                ) {
                    let mut acc: [[$vector; NW]; NX] = [[$zero(); NW]; NX];
                    let full = k / $lanes * $lanes;
                    // Rows are short (a few KB) and the NW rows of a block are adjacent, so the
                    // hardware prefetcher sees NW brief streams. Fetch the next block of rows
                    // ahead instead, in step with progress through this one.
                    let step_bytes = NW * $lanes * std::mem::size_of::<$elem>();
                    let next_block = w.wrapping_add(NW * k).cast::<i8>();
                    let mut i = 0;
                    while i < full {
                        let ahead = next_block.wrapping_add(i / $lanes * step_bytes);
                        let mut line = 0;
                        while line < step_bytes {
                            _mm_prefetch::<_MM_HINT_T1>(ahead.wrapping_add(line));
                            line += CACHE_LINE_BYTES;
                        }
                        let mut wv: [$vector; NW] = [$zero(); NW];
                        for j in 0..NW {
                            wv[j] = $load(w.add(j * k + i));
                        }
                        for r in 0..NX {
                            let xv = $load_f32(x.add(r * k + i));
                            for j in 0..NW {
                                acc[r][j] = $fma(xv, wv[j], acc[r][j]);
                            }
                        }
                        i += $lanes;
                    }
                    for r in 0..NX {
                        for j in 0..NW {
                            let mut sum = $reduce(acc[r][j]);
                            for t in full..k {
                                sum += *x.add(r * k + t) * $scalar(*w.add(j * k + t));
                            }
                            *output.add(r * output_stride + j) = sum;
                        }
                    }
                }

                let k = band.in_features;
                let stride = band.out_features;
                let x_base = band.input.as_ptr();
                let mut row_idx = 0;
                while row_idx < band.n_rows {
                    let nx = (band.n_rows - row_idx).min($max_nx);
                    let x = x_base.add(row_idx * k);
                    let mut col = band.row_start;
                    while col < band.row_end {
                        let nw = if band.row_end - col >= 4 { 4 } else { 1 };
                        let w = weight.add(col * k);
                        let out = output.add(row_idx * stride + col);
                        match (nx, nw) {
                            (1, 4) => block::<1, 4>(x, w, k, out, stride),
                            (2, 4) => block::<2, 4>(x, w, k, out, stride),
                            (3, 4) => block::<3, 4>(x, w, k, out, stride),
                            (4, 4) => block::<4, 4>(x, w, k, out, stride),
                            (1, _) => block::<1, 1>(x, w, k, out, stride),
                            (2, _) => block::<2, 1>(x, w, k, out, stride),
                            (3, _) => block::<3, 1>(x, w, k, out, stride),
                            _ => block::<4, 1>(x, w, k, out, stride),
                        }
                        col += nw;
                    }
                    row_idx += nx;
                }
            }
        )*
    };
}

/// Bytes in one cache line, the unit of a prefetch.
#[cfg(target_arch = "x86_64")]
const CACHE_LINE_BYTES: usize = 64;

#[cfg(target_arch = "x86_64")]
mod avx512 {
    use super::{Band, CACHE_LINE_BYTES};
    use half::{bf16, f16};
    use std::arch::x86_64::*;

    #[inline(always)]
    unsafe fn load_f32(ptr: *const f32) -> __m512 {
        _mm512_loadu_ps(ptr)
    }
    #[inline(always)]
    unsafe fn load_bf16(ptr: *const u16) -> __m512 {
        let raw = _mm256_loadu_si256(ptr.cast());
        _mm512_castsi512_ps(_mm512_slli_epi32::<16>(_mm512_cvtepu16_epi32(raw)))
    }
    #[inline(always)]
    unsafe fn load_f16(ptr: *const u16) -> __m512 {
        _mm512_cvtph_ps(_mm256_loadu_si256(ptr.cast()))
    }
    #[inline(always)]
    unsafe fn reduce(v: __m512) -> f32 {
        _mm512_reduce_add_ps(v)
    }
    fn f32_of(v: f32) -> f32 {
        v
    }
    fn f32_of_bf16(bits: u16) -> f32 {
        bf16::from_bits(bits).to_f32()
    }
    fn f32_of_f16(bits: u16) -> f32 {
        f16::from_bits(bits).to_f32()
    }

    vector_kernels! {
        feature = "avx512f",
        vector = __m512,
        lanes = 16,
        max_input_rows = 4,
        zero = _mm512_setzero_ps,
        load_f32 = load_f32,
        fma = _mm512_fmadd_ps,
        reduce = reduce,
        kernels = [
            (band_f32, f32, load_f32, f32_of),
            (band_bf16, u16, load_bf16, f32_of_bf16),
            (band_f16, u16, load_f16, f32_of_f16),
        ]
    }
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use super::{Band, CACHE_LINE_BYTES};
    use half::{bf16, f16};
    use std::arch::x86_64::*;

    #[inline(always)]
    unsafe fn load_f32(ptr: *const f32) -> __m256 {
        _mm256_loadu_ps(ptr)
    }
    #[inline(always)]
    unsafe fn load_bf16(ptr: *const u16) -> __m256 {
        let raw = _mm_loadu_si128(ptr.cast());
        _mm256_castsi256_ps(_mm256_slli_epi32::<16>(_mm256_cvtepu16_epi32(raw)))
    }
    #[inline(always)]
    unsafe fn load_f16(ptr: *const u16) -> __m256 {
        _mm256_cvtph_ps(_mm_loadu_si128(ptr.cast()))
    }
    #[inline(always)]
    unsafe fn reduce(v: __m256) -> f32 {
        let pair = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps::<1>(v));
        let pair = _mm_add_ps(pair, _mm_movehl_ps(pair, pair));
        let single = _mm_add_ss(pair, _mm_shuffle_ps::<0b01>(pair, pair));
        _mm_cvtss_f32(single)
    }
    fn f32_of(v: f32) -> f32 {
        v
    }
    fn f32_of_bf16(bits: u16) -> f32 {
        bf16::from_bits(bits).to_f32()
    }
    fn f32_of_f16(bits: u16) -> f32 {
        f16::from_bits(bits).to_f32()
    }

    vector_kernels! {
        feature = "avx2,fma,f16c",
        vector = __m256,
        lanes = 8,
        max_input_rows = 2,
        zero = _mm256_setzero_ps,
        load_f32 = load_f32,
        fma = _mm256_fmadd_ps,
        reduce = reduce,
        kernels = [
            (band_f32, f32, load_f32, f32_of),
            (band_bf16, u16, load_bf16, f32_of_bf16),
            (band_f16, u16, load_f16, f32_of_f16),
        ]
    }
}
