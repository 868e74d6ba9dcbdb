// Attention over a paged KV cache: keys and values of every sequence live in fixed-size blocks
// of KV_BLOCK_SIZE positions, found through the sequence's block table, so N samples of one
// prompt read the prompt's blocks without copies. Causal, with an optional sliding window
// (Mistral), grouped-query heads, f32 arithmetic and an online softmax.
//
// - attention_prefill_*: any number of new tokens per sequence, tiled flash-attention style:
//   a block owns PREFILL_QUERY_TILE queries of one head and streams the key blocks past them.
// - attention_decode_*: one new token per sequence, split-K (flash-decoding): each block covers
//   DECODE_PARTITION positions of one sequence for the query heads of one key/value head, and
//   attention_decode_reduce combines the partitions.
#include "common.cuh"

#define PREFILL_THREADS ATTENTION_THREADS
#define DECODE_WARPS (ATTENTION_THREADS / WARP_SIZE)
#define DIMS_PER_LANE (MAX_HEAD_DIM / WARP_SIZE)
#define PREFILL_OWNED ((PREFILL_QUERY_TILE * MAX_HEAD_DIM + PREFILL_THREADS - 1) / PREFILL_THREADS)

// A prefill work item: PREFILL_QUERY_TILE (or fewer) consecutive new tokens of one sequence.
struct QueryTile {
    int sequence;        // row of the block table
    int first_row;       // row of the first query in `queries` / `out`
    int rows;            // queries in this tile, 1 ..= PREFILL_QUERY_TILE
    int first_position;  // position of the first query in its sequence
};

