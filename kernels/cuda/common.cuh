// Helpers shared by every Proofwright kernel: element types, conversions and reductions.
//
// Self-contained on purpose: no CUDA header is included, so NVRTC needs no include path and a
// machine with only the driver, libnvrtc and libcublas can build the kernels. Constants shared
// with the Rust side (KV_BLOCK_SIZE, MAX_HEAD_DIM, ...) arrive as -D options from
// kernels/src/cuda/compile.rs, so both sides always agree.
#pragma once

typedef unsigned short u16;
typedef unsigned int u32;
typedef unsigned long long u64;
typedef long long i64;

#define FULL_MASK 0xffffffffu
#define NEG_INFINITY __int_as_float(0xff800000)
#define WARP_SIZE 32

// ---- element types -----------------------------------------------------------------------------
// Weights and KV caches are stored as f32, bf16 or f16; arithmetic is always f32.

__device__ __forceinline__ float bf16_to_float(u16 bits) {
    return __uint_as_float(((u32)bits) << 16);
}

#ifndef PROOFWRIGHT_HOST_EMULATION
__device__ __forceinline__ float f16_to_float(u16 bits) {
    float value;
    asm("cvt.f32.f16 %0, %1;" : "=f"(value) : "h"(bits));
    return value;
}

// Round to nearest even, as torch's .to(bfloat16) does.
__device__ __forceinline__ u16 float_to_bf16(float value) {
    u16 bits;
    asm("cvt.rn.bf16.f32 %0, %1;" : "=h"(bits) : "f"(value));
    return bits;
}

__device__ __forceinline__ u16 float_to_f16(float value) {
    u16 bits;
    asm("cvt.rn.f16.f32 %0, %1;" : "=h"(bits) : "f"(value));
    return bits;
}
#else
// The same conversions in C++, for running the kernels on the host (kernels/cuda/emulation).
inline float f16_to_float(u16 bits) {
    _Float16 half;
    std::memcpy(&half, &bits, 2);
    return (float)half;
}

inline u16 float_to_bf16(float value) {
    const u32 bits = __float_as_uint(value);
    return (u16)((bits + 0x7fffu + ((bits >> 16) & 1u)) >> 16);
}

inline u16 float_to_f16(float value) {
    const _Float16 half = (_Float16)value;
    u16 bits;
    std::memcpy(&bits, &half, 2);
    return bits;
}
#endif

struct F32 {
    typedef float storage;
    static __device__ __forceinline__ float load(float value) { return value; }
    static __device__ __forceinline__ float store(float value) { return value; }
};

struct BF16 {
    typedef u16 storage;
    static __device__ __forceinline__ float load(u16 bits) { return bf16_to_float(bits); }
    static __device__ __forceinline__ u16 store(float value) { return float_to_bf16(value); }
};

struct F16 {
    typedef u16 storage;
    static __device__ __forceinline__ float load(u16 bits) { return f16_to_float(bits); }
    static __device__ __forceinline__ u16 store(float value) { return float_to_f16(value); }
};

// Eight consecutive elements widened to f32 from one 16-byte load (two for f32).
template <typename T>
__device__ __forceinline__ void load8(const typename T::storage* source, float* out);

template <>
__device__ __forceinline__ void load8<F32>(const float* source, float* out) {
    const float4 first = *reinterpret_cast<const float4*>(source);
    const float4 second = *reinterpret_cast<const float4*>(source + 4);
    out[0] = first.x; out[1] = first.y; out[2] = first.z; out[3] = first.w;
    out[4] = second.x; out[5] = second.y; out[6] = second.z; out[7] = second.w;
}

template <>
__device__ __forceinline__ void load8<BF16>(const u16* source, float* out) {
    const uint4 raw = *reinterpret_cast<const uint4*>(source);
    const u32 words[4] = {raw.x, raw.y, raw.z, raw.w};
#pragma unroll
    for (int idx = 0; idx < 4; ++idx) {
        out[2 * idx] = __uint_as_float(words[idx] << 16);
        out[2 * idx + 1] = __uint_as_float(words[idx] & 0xffff0000u);
    }
}

template <>
__device__ __forceinline__ void load8<F16>(const u16* source, float* out) {
    const uint4 raw = *reinterpret_cast<const uint4*>(source);
    const u32 words[4] = {raw.x, raw.y, raw.z, raw.w};
#pragma unroll
    for (int idx = 0; idx < 4; ++idx) {
        out[2 * idx] = f16_to_float((u16)(words[idx] & 0xffffu));
        out[2 * idx + 1] = f16_to_float((u16)(words[idx] >> 16));
    }
}

