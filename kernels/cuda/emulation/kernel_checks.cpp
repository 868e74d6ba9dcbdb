// Runs every kernel Proofwright launches (kernels/src/cuda/sources.rs) on the host, under the
// CUDA emulation in cuda_host.h, against naive references written independently here (sums in
// f64, 16-bit floats decoded and rounding judged by their own bit-level code, not common.cuh's).
// Prints one line per check: PASS with the number of values compared, or FAIL with the number
// that differ and the first of them. Also checks the emulation itself: deadlocks and divergent
// barriers are reported, warp shuffles and ballots give the GPU's results, a missing barrier shows
// up, and a stack overflow is caught. The kernel names given as arguments must all have been
// launched. Exit status 0 when every check passes. Built and run by `run`.
#include "../elementwise.cu"
#include "../rope.cu"
#include "../linear.cu"
#include "../attention.cu"
#include "../sampling.cu"
#include <map>
#include <random>
#include <sys/wait.h>

// ---- tolerances ---------------------------------------------------------------------------------
// f32 kernels against f64 references: a dot product of k terms may be off by a few ulps of the
// sum of the terms' magnitudes.
constexpr double LINEAR_RELATIVE_TOLERANCE = 1e-4;
constexpr double NORM_TOLERANCE = 1e-5;
constexpr double ATTENTION_TOLERANCE = 1e-4;
constexpr double LOG_PROB_TOLERANCE = 1e-4;
// Rotated keys stored in 16 bits: rounding to the type (2^-8 relative for BF16, 2^-11 for F16) on
// top of the f32 error.
constexpr double ROPE_F32_TOLERANCE = 1e-5;
constexpr double BF16_RELATIVE_ROUNDING = 1.0 / 256;
constexpr double F16_RELATIVE_ROUNDING = 1.0 / 2048;
// A sampled token may differ from the reference only where the uniform number lies this close to
// a boundary between two tokens' cumulative probabilities (the kernel sums in 2^-32 fixed point).
constexpr double SAMPLING_BOUNDARY_SLACK = 1e-5;

static std::mt19937_64 rng(42);
static float uniform(float lo, float hi) { return std::uniform_real_distribution<float>(lo, hi)(rng); }

// ---- checks -------------------------------------------------------------------------------------
struct Check {
  long compared = 0;
  long mismatched = 0;
  std::string first_mismatch;
  size_t launch_failures_before = 0;
};
static Check active;
static int passed_checks = 0, failed_checks = 0;

static void begin_check() {
  active = Check{};
  active.launch_failures_before = emulation::emu.failures.size();
}

#define EXPECT(condition, ...)                                                         \
  do {                                                                                 \
    ++active.compared;                                                                 \
    if (!(condition) && active.mismatched++ == 0) active.first_mismatch = emulation::format(__VA_ARGS__); \
  } while (0)

static void end_check(const std::string& name) {
  const size_t launch_failures = emulation::emu.failures.size() - active.launch_failures_before;
  if (active.mismatched == 0 && launch_failures == 0 && active.compared > 0) {
    ++passed_checks;
    printf("PASS %-58s %ld of %ld values match\n", name.c_str(), active.compared, active.compared);
    return;
  }
  ++failed_checks;
  printf("FAIL %s: %ld of %ld values differ", name.c_str(), active.mismatched, active.compared);
  if (active.compared == 0) printf("; nothing was compared");
  if (active.mismatched > 0) printf("; first: %s", active.first_mismatch.c_str());
  if (launch_failures > 0) printf("; launch failed: %s", emulation::emu.failures[active.launch_failures_before].c_str());
  printf("\n");
}

// ---- 16-bit floats, independently of common.cuh -------------------------------------------------
enum class Storage { f32, bf16, f16 };
static const char* storage_name(Storage storage) {
  return storage == Storage::f32 ? "f32" : storage == Storage::bf16 ? "bf16" : "f16";
}
struct SmallFloat { int exponent_bits, mantissa_bits; };
constexpr SmallFloat BF16_FORMAT{8, 7}, F16_FORMAT{5, 10};
static SmallFloat format_of(Storage storage) { return storage == Storage::bf16 ? BF16_FORMAT : F16_FORMAT; }

// The value of 16-bit pattern `bits`; the infinity pattern reads as 2^(max exponent + 1) when
// `infinity_as_next_power` (the value a rounding compares against at the top of the range).
static double decode_small(unsigned bits, SmallFloat format, bool infinity_as_next_power = false) {
  const int m = format.mantissa_bits, e = format.exponent_bits;
  const unsigned sign = (bits >> (e + m)) & 1, exponent = (bits >> m) & ((1u << e) - 1), mantissa = bits & ((1u << m) - 1);
  const int bias = (1 << (e - 1)) - 1;
  double value;
  if (exponent == (1u << e) - 1) value = mantissa != 0 ? NAN : infinity_as_next_power ? ldexp(1.0, bias + 1) : INFINITY;
  else if (exponent == 0) value = ldexp((double)mantissa, 1 - bias - m);
  else value = ldexp((double)(mantissa + (1u << m)), (int)exponent - bias - m);
  return sign ? -value : value;
}
static double decode(Storage storage, unsigned bits) { return decode_small(bits, format_of(storage)); }