// queries, out: [n_rows, n_heads head_dim]; block_tables: [n_sequences, table_width];
// tiles: [n_tiles]. Keys and values of every query's position are already in the cache.
// Grid: (n_tiles, n_heads); block: PREFILL_THREADS.
template <typename KV>
__device__ void prefill_body(const float* queries, const typename KV::storage* key_cache,
                             const typename KV::storage* value_cache, const u32* block_tables,
                             const QueryTile* tiles, float* out, int n_heads, int n_kv_heads,
                             int head_dim, int table_width, int window, float scale) {
    constexpr int TQ = PREFILL_QUERY_TILE;
    constexpr int TK = KV_BLOCK_SIZE;
    __shared__ float query_tile[TQ * MAX_HEAD_DIM];
    // Rows padded by one element so that reading one column of every row hits distinct banks.
    __shared__ float key_value_tile[TK * (MAX_HEAD_DIM + 1)];
    __shared__ float scores[TQ * TK];
    __shared__ float row_max[TQ];
    __shared__ float row_sum[TQ];
    __shared__ float row_rescale[TQ];

    const QueryTile tile = tiles[blockIdx.x];
    const int head = blockIdx.y;
    const int kv_head = head / (n_heads / n_kv_heads);
    const int stride = head_dim + 1;
    const i64 row_width = (i64)n_heads * head_dim;
    const u32* table = block_tables + (i64)tile.sequence * table_width;

    for (int idx = threadIdx.x; idx < TQ * head_dim; idx += blockDim.x) {
        const int query = idx / head_dim;
        query_tile[idx] = query < tile.rows
            ? queries[(i64)(tile.first_row + query) * row_width + (i64)head * head_dim + idx % head_dim]
            : 0.0f;
    }
    if (threadIdx.x < TQ) {
        row_max[threadIdx.x] = NEG_INFINITY;
        row_sum[threadIdx.x] = 0.0f;
    }
    float acc[PREFILL_OWNED];
#pragma unroll
    for (int e = 0; e < PREFILL_OWNED; ++e) acc[e] = 0.0f;

    const int last_key = tile.first_position + tile.rows - 1;
    const int first_key = window > 0 ? max(0, tile.first_position - window + 1) : 0;
    for (int key_base = first_key / TK * TK; key_base <= last_key; key_base += TK) {
        const u32 block = table[key_base / TK];
        const i64 base = kv_offset(block * KV_BLOCK_SIZE, kv_head, n_kv_heads, head_dim);
        __syncthreads();
        for (int idx = threadIdx.x; idx < TK * head_dim; idx += blockDim.x) {
            const int key = idx / head_dim;
            const int dim = idx % head_dim;
            key_value_tile[key * stride + dim] =
                key_base + key <= last_key ? KV::load(key_cache[base + idx]) : 0.0f;
        }
        __syncthreads();
        for (int idx = threadIdx.x; idx < TQ * TK; idx += blockDim.x) {
            const int query = idx / TK;
            const int key = idx % TK;
            const int query_position = tile.first_position + query;
            const int key_position = key_base + key;
            const bool visible = query < tile.rows && key_position <= query_position &&
                                 (window == 0 || key_position > query_position - window);
            float score = NEG_INFINITY;
            if (visible) {
                float dot = 0.0f;
                for (int dim = 0; dim < head_dim; ++dim) {
                    dot += query_tile[query * head_dim + dim] * key_value_tile[key * stride + dim];
                }
                score = dot * scale;
            }
            scores[idx] = score;
        }
        __syncthreads();
        if (threadIdx.x < TQ) {
            const int query = threadIdx.x;
            float tile_max = NEG_INFINITY;
            for (int key = 0; key < TK; ++key) tile_max = fmaxf(tile_max, scores[query * TK + key]);
            const float old_max = row_max[query];
            const float new_max = fmaxf(old_max, tile_max);
            float rescale = 1.0f;
            float added = 0.0f;
            if (new_max != NEG_INFINITY) {
                rescale = old_max == NEG_INFINITY ? 0.0f : expf(old_max - new_max);
                for (int key = 0; key < TK; ++key) {
                    const float score = scores[query * TK + key];
                    const float weight = score == NEG_INFINITY ? 0.0f : expf(score - new_max);
                    scores[query * TK + key] = weight;
                    added += weight;
                }
            } else {
                for (int key = 0; key < TK; ++key) scores[query * TK + key] = 0.0f;
            }
            row_sum[query] = row_sum[query] * rescale + added;
            row_max[query] = new_max;
            row_rescale[query] = rescale;
        }
        __syncthreads();
        for (int idx = threadIdx.x; idx < TK * head_dim; idx += blockDim.x) {
            const int key = idx / head_dim;
            const int dim = idx % head_dim;
            key_value_tile[key * stride + dim] =
                key_base + key <= last_key ? KV::load(value_cache[base + idx]) : 0.0f;
        }
        __syncthreads();
#pragma unroll
        for (int e = 0; e < PREFILL_OWNED; ++e) {
            const int idx = threadIdx.x + e * PREFILL_THREADS;
            if (idx < TQ * head_dim) {
                const int query = idx / head_dim;
                const int dim = idx % head_dim;
                float sum = acc[e] * row_rescale[query];
                for (int key = 0; key < TK; ++key) {
                    sum += scores[query * TK + key] * key_value_tile[key * stride + dim];
                }
                acc[e] = sum;
            }
        }
    }
    __syncthreads();
#pragma unroll
    for (int e = 0; e < PREFILL_OWNED; ++e) {
        const int idx = threadIdx.x + e * PREFILL_THREADS;
        if (idx < TQ * head_dim) {
            const int query = idx / head_dim;
            if (query < tile.rows) {
                const float total = row_sum[query];
                out[(i64)(tile.first_row + query) * row_width + (i64)head * head_dim + idx % head_dim] =
                    total > 0.0f ? acc[e] / total : 0.0f;
            }
        }
    }
}

