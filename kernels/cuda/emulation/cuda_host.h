// A host emulation of the CUDA execution model, to run Proofwright's kernels on a machine without
// a GPU (see run and kernel_checks.cpp here).
//
// Blocks run one after another, so `static` stands in for __shared__. A block's threads are
// cooperative fibers in the one OS thread, each with its own stack; only one runs at a time and
// it runs until it reaches __syncthreads or a warp intrinsic (__shfl_*_sync, __ballot_sync),
// where it waits until every thread of its block (or lane of its warp) has arrived. threadIdx is
// a plain variable the scheduler sets on each switch. The scheduler runs the waiting-free fibers
// of a block in a shuffled order, so a kernel that reads shared memory before the barrier that
// orders the write sees a different interleaving from block to block.
//
// It checks the kernels' logic (indexing, tiling, reductions, synchronisation points), not their
// speed. It reports, as a failed launch that names the kernel: a barrier that some threads never
// reach (a deadlock on a GPU), threads of one block waiting at different __syncthreads or lanes
// of one warp at different warp intrinsics, and partial warp masks. A fiber that overflows its
// stack hits a guard page and the process exits naming the kernel, as does any other
// segmentation fault inside a kernel (an out-of-bounds access).
//
// Switching: a fiber starts once through makecontext/setcontext and from then on switches with
// _setjmp/_longjmp, which save only the callee-saved registers and make no system call
// (swapcontext saves the signal mask with a system call on every switch: kernel_checks ran in
// 40 s with it, 3 s without). Each fiber loops over the blocks it is given, so it is started
// again only after a deadlock abandoned it. Jumping between stacks this way is outside what the
// C standard promises but is how glibc's own _longjmp works on every Linux target.
#pragma once
#define PROOFWRIGHT_HOST_EMULATION 1
// With _FORTIFY_SOURCE (on by default in some distributions' g++), _longjmp checks that it jumps
// up the current stack and aborts on a jump to another fiber's stack. This header is included
// before anything else, so turning it off here covers every libc header.
#undef _FORTIFY_SOURCE
#include <algorithm>
#include <cmath>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <functional>
#include <set>
#include <string>
#include <vector>
#include <setjmp.h>
#include <signal.h>
#include <strings.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

using std::max;
using std::min;
struct dim3 { unsigned x = 1, y = 1, z = 1; };
// 16-byte aligned, as in CUDA, where a vector load from a misaligned address faults.
struct alignas(16) float4 { float x, y, z, w; };
struct alignas(16) uint4 { unsigned x, y, z, w; };
inline dim3 threadIdx, blockIdx, blockDim, gridDim;
#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __launch_bounds__(x)
#define __shared__ static