// Whether `bits` is `value` rounded to nearest, ties to even, overflowing to infinity.
static bool is_rounded_to_nearest_even(float value, unsigned bits, SmallFloat format) {
  const unsigned sign_bit = 1u << (format.exponent_bits + format.mantissa_bits);
  if (std::signbit(value) != ((bits & sign_bit) != 0)) return false;
  const unsigned magnitude = bits & (sign_bit - 1);
  const unsigned infinity = ((1u << format.exponent_bits) - 1) << format.mantissa_bits;
  const double target = fabs((double)value);
  if (std::isinf(target)) return magnitude == infinity;
  if (magnitude > infinity) return false;  // NaN for a finite input
  const double largest = decode_small(infinity - 1, format), next = decode_small(infinity, format, true);
  const double overflow_threshold = (largest + next) / 2;  // a tie here rounds to even: infinity
  if (magnitude == infinity) return target >= overflow_threshold;
  if (target >= overflow_threshold) return false;
  const double distance = fabs(target - decode_small(magnitude, format));
  for (unsigned neighbour : {magnitude - 1, magnitude + 1}) {
    if (magnitude == 0 && neighbour == magnitude - 1) continue;
    const double other = fabs(target - decode_small(neighbour, format, true));
    if (other < distance || (other == distance && (magnitude & 1))) return false;
  }
  return true;
}

// Stores `values` in `storage` (nearest even) and returns what the stored numbers are.
static std::vector<float> stored_values(const std::vector<float>& values, Storage storage, std::vector<u16>& bits) {
  bits.assign(values.size(), 0);
  if (storage == Storage::f32) return values;
  std::vector<float> decoded(values.size());
  for (size_t i = 0; i < values.size(); ++i) {
    bits[i] = storage == Storage::bf16 ? float_to_bf16(values[i]) : float_to_f16(values[i]);
    decoded[i] = (float)decode(storage, bits[i]);
  }
  return decoded;
}

// ---- the emulation itself -----------------------------------------------------------------------
static void kernel_barrier_in_divergent_code() { if (threadIdx.x < 32) __syncthreads(); }
static void kernel_two_different_barriers() {
  if (threadIdx.x % 2) __syncthreads();
  else __syncthreads();
}
static void kernel_shuffle_in_divergent_code(float* out) {
  float value = (float)threadIdx.x;
  if (threadIdx.x % WARP_SIZE < 16) value = __shfl_xor_sync(FULL_MASK, value, 1);
  out[threadIdx.x] = value;
}
static void kernel_warp_exchanges(u64* xor_out, double* up_out, int* index_out, u32* ballot_out) {
  const u32 t = threadIdx.x;
  xor_out[t] = __shfl_xor_sync(FULL_MASK, (u64)t * 0x100000001ull, 5);
  up_out[t] = __shfl_up_sync(FULL_MASK, t + 0.5, 3);
  index_out[t] = __shfl_sync(FULL_MASK, -(int)t, (int)(t * 7 + 40));
  ballot_out[t] = __ballot_sync(FULL_MASK, (t * 13) % 5 == 0);
}
static void kernel_missing_barrier(int* out) {
  __shared__ int shared_block;
  if (threadIdx.x == 0) shared_block = (int)blockIdx.x;
  out[blockIdx.x * blockDim.x + threadIdx.x] = shared_block;  // no __syncthreads before the read
}
static void kernel_with_barrier(int* out) {
  __shared__ int shared_block;
  if (threadIdx.x == 0) shared_block = (int)blockIdx.x;
  __syncthreads();
  out[blockIdx.x * blockDim.x + threadIdx.x] = shared_block;
}
static void kernel_stack_overflow(int* out) {
  volatile unsigned char large[emulation::FIBER_STACK_BYTES + emulation::GUARD_BYTES];
  large[0] = 1;
  out[threadIdx.x] = large[0];
}

static bool last_failure_mentions(const char* text) {
  return !emulation::emu.failures.empty() && emulation::emu.failures.back().find(text) != std::string::npos;
}

void check_emulation() {
  begin_check();
  const size_t failures_before = emulation::emu.failures.size();
  emulation::emu.print_failures = false;
  EXPECT(!LAUNCH(kernel_barrier_in_divergent_code, dim3{2}, dim3{64}) && last_failure_mentions("deadlock in block (0,0,0): threads 0-31 wait at __syncthreads"),
         "a __syncthreads only half the block reaches was not reported as a deadlock");
  EXPECT(!LAUNCH(kernel_two_different_barriers, dim3{1}, dim3{64}) && last_failure_mentions("different __syncthreads"),
         "threads at two different __syncthreads were not reported");
  std::vector<float> divergent(64);
  EXPECT(!LAUNCH(kernel_shuffle_in_divergent_code, dim3{1}, dim3{64}, divergent.data()) && last_failure_mentions("deadlock"),
         "a shuffle only half the warp reaches was not reported as a deadlock");
  // Those failures were the expected outcome: they do not fail this check.
  emulation::emu.print_failures = true;
  emulation::emu.failures.resize(failures_before);
  const unsigned n = 96;
  std::vector<u64> xor_out(n);
  std::vector<double> up_out(n);
  std::vector<int> index_out(n);
  std::vector<u32> ballot_out(n);
  EXPECT(LAUNCH(kernel_warp_exchanges, dim3{1}, dim3{n}, xor_out.data(), up_out.data(), index_out.data(), ballot_out.data()), "warp exchange launch");
  u32 expected_ballot[3] = {0, 0, 0};
  for (u32 t = 0; t < n; ++t) if ((t * 13) % 5 == 0) expected_ballot[t / 32] |= 1u << (t % 32);
  for (u32 t = 0; t < n; ++t) {
    const u32 warp_base = t / 32 * 32, lane = t % 32;
    const u32 xor_source = warp_base + (lane ^ 5);
    EXPECT(xor_out[t] == (u64)xor_source * 0x100000001ull, "shfl_xor thread %u: %llu", t, xor_out[t]);
    const u32 up_source = lane >= 3 ? t - 3 : t;
    EXPECT(up_out[t] == up_source + 0.5, "shfl_up thread %u: %f", t, up_out[t]);
    const u32 index_source = warp_base + (t * 7 + 40) % 32;
    EXPECT(index_out[t] == -(int)index_source, "shfl thread %u: %d", t, index_out[t]);
    EXPECT(ballot_out[t] == expected_ballot[t / 32], "ballot thread %u: %#x", t, ballot_out[t]);
  }
  // The shuffled schedule makes a missing barrier visible: some thread reads before thread 0 wrote.
  const unsigned blocks = 8, threads = 64;
  std::vector<int> racy(blocks * threads, -1), ordered(blocks * threads, -1);
  LAUNCH(kernel_missing_barrier, dim3{blocks}, dim3{threads}, racy.data());
  LAUNCH(kernel_with_barrier, dim3{blocks}, dim3{threads}, ordered.data());
  int stale_reads = 0;
  for (unsigned i = 0; i < blocks * threads; ++i) {
    stale_reads += racy[i] != (int)(i / threads);
    EXPECT(ordered[i] == (int)(i / threads), "barrier-ordered read %u: %d", i, ordered[i]);
  }
  EXPECT(stale_reads > 0, "a read without a barrier never saw stale shared memory");
  // A fiber that overflows its stack ends the process with a message naming the kernel; run it in
  // a child so this check can see that.
  fflush(stdout);
  const pid_t child = fork();
  if (child == 0) {
    if (freopen("/dev/null", "w", stdout) == nullptr) _exit(1);
    std::vector<int> out(32);
    LAUNCH(kernel_stack_overflow, dim3{1}, dim3{32}, out.data());
    _exit(0);
  }
  int status = 0;
  waitpid(child, &status, 0);
  EXPECT(WIFEXITED(status) && WEXITSTATUS(status) == emulation::EXIT_STACK_OVERFLOW,
         "a stack overflow ended the child with status %#x, not exit %d", status, emulation::EXIT_STACK_OVERFLOW);
  end_check("emulation: deadlocks, divergence, warp exchanges, races, stack overflow");
}

