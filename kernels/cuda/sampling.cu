// Choosing next tokens on the GPU, one block per row of logits, so logits never cross to the
// host: greedy (the first maximum), or temperature → top-k → top-p → a draw, as transformers'
// warpers do. The kept sets are found by radix selection over the logits' bits (counts for
// top-k, probability mass in 2^-32 fixed point for top-p), and the draw walks the kept tokens in
// index order. Every sum is over integers or in a fixed tree order, so a row always gives the
// same token for the same logits and the same uniform number.
//
// Also here: the log-probability of one target token per row (teacher-forced scoring).
#include "common.cuh"

#define RADIX_BITS 8
#define RADIX_BINS (1 << RADIX_BITS)
// Probabilities relative to the most likely token, in fixed point: a token's mass is
// exp(logit - max) · 2^32, so sums are exact and independent of summation order.
#define MASS_SCALE 4294967296.0

// Maps a float to an unsigned integer with the same order.
__device__ __forceinline__ u32 ordered_bits(float value) {
    const u32 bits = __float_as_uint(value);
    return (bits & 0x80000000u) ? ~bits : (bits | 0x80000000u);
}

// The float whose ordered bits these are.
__device__ __forceinline__ float key_of_bits(u32 ordered) {
    return __uint_as_float((ordered & 0x80000000u) ? (ordered & 0x7fffffffu) : ~ordered);
}

// Shared state of one row's selection.
struct Selection {
    u32 k_threshold;      // ordered bits of the k-th largest key
    int k_tie_limit;      // keys equal to the threshold are kept up to this index
    u32 p_threshold;
    int p_tie_limit;
    bool use_top_k;
    bool use_top_p;
};

__device__ __forceinline__ bool in_top_k(const Selection& selection, u32 bits, int index) {
    return !selection.use_top_k || bits > selection.k_threshold ||
           (bits == selection.k_threshold && index <= selection.k_tie_limit);
}

__device__ __forceinline__ bool in_top_p(const Selection& selection, u32 bits, int index) {
    return !selection.use_top_p || bits > selection.p_threshold ||
           (bits == selection.p_threshold && index <= selection.p_tie_limit);
}

// The first index, in index order, where the running sum of `weight` exceeds `target`; -1 when
// the total does not. Each warp owns a contiguous segment of the row; warps total their
// segments, then the one warp where the target falls scans its segment 32 indices at a time.
// Must be reached by every thread of the block.
template <typename Weight>
__device__ int first_exceeding(Weight weight, int length, u64 target, u64* warp_totals,
                               int* shared_result, u64* shared_base, int* shared_warp) {
    const int lane = threadIdx.x % WARP_SIZE;
    const int warp = threadIdx.x / WARP_SIZE;
    const int n_warps = blockDim.x / WARP_SIZE;
    const int segment = ((length + n_warps - 1) / n_warps + WARP_SIZE - 1) / WARP_SIZE * WARP_SIZE;
    const int segment_start = min(length, warp * segment);
    const int segment_end = min(length, segment_start + segment);

    u64 sum = 0;
    for (int index = segment_start + lane; index < segment_end; index += WARP_SIZE) sum += weight(index);
    sum = warp_sum_u64(sum);
    __syncthreads();
    if (lane == 0) warp_totals[warp] = sum;
    __syncthreads();
    if (threadIdx.x == 0) {
        u64 running = 0;
        int chosen = -1;
        for (int w = 0; w < n_warps; ++w) {
            if (running + warp_totals[w] > target) {
                chosen = w;
                break;
            }
            running += warp_totals[w];
        }
        *shared_warp = chosen;
        *shared_base = running;
        *shared_result = -1;
    }
    __syncthreads();
    if (warp == *shared_warp) {
        u64 running = *shared_base;
        for (int base = segment_start; base < segment_end; base += WARP_SIZE) {
            const int index = base + lane;
            const u64 value = index < segment_end ? weight(index) : 0;
            u64 inclusive = value;
#pragma unroll
            for (int offset = 1; offset < WARP_SIZE; offset <<= 1) {
                const u64 other = __shfl_up_sync(FULL_MASK, inclusive, offset);
                if (lane >= offset) inclusive += other;
            }
            const u64 chunk_total = __shfl_sync(FULL_MASK, inclusive, WARP_SIZE - 1);
            if (running + chunk_total > target) {
                const u32 crossing = __ballot_sync(FULL_MASK, running + inclusive > target);
                const int first_lane = __ffs(crossing) - 1;
                if (lane == first_lane) *shared_result = index;
                break;
            }
            running += chunk_total;
        }
    }
    __syncthreads();
    return *shared_result;
}