namespace emulation {

// ---- limits ------------------------------------------------------------------------------------
// Usable stack of each fiber. The deepest kernel frame measured (the peak the run prints) is a few
// KiB: the largest local arrays are decode attention's query/acc registers (2 x 8 x 8 floats) and
// prefill's 32 accumulators. 64 KiB leaves room for -O0 builds and libm calls; only the pages a
// fiber touches cost memory.
constexpr size_t FIBER_STACK_BYTES = 64 * 1024;
// One inaccessible page below each stack: an overflow faults there instead of writing into the
// next fiber's stack (the build uses -fstack-clash-protection so large frames probe it).
constexpr size_t GUARD_BYTES = 4096;
constexpr unsigned MAX_BLOCK_THREADS = 1024;
constexpr unsigned WARP_LANES = 32;
// Written over every stack when it is made, to measure how much of it was ever used.
constexpr unsigned char STACK_PAINT = 0xA5;
// Exit statuses of a process that faulted inside a kernel.
constexpr int EXIT_STACK_OVERFLOW = 70;
constexpr int EXIT_SEGMENTATION_FAULT = 71;
constexpr size_t SIGNAL_STACK_BYTES = 64 * 1024;
// A deadlock report names at most this many runs of threads that wait at the same place.
constexpr unsigned MAX_DESCRIBED_RUNS = 6;

enum class FiberState { runnable, at_block_barrier, at_warp_exchange, finished };
enum class ExchangeKind { shuffle, ballot };

struct Fiber {
  unsigned char* mapping = nullptr;  // guard page, then the stack
  ucontext_t start{};
  jmp_buf context{};
  bool started = false;
  FiberState state = FiberState::runnable;
  const char* site_file = "";  // where it waits
  int site_line = 0;
  ExchangeKind kind = ExchangeKind::shuffle;
  unsigned mask = 0;
  uint64_t value = 0;
  unsigned source_lane = 0;
  uint64_t result = 0;
};

struct Emulator {
  // Grows before a launch, never during one. A deque, because a ucontext_t points into itself
  // and must not move once made.
  std::deque<Fiber> fibers;
  jmp_buf scheduler{};
  unsigned current = 0;
  unsigned n_threads = 0;
  unsigned block_arrived = 0;
  const char* block_site_file = "";  // where the first thread to arrive waits
  int block_site_line = 0;
  unsigned block_first_thread = 0;
  unsigned warp_arrived[MAX_BLOCK_THREADS / WARP_LANES] = {};
  const char* kernel_name = nullptr;
  const std::function<void()>* kernel = nullptr;
  std::string launch_problem;  // the first divergence seen in this launch
  std::vector<std::string> failures;  // every failed launch, for the caller
  std::set<std::string> launched;  // the names of every kernel launched
  bool print_failures = true;  // off while the self-test provokes failures on purpose
  uint64_t schedule_state = 0x9e3779b97f4a7c15ull;
  unsigned long long launches = 0, blocks = 0, switches = 0;
};
inline Emulator emu;

inline const char* base_name(const char* path) {
  const char* slash = strrchr(path, '/');
  return slash ? slash + 1 : path;
}

inline std::string format(const char* pattern, ...) __attribute__((format(printf, 1, 2)));
inline std::string format(const char* pattern, ...) {
  char buffer[1024];
  va_list arguments;
  va_start(arguments, pattern);
  vsnprintf(buffer, sizeof buffer, pattern, arguments);
  va_end(arguments);
  return buffer;
}

inline std::string where() {
  return format("block (%u,%u,%u) thread %u", blockIdx.x, blockIdx.y, blockIdx.z, emu.current);
}

inline void note_problem(const std::string& problem) {
  if (emu.launch_problem.empty()) emu.launch_problem = problem;
}

// ---- faults ------------------------------------------------------------------------------------
// The handler that was installed before ours (a host program's own, such as Rust's stack-overflow
// handler when the emulation runs inside the emulated driver library).
inline struct sigaction previous_segv_action{}, previous_bus_action{};

inline void on_segmentation_fault(int signal_number, siginfo_t* info, void*) {
  const auto* address = static_cast<unsigned char*>(info->si_addr);
  // A fault outside any kernel belongs to the host program: hand it to the handler it had
  // installed (the faulting instruction runs again and reaches that handler).
  if (emu.kernel_name == nullptr) {
    const struct sigaction& previous = signal_number == SIGBUS ? previous_bus_action : previous_segv_action;
    if ((previous.sa_flags & SA_SIGINFO) != 0 || (previous.sa_handler != SIG_DFL && previous.sa_handler != SIG_IGN)) {
      sigaction(signal_number, &previous, nullptr);
      return;
    }
  }
  char message[512];
  int status = EXIT_SEGMENTATION_FAULT;
  if (emu.kernel_name == nullptr) {
    snprintf(message, sizeof message, "FAIL segmentation fault at %p outside any kernel\n",
             (void*)address);
  } else {
    const char* what = "segmentation fault (an out-of-bounds access?)";
    for (const Fiber& fiber : emu.fibers) {
      if (fiber.mapping != nullptr && address >= fiber.mapping && address < fiber.mapping + GUARD_BYTES) {
        what = "fiber stack overflow (raise emulation::FIBER_STACK_BYTES)";
        status = EXIT_STACK_OVERFLOW;
      }
    }
    snprintf(message, sizeof message, "FAIL %s: %s at %p in block (%u,%u,%u) thread %u\n",
             emu.kernel_name, what, (void*)address, blockIdx.x, blockIdx.y, blockIdx.z, emu.current);
  }
  ssize_t ignored = write(STDOUT_FILENO, message, strlen(message));
  (void)ignored;
  _exit(status);
}

inline void install_fault_handler() {
  static bool installed = false;
  if (installed) return;
  installed = true;
  stack_t signal_stack{};
  signal_stack.ss_sp = malloc(SIGNAL_STACK_BYTES);
  signal_stack.ss_size = SIGNAL_STACK_BYTES;
  sigaltstack(&signal_stack, nullptr);
  struct sigaction action{};
  action.sa_sigaction = on_segmentation_fault;
  action.sa_flags = SA_SIGINFO | SA_ONSTACK;
  sigemptyset(&action.sa_mask);
  sigaction(SIGSEGV, &action, &previous_segv_action);
  sigaction(SIGBUS, &action, &previous_bus_action);
}

// ---- fibers ------------------------------------------------------------------------------------
inline void yield_to_scheduler() {
  if (!_setjmp(emu.fibers[emu.current].context)) _longjmp(emu.scheduler, 1);
}

// Runs the current kernel once per block it is resumed for.
inline void fiber_main() {
  for (;;) {
    (*emu.kernel)();
    emu.fibers[emu.current].state = FiberState::finished;
    yield_to_scheduler();
  }
}

inline void prepare_fiber_start(Fiber& fiber) {
  getcontext(&fiber.start);
  fiber.start.uc_stack.ss_sp = fiber.mapping + GUARD_BYTES;
  fiber.start.uc_stack.ss_size = FIBER_STACK_BYTES;
  fiber.start.uc_link = nullptr;
  makecontext(&fiber.start, fiber_main, 0);
  fiber.started = false;
}

inline bool ensure_fibers(unsigned count) {
  install_fault_handler();
  while (emu.fibers.size() < count) {
    void* mapping = mmap(nullptr, GUARD_BYTES + FIBER_STACK_BYTES, PROT_READ | PROT_WRITE,
                         MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mapping == MAP_FAILED) return false;
    Fiber& fiber = emu.fibers.emplace_back();
    fiber.mapping = static_cast<unsigned char*>(mapping);
    if (mprotect(fiber.mapping, GUARD_BYTES, PROT_NONE) != 0) return false;
    memset(fiber.mapping + GUARD_BYTES, STACK_PAINT, FIBER_STACK_BYTES);
    prepare_fiber_start(fiber);
  }
  return true;
}

// The most stack any fiber has used so far, in bytes (from the paint left untouched).
inline size_t peak_stack_bytes() {
  size_t peak = 0;
  for (const Fiber& fiber : emu.fibers) {
    const unsigned char* stack = fiber.mapping + GUARD_BYTES;
    size_t untouched = 0;
    while (untouched < FIBER_STACK_BYTES && stack[untouched] == STACK_PAINT) ++untouched;
    peak = std::max(peak, FIBER_STACK_BYTES - untouched);
  }
  return peak;
}

inline void switch_to(unsigned index) {
  Fiber& fiber = emu.fibers[index];
  emu.current = index;
  threadIdx = dim3{index, 0, 0};
  ++emu.switches;
  if (!_setjmp(emu.scheduler)) {
    if (fiber.started) _longjmp(fiber.context, 1);
    fiber.started = true;
    setcontext(&fiber.start);
  }
}

// ---- synchronisation ---------------------------------------------------------------------------
inline void sync_threads(const char* file, int line) {
  Fiber& self = emu.fibers[emu.current];
  self.state = FiberState::at_block_barrier;
  self.site_file = file;
  self.site_line = line;
  if (emu.block_arrived++ == 0) {
    emu.block_site_file = file;
    emu.block_site_line = line;
    emu.block_first_thread = emu.current;
  } else if (emu.block_site_line != line || strcmp(emu.block_site_file, file) != 0) {
    note_problem(format("%s: threads wait at different __syncthreads: thread %u at %s:%d, thread %u at %s:%d",
                        where().c_str(), emu.block_first_thread, base_name(emu.block_site_file),
                        emu.block_site_line, emu.current, base_name(file), line));
  }
  if (emu.block_arrived == emu.n_threads) {
    emu.block_arrived = 0;
    for (unsigned t = 0; t < emu.n_threads; ++t) emu.fibers[t].state = FiberState::runnable;
    return;
  }
  yield_to_scheduler();
}

inline const char* kind_name(ExchangeKind kind) {
  return kind == ExchangeKind::shuffle ? "__shfl_*_sync" : "__ballot_sync";
}

// One warp-wide exchange: every lane offers `value` and gets the value of `source_lane` (a
// shuffle) or the bits of every lane's nonzero value (a ballot), once all lanes have arrived.
inline uint64_t warp_exchange(ExchangeKind kind, unsigned mask, uint64_t value, unsigned source_lane,
                              const char* file, int line) {
  const unsigned index = emu.current;
  const unsigned warp = index / WARP_LANES;
  const unsigned first = warp * WARP_LANES;
  const unsigned lanes = std::min(WARP_LANES, emu.n_threads - first);
  const unsigned full = lanes == WARP_LANES ? 0xffffffffu : (1u << lanes) - 1;
  if (mask != full) {
    note_problem(format("%s: %s at %s:%d with mask %#x; the emulation runs whole warps (mask %#x)",
                        where().c_str(), kind_name(kind), base_name(file), line, mask, full));
  }
  Fiber& self = emu.fibers[index];
  self.state = FiberState::at_warp_exchange;
  self.kind = kind;
  self.mask = mask;
  self.value = value;
  self.source_lane = source_lane;
  self.site_file = file;
  self.site_line = line;
  if (++emu.warp_arrived[warp] < lanes) {
    yield_to_scheduler();
    return self.result;
  }
  emu.warp_arrived[warp] = 0;
  uint64_t ballot = 0;
  for (unsigned lane = 0; lane < lanes; ++lane) {
    const Fiber& other = emu.fibers[first + lane];
    if (other.kind != kind || other.site_line != line || strcmp(other.site_file, file) != 0) {
      note_problem(format("%s: lanes of warp %u wait at different warp intrinsics: lane %u at %s %s:%d, lane %u at %s %s:%d",
                          where().c_str(), warp, lane, kind_name(other.kind), base_name(other.site_file),
                          other.site_line, index - first, kind_name(kind), base_name(file), line));
    }
    if (other.value != 0) ballot |= 1ull << lane;
  }
  for (unsigned lane = 0; lane < lanes; ++lane) {
    Fiber& other = emu.fibers[first + lane];
    if (kind == ExchangeKind::ballot) {
      other.result = ballot;
    } else if (other.source_lane < lanes) {
      other.result = emu.fibers[first + other.source_lane].value;
    } else {
      note_problem(format("%s: lane %u of a %u-lane warp reads lane %u", where().c_str(), lane, lanes,
                          other.source_lane));
      other.result = other.value;
    }
    other.state = FiberState::runnable;
  }
  return self.result;
}

// A description of where each thread of a stuck block is, in runs of consecutive threads.
inline std::string describe_stuck_block() {
  std::string text;
  unsigned run_start = 0;
  auto describe = [](const Fiber& fiber) {
    switch (fiber.state) {
      case FiberState::at_block_barrier: return format("wait at __syncthreads (%s:%d)", base_name(fiber.site_file), fiber.site_line);
      case FiberState::at_warp_exchange: return format("wait at %s (%s:%d)", kind_name(fiber.kind), base_name(fiber.site_file), fiber.site_line);
      case FiberState::finished: return std::string("returned");
      case FiberState::runnable: return std::string("runnable");
    }
    return std::string();
  };
  unsigned runs = 0;
  for (unsigned t = 1; t <= emu.n_threads; ++t) {
    if (t < emu.n_threads && describe(emu.fibers[t]) == describe(emu.fibers[run_start])) continue;
    if (++runs > MAX_DESCRIBED_RUNS) {
      text += format("; and more up to thread %u", emu.n_threads - 1);
      break;
    }
    if (!text.empty()) text += "; ";
    text += run_start + 1 == t ? format("thread %u ", run_start) : format("threads %u-%u ", run_start, t - 1);
    text += describe(emu.fibers[run_start]);
    run_start = t;
  }
  return text;
}

inline uint64_t next_random() {
  emu.schedule_state ^= emu.schedule_state << 13;
  emu.schedule_state ^= emu.schedule_state >> 7;
  emu.schedule_state ^= emu.schedule_state << 17;
  return emu.schedule_state;
}

// Runs `kernel` over the grid, block after block. Returns false, after printing one line that
// names the kernel and adding it to emu.failures, when the launch is invalid or a block
// deadlocked or diverged.
inline bool launch(const char* name, dim3 grid, dim3 block, const std::function<void()>& kernel) {
  ++emu.launches;
  emu.launched.insert(name);
  const unsigned n = block.x * block.y * block.z;
  std::string problem;
  if (block.y != 1 || block.z != 1) problem = "only one-dimensional blocks are emulated";
  else if (n == 0 || n > MAX_BLOCK_THREADS) problem = format("a block of %u threads (1 to %u allowed)", n, MAX_BLOCK_THREADS);
  else if (grid.x == 0 || grid.y == 0 || grid.z == 0) problem = "an empty grid";
  else if (!ensure_fibers(n)) problem = "cannot map fiber stacks";
  gridDim = grid;
  blockDim = block;
  emu.n_threads = n;
  emu.kernel = &kernel;
  emu.kernel_name = name;
  emu.launch_problem.clear();
  std::vector<unsigned> order(n);
  for (unsigned t = 0; t < n; ++t) order[t] = t;
  for (unsigned z = 0; problem.empty() && z < grid.z; ++z)
    for (unsigned y = 0; problem.empty() && y < grid.y; ++y)
      for (unsigned x = 0; problem.empty() && x < grid.x; ++x) {
        blockIdx = dim3{x, y, z};
        ++emu.blocks;
        emu.block_arrived = 0;
        std::fill(std::begin(emu.warp_arrived), std::end(emu.warp_arrived), 0u);
        for (unsigned t = 0; t < n; ++t) emu.fibers[t].state = FiberState::runnable;
        for (unsigned t = n; t > 1; --t) std::swap(order[t - 1], order[next_random() % t]);
        unsigned finished = 0;
        while (finished < n) {
          bool progressed = false;
          finished = 0;
          for (unsigned t : order) {
            if (emu.fibers[t].state == FiberState::runnable) {
              switch_to(t);
              progressed = true;
            }
            if (emu.fibers[t].state == FiberState::finished) ++finished;
          }
          if (!progressed && finished < n) {
            problem = format("deadlock in block (%u,%u,%u): %s", x, y, z, describe_stuck_block().c_str());
            // The stuck fibers are abandoned mid-kernel: start them afresh next time.
            for (unsigned t = 0; t < n; ++t) prepare_fiber_start(emu.fibers[t]);
            break;
          }
        }
        if (problem.empty() && !emu.launch_problem.empty()) problem = emu.launch_problem;
      }
  emu.kernel = nullptr;
  emu.kernel_name = nullptr;
  if (problem.empty()) return true;
  emu.failures.push_back(format("%s: %s", name, problem.c_str()));
  if (emu.print_failures) printf("FAIL launch %s\n", emu.failures.back().c_str());
  return false;
}

template <typename T> uint64_t to_bits(T value) {
  static_assert(sizeof(T) <= sizeof(uint64_t), "warp exchanges carry at most 64 bits");
  uint64_t bits = 0;
  std::memcpy(&bits, &value, sizeof(T));
  return bits;
}

template <typename T> T from_bits(uint64_t bits) {
  T value;
  std::memcpy(&value, &bits, sizeof(T));
  return value;
}

inline unsigned lane_of_current() { return emu.current % WARP_LANES; }

template <typename T> T shuffle_xor(unsigned mask, T value, int offset, const char* file, int line) {
  return from_bits<T>(warp_exchange(ExchangeKind::shuffle, mask, to_bits(value),
                                    (lane_of_current() ^ (unsigned)offset) % WARP_LANES, file, line));
}

template <typename T> T shuffle_up(unsigned mask, T value, unsigned delta, const char* file, int line) {
  const int source = (int)lane_of_current() - (int)delta;
  return from_bits<T>(warp_exchange(ExchangeKind::shuffle, mask, to_bits(value),
                                    source < 0 ? lane_of_current() : (unsigned)source, file, line));
}

template <typename T> T shuffle_index(unsigned mask, T value, int source, const char* file, int line) {
  // As on the GPU, a source lane outside the warp wraps around (width 32).
  return from_bits<T>(warp_exchange(ExchangeKind::shuffle, mask, to_bits(value),
                                    (unsigned)source % WARP_LANES, file, line));
}

inline unsigned ballot(unsigned mask, int predicate, const char* file, int line) {
  return (unsigned)warp_exchange(ExchangeKind::ballot, mask, predicate ? 1 : 0, 0, file, line);
}

}  // namespace emulation

