// Row-wise and element-wise ops: embedding gather, RMSNorm, SiLU·mul, bias, residual add, and the
// conversion of f32 activations to the 16-bit type cuBLAS multiplies by weights.
#include "common.cuh"

// ---- embedding gather: out[row] = table[token_ids[row]] as f32 ----------------------------------
// Grid: one block per row. Token ids are checked on the host.
template <typename T>
__device__ void embedding_body(const typename T::storage* table, const u32* token_ids,
                               float* out, int width) {
    const i64 row = blockIdx.x;
    const typename T::storage* source = table + (i64)token_ids[row] * width;
    float* destination = out + row * width;
    for (int idx = threadIdx.x; idx < width; idx += blockDim.x) {
        destination[idx] = T::load(source[idx]);
    }
}

#define EMBEDDING(suffix, T)                                                                     \
    extern "C" __global__ void embedding_##suffix(const T::storage* table, const u32* token_ids,  \
                                                  float* out, int width) {                       \
        embedding_body<T>(table, token_ids, out, width);                                         \
    }
FOR_EACH_STORAGE(EMBEDDING)

// ---- RMSNorm: out = weight · (x / sqrt(mean(x²) + eps)), as transformers computes it in f32 ----
// Grid: one block of NORM_THREADS per row.
extern "C" __global__ void rms_norm(const float* input, const float* weight, float* output,
                                    int width, float eps) {
    __shared__ float scratch[NORM_THREADS / WARP_SIZE];
    const i64 row = blockIdx.x;
    const float* x = input + row * width;
    float* y = output + row * width;
    float sum_of_squares = 0.0f;
    for (int idx = threadIdx.x; idx < width; idx += blockDim.x) {
        sum_of_squares += x[idx] * x[idx];
    }
    sum_of_squares = block_sum(sum_of_squares, scratch);
    const float inverse_rms = 1.0f / sqrtf(sum_of_squares / (float)width + eps);
    for (int idx = threadIdx.x; idx < width; idx += blockDim.x) {
        y[idx] = weight[idx] * (x[idx] * inverse_rms);
    }
}

// ---- SwiGLU: rows laid out [gate (width) | up (width)] -> silu(gate) · up -----------------------
// Grid-stride over every output element.
extern "C" __global__ void silu_mul(const float* gate_up, float* out, int width, i64 total) {
    for (i64 idx = blockIdx.x * (i64)blockDim.x + threadIdx.x; idx < total;
         idx += (i64)gridDim.x * blockDim.x) {
        const i64 row = idx / width;
        const int column = (int)(idx % width);
        const float gate = gate_up[row * 2 * width + column];
        const float up = gate_up[row * 2 * width + width + column];
        out[idx] = gate / (1.0f + expf(-gate)) * up;
    }
}

// ---- x[row] += bias ------------------------------------------------------------------------------
extern "C" __global__ void add_bias(float* x, const float* bias, int width, i64 total) {
    for (i64 idx = blockIdx.x * (i64)blockDim.x + threadIdx.x; idx < total;
         idx += (i64)gridDim.x * blockDim.x) {
        x[idx] += bias[idx % width];
    }
}

// ---- f32 activations -> the weights' 16-bit type, for cuBLAS --------------------------------------
extern "C" __global__ void convert_to_bf16(const float* input, u16* output, i64 total) {
    for (i64 idx = blockIdx.x * (i64)blockDim.x + threadIdx.x; idx < total;
         idx += (i64)gridDim.x * blockDim.x) {
        output[idx] = float_to_bf16(input[idx]);
    }
}

extern "C" __global__ void convert_to_f16(const float* input, u16* output, i64 total) {
    for (i64 idx = blockIdx.x * (i64)blockDim.x + threadIdx.x; idx < total;
         idx += (i64)gridDim.x * blockDim.x) {
        output[idx] = float_to_f16(input[idx]);
    }
}

// ---- gather rows: out[r] = input[row_ids[r]] (the rows whose logits are needed) ----------------
extern "C" __global__ void gather_rows(const float* input, const u32* row_ids, float* out,
                                       int width) {
    const i64 row = blockIdx.x;
    const float* source = input + (i64)row_ids[row] * width;
    for (int idx = threadIdx.x; idx < width; idx += blockDim.x) {
        out[row * width + idx] = source[idx];
    }
}