// queries: [n_sequences, n_heads head_dim] (one new token each); seq_lens: positions in the
// cache including the new token. Partial results: [n_sequences, n_heads, n_splits, head_dim]
// and [n_sequences, n_heads, n_splits]. Grid: (n_splits, n_kv_heads · group chunks,
// n_sequences); block: ATTENTION_THREADS.
template <typename KV>
__device__ void decode_body(const float* queries, const typename KV::storage* key_cache,
                            const typename KV::storage* value_cache, const u32* block_tables,
                            const u32* seq_lens, float* partial_out, float* partial_max,
                            float* partial_sum, int n_heads, int n_kv_heads, int head_dim,
                            int table_width, int window, int n_splits, float scale) {
    constexpr int G = MAX_GROUP_CHUNK;
    __shared__ float warp_max_values[DECODE_WARPS][G];
    __shared__ float warp_sums[DECODE_WARPS][G];
    __shared__ float warp_acc[DECODE_WARPS][G][MAX_HEAD_DIM];

    const int split = blockIdx.x;
    const int sequence = blockIdx.z;
    const int group = n_heads / n_kv_heads;
    const int n_chunks = (group + G - 1) / G;
    const int kv_head = blockIdx.y / n_chunks;
    const int first_in_group = (blockIdx.y % n_chunks) * G;
    const int heads_here = min(G, group - first_in_group);
    const int first_head = kv_head * group + first_in_group;
    const int lane = threadIdx.x % WARP_SIZE;
    const int warp = threadIdx.x / WARP_SIZE;

    const int length = (int)seq_lens[sequence];
    const int start = window > 0 ? max(0, length - window) : 0;
    const int split_start = start + split * DECODE_PARTITION;
    const int split_end = min(length, split_start + DECODE_PARTITION);

    float query[G][DIMS_PER_LANE];
    float acc[G][DIMS_PER_LANE];
    float running_max[G];
    float running_sum[G];
    const float* query_row = queries + (i64)sequence * n_heads * head_dim;
#pragma unroll
    for (int g = 0; g < G; ++g) {
        running_max[g] = NEG_INFINITY;
        running_sum[g] = 0.0f;
#pragma unroll
        for (int e = 0; e < DIMS_PER_LANE; ++e) {
            const int dim = lane + e * WARP_SIZE;
            acc[g][e] = 0.0f;
            query[g][e] = (g < heads_here && dim < head_dim)
                ? query_row[(i64)(first_head + g) * head_dim + dim] : 0.0f;
        }
    }

    const u32* table = block_tables + (i64)sequence * table_width;
    for (int position = split_start + warp; position < split_end; position += DECODE_WARPS) {
        const u32 slot = table[position / KV_BLOCK_SIZE] * KV_BLOCK_SIZE + position % KV_BLOCK_SIZE;
        const i64 base = kv_offset(slot, kv_head, n_kv_heads, head_dim);
        float key[DIMS_PER_LANE];
        float value[DIMS_PER_LANE];
#pragma unroll
        for (int e = 0; e < DIMS_PER_LANE; ++e) {
            const int dim = lane + e * WARP_SIZE;
            key[e] = dim < head_dim ? KV::load(key_cache[base + dim]) : 0.0f;
            value[e] = dim < head_dim ? KV::load(value_cache[base + dim]) : 0.0f;
        }
#pragma unroll
        for (int g = 0; g < G; ++g) {
            if (g < heads_here) {
                float partial = 0.0f;
#pragma unroll
                for (int e = 0; e < DIMS_PER_LANE; ++e) partial += query[g][e] * key[e];
                const float score = warp_sum(partial) * scale;
                const float new_max = fmaxf(running_max[g], score);
                const float rescale = expf(running_max[g] - new_max);
                const float weight = expf(score - new_max);
                running_sum[g] = running_sum[g] * rescale + weight;
#pragma unroll
                for (int e = 0; e < DIMS_PER_LANE; ++e) {
                    acc[g][e] = acc[g][e] * rescale + weight * value[e];
                }
                running_max[g] = new_max;
            }
        }
    }

#pragma unroll
    for (int g = 0; g < G; ++g) {
        if (lane == 0) {
            warp_max_values[warp][g] = running_max[g];
            warp_sums[warp][g] = running_sum[g];
        }
#pragma unroll
        for (int e = 0; e < DIMS_PER_LANE; ++e) {
            const int dim = lane + e * WARP_SIZE;
            if (dim < head_dim) warp_acc[warp][g][dim] = acc[g][e];
        }
    }
    __syncthreads();
    for (int idx = threadIdx.x; idx < heads_here * head_dim; idx += blockDim.x) {
        const int g = idx / head_dim;
        const int dim = idx % head_dim;
        float combined_max = NEG_INFINITY;
        for (int w = 0; w < DECODE_WARPS; ++w) combined_max = fmaxf(combined_max, warp_max_values[w][g]);
        float sum = 0.0f;
        if (combined_max != NEG_INFINITY) {
            for (int w = 0; w < DECODE_WARPS; ++w) {
                if (warp_max_values[w][g] != NEG_INFINITY) {
                    sum += warp_acc[w][g][dim] * expf(warp_max_values[w][g] - combined_max);
                }
            }
        }
        const i64 head = first_head + g;
        partial_out[(((i64)sequence * n_heads + head) * n_splits + split) * head_dim + dim] = sum;
    }
    if (threadIdx.x < heads_here) {
        const int g = threadIdx.x;
        float combined_max = NEG_INFINITY;
        for (int w = 0; w < DECODE_WARPS; ++w) combined_max = fmaxf(combined_max, warp_max_values[w][g]);
        float total = 0.0f;
        if (combined_max != NEG_INFINITY) {
            for (int w = 0; w < DECODE_WARPS; ++w) {
                if (warp_max_values[w][g] != NEG_INFINITY) {
                    total += warp_sums[w][g] * expf(warp_max_values[w][g] - combined_max);
                }
            }
        }
        const i64 index = ((i64)sequence * n_heads + first_head + g) * n_splits + split;
        partial_max[index] = combined_max;
        partial_sum[index] = total;
    }
}