#define LAUNCH(kernel, grid, block, ...) \
  emulation::launch(#kernel, grid, block, [&] { kernel(__VA_ARGS__); })
#define __syncthreads() emulation::sync_threads(__FILE__, __LINE__)
#define __shfl_xor_sync(mask, value, offset) emulation::shuffle_xor(mask, value, offset, __FILE__, __LINE__)
#define __shfl_up_sync(mask, value, delta) emulation::shuffle_up(mask, value, delta, __FILE__, __LINE__)
#define __shfl_sync(mask, value, source) emulation::shuffle_index(mask, value, source, __FILE__, __LINE__)
#define __ballot_sync(mask, predicate) emulation::ballot(mask, predicate, __FILE__, __LINE__)

inline int __ffs(unsigned x) { return ffs((int)x); }
inline float __uint_as_float(unsigned u) { float f; std::memcpy(&f, &u, 4); return f; }
inline unsigned __float_as_uint(float f) { unsigned u; std::memcpy(&u, &f, 4); return u; }
inline float __int_as_float(int u) { float f; std::memcpy(&f, &u, 4); return f; }
// One OS thread runs every fiber and a fiber never yields inside an atomic: plain adds are atomic.
inline unsigned long long atomicAdd(unsigned long long* p, unsigned long long v) { unsigned long long old = *p; *p += v; return old; }
inline unsigned atomicAdd(unsigned* p, unsigned v) { unsigned old = *p; *p += v; return old; }