// Radix selection from the top: the key (as ordered bits) at which the running total of
// `weight`, taken from the largest keys down, first reaches `target`. Returns the key's bits;
// `remaining` is set to what the keys equal to it must still contribute (1 ..= their total).
// Must be reached by every thread of the block.
template <typename Key, typename Weight>
__device__ u32 radix_select(Key key_bits, Weight weight, int length, u64 target, u64* histogram,
                            u32* shared_prefix, u64* shared_remaining) {
    if (threadIdx.x == 0) {
        *shared_prefix = 0;
        *shared_remaining = target;
    }
    u32 mask = 0;
    for (int shift = 32 - RADIX_BITS; shift >= 0; shift -= RADIX_BITS) {
        __syncthreads();
        for (int bin = threadIdx.x; bin < RADIX_BINS; bin += blockDim.x) histogram[bin] = 0;
        __syncthreads();
        const u32 prefix = *shared_prefix;
        for (int index = threadIdx.x; index < length; index += blockDim.x) {
            const u32 bits = key_bits(index);
            if ((bits & mask) == prefix) {
                const u64 amount = weight(index, bits);
                if (amount != 0) atomicAdd(&histogram[(bits >> shift) & (RADIX_BINS - 1)], amount);
            }
        }
        __syncthreads();
        if (threadIdx.x == 0) {
            u64 above = 0;
            const u64 remaining = *shared_remaining;
            int chosen = -1;
            int lowest_nonempty = -1;
            for (int bin = RADIX_BINS - 1; bin >= 0; --bin) {
                if (histogram[bin] == 0) continue;
                lowest_nonempty = bin;
                if (above + histogram[bin] >= remaining) {
                    chosen = bin;
                    break;
                }
                above += histogram[bin];
            }
            if (chosen < 0) {
                // Rounding left the target just above the total: take the smallest key.
                chosen = lowest_nonempty < 0 ? 0 : lowest_nonempty;
                above -= histogram[chosen];
            }
            *shared_prefix = prefix | ((u32)chosen << shift);
            *shared_remaining = remaining > above ? remaining - above : 1;
        }
        mask |= (u32)(RADIX_BINS - 1) << shift;
    }
    __syncthreads();
    return *shared_prefix;
}