// ---- element-wise kernels -----------------------------------------------------------------------
void check_embedding(Storage storage) {
  begin_check();
  const int vocab = 50, width = 70;
  std::vector<float> table(vocab * width);
  for (auto& v : table) v = uniform(-2, 2);
  std::vector<u16> bits;
  const std::vector<float> stored = stored_values(table, storage, bits);
  std::vector<u32> tokens = {0, 49, 7, 7, 23};
  std::vector<float> out(tokens.size() * width, NAN);
  const dim3 grid{(unsigned)tokens.size()}, block{64};
  if (storage == Storage::f32) LAUNCH(embedding_f32, grid, block, table.data(), tokens.data(), out.data(), width);
  if (storage == Storage::bf16) LAUNCH(embedding_bf16, grid, block, bits.data(), tokens.data(), out.data(), width);
  if (storage == Storage::f16) LAUNCH(embedding_f16, grid, block, bits.data(), tokens.data(), out.data(), width);
  for (size_t r = 0; r < tokens.size(); ++r)
    for (int i = 0; i < width; ++i) {
      const float expected = stored[tokens[r] * width + i];
      EXPECT(out[r * width + i] == expected, "row %zu [%d]: %g vs %g", r, i, out[r * width + i], expected);
    }
  end_check(std::string("embedding_") + storage_name(storage));
}

void check_rms_norm() {
  begin_check();
  const int rows = 3, width = 300;
  std::vector<float> x(rows * width), w(width), out(rows * width);
  for (auto& v : x) v = uniform(-1, 1);
  for (auto& v : w) v = uniform(0.5, 1.5);
  LAUNCH(rms_norm, dim3{(unsigned)rows}, dim3{NORM_THREADS}, x.data(), w.data(), out.data(), width, 1e-6f);
  for (int r = 0; r < rows; ++r) {
    double mean_square = 0;
    for (int i = 0; i < width; ++i) mean_square += (double)x[r * width + i] * x[r * width + i];
    const double inverse = 1 / sqrt(mean_square / width + 1e-6);
    for (int i = 0; i < width; ++i) {
      const double expected = w[i] * x[r * width + i] * inverse;
      EXPECT(fabs(out[r * width + i] - expected) < NORM_TOLERANCE, "row %d [%d]: %f vs %f", r, i, out[r * width + i], expected);
    }
  }
  end_check("rms_norm");
}

void check_silu_mul() {
  begin_check();
  const int rows = 3, width = 300;
  std::vector<float> gate_up(rows * 2 * width), out(rows * width);
  for (auto& v : gate_up) v = uniform(-3, 3);
  // 4 blocks cover less than the total: the grid-stride loop must go round.
  LAUNCH(silu_mul, dim3{4}, dim3{ELEMENTWISE_THREADS}, gate_up.data(), out.data(), width, (i64)rows * width);
  for (int r = 0; r < rows; ++r)
    for (int i = 0; i < width; ++i) {
      const double gate = gate_up[r * 2 * width + i], up = gate_up[r * 2 * width + width + i];
      const double expected = gate / (1 + exp(-gate)) * up;
      EXPECT(fabs(out[r * width + i] - expected) < NORM_TOLERANCE, "row %d [%d]: %f vs %f", r, i, out[r * width + i], expected);
    }
  end_check("silu_mul");
}

void check_add_bias() {
  begin_check();
  const int rows = 5, width = 301;
  std::vector<float> x(rows * width), bias(width);
  for (auto& v : x) v = uniform(-1, 1);
  for (auto& v : bias) v = uniform(-1, 1);
  const std::vector<float> before = x;
  LAUNCH(add_bias, dim3{3}, dim3{ELEMENTWISE_THREADS}, x.data(), bias.data(), width, (i64)rows * width);
  for (int i = 0; i < rows * width; ++i) EXPECT(x[i] == before[i] + bias[i % width], "[%d]: %f vs %f", i, x[i], before[i] + bias[i % width]);
  end_check("add_bias");
}

