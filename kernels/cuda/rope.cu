// After the fused q|k|v projection: per-head RMSNorm of queries and keys (Qwen3), rotary position
// embedding in the "rotate half" layout, queries written out as f32, keys and values written
// into their slots of the paged KV cache. The cos/sin tables come from the host, computed from
// the same inverse frequencies as the CPU path, so every rope scaling kind rotates identically.
#include "common.cuh"

// qkv: [n_tokens, (n_heads + 2 n_kv_heads) head_dim]; cos, sin: [n_tokens, head_dim / 2];
// slots: [n_tokens]; queries: [n_tokens, n_heads head_dim]. q_norm / k_norm may be null.
// Grid: (n_tokens, n_heads + n_kv_heads); block: ROPE_THREADS. A block with y < n_heads rotates
// one query head; the others rotate one key head and copy its value head.
template <typename KV>
__device__ void qkv_prepare_body(const float* qkv, const float* q_norm, const float* k_norm,
                                 const float* cos, const float* sin, const u32* slots,
                                 float* queries, typename KV::storage* key_cache,
                                 typename KV::storage* value_cache, int n_heads, int n_kv_heads,
                                 int head_dim, float eps) {
    __shared__ float head[MAX_HEAD_DIM];
    __shared__ float scratch[ROPE_THREADS / WARP_SIZE];
    const i64 token = blockIdx.x;
    const int unit = blockIdx.y;
    const int half = head_dim / 2;
    const i64 row_width = (i64)(n_heads + 2 * n_kv_heads) * head_dim;
    const float* row = qkv + token * row_width;
    const bool is_query = unit < n_heads;
    const int head_index = is_query ? unit : unit - n_heads;
    const float* source = row + (i64)(is_query ? unit : n_heads + head_index) * head_dim;
    const float* norm = is_query ? q_norm : k_norm;

    for (int idx = threadIdx.x; idx < head_dim; idx += blockDim.x) head[idx] = source[idx];
    if (norm != nullptr) {
        float sum_of_squares = 0.0f;
        for (int idx = threadIdx.x; idx < head_dim; idx += blockDim.x) {
            sum_of_squares += head[idx] * head[idx];
        }
        sum_of_squares = block_sum(sum_of_squares, scratch);
        const float inverse_rms = 1.0f / sqrtf(sum_of_squares / (float)head_dim + eps);
        for (int idx = threadIdx.x; idx < head_dim; idx += blockDim.x) {
            head[idx] = norm[idx] * (head[idx] * inverse_rms);
        }
    }
    __syncthreads();

    const float* token_cos = cos + token * half;
    const float* token_sin = sin + token * half;
    const u32 slot = slots[token];
    const i64 cache_offset = is_query ? 0 : kv_offset(slot, head_index, n_kv_heads, head_dim);
    float* query_out = queries + (token * n_heads + unit) * head_dim;
    for (int idx = threadIdx.x; idx < half; idx += blockDim.x) {
        const float first = head[idx];
        const float second = head[idx + half];
        const float rotated_first = first * token_cos[idx] - second * token_sin[idx];
        const float rotated_second = second * token_cos[idx] + first * token_sin[idx];
        if (is_query) {
            query_out[idx] = rotated_first;
            query_out[idx + half] = rotated_second;
        } else {
            key_cache[cache_offset + idx] = KV::store(rotated_first);
            key_cache[cache_offset + idx + half] = KV::store(rotated_second);
        }
    }
    if (!is_query) {
        const float* value = row + (i64)(n_heads + n_kv_heads + head_index) * head_dim;
        for (int idx = threadIdx.x; idx < head_dim; idx += blockDim.x) {
            value_cache[cache_offset + idx] = KV::store(value[idx]);
        }
    }
}

#define QKV_PREPARE(suffix, T)                                                                   \
    extern "C" __global__ void qkv_prepare_##suffix(                                             \
        const float* qkv, const float* q_norm, const float* k_norm, const float* cos,            \
        const float* sin, const u32* slots, float* queries, T::storage* key_cache,               \
        T::storage* value_cache, int n_heads, int n_kv_heads, int head_dim, float eps) {         \
        qkv_prepare_body<T>(qkv, q_norm, k_norm, cos, sin, slots, queries, key_cache,            \
                            value_cache, n_heads, n_kv_heads, head_dim, eps);                    \
    }
FOR_EACH_STORAGE(QKV_PREPARE)