// Combines the partitions of attention_decode_*. out: [n_sequences, n_heads head_dim].
// Grid: (n_heads, n_sequences); block: ATTENTION_THREADS.
extern "C" __global__ void attention_decode_reduce(const float* partial_out,
                                                   const float* partial_max,
                                                   const float* partial_sum, float* out,
                                                   int n_heads, int head_dim, int n_splits) {
    const int head = blockIdx.x;
    const i64 sequence = blockIdx.y;
    const i64 first = (sequence * n_heads + head) * n_splits;
    float combined_max = NEG_INFINITY;
    for (int split = 0; split < n_splits; ++split) {
        combined_max = fmaxf(combined_max, partial_max[first + split]);
    }
    float total = 0.0f;
    for (int split = 0; split < n_splits; ++split) {
        const float split_max = partial_max[first + split];
        if (split_max != NEG_INFINITY) total += partial_sum[first + split] * expf(split_max - combined_max);
    }
    for (int dim = threadIdx.x; dim < head_dim; dim += blockDim.x) {
        float sum = 0.0f;
        for (int split = 0; split < n_splits; ++split) {
            const float split_max = partial_max[first + split];
            if (split_max != NEG_INFINITY) {
                sum += partial_out[(first + split) * head_dim + dim] * expf(split_max - combined_max);
            }
        }
        out[(sequence * n_heads + head) * head_dim + dim] = total > 0.0f ? sum / total : 0.0f;
    }
}

#define ATTENTION(suffix, T)                                                                     \
    extern "C" __global__ void __launch_bounds__(ATTENTION_THREADS) attention_prefill_##suffix(  \
        const float* queries, const T::storage* key_cache, const T::storage* value_cache,        \
        const u32* block_tables, const QueryTile* tiles, float* out, int n_heads,                \
        int n_kv_heads, int head_dim, int table_width, int window, float scale) {                \
        prefill_body<T>(queries, key_cache, value_cache, block_tables, tiles, out, n_heads,      \
                        n_kv_heads, head_dim, table_width, window, scale);                       \
    }                                                                                            \
    extern "C" __global__ void __launch_bounds__(ATTENTION_THREADS) attention_decode_##suffix(   \
        const float* queries, const T::storage* key_cache, const T::storage* value_cache,        \
        const u32* block_tables, const u32* seq_lens, float* partial_out, float* partial_max,    \
        float* partial_sum, int n_heads, int n_kv_heads, int head_dim, int table_width,          \
        int window, int n_splits, float scale) {                                                 \
        decode_body<T>(queries, key_cache, value_cache, block_tables, seq_lens, partial_out,     \
                       partial_max, partial_sum, n_heads, n_kv_heads, head_dim, table_width,     \
                       window, n_splits, scale);                                                 \
    }
FOR_EACH_STORAGE(ATTENTION)

// Copy-on-write of shared KV blocks: for each (source, destination) pair, copies the block in
// every layer's key and value planes. pool: [planes][n_blocks][block_words] as 32-bit words.
// Grid: (n_pairs, n_planes); block: COPY_THREADS.
extern "C" __global__ void copy_blocks(u32* pool, const u32* pairs, i64 block_words,
                                       i64 plane_words) {
    const u32 source = pairs[2 * blockIdx.x];
    const u32 destination = pairs[2 * blockIdx.x + 1];
    u32* plane = pool + (i64)blockIdx.y * plane_words;
    const u32* from = plane + (i64)source * block_words;
    u32* to = plane + (i64)destination * block_words;
    for (i64 idx = threadIdx.x; idx < block_words; idx += blockDim.x) to[idx] = from[idx];
}