void check_convert(Storage storage) {
  begin_check();
  std::vector<float> values = {0.0f, -0.0f, 1.0f, -1.0f, INFINITY, -INFINITY, 65504.0f, 65519.0f, 65520.0f, 70000.0f,
                               -70000.0f, 1e-6f, -3e-8f, 1e-40f, 3.4e38f, -3.39e38f, 1.0f / 3};
  // Exact ties between two neighbours of each type, which must round to the even one.
  for (int i = 0; i < 64; ++i) {
    const float base = uniform(-100, 100);
    const int drop = storage == Storage::bf16 ? 16 : 13;  // bits below the type's last mantissa bit
    const u32 tie = (__float_as_uint(base) & ~((1u << drop) - 1)) | (1u << (drop - 1));
    values.push_back(__uint_as_float(tie));
  }
  for (int i = 0; i < 2000; ++i) values.push_back(ldexpf(uniform(-1, 1), (int)uniform(-30, 30)));
  const i64 total = (i64)values.size();
  std::vector<u16> out(values.size(), 0xdead);
  // 3 blocks of 256 threads: fewer than the values, so the grid-stride loop goes round.
  if (storage == Storage::bf16) LAUNCH(convert_to_bf16, dim3{3}, dim3{ELEMENTWISE_THREADS}, values.data(), out.data(), total);
  else LAUNCH(convert_to_f16, dim3{3}, dim3{ELEMENTWISE_THREADS}, values.data(), out.data(), total);
  for (size_t i = 0; i < values.size(); ++i)
    EXPECT(is_rounded_to_nearest_even(values[i], out[i], format_of(storage)), "%.9g became %#06x (%.9g)", values[i], out[i], decode(storage, out[i]));
  end_check(std::string("convert_to_") + storage_name(storage));
}

void check_gather_rows() {
  begin_check();
  const int n_rows = 9, width = 130;
  std::vector<float> input(n_rows * width);
  for (auto& v : input) v = uniform(-1, 1);
  std::vector<u32> row_ids = {8, 0, 3, 3};
  std::vector<float> out(row_ids.size() * width, NAN);
  LAUNCH(gather_rows, dim3{(unsigned)row_ids.size()}, dim3{64}, input.data(), row_ids.data(), out.data(), width);
  for (size_t r = 0; r < row_ids.size(); ++r)
    for (int i = 0; i < width; ++i) EXPECT(out[r * width + i] == input[row_ids[r] * width + i], "row %zu [%d]", r, i);
  end_check("gather_rows");
}

void check_copy_blocks() {
  begin_check();
  const int n_planes = 3, n_blocks = 6;
  const i64 block_words = 300;  // more than COPY_THREADS: each thread copies twice
  const i64 plane_words = n_blocks * block_words;
  std::vector<u32> pool(n_planes * plane_words);
  for (size_t i = 0; i < pool.size(); ++i) pool[i] = (u32)(i * 2654435761u);
  std::vector<u32> pairs = {1, 4, 2, 5, 0, 3};
  std::vector<u32> expected = pool;
  for (int p = 0; p < n_planes; ++p)
    for (size_t pair = 0; pair < pairs.size() / 2; ++pair)
      for (i64 w = 0; w < block_words; ++w)
        expected[p * plane_words + pairs[2 * pair + 1] * block_words + w] = pool[p * plane_words + pairs[2 * pair] * block_words + w];
  const dim3 grid{(unsigned)pairs.size() / 2, (unsigned)n_planes};
  LAUNCH(copy_blocks, grid, dim3{COPY_THREADS}, pool.data(), pairs.data(), block_words, plane_words);
  for (size_t i = 0; i < pool.size(); ++i) EXPECT(pool[i] == expected[i], "word %zu: %#x vs %#x", i, pool[i], expected[i]);
  end_check("copy_blocks");
}

