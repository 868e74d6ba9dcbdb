// The linear layer for a few input rows (decode): out = x · wᵀ (+ bias) (+ out), with f32
// activations and weights read in their storage type. For 16-bit weights the activations are
// rounded to the weights' type first, exactly as the cuBLAS path rounds them for more rows (and as
// transformers runs a BF16 model), so a row's result does not depend on how many rows run. Decode is bound by streaming the weights,
// so each weight element is loaded exactly once, 16 bytes at a time, and each warp computes a
// few output columns for every input row so the activations it re-reads from L1 are amortised.
// More rows than SKINNY_MAX_ROWS go to cuBLAS instead (kernels/src/cuda/linear.rs).
#include "common.cuh"

static_assert(SKINNY_MAX_ROWS == 4, "skinny_dispatch handles 1 to 4 rows");

// Output columns each warp computes; kernels/src/cuda/linear.rs mirrors this to size the grid.
__device__ constexpr int columns_per_warp(int n_rows) { return n_rows <= 2 ? 2 : 4; }

// `value` as the weight type `W` holds it: rounded to nearest even for BF16/F16, unchanged for
// F32 (the conversion the cuBLAS path's convert_to_bf16/convert_to_f16 kernels make).
template <typename W>
__device__ __forceinline__ float as_weight_type(float value) {
    return W::load(W::store(value));
}

// x: [NR, k] f32; w: [m, k]; bias: [m] or null; out: [NR, m].
// Grid: ceil(m / (LINEAR_WARPS · columns_per_warp(NR))) blocks of LINEAR_WARPS warps.
template <typename W, int NR>
__device__ void skinny_body(const float* x, const typename W::storage* w, const float* bias,
                            float* out, int k, int m, int accumulate) {
    constexpr int NC = columns_per_warp(NR);
    const int lane = threadIdx.x % WARP_SIZE;
    const int warp = threadIdx.x / WARP_SIZE;
    const int first_column = (blockIdx.x * LINEAR_WARPS + warp) * NC;
    if (first_column >= m) return;

    float acc[NR][NC];
#pragma unroll
    for (int r = 0; r < NR; ++r) {
#pragma unroll
        for (int c = 0; c < NC; ++c) acc[r][c] = 0.0f;
    }
    const typename W::storage* rows[NC];
#pragma unroll
    for (int c = 0; c < NC; ++c) {
        // Columns past the end re-read the last row; their sums are never written.
        const int column = min(first_column + c, m - 1);
        rows[c] = w + (i64)column * k;
    }

    if (k % 8 == 0) {
#pragma unroll 2
        for (int i = lane * 8; i < k; i += WARP_SIZE * 8) {
            float weights[NC][8];
#pragma unroll
            for (int c = 0; c < NC; ++c) load8<W>(rows[c] + i, weights[c]);
#pragma unroll
            for (int r = 0; r < NR; ++r) {
                float inputs[8];
                load8<F32>(x + (i64)r * k + i, inputs);
#pragma unroll
                for (int e = 0; e < 8; ++e) inputs[e] = as_weight_type<W>(inputs[e]);
#pragma unroll
                for (int c = 0; c < NC; ++c) {
#pragma unroll
                    for (int e = 0; e < 8; ++e) acc[r][c] += inputs[e] * weights[c][e];
                }
            }
        }
    } else {
        for (int i = lane; i < k; i += WARP_SIZE) {
            float weights[NC];
#pragma unroll
            for (int c = 0; c < NC; ++c) weights[c] = W::load(rows[c][i]);
#pragma unroll
            for (int r = 0; r < NR; ++r) {
                const float input = as_weight_type<W>(x[(i64)r * k + i]);
#pragma unroll
                for (int c = 0; c < NC; ++c) acc[r][c] += input * weights[c];
            }
        }
    }

#pragma unroll
    for (int r = 0; r < NR; ++r) {
#pragma unroll
        for (int c = 0; c < NC; ++c) {
            const float sum = warp_sum(acc[r][c]);
            const int column = first_column + c;
            if (lane == 0 && column < m) {
                float* target = out + (i64)r * m + column;
                float value = sum;
                if (bias != nullptr) value += bias[column];
                if (accumulate) value += *target;
                *target = value;
            }
        }
    }
}

template <typename W>
__device__ void skinny_dispatch(const float* x, const typename W::storage* w, const float* bias,
                                float* out, int n_rows, int k, int m, int accumulate) {
    switch (n_rows) {
        case 1: skinny_body<W, 1>(x, w, bias, out, k, m, accumulate); break;
        case 2: skinny_body<W, 2>(x, w, bias, out, k, m, accumulate); break;
        case 3: skinny_body<W, 3>(x, w, bias, out, k, m, accumulate); break;
        case 4: skinny_body<W, 4>(x, w, bias, out, k, m, accumulate); break;
        default: break;  // the host never launches more than SKINNY_MAX_ROWS rows
    }
}

#define LINEAR_SKINNY(suffix, T)                                                                 \
    extern "C" __global__ void __launch_bounds__(LINEAR_WARPS * WARP_SIZE)                       \
        linear_skinny_##suffix(const float* x, const T::storage* w, const float* bias,          \
                               float* out, int n_rows, int k, int m, int accumulate) {          \
        skinny_dispatch<T>(x, w, bias, out, n_rows, k, m, accumulate);                           \
    }
FOR_EACH_STORAGE(LINEAR_SKINNY)