// Declares `extern "C"` entry points for each storage type: MACRO(suffix, type).
#define FOR_EACH_STORAGE(MACRO) MACRO(f32, F32) MACRO(bf16, BF16) MACRO(f16, F16)

// ---- reductions --------------------------------------------------------------------------------
// Tree reductions in a fixed order, so results are the same on every run.

__device__ __forceinline__ float warp_sum(float value) {
#pragma unroll
    for (int offset = WARP_SIZE / 2; offset > 0; offset >>= 1) {
        value += __shfl_xor_sync(FULL_MASK, value, offset);
    }
    return value;
}

__device__ __forceinline__ double warp_sum_double(double value) {
#pragma unroll
    for (int offset = WARP_SIZE / 2; offset > 0; offset >>= 1) {
        value += __shfl_xor_sync(FULL_MASK, value, offset);
    }
    return value;
}

__device__ __forceinline__ float warp_max(float value) {
#pragma unroll
    for (int offset = WARP_SIZE / 2; offset > 0; offset >>= 1) {
        value = fmaxf(value, __shfl_xor_sync(FULL_MASK, value, offset));
    }
    return value;
}

__device__ __forceinline__ u64 warp_sum_u64(u64 value) {
#pragma unroll
    for (int offset = WARP_SIZE / 2; offset > 0; offset >>= 1) {
        value += __shfl_xor_sync(FULL_MASK, value, offset);
    }
    return value;
}

// Sum over the whole block; every thread gets the result. `scratch` holds one value per warp.
// Must be reached by every thread of the block.
__device__ __forceinline__ float block_sum(float value, float* scratch) {
    const int lane = threadIdx.x % WARP_SIZE;
    const int warp = threadIdx.x / WARP_SIZE;
    const int n_warps = (blockDim.x + WARP_SIZE - 1) / WARP_SIZE;
    value = warp_sum(value);
    __syncthreads();
    if (lane == 0) scratch[warp] = value;
    __syncthreads();
    float total = 0.0f;
    for (int idx = 0; idx < n_warps; ++idx) total += scratch[idx];
    return total;
}

__device__ __forceinline__ double block_sum_double(double value, double* scratch) {
    const int lane = threadIdx.x % WARP_SIZE;
    const int warp = threadIdx.x / WARP_SIZE;
    const int n_warps = (blockDim.x + WARP_SIZE - 1) / WARP_SIZE;
    value = warp_sum_double(value);
    __syncthreads();
    if (lane == 0) scratch[warp] = value;
    __syncthreads();
    double total = 0.0;
    for (int idx = 0; idx < n_warps; ++idx) total += scratch[idx];
    return total;
}

__device__ __forceinline__ float block_max(float value, float* scratch) {
    const int lane = threadIdx.x % WARP_SIZE;
    const int warp = threadIdx.x / WARP_SIZE;
    const int n_warps = (blockDim.x + WARP_SIZE - 1) / WARP_SIZE;
    value = warp_max(value);
    __syncthreads();
    if (lane == 0) scratch[warp] = value;
    __syncthreads();
    float best = NEG_INFINITY;
    for (int idx = 0; idx < n_warps; ++idx) best = fmaxf(best, scratch[idx]);
    return best;
}

__device__ __forceinline__ u64 block_sum_u64(u64 value, u64* scratch) {
    const int lane = threadIdx.x % WARP_SIZE;
    const int warp = threadIdx.x / WARP_SIZE;
    const int n_warps = (blockDim.x + WARP_SIZE - 1) / WARP_SIZE;
    value = warp_sum_u64(value);
    __syncthreads();
    if (lane == 0) scratch[warp] = value;
    __syncthreads();
    u64 total = 0;
    for (int idx = 0; idx < n_warps; ++idx) total += scratch[idx];
    return total;
}

// ---- paged KV cache addressing -----------------------------------------------------------------
// One layer's keys (or values) are laid out [block][kv_head][slot in block][head_dim], so one
// head's positions within a block are contiguous. A slot is block * KV_BLOCK_SIZE + offset.

__device__ __forceinline__ i64 kv_offset(u32 slot, int kv_head, int n_kv_heads, int head_dim) {
    const i64 block = slot / KV_BLOCK_SIZE;
    const i64 within = slot % KV_BLOCK_SIZE;
    return ((block * n_kv_heads + kv_head) * KV_BLOCK_SIZE + within) * head_dim;
}