// ---- rope ---------------------------------------------------------------------------------------
void check_qkv_prepare(Storage storage, bool with_norms) {
  begin_check();
  const int n_heads = 4, n_kv = 2, dim = 16, half = 8, n = 5, n_blocks = 4;
  const int row_width = (n_heads + 2 * n_kv) * dim;
  std::vector<float> qkv(n * row_width), cs(n * half), sn(n * half), q_norm(dim), k_norm(dim), queries(n * n_heads * dim, NAN);
  for (auto& v : qkv) v = uniform(-1, 1);
  for (int i = 0; i < n * half; ++i) { const float a = uniform(0, 6); cs[i] = cosf(a); sn[i] = sinf(a); }
  for (auto& v : q_norm) v = uniform(0.5, 1.5);
  for (auto& v : k_norm) v = uniform(0.5, 1.5);
  std::vector<u32> slots = {17, 3, 40, 63, 20};
  const size_t plane = (size_t)n_blocks * n_kv * KV_BLOCK_SIZE * dim;
  std::vector<float> key_f32(plane), value_f32(plane);
  std::vector<u16> key_bits(plane), value_bits(plane);
  const float* qn = with_norms ? q_norm.data() : nullptr;
  const float* kn = with_norms ? k_norm.data() : nullptr;
  const dim3 grid{(unsigned)n, (unsigned)(n_heads + n_kv)}, block{ROPE_THREADS};
  if (storage == Storage::f32) LAUNCH(qkv_prepare_f32, grid, block, qkv.data(), qn, kn, cs.data(), sn.data(), slots.data(), queries.data(), key_f32.data(), value_f32.data(), n_heads, n_kv, dim, 1e-6f);
  if (storage == Storage::bf16) LAUNCH(qkv_prepare_bf16, grid, block, qkv.data(), qn, kn, cs.data(), sn.data(), slots.data(), queries.data(), key_bits.data(), value_bits.data(), n_heads, n_kv, dim, 1e-6f);
  if (storage == Storage::f16) LAUNCH(qkv_prepare_f16, grid, block, qkv.data(), qn, kn, cs.data(), sn.data(), slots.data(), queries.data(), key_bits.data(), value_bits.data(), n_heads, n_kv, dim, 1e-6f);
  const double rounding = storage == Storage::f32 ? 0 : storage == Storage::bf16 ? BF16_RELATIVE_ROUNDING : F16_RELATIVE_ROUNDING;
  auto cache_value = [&](const std::vector<float>& f32, const std::vector<u16>& bits, i64 offset) {
    return storage == Storage::f32 ? (double)f32[offset] : decode(storage, bits[offset]);
  };
  for (int t = 0; t < n; ++t)
    for (int h = 0; h < n_heads + n_kv; ++h) {
      std::vector<double> v(dim);
      for (int i = 0; i < dim; ++i) v[i] = qkv[t * row_width + h * dim + i];
      if (with_norms) {
        const std::vector<float>& weight = h < n_heads ? q_norm : k_norm;
        double mean_square = 0;
        for (double x : v) mean_square += x * x;
        const double inverse = 1 / sqrt(mean_square / dim + 1e-6);
        for (int i = 0; i < dim; ++i) v[i] = weight[i] * v[i] * inverse;
      }
      std::vector<double> r(dim);
      for (int i = 0; i < half; ++i) {
        r[i] = v[i] * cs[t * half + i] - v[i + half] * sn[t * half + i];
        r[i + half] = v[i + half] * cs[t * half + i] + v[i] * sn[t * half + i];
      }
      for (int i = 0; i < dim; ++i) {
        if (h < n_heads) {
          const float got = queries[(t * n_heads + h) * dim + i];
          EXPECT(fabs(got - r[i]) < ROPE_F32_TOLERANCE, "query t %d h %d [%d]: %f vs %f", t, h, i, got, r[i]);
          continue;
        }
        const int kv_head = h - n_heads;
        const i64 offset = kv_offset(slots[t], kv_head, n_kv, dim) + i;
        const double key = cache_value(key_f32, key_bits, offset);
        EXPECT(fabs(key - r[i]) <= ROPE_F32_TOLERANCE + rounding * fabs(r[i]), "key t %d h %d [%d]: %f vs %f", t, kv_head, i, key, r[i]);
        const double input = qkv[t * row_width + (n_heads + n_kv + kv_head) * dim + i];
        const double value = cache_value(value_f32, value_bits, offset);
        EXPECT(fabs(value - input) <= rounding * fabs(input), "value t %d h %d [%d]: %f vs %f", t, kv_head, i, value, input);
      }
    }
  end_check(std::string("qkv_prepare_") + storage_name(storage) + (with_norms ? " (q/k norms)" : " (no norms)"));
}

// ---- linear -------------------------------------------------------------------------------------
void check_linear(Storage storage) {
  begin_check();
  const int shapes[][2] = {{64, 40}, {136, 96}, {37, 23}, {512, 130}};
  for (auto& shape : shapes)
    for (int rows = 1; rows <= SKINNY_MAX_ROWS; ++rows)
      for (int accumulate = 0; accumulate < 2; ++accumulate) {
        const int k = shape[0], m = shape[1];
        std::vector<float> x(rows * k), w(m * k), bias(m), initial(rows * m);
        for (auto& v : x) v = uniform(-1, 1);
        for (auto& v : w) v = uniform(-1, 1);
        for (auto& v : bias) v = uniform(-1, 1);
        for (auto& v : initial) v = uniform(-1, 1);
        std::vector<u16> bits, input_bits;
        const std::vector<float> stored = stored_values(w, storage, bits);
        // The kernel rounds its f32 inputs to a 16-bit weight's type, as the cuBLAS path does.
        const std::vector<float> x_as_weight_type = stored_values(x, storage, input_bits);
        std::vector<float> out = initial;
        const int columns = columns_per_warp(rows) * LINEAR_WARPS;
        const dim3 grid{(unsigned)((m + columns - 1) / columns)}, block{LINEAR_WARPS * 32};
        // Bias and accumulate are tested together (the residual add with a biased projection).
        const float* b = accumulate ? bias.data() : nullptr;
        if (storage == Storage::f32) LAUNCH(linear_skinny_f32, grid, block, x.data(), w.data(), b, out.data(), rows, k, m, accumulate);
        if (storage == Storage::bf16) LAUNCH(linear_skinny_bf16, grid, block, x.data(), bits.data(), b, out.data(), rows, k, m, accumulate);
        if (storage == Storage::f16) LAUNCH(linear_skinny_f16, grid, block, x.data(), bits.data(), b, out.data(), rows, k, m, accumulate);
        for (int r = 0; r < rows; ++r)
          for (int j = 0; j < m; ++j) {
            double sum = 0, scale = 1;
            for (int i = 0; i < k; ++i) {
              sum += (double)x_as_weight_type[r * k + i] * stored[j * k + i];
              scale += fabs((double)x_as_weight_type[r * k + i] * stored[j * k + i]);
            }
            if (accumulate) sum += bias[j] + initial[r * m + j];
            EXPECT(fabs(out[r * m + j] - sum) <= LINEAR_RELATIVE_TOLERANCE * scale, "k %d m %d rows %d accumulate %d [%d,%d]: %f vs %f", k, m, rows, accumulate, r, j, out[r * m + j], sum);
          }
      }
  end_check(std::string("linear_skinny_") + storage_name(storage) + " (4 shapes x 1-4 rows x bias/accumulate)");
}

