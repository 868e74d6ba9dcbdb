// A small host emulation of the CUDA execution model, to run Proofwright's kernels on a machine
// without a GPU (see run and kernel_checks.cpp here). Blocks run one after another; a block's
// threads are OS threads; __syncthreads is a barrier over them; warp intrinsics exchange values
// through a per-warp buffer between two per-warp barriers. It checks the kernels' logic
// (indexing, tiling, reductions, synchronisation points), not their speed, and it cannot see
// data races that happen to be harmless on the host. Slow: thousands of OS threads meet at
// every barrier.
#pragma once
#define PROOFWRIGHT_HOST_EMULATION 1
#include <atomic>
#include <barrier>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <thread>
#include <vector>
#include <algorithm>
#include <strings.h>

using std::max;
using std::min;
struct dim3 { unsigned x = 1, y = 1, z = 1; };
struct float4 { float x, y, z, w; };
struct uint4 { unsigned x, y, z, w; };
inline thread_local dim3 threadIdx, blockIdx;
inline dim3 blockDim, gridDim;
#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __launch_bounds__(x)
#define __shared__ static
inline std::unique_ptr<std::barrier<>> block_barrier;
inline std::vector<std::unique_ptr<std::barrier<>>> warp_barriers;
inline uint64_t warp_exchange[64][32];
inline void __syncthreads() { block_barrier->arrive_and_wait(); }
inline unsigned lane_id() { return threadIdx.x % 32; }
inline unsigned warp_id() { return threadIdx.x / 32; }
template <typename T> T shfl_generic(T value, int source) {
  uint64_t bits = 0; std::memcpy(&bits, &value, sizeof(T));
  warp_exchange[warp_id()][lane_id()] = bits;
  warp_barriers[warp_id()]->arrive_and_wait();
  uint64_t got = warp_exchange[warp_id()][source];
  warp_barriers[warp_id()]->arrive_and_wait();
  T out; std::memcpy(&out, &got, sizeof(T)); return out;
}
template <typename T> T __shfl_xor_sync(unsigned, T v, int offset) { return shfl_generic(v, lane_id() ^ offset); }
template <typename T> T __shfl_up_sync(unsigned, T v, unsigned delta) { int s = (int)lane_id() - (int)delta; return shfl_generic(v, s < 0 ? lane_id() : s); }
template <typename T> T __shfl_sync(unsigned, T v, int source) { return shfl_generic(v, source); }
inline unsigned __ballot_sync(unsigned, int predicate) {
  warp_exchange[warp_id()][lane_id()] = predicate ? 1 : 0;
  warp_barriers[warp_id()]->arrive_and_wait();
  unsigned bits = 0; for (int l = 0; l < 32; ++l) if (warp_exchange[warp_id()][l]) bits |= 1u << l;
  warp_barriers[warp_id()]->arrive_and_wait();
  return bits;
}
inline int __ffs(unsigned x) { return ffs((int)x); }
inline float __uint_as_float(unsigned u) { float f; std::memcpy(&f, &u, 4); return f; }
inline unsigned __float_as_uint(float f) { unsigned u; std::memcpy(&u, &f, 4); return u; }
inline float __int_as_float(int u) { float f; std::memcpy(&f, &u, 4); return f; }
inline unsigned long long atomicAdd(unsigned long long* p, unsigned long long v) { return std::atomic_ref<unsigned long long>(*p).fetch_add(v); }
inline unsigned atomicAdd(unsigned* p, unsigned v) { return std::atomic_ref<unsigned>(*p).fetch_add(v); }
inline float expf_(float x) { return std::exp(x); }
// Runs `kernel` over the grid: one OS thread per thread of a block, reused for every block;
// blocks run one after another (so `static` stands in for __shared__).
inline void launch(dim3 grid, dim3 block, const std::function<void()>& kernel) {
  gridDim = grid; blockDim = block;
  unsigned n = block.x * block.y * block.z;
  block_barrier = std::make_unique<std::barrier<>>(n);
  warp_barriers.clear();
  for (unsigned w = 0; w < (n + 31) / 32; ++w) warp_barriers.push_back(std::make_unique<std::barrier<>>(std::min(32u, n - 32 * w)));
  std::vector<std::thread> threads;
  for (unsigned t = 0; t < n; ++t) threads.emplace_back([&, t] {
    threadIdx = dim3{t, 0, 0};
    for (unsigned z = 0; z < grid.z; ++z) for (unsigned y = 0; y < grid.y; ++y) for (unsigned x = 0; x < grid.x; ++x) {
      blockIdx = dim3{x, y, z};
      kernel();
      block_barrier->arrive_and_wait();
    }
  });
  for (auto& th : threads) th.join();
}