// logits: row r at logits + r · row_stride (a stride of 0 samples one row many times);
// params: [temperature, top_p, top_k]; uniforms: one draw in [0, 1) per row.
// Grid: n_rows blocks of SAMPLING_THREADS.
extern "C" __global__ void __launch_bounds__(SAMPLING_THREADS)
    sample_rows(const float* logits, i64 row_stride, int vocab, const float* params,
                const double* uniforms, u32* out_tokens) {
    __shared__ float float_scratch[SAMPLING_THREADS / WARP_SIZE];
    __shared__ int index_scratch[SAMPLING_THREADS / WARP_SIZE];
    __shared__ u64 histogram[RADIX_BINS];
    __shared__ u64 warp_totals[SAMPLING_THREADS / WARP_SIZE];
    __shared__ u32 shared_prefix;
    __shared__ u64 shared_remaining;
    __shared__ int shared_result;
    __shared__ u64 shared_base;
    __shared__ int shared_warp;
    __shared__ Selection selection;

    const i64 row = blockIdx.x;
    const float* x = logits + row * row_stride;
    const float temperature = params[0];
    const float top_p = params[1];
    const int top_k = (int)params[2];
    const int lane = threadIdx.x % WARP_SIZE;
    const int warp = threadIdx.x / WARP_SIZE;

    if (!(temperature > 0.0f)) {
        // Greedy: the largest logit, the first one on ties.
        float best = NEG_INFINITY;
        int best_index = vocab;
        for (int index = threadIdx.x; index < vocab; index += blockDim.x) {
            const float value = x[index];
            if (value > best) {
                best = value;
                best_index = index;
            }
        }
#pragma unroll
        for (int offset = WARP_SIZE / 2; offset > 0; offset >>= 1) {
            const float other = __shfl_xor_sync(FULL_MASK, best, offset);
            const int other_index = __shfl_xor_sync(FULL_MASK, best_index, offset);
            if (other > best || (other == best && other_index < best_index)) {
                best = other;
                best_index = other_index;
            }
        }
        if (lane == 0) {
            float_scratch[warp] = best;
            index_scratch[warp] = best_index;
        }
        __syncthreads();
        if (threadIdx.x == 0) {
            for (int w = 1; w < (int)(blockDim.x / WARP_SIZE); ++w) {
                if (float_scratch[w] > best || (float_scratch[w] == best && index_scratch[w] < best_index)) {
                    best = float_scratch[w];
                    best_index = index_scratch[w];
                }
            }
            out_tokens[row] = best_index < vocab ? (u32)best_index : 0u;
        }
        return;
    }

    auto key = [&](int index) { return x[index] / temperature; };
    auto key_bits = [&](int index) { return ordered_bits(key(index)); };

    float local_max = NEG_INFINITY;
    for (int index = threadIdx.x; index < vocab; index += blockDim.x) local_max = fmaxf(local_max, key(index));
    const float max_key = block_max(local_max, float_scratch);
    auto mass = [&](int index) -> u64 { return (u64)((double)expf(key(index) - max_key) * MASS_SCALE); };

    if (threadIdx.x == 0) {
        selection.use_top_k = top_k > 0 && top_k < vocab;
        selection.use_top_p = top_p < 1.0f;
        selection.k_threshold = 0;
        selection.k_tie_limit = vocab;
        selection.p_threshold = 0;
        selection.p_tie_limit = vocab;
    }
    __syncthreads();

    if (selection.use_top_k) {
        auto count_one = [&](int, u32) -> u64 { return 1; };
        const u32 threshold = radix_select(key_bits, count_one, vocab, (u64)top_k, histogram,
                                           &shared_prefix, &shared_remaining);
        const u64 ties_needed = shared_remaining;
        const u64 ties_total = histogram[threshold & (RADIX_BINS - 1)];
        int tie_limit = vocab;
        if (ties_needed < ties_total) {
            auto is_tie = [&](int index) -> u64 { return key_bits(index) == threshold ? 1 : 0; };
            const int limit = first_exceeding(is_tie, vocab, ties_needed - 1, warp_totals,
                                              &shared_result, &shared_base, &shared_warp);
            if (limit >= 0) tie_limit = limit;
        }
        if (threadIdx.x == 0) {
            selection.k_threshold = threshold;
            selection.k_tie_limit = tie_limit;
        }
        __syncthreads();
    }

    if (selection.use_top_p) {
        auto kept_mass = [&](int index, u32 bits) -> u64 {
            return in_top_k(selection, bits, index) ? mass(index) : 0;
        };
        u64 local_total = 0;
        for (int index = threadIdx.x; index < vocab; index += blockDim.x) local_total += kept_mass(index, key_bits(index));
        const u64 total = block_sum_u64(local_total, warp_totals);
        u64 target = (u64)((double)top_p * (double)total);
        target = max((u64)1, min(target, total));
        const u32 threshold = radix_select(key_bits, kept_mass, vocab, target, histogram,
                                           &shared_prefix, &shared_remaining);
        const u64 remaining = shared_remaining;
        // At the last radix level the threshold's bin holds the mass of exactly the kept keys
        // equal to it, and every one of them carries the same mass.
        const u64 tie_total = histogram[threshold & (RADIX_BINS - 1)];
        const u64 tie_mass = (u64)((double)expf(key_of_bits(threshold) - max_key) * MASS_SCALE);
        int tie_limit = selection.k_tie_limit;
        if (tie_mass > 0 && remaining < tie_total) {
            const u64 ties_needed = (remaining + tie_mass - 1) / tie_mass;
            auto is_kept_tie = [&](int index) -> u64 {
                const u32 bits = key_bits(index);
                return bits == threshold && in_top_k(selection, bits, index) ? 1 : 0;
            };
            const int limit = first_exceeding(is_kept_tie, vocab, ties_needed - 1, warp_totals,
                                              &shared_result, &shared_base, &shared_warp);
            if (limit >= 0) tie_limit = limit;
        }
        if (threadIdx.x == 0) selection.p_threshold = threshold;
        if (threadIdx.x == 0) selection.p_tie_limit = tie_limit;
        __syncthreads();
    }

    auto final_mass = [&](int index) -> u64 {
        const u32 bits = key_bits(index);
        return in_top_k(selection, bits, index) && in_top_p(selection, bits, index) ? mass(index) : 0;
    };
    u64 local_total = 0;
    for (int index = threadIdx.x; index < vocab; index += blockDim.x) local_total += final_mass(index);
    const u64 total = block_sum_u64(local_total, warp_totals);
    u64 target = (u64)(uniforms[row] * (double)total);
    if (total > 0 && target >= total) target = total - 1;
    const int chosen = first_exceeding(final_mass, vocab, target, warp_totals, &shared_result,
                                       &shared_base, &shared_warp);
    if (threadIdx.x == 0) out_tokens[row] = chosen < 0 ? 0u : (u32)chosen;
}

// out[r] = log softmax(logits[r])[targets[r]], with the sum of exponentials in f64 like the CPU.
// Grid: n_rows blocks of SAMPLING_THREADS.
extern "C" __global__ void __launch_bounds__(SAMPLING_THREADS)
    gather_log_probs(const float* logits, int vocab, const u32* targets, float* out) {
    __shared__ float float_scratch[SAMPLING_THREADS / WARP_SIZE];
    __shared__ double double_scratch[SAMPLING_THREADS / WARP_SIZE];
    const i64 row = blockIdx.x;
    const float* x = logits + row * vocab;
    float local_max = NEG_INFINITY;
    for (int index = threadIdx.x; index < vocab; index += blockDim.x) local_max = fmaxf(local_max, x[index]);
    const float max_value = block_max(local_max, float_scratch);
    double local_sum = 0.0;
    for (int index = threadIdx.x; index < vocab; index += blockDim.x) local_sum += exp((double)(x[index] - max_value));
    const double total = block_sum_double(local_sum, double_scratch);
    if (threadIdx.x == 0) {
        const float log_total = (float)log(total) + max_value;
        out[row] = x[targets[row]] - log_total;
    }
}