// ---- attention ----------------------------------------------------------------------------------
// Random K/V in a shuffled paged pool and random queries; prefill over every new row, decode over
// the last new row of each sequence (split-K, then attention_decode_reduce), against a naive
// softmax over the visible positions of the stored (rounded) keys and values.
void check_attention(Storage storage, int n_heads, int n_kv, int dim, int window, std::vector<std::pair<int, int>> seqs) {
  const int group = n_heads / n_kv;
  int n_blocks = 3;
  for (auto& s : seqs) n_blocks += (s.first + s.second + KV_BLOCK_SIZE - 1) / KV_BLOCK_SIZE;
  std::vector<int> order(n_blocks - 1);
  for (int i = 0; i < n_blocks - 1; ++i) order[i] = i + 1;
  std::shuffle(order.begin(), order.end(), rng);
  int width = 0, next = 0;
  std::vector<std::vector<u32>> tables;
  for (auto& s : seqs) {
    const int nb = (s.first + s.second + KV_BLOCK_SIZE - 1) / KV_BLOCK_SIZE;
    std::vector<u32> table;
    for (int b = 0; b < nb; ++b) table.push_back(order[next++]);
    width = std::max(width, nb);
    tables.push_back(table);
  }
  std::vector<u32> table_words(seqs.size() * width, 0);
  for (size_t s = 0; s < seqs.size(); ++s)
    for (size_t b = 0; b < tables[s].size(); ++b) table_words[s * width + b] = tables[s][b];
  const size_t plane = (size_t)n_blocks * n_kv * KV_BLOCK_SIZE * dim;
  std::vector<float> keys_raw(plane), values_raw(plane);
  for (auto& v : keys_raw) v = uniform(-1, 1);
  for (auto& v : values_raw) v = uniform(-1, 1);
  std::vector<u16> key_bits, value_bits;
  const std::vector<float> keys = stored_values(keys_raw, storage, key_bits);
  const std::vector<float> values = stored_values(values_raw, storage, value_bits);
  auto kv_at = [&](const std::vector<float>& pool, int s, int pos, int h, int d) {
    const u32 slot = tables[s][pos / KV_BLOCK_SIZE] * KV_BLOCK_SIZE + pos % KV_BLOCK_SIZE;
    return pool[kv_offset(slot, h, n_kv, dim) + d];
  };
  int n_rows = 0;
  for (auto& s : seqs) n_rows += s.second;
  const int q_dim = n_heads * dim;
  std::vector<float> q(n_rows * q_dim);
  for (auto& v : q) v = uniform(-1, 1);
  std::vector<QueryTile> tiles;
  std::vector<std::pair<int, int>> row_info;  // sequence, position
  int row = 0;
  for (size_t s = 0; s < seqs.size(); ++s) {
    const int old = seqs[s].first, fresh = seqs[s].second;
    for (int o = 0; o < fresh; o += PREFILL_QUERY_TILE) tiles.push_back(QueryTile{(int)s, row + o, std::min(PREFILL_QUERY_TILE, fresh - o), old + o});
    for (int o = 0; o < fresh; ++o) row_info.push_back({(int)s, old + o});
    row += fresh;
  }
  const float scale = 1.0f / sqrtf((float)dim);
  auto reference = [&](int r, int h) {
    auto [s, pos] = row_info[r];
    const int kv_head = h / group;
    const int first = window > 0 ? std::max(0, pos - window + 1) : 0;
    std::vector<double> scores;
    for (int p = first; p <= pos; ++p) {
      double dot = 0;
      for (int i = 0; i < dim; ++i) dot += (double)q[r * q_dim + h * dim + i] * kv_at(keys, s, p, kv_head, i);
      scores.push_back(dot * scale);
    }
    const double largest = *std::max_element(scores.begin(), scores.end());
    double total = 0;
    for (auto& v : scores) { v = exp(v - largest); total += v; }
    std::vector<double> out(dim, 0);
    for (int p = first; p <= pos; ++p)
      for (int i = 0; i < dim; ++i) out[i] += scores[p - first] / total * kv_at(values, s, p, kv_head, i);
    return out;
  };
  const std::string shape = emulation::format(" %s heads %d/%d dim %d window %d", storage_name(storage), n_heads, n_kv, dim, window);

  begin_check();
  std::vector<float> out(n_rows * q_dim, -7);
  const dim3 prefill_grid{(unsigned)tiles.size(), (unsigned)n_heads}, block{ATTENTION_THREADS};
  if (storage == Storage::f32) LAUNCH(attention_prefill_f32, prefill_grid, block, q.data(), keys.data(), values.data(), table_words.data(), tiles.data(), out.data(), n_heads, n_kv, dim, width, window, scale);
  if (storage == Storage::bf16) LAUNCH(attention_prefill_bf16, prefill_grid, block, q.data(), key_bits.data(), value_bits.data(), table_words.data(), tiles.data(), out.data(), n_heads, n_kv, dim, width, window, scale);
  if (storage == Storage::f16) LAUNCH(attention_prefill_f16, prefill_grid, block, q.data(), key_bits.data(), value_bits.data(), table_words.data(), tiles.data(), out.data(), n_heads, n_kv, dim, width, window, scale);
  for (int r = 0; r < n_rows; ++r)
    for (int h = 0; h < n_heads; ++h) {
      const auto expected = reference(r, h);
      for (int i = 0; i < dim; ++i)
        EXPECT(fabs(out[r * q_dim + h * dim + i] - expected[i]) < ATTENTION_TOLERANCE, "row %d head %d [%d]: %f vs %f", r, h, i, out[r * q_dim + h * dim + i], expected[i]);
    }
  end_check("attention_prefill" + shape + emulation::format(" (%zu tiles)", tiles.size()));

  begin_check();
  std::vector<float> decode_queries;
  std::vector<u32> lens;
  std::vector<int> last_rows;
  row = 0;
  for (size_t s = 0; s < seqs.size(); ++s) {
    row += seqs[s].second;
    last_rows.push_back(row - 1);
    lens.push_back(seqs[s].first + seqs[s].second);
    for (int i = 0; i < q_dim; ++i) decode_queries.push_back(q[(row - 1) * q_dim + i]);
  }
  const int n_splits = (width * KV_BLOCK_SIZE + DECODE_PARTITION - 1) / DECODE_PARTITION;
  const int ns = (int)seqs.size(), chunks = (group + MAX_GROUP_CHUNK - 1) / MAX_GROUP_CHUNK;
  std::vector<float> partial_out(ns * n_heads * n_splits * dim, NAN), partial_max(ns * n_heads * n_splits, NAN), partial_sum(ns * n_heads * n_splits, NAN), decode_out(ns * q_dim, -7);
  const dim3 decode_grid{(unsigned)n_splits, (unsigned)(n_kv * chunks), (unsigned)ns};
  if (storage == Storage::f32) LAUNCH(attention_decode_f32, decode_grid, block, decode_queries.data(), keys.data(), values.data(), table_words.data(), lens.data(), partial_out.data(), partial_max.data(), partial_sum.data(), n_heads, n_kv, dim, width, window, n_splits, scale);
  if (storage == Storage::bf16) LAUNCH(attention_decode_bf16, decode_grid, block, decode_queries.data(), key_bits.data(), value_bits.data(), table_words.data(), lens.data(), partial_out.data(), partial_max.data(), partial_sum.data(), n_heads, n_kv, dim, width, window, n_splits, scale);
  if (storage == Storage::f16) LAUNCH(attention_decode_f16, decode_grid, block, decode_queries.data(), key_bits.data(), value_bits.data(), table_words.data(), lens.data(), partial_out.data(), partial_max.data(), partial_sum.data(), n_heads, n_kv, dim, width, window, n_splits, scale);
  const dim3 reduce_grid{(unsigned)n_heads, (unsigned)ns};
  LAUNCH(attention_decode_reduce, reduce_grid, block, partial_out.data(), partial_max.data(), partial_sum.data(), decode_out.data(), n_heads, dim, n_splits);
  for (int s = 0; s < ns; ++s)
    for (int h = 0; h < n_heads; ++h) {
      const auto expected = reference(last_rows[s], h);
      for (int i = 0; i < dim; ++i)
        EXPECT(fabs(decode_out[s * q_dim + h * dim + i] - expected[i]) < ATTENTION_TOLERANCE, "sequence %d head %d [%d]: %f vs %f", s, h, i, decode_out[s * q_dim + h * dim + i], expected[i]);
    }
  end_check("attention_decode + reduce" + shape + emulation::format(" (%d splits)", n_splits));
}

// ---- sampling -----------------------------------------------------------------------------------
void check_log_probs() {
  begin_check();
  const int rows = 3, vocab = 1000;
  std::vector<float> logits(rows * vocab);
  for (auto& v : logits) v = uniform(-20, 20);
  std::vector<u32> targets = {5, 999, 0};
  std::vector<float> out(rows);
  LAUNCH(gather_log_probs, dim3{(unsigned)rows}, dim3{SAMPLING_THREADS}, logits.data(), vocab, targets.data(), out.data());
  for (int r = 0; r < rows; ++r) {
    double largest = -1e30, total = 0;
    for (int i = 0; i < vocab; ++i) largest = std::max(largest, (double)logits[r * vocab + i]);
    for (int i = 0; i < vocab; ++i) total += exp(logits[r * vocab + i] - largest);
    const double expected = logits[r * vocab + targets[r]] - largest - log(total);
    EXPECT(fabs(out[r] - expected) < LOG_PROB_TOLERANCE, "row %d: %f vs %f", r, out[r], expected);
  }
  end_check("gather_log_probs");
}

// Each row draws with uniform number (row + 0.5) / n_rows, so the rows sweep the distribution:
// the reference is the inverse CDF, over the kept tokens in index order, of temperature → top-k
// (ties broken by lower index) → top-p (smallest prefix of the sorted tokens reaching p).
void check_sampling() {
  const int vocab = 5003, n_rows = 64;
  std::vector<float> logits(vocab);
  for (auto& v : logits) v = uniform(-4, 4);
  logits[17] = 9;
  logits[4001] = 9;  // ties at the top
  logits[100] = logits[101] = logits[102] = 2.5f;  // ties in the middle
  std::vector<double> u(n_rows);
  for (int i = 0; i < n_rows; ++i) u[i] = (i + 0.5) / n_rows;
  std::vector<u32> tokens(n_rows);
  auto sample = [&](float temperature, float top_p, int top_k) {
    float params[3] = {temperature, top_p, (float)top_k};
    std::fill(tokens.begin(), tokens.end(), 0xffffffffu);
    LAUNCH(sample_rows, dim3{(unsigned)n_rows}, dim3{SAMPLING_THREADS}, logits.data(), 0, vocab, params, u.data(), tokens.data());
  };
  begin_check();
  sample(0, 1, 0);
  for (int r = 0; r < n_rows; ++r) EXPECT(tokens[r] == 17, "row %d: %u, expected the first of the tied maxima, 17", r, tokens[r]);
  end_check("sample_rows greedy (tied maxima)");
  struct Case { float temperature, top_p; int top_k; } cases[] = {{1, 1, 0}, {0.7f, 1, 50}, {1.3f, 0.9f, 0}, {1, 0.5f, 40}, {1, 1, 1}, {2, 0.3f, 0}};
  for (auto c : cases) {
    begin_check();
    sample(c.temperature, c.top_p, c.top_k);
    std::vector<double> keys(vocab);
    for (int i = 0; i < vocab; ++i) keys[i] = logits[i] / c.temperature;
    std::vector<int> order(vocab);
    for (int i = 0; i < vocab; ++i) order[i] = i;
    std::sort(order.begin(), order.end(), [&](int a, int b) { return keys[a] != keys[b] ? keys[a] > keys[b] : a < b; });
    if (c.top_k > 0 && c.top_k < vocab) order.resize(c.top_k);
    const double largest = keys[order[0]];
    std::vector<double> mass;
    double total = 0;
    for (int t : order) { mass.push_back(exp(keys[t] - largest)); total += mass.back(); }
    size_t keep = order.size();
    if (c.top_p < 1) {
      double cumulative = 0;
      for (size_t i = 0; i < order.size(); ++i) {
        cumulative += mass[i] / total;
        if (cumulative >= c.top_p) { keep = i + 1; break; }
      }
    }
    std::vector<std::pair<int, double>> kept;
    double kept_total = 0;
    for (size_t i = 0; i < keep; ++i) { kept.push_back({order[i], mass[i]}); kept_total += mass[i]; }
    std::sort(kept.begin(), kept.end());
    std::vector<u32> expected;
    std::vector<double> bounds;
    double cumulative = 0;
    for (auto& [token, m] : kept) {
      const double end = cumulative + m / kept_total;
      bounds.push_back(end);
      while (expected.size() < (size_t)n_rows && u[expected.size()] < end) expected.push_back(token);
      cumulative = end;
    }
    while (expected.size() < (size_t)n_rows) expected.push_back(kept.back().first);
    for (int r = 0; r < n_rows; ++r) {
      bool near_boundary = false;
      for (double bound : bounds) near_boundary |= fabs(bound - u[r]) < SAMPLING_BOUNDARY_SLACK;
      EXPECT(tokens[r] == expected[r] || near_boundary, "row %d: got %u expected %u", r, tokens[r], expected[r]);
    }
    end_check(emulation::format("sample_rows temperature %.1f top-p %.1f top-k %d (%zu kept)", c.temperature, c.top_p, c.top_k, kept.size()));
  }
  // Ties at the top-k threshold: keys 100..102 tie; k = 4 keeps 5, 200, 100 and 101 but not 102.
  begin_check();
  std::vector<float> tied(vocab, -10);
  tied[5] = 5;
  tied[200] = 4;
  tied[100] = tied[101] = tied[102] = 3;
  std::swap(logits, tied);
  sample(1, 1, 4);
  std::map<u32, int> seen;
  for (auto t : tokens) seen[t]++;
  for (auto [token, count] : seen) EXPECT(token == 5 || token == 200 || token == 100 || token == 101, "kept %u (%d rows)", token, count);
  EXPECT(seen.count(101) && !seen.count(102), "the tie limit: 101 %s, 102 %s", seen.count(101) ? "drawn" : "never drawn", seen.count(102) ? "drawn" : "never drawn");
  std::swap(logits, tied);
  end_check("sample_rows top-k 4 with ties at the threshold");
}

int main(int argc, char** argv) {
  setvbuf(stdout, nullptr, _IONBF, 0);
  check_emulation();
  for (Storage storage : {Storage::f32, Storage::bf16, Storage::f16}) check_embedding(storage);
  check_rms_norm();
  check_silu_mul();
  check_add_bias();
  check_convert(Storage::bf16);
  check_convert(Storage::f16);
  check_gather_rows();
  check_copy_blocks();
  check_qkv_prepare(Storage::f32, false);
  check_qkv_prepare(Storage::bf16, true);
  check_qkv_prepare(Storage::f16, true);
  for (Storage storage : {Storage::f32, Storage::bf16, Storage::f16}) check_linear(storage);
  check_log_probs();
  check_attention(Storage::f32, 8, 2, 64, 0, {{37, 20}, {0, 5}, {16, 1}});
  check_attention(Storage::f32, 4, 2, 128, 7, {{10, 30}, {3, 2}});
  check_attention(Storage::f32, 12, 1, 32, 0, {{2 * DECODE_PARTITION + 40, 3}, {1, 1}});
  check_attention(Storage::f32, 4, 2, 16, 5, {{5, 11}});
  check_attention(Storage::bf16, 8, 2, 64, 0, {{37, 20}, {0, 5}});
  check_attention(Storage::f16, 4, 2, 32, 9, {{DECODE_PARTITION + 20, 4}, {2, 3}});
  check_sampling();
  // Every kernel the Rust side launches (the arguments, from kernels/src/cuda/sources.rs) must have
  // been run by some check above.
  begin_check();
  std::string missing;
  for (int i = 1; i < argc; ++i) {
    const bool launched = emulation::emu.launched.count(argv[i]) != 0;
    EXPECT(launched, "%s", argv[i]);
    if (!launched) missing += std::string(missing.empty() ? "" : ", ") + argv[i];
  }
  end_check(emulation::format("every kernel in sources.rs was run (%d kernels)", argc - 1));
  if (!missing.empty()) printf("     no check launches: %s; add one to kernel_checks.cpp\n", missing.c_str());
  printf("%d checks passed, %d failed; %llu launches, %llu blocks, %llu fiber switches, peak fiber stack %zu of %zu bytes\n",
         passed_checks, failed_checks, emulation::emu.launches, emulation::emu.blocks, emulation::emu.switches,
         emulation::peak_stack_bytes(), emulation::FIBER_STACK_BYTES);
  return failed_checks == 0 ? 0 : 1;
}
