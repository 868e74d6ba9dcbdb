// An EMULATED CUDA driver (libcuda) and cuBLAS, for tests only, never shipped and not a GPU: one
// shared library that the Rust host code (kernels/src/cuda, model/src/cuda, through cudarc) loads
// in place of the NVIDIA driver and cuBLAS, so that the GPU tests run on a CPU-only machine. Built
// and used by `gpu-tests` here; it is the same object under the names libcuda.so.1, libcublas.so.12
// and libcublasLt.so.12 (symbolic links), which the loader opens once (it matches files by
// identity), so the driver and cuBLAS share one state. NVRTC is the real one.
//
// What it does: device memory is host memory; every op runs synchronously, in stream order, under
// one process-wide mutex, and kernels run through the fiber emulation of cuda_host.h (the real
// kernels/cuda/*.cu sources compiled in here with the same -D constants NVRTC gets).
// cuModuleLoadData keeps the image NVRTC produced and cuModuleGetFunction checks that the kernel
// is in it, then binds the emulated kernel of that name. Kernel parameters are unpacked by the
// emulated kernel's own C++ signature. Stream capture records ops (kernel parameters and cuBLAS's
// host scalars copied at record time, as CUDA does) and graphs replay them.
//
// What it checks, returning the CUresult / cublasStatus_t a real driver or cuBLAS returns: calls
// before cuInit or without a current context, unknown handles, copies and memsets outside any live
// allocation, launch configurations out of range (block size, grid size, dynamic shared memory),
// functions from unloaded modules, cuBLAS leading dimensions and types, and CUDA's stream-capture
// rules (synchronous allocations, copies, frees and synchronisations during a capture, pageable
// host copies into a capture, legacy-stream work against a blocking capturing stream, ending a
// capture from another thread). Stricter than CUDA, so that the hazard shows in tests: work queued
// by another thread on a stream that is being captured (CUDA silently records it into that graph)
// fails with CUDA_ERROR_STREAM_CAPTURE_WRONG_THREAD; graph allocations (cuMemAllocAsync/FreeAsync
// inside a capture) are not emulated and fail loudly. Each allocation ends at a guard page, so a
// kernel that reads or writes past it faults and the process exits naming the kernel; freed memory
// is unmapped at once, so a graph replayed over freed buffers faults too.
//
// What it cannot say: anything about speed, the GPU's memory model, races between real concurrent
// threads (one thread runs at a time), or real drivers' quirks.
#include "../elementwise.cu"
#include "../rope.cu"
#include "../linear.cu"
#include "../attention.cu"
#include "../sampling.cu"
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_set>
#include <utility>

#define EXPORT extern "C" __attribute__((visibility("default")))

namespace driver_emulation {

// ---- CUDA's values (from the CUDA 12 headers' enums, as cudarc's bindings spell them) ----------
using CUresult = int;
constexpr CUresult CUDA_SUCCESS = 0;
constexpr CUresult CUDA_ERROR_INVALID_VALUE = 1;
constexpr CUresult CUDA_ERROR_OUT_OF_MEMORY = 2;
constexpr CUresult CUDA_ERROR_NOT_INITIALIZED = 3;
constexpr CUresult CUDA_ERROR_NO_DEVICE = 100;
constexpr CUresult CUDA_ERROR_INVALID_DEVICE = 101;
constexpr CUresult CUDA_ERROR_INVALID_IMAGE = 200;
constexpr CUresult CUDA_ERROR_INVALID_CONTEXT = 201;
constexpr CUresult CUDA_ERROR_NO_BINARY_FOR_GPU = 209;
constexpr CUresult CUDA_ERROR_INVALID_HANDLE = 400;
constexpr CUresult CUDA_ERROR_ILLEGAL_STATE = 401;
constexpr CUresult CUDA_ERROR_NOT_FOUND = 500;
constexpr CUresult CUDA_ERROR_NOT_READY = 600;
constexpr CUresult CUDA_ERROR_LAUNCH_FAILED = 719;
constexpr CUresult CUDA_ERROR_NOT_SUPPORTED = 801;
constexpr CUresult CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED = 900;
constexpr CUresult CUDA_ERROR_STREAM_CAPTURE_INVALIDATED = 901;
constexpr CUresult CUDA_ERROR_STREAM_CAPTURE_IMPLICIT = 906;
constexpr CUresult CUDA_ERROR_CAPTURED_EVENT = 907;
constexpr CUresult CUDA_ERROR_STREAM_CAPTURE_WRONG_THREAD = 908;

constexpr int CAPTURE_MODE_GLOBAL = 0;
constexpr int CAPTURE_MODE_THREAD_LOCAL = 1;
constexpr int CAPTURE_MODE_RELAXED = 2;
constexpr int CAPTURE_STATUS_NONE = 0;
constexpr int CAPTURE_STATUS_ACTIVE = 1;
constexpr int CAPTURE_STATUS_INVALIDATED = 2;
constexpr unsigned STREAM_NON_BLOCKING = 1;
constexpr unsigned EVENT_DISABLE_TIMING = 2;
constexpr unsigned EVENT_FLAGS_KNOWN = 0x7;  // blocking sync, disable timing, interprocess
// cuGraphInstantiateWithFlags: auto-free-on-launch, upload, device launch, use node priority.
constexpr unsigned long long GRAPH_INSTANTIATE_FLAGS_KNOWN = 1 | 2 | 4 | 8;

constexpr int ATTRIBUTE_MAX_THREADS_PER_BLOCK = 1;
constexpr int ATTRIBUTE_MAX_BLOCK_DIM_X = 2;
constexpr int ATTRIBUTE_MAX_BLOCK_DIM_Y = 3;
constexpr int ATTRIBUTE_MAX_BLOCK_DIM_Z = 4;
constexpr int ATTRIBUTE_MAX_GRID_DIM_X = 5;
constexpr int ATTRIBUTE_MAX_GRID_DIM_Y = 6;
constexpr int ATTRIBUTE_MAX_GRID_DIM_Z = 7;
constexpr int ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK = 8;
constexpr int ATTRIBUTE_WARP_SIZE = 10;
constexpr int ATTRIBUTE_MULTIPROCESSOR_COUNT = 16;
constexpr int ATTRIBUTE_INTEGRATED = 18;
constexpr int ATTRIBUTE_CONCURRENT_KERNELS = 31;
constexpr int ATTRIBUTE_UNIFIED_ADDRESSING = 41;
constexpr int ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR = 75;
constexpr int ATTRIBUTE_COMPUTE_CAPABILITY_MINOR = 76;
constexpr int ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN = 97;
constexpr int ATTRIBUTE_MEMORY_POOLS_SUPPORTED = 115;

constexpr int FUNCTION_ATTRIBUTE_MAX_THREADS_PER_BLOCK = 0;
constexpr int FUNCTION_ATTRIBUTE_SHARED_SIZE_BYTES = 1;
constexpr int FUNCTION_ATTRIBUTE_CONST_SIZE_BYTES = 2;
constexpr int FUNCTION_ATTRIBUTE_LOCAL_SIZE_BYTES = 3;
constexpr int FUNCTION_ATTRIBUTE_NUM_REGS = 4;
constexpr int FUNCTION_ATTRIBUTE_PTX_VERSION = 5;
constexpr int FUNCTION_ATTRIBUTE_BINARY_VERSION = 6;
constexpr int FUNCTION_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES = 8;

// ---- the emulated device: an H100's limits -----------------------------------------------------
constexpr int DRIVER_VERSION = 12040;  // CUDA 12.4, the API surface cudarc is built for
constexpr int COMPUTE_CAPABILITY_MAJOR = 9;
constexpr int COMPUTE_CAPABILITY_MINOR = 0;
constexpr int MULTIPROCESSOR_COUNT = 132;
constexpr unsigned MAX_THREADS_PER_BLOCK = 1024;
constexpr unsigned MAX_BLOCK_DIM_XY = 1024;
constexpr unsigned MAX_BLOCK_DIM_Z = 64;
constexpr unsigned MAX_GRID_DIM_X = 2147483647u;
constexpr unsigned MAX_GRID_DIM_YZ = 65535;
constexpr int STATIC_SHARED_MEMORY_LIMIT = 48 * 1024;
constexpr int SHARED_MEMORY_OPT_IN_LIMIT = 227 * 1024;
constexpr const char* DEVICE_NAME = "Proofwright emulated CUDA device (a CPU test double, not a GPU)";
// Memory the emulated device reports, unless PROOFWRIGHT_EMULATED_CUDA_MEMORY_BYTES says
// otherwise: modest, so that the KV planner's sizes stay sane on a machine with 24 GB of RAM.
constexpr size_t DEFAULT_DEVICE_MEMORY_BYTES = size_t{4} << 30;
constexpr const char* DEVICE_MEMORY_VARIABLE = "PROOFWRIGHT_EMULATED_CUDA_MEMORY_BYTES";
// cudaMalloc's alignment.
constexpr size_t ALLOCATION_ALIGNMENT = 256;
// CUDA's legacy default stream and per-thread default stream handles.
constexpr uintptr_t LEGACY_STREAM_HANDLE = 0;
constexpr uintptr_t PER_THREAD_STREAM_HANDLE = 2;
constexpr const char* PREFIX = "emulated CUDA driver";

// cuBLAS.
using cublasStatus = int;
constexpr cublasStatus CUBLAS_STATUS_SUCCESS = 0;
constexpr cublasStatus CUBLAS_STATUS_NOT_INITIALIZED = 1;
constexpr cublasStatus CUBLAS_STATUS_INVALID_VALUE = 7;
constexpr cublasStatus CUBLAS_STATUS_EXECUTION_FAILED = 13;
constexpr cublasStatus CUBLAS_STATUS_NOT_SUPPORTED = 15;
constexpr int CUBLAS_OP_N = 0;
constexpr int CUBLAS_OP_T = 1;
constexpr int CUBLAS_OP_C = 2;
constexpr int CUDA_R_32F = 0;
constexpr int CUDA_R_16F = 2;
constexpr int CUDA_R_16BF = 14;
constexpr int CUBLAS_COMPUTE_32F = 68;
constexpr int CUBLAS_COMPUTE_32F_PEDANTIC = 69;
constexpr int CUBLAS_DEFAULT_MATH = 0;
constexpr int CUBLAS_TF32_TENSOR_OP_MATH = 3;
constexpr int CUBLAS_POINTER_MODE_HOST = 0;
constexpr int CUBLAS_VERSION_MAJOR = 12;
constexpr int CUBLAS_VERSION_MINOR = 4;
constexpr int CUBLAS_VERSION_PATCH = 5;
constexpr size_t CUBLAS_WORKSPACE_ALIGNMENT = 256;

// ---- state -------------------------------------------------------------------------------------
// Runs an op; returns what the op's call (or the graph launch that replays it) returns.
struct Operation {
  std::string description;
  std::function<CUresult()> run;
  bool reads_pageable_host_memory = false;
};

struct Context {
  int retain_count = 0;
};

struct Stream {
  unsigned flags = 0;
  bool legacy = false;  // the legacy or per-thread default stream
  bool capturing = false;
  bool invalidated = false;
  int capture_mode = CAPTURE_MODE_GLOBAL;
  std::thread::id capture_thread;
  unsigned long long capture_id = 0;
  std::vector<Operation> captured;
};

struct Graph {
  std::vector<Operation> operations;
};

struct GraphExec {
  std::vector<Operation> operations;
};

struct Event {
  unsigned flags = 0;
  bool recorded = false;
  std::chrono::steady_clock::time_point time;
};

struct KernelEntry {
  const char* name = nullptr;
  size_t parameter_count = 0;
  // Runs the kernel over the grid with the parameter bytes copied at launch (or record) time.
  std::function<bool(dim3, dim3, const std::vector<std::vector<unsigned char>>&)> run;
  std::vector<size_t> parameter_sizes;
};

struct Module {
  std::vector<unsigned char> image;
  bool is_elf = false;
};

struct Function {
  const KernelEntry* kernel = nullptr;
  Module* module = nullptr;
  int max_dynamic_shared_bytes = 0;
};

struct Allocation {
  size_t bytes = 0;
  unsigned char* mapping = nullptr;
  size_t mapping_bytes = 0;
};

struct BlasHandle {
  Stream* stream = nullptr;
  int math_mode = CUBLAS_DEFAULT_MATH;
  int pointer_mode = CUBLAS_POINTER_MODE_HOST;
};

struct State {
  std::recursive_mutex mutex;
  bool initialized = false;
  size_t device_memory_bytes = DEFAULT_DEVICE_MEMORY_BYTES;
  size_t used_bytes = 0;
  // Freed with cuMemFreeAsync and kept by the stream-ordered pool until the next
  // synchronisation, as CUDA's default pool (release threshold 0) does: not free yet.
  size_t pool_cached_bytes = 0;
  Context primary_context;
  Stream legacy_stream;
  std::map<uintptr_t, Allocation> allocations;
  std::unordered_set<Stream*> streams;
  std::unordered_set<Event*> events;
  std::unordered_set<Module*> modules;
  std::unordered_set<Function*> functions;
  std::unordered_set<Graph*> graphs;
  std::unordered_set<GraphExec*> graph_execs;
  std::unordered_set<BlasHandle*> blas_handles;
  unsigned long long next_capture_id = 1;
  // What ran, printed at exit when PROOFWRIGHT_EMULATED_CUDA_STATS=1 (to see that a test
  // exercised what it should: graphs captured and replayed, cuBLAS called).
  unsigned long long kernel_launches = 0, captured_operations = 0, captures = 0, graph_launches = 0, gemms = 0;
  unsigned long long bytes_allocated = 0, peak_used_bytes = 0;
  // Per kernel: launches and seconds spent running it, to see where an emulated test's time goes.
  std::map<std::string, std::pair<unsigned long long, double>> kernel_time;
  double gemm_seconds = 0;
};

constexpr const char* STATS_VARIABLE = "PROOFWRIGHT_EMULATED_CUDA_STATS";
constexpr const char* LOG_VARIABLE = "PROOFWRIGHT_EMULATED_CUDA_LOG";
// Fault injection: with this set to 1 every capture ends invalidated, as if an op inside it had
// been refused, to exercise the host's fallback to running without graphs.
constexpr const char* FAIL_CAPTURES_VARIABLE = "PROOFWRIGHT_EMULATED_CUDA_FAIL_CAPTURES";

void print_stats();

State& state() {
  static State* the_state = [] {
    auto* created = new State();  // never destroyed: other libraries' destructors may still call in
    created->legacy_stream.legacy = true;
    if (const char* bytes = getenv(DEVICE_MEMORY_VARIABLE)) {
      char* end = nullptr;
      const unsigned long long value = strtoull(bytes, &end, 10);
      if (end != bytes && *end == '\0' && value > 0) {
        created->device_memory_bytes = value;
      } else {
        fprintf(stderr, "%s: ignoring %s=%s; give a number of bytes\n", PREFIX, DEVICE_MEMORY_VARIABLE, bytes);
      }
    }
    if (const char* stats = getenv(STATS_VARIABLE); stats != nullptr && strcmp(stats, "1") == 0) atexit(print_stats);
    return created;
  }();
  return *the_state;
}

void print_stats() {
  const State& s = state();
  fprintf(stderr, "%s: %llu kernel launches run, %llu captures recording %llu ops, %llu graph launches, "
                  "%llu cuBLAS GEMMs run, %llu bytes allocated in all, peak %llu bytes in use\n", PREFIX,
          s.kernel_launches, s.captures, s.captured_operations, s.graph_launches, s.gemms, s.bytes_allocated,
          s.peak_used_bytes);
  std::vector<std::pair<double, std::string>> slowest;
  for (const auto& [name, counts] : s.kernel_time) slowest.emplace_back(counts.second, name);
  std::sort(slowest.rbegin(), slowest.rend());
  fprintf(stderr, "%s: time in kernels:", PREFIX);
  for (const auto& [seconds, name] : slowest) {
    fprintf(stderr, " %s %.2f s (%llu launches);", name.c_str(), seconds, s.kernel_time.at(name).first);
  }
  fprintf(stderr, " cuBLAS GEMMs %.2f s\n", s.gemm_seconds);
  // The counts also go to the log file, for processes whose standard error a test captures (the
  // language server's): gpu-tests reads them to know the work really ran on this device.
  if (const char* log_path = getenv(LOG_VARIABLE)) {
    if (FILE* log = fopen(log_path, "a")) {
      fprintf(log, "%s[%ld]: stats: %llu kernel launches run, %llu graph launches, %llu cuBLAS GEMMs run\n", PREFIX,
              (long)getpid(), s.kernel_launches, s.graph_launches, s.gemms);
      fclose(log);
    }
  }
}

thread_local Context* current_context = nullptr;

using Lock = std::lock_guard<std::recursive_mutex>;

void report(const char* format_text, ...) __attribute__((format(printf, 1, 2)));
void report(const char* format_text, ...) {
  char buffer[1024];
  va_list arguments;
  va_start(arguments, format_text);
  vsnprintf(buffer, sizeof buffer, format_text, arguments);
  va_end(arguments);
  fprintf(stderr, "%s: %s\n", PREFIX, buffer);
  // Also appended to a file, for processes whose standard error a test captures.
  if (const char* log_path = getenv(LOG_VARIABLE)) {
    if (FILE* log = fopen(log_path, "a")) {
      fprintf(log, "%s[%ld]: %s\n", PREFIX, (long)getpid(), buffer);
      fclose(log);
    }
  }
}

// ---- kernels -----------------------------------------------------------------------------------
template <typename T> T read_parameter(const std::vector<unsigned char>& bytes) {
  T value;
  std::memcpy(&value, bytes.data(), sizeof(T));
  return value;
}

template <typename... Parameters, size_t... Index>
void call_kernel(void (*kernel)(Parameters...), const std::vector<std::vector<unsigned char>>& values,
                 std::index_sequence<Index...>) {
  kernel(read_parameter<std::decay_t<Parameters>>(values[Index])...);
}

// The kernel's parameter types come from its own C++ signature.
template <typename... Parameters>
KernelEntry make_kernel_entry(const char* name, void (*kernel)(Parameters...)) {
  KernelEntry entry;
  entry.name = name;
  entry.parameter_count = sizeof...(Parameters);
  entry.parameter_sizes = {sizeof(std::decay_t<Parameters>)...};
  entry.run = [name, kernel](dim3 grid, dim3 block, const std::vector<std::vector<unsigned char>>& values) {
    return emulation::launch(name, grid, block, [&] {
      call_kernel(kernel, values, std::index_sequence_for<Parameters...>{});
    });
  };
  return entry;
}

const std::map<std::string, KernelEntry>& kernel_table() {
  static const std::map<std::string, KernelEntry> table = [] {
    std::map<std::string, KernelEntry> made;
#define PROOFWRIGHT_KERNEL(name) made.emplace(#name, make_kernel_entry(#name, &name));
#include "kernel_table.inc"
#undef PROOFWRIGHT_KERNEL
    return made;
  }();
  return table;
}

// ---- checks shared by the entry points ---------------------------------------------------------
// Most driver calls need the device's context current on the calling thread (cuCtxSetCurrent;
// cudarc's bind_to_thread), as on a real driver.
CUresult require_context(const char* call) {
  if (!state().initialized) return CUDA_ERROR_NOT_INITIALIZED;
  if (current_context == nullptr || current_context->retain_count <= 0) {
    report("%s: no current context on this thread (CUDA_ERROR_INVALID_CONTEXT)", call);
    return CUDA_ERROR_INVALID_CONTEXT;
  }
  return CUDA_SUCCESS;
}

Stream* stream_from_handle(void* handle) {
  const auto raw = reinterpret_cast<uintptr_t>(handle);
  if (raw == LEGACY_STREAM_HANDLE || raw == PER_THREAD_STREAM_HANDLE) return &state().legacy_stream;
  auto* stream = static_cast<Stream*>(handle);
  return state().streams.count(stream) ? stream : nullptr;
}

// The allocation holding [address, address + bytes), or null.
const Allocation* find_allocation(uintptr_t address, size_t bytes) {
  auto& allocations = state().allocations;
  auto after = allocations.upper_bound(address);
  if (after == allocations.begin()) return nullptr;
  const auto& [start, allocation] = *std::prev(after);
  if (address < start || address + bytes > start + allocation.bytes || address + bytes < address) return nullptr;
  return &allocation;
}

void invalidate_capture(Stream* stream, const std::string& why) {
  if (!stream->invalidated) {
    report("the capture on stream %p is invalidated: %s", (void*)stream, why.c_str());
  }
  stream->invalidated = true;
}

// CUDA's rule for "potentially unsafe" calls (synchronous allocation, free, copy, memset, context
// synchronisation) during a capture: prohibited on a thread that is capturing in global or
// thread-local mode, and on any thread while another thread captures in global mode. The call
// fails and invalidates the capture.
CUresult check_unsafe_during_capture(const char* call) {
  const auto self = std::this_thread::get_id();
  CUresult result = CUDA_SUCCESS;
  for (Stream* stream : state().streams) {
    if (!stream->capturing) continue;
    const bool prohibited = stream->capture_thread == self ? stream->capture_mode != CAPTURE_MODE_RELAXED
                                                           : stream->capture_mode == CAPTURE_MODE_GLOBAL;
    if (prohibited) {
      invalidate_capture(stream, std::string(call) + " was called during the capture");
      result = CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED;
    }
  }
  return result;
}

void release_pool_cache() { state().pool_cached_bytes = 0; }

// Queues `operation` on `stream`: runs it now (everything is synchronous), or records it when the
// stream is being captured.
CUresult enqueue(Stream* stream, Operation operation) {
  if (stream->legacy) {
    // The legacy stream synchronises with every blocking stream: work on it while a blocking
    // stream is captured would join the capture implicitly, which CUDA refuses.
    for (Stream* other : state().streams) {
      if (other->capturing && (other->flags & STREAM_NON_BLOCKING) == 0) {
        invalidate_capture(other, operation.description + " was queued on the legacy default stream");
        return CUDA_ERROR_STREAM_CAPTURE_IMPLICIT;
      }
    }
    return operation.run();
  }
  if (!stream->capturing) return operation.run();
  if (stream->invalidated) return CUDA_ERROR_STREAM_CAPTURE_INVALIDATED;
  if (stream->capture_thread != std::this_thread::get_id() && stream->capture_mode != CAPTURE_MODE_RELAXED) {
    // CUDA would record this work into the other thread's graph; see the top of this file.
    invalidate_capture(stream, operation.description + " was queued by another thread than the capturing one");
    return CUDA_ERROR_STREAM_CAPTURE_WRONG_THREAD;
  }
  if (operation.reads_pageable_host_memory) {
    invalidate_capture(stream, operation.description + " copies pageable host memory, which a capture cannot record");
    return CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED;
  }
  ++state().captured_operations;
  stream->captured.push_back(std::move(operation));
  return CUDA_SUCCESS;
}

CUresult run_operations(const std::vector<Operation>& operations) {
  for (const Operation& operation : operations) {
    const CUresult result = operation.run();
    if (result != CUDA_SUCCESS) return result;
  }
  return CUDA_SUCCESS;
}

// ---- memory ------------------------------------------------------------------------------------
CUresult allocate(unsigned long long* device_pointer, size_t bytes, bool from_pool) {
  if (device_pointer == nullptr || bytes == 0) return CUDA_ERROR_INVALID_VALUE;
  State& s = state();
  if (bytes > s.device_memory_bytes || s.used_bytes > s.device_memory_bytes - bytes) return CUDA_ERROR_OUT_OF_MEMORY;
  const size_t page = (size_t)sysconf(_SC_PAGESIZE);
  const size_t rounded = (bytes + ALLOCATION_ALIGNMENT - 1) / ALLOCATION_ALIGNMENT * ALLOCATION_ALIGNMENT;
  const size_t body = (rounded + page - 1) / page * page;
  void* mapping = mmap(nullptr, body + page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (mapping == MAP_FAILED) return CUDA_ERROR_OUT_OF_MEMORY;
  auto* base = static_cast<unsigned char*>(mapping);
  // A guard page right after the allocation (rounded to cudaMalloc's alignment): a kernel that
  // runs past the end faults at once.
  mprotect(base + body, page, PROT_NONE);
  unsigned char* start = base + body - rounded;
  s.allocations[reinterpret_cast<uintptr_t>(start)] = Allocation{bytes, base, body + page};
  s.used_bytes += bytes;
  s.bytes_allocated += bytes;
  s.peak_used_bytes = std::max<unsigned long long>(s.peak_used_bytes, s.used_bytes);
  // The pool reuses what it cached before asking for more; memory it gave back to the device
  // comes only at a synchronisation.
  if (from_pool) s.pool_cached_bytes -= std::min(s.pool_cached_bytes, bytes);
  if (s.used_bytes + s.pool_cached_bytes > s.device_memory_bytes) s.pool_cached_bytes = s.device_memory_bytes - s.used_bytes;
  *device_pointer = reinterpret_cast<uintptr_t>(start);
  return CUDA_SUCCESS;
}

CUresult release(unsigned long long device_pointer, bool to_pool) {
  State& s = state();
  auto found = s.allocations.find(device_pointer);
  if (found == s.allocations.end()) return CUDA_ERROR_INVALID_VALUE;
  munmap(found->second.mapping, found->second.mapping_bytes);
  s.used_bytes -= found->second.bytes;
  if (to_pool) s.pool_cached_bytes += found->second.bytes;
  s.allocations.erase(found);
  return CUDA_SUCCESS;
}

CUresult check_device_range(const char* call, unsigned long long address, size_t bytes) {
  if (bytes == 0) return CUDA_SUCCESS;
  if (find_allocation(address, bytes) == nullptr) {
    report("%s: [%#llx, +%zu bytes) is not inside one live allocation", call, address, bytes);
    return CUDA_ERROR_INVALID_VALUE;
  }
  return CUDA_SUCCESS;
}

Operation copy_operation(const char* call, void* destination, const void* source, size_t bytes, bool pageable) {
  Operation operation;
  operation.description = call;
  operation.reads_pageable_host_memory = pageable;
  operation.run = [destination, source, bytes] {
    std::memmove(destination, source, bytes);
    return CUDA_SUCCESS;
  };
  return operation;
}

template <typename Word>
Operation memset_operation(const char* call, unsigned long long destination, Word value, size_t count) {
  Operation operation;
  operation.description = call;
  operation.run = [destination, value, count] {
    Word* words = reinterpret_cast<Word*>(destination);
    std::fill(words, words + count, value);
    return CUDA_SUCCESS;
  };
  return operation;
}

// ---- cuBLAS arithmetic -------------------------------------------------------------------------
float load_element(const void* base, int type, size_t index) {
  switch (type) {
    case CUDA_R_32F: return static_cast<const float*>(base)[index];
    case CUDA_R_16BF: return bf16_to_float(static_cast<const u16*>(base)[index]);
    default: return f16_to_float(static_cast<const u16*>(base)[index]);
  }
}

void store_element(void* base, int type, size_t index, float value) {
  switch (type) {
    case CUDA_R_32F: static_cast<float*>(base)[index] = value; break;
    case CUDA_R_16BF: static_cast<u16*>(base)[index] = float_to_bf16(value); break;
    default: static_cast<u16*>(base)[index] = float_to_f16(value); break;
  }
}

// TF32 keeps 10 bits of mantissa (round to nearest even), for CUBLAS_TF32_TENSOR_OP_MATH.
float round_to_tf32(float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, 4);
  if ((bits & 0x7f800000u) != 0x7f800000u) bits = (bits + 0xfffu + ((bits >> 13) & 1u)) & ~0x1fffu;
  std::memcpy(&value, &bits, 4);
  return value;
}

size_t element_bytes(int type) { return type == CUDA_R_32F ? 4 : 2; }

struct Gemm {
  int transa, transb, m, n, k;
  float alpha, beta;
  const void* a;
  int a_type, lda;
  const void* b;
  int b_type, ldb;
  void* c;
  int c_type, ldc;
  bool tf32;
};

// C = alpha · op(A) · op(B) + beta · C, column-major as cuBLAS defines it; products summed in f32
// in order of k; C is not read when beta is 0.
void run_gemm(const Gemm& g) {
  for (int j = 0; j < g.n; ++j) {
    for (int i = 0; i < g.m; ++i) {
      float sum = 0.0f;
      for (int l = 0; l < g.k; ++l) {
        const size_t a_index = g.transa == CUBLAS_OP_N ? (size_t)i + (size_t)l * g.lda : (size_t)l + (size_t)i * g.lda;
        const size_t b_index = g.transb == CUBLAS_OP_N ? (size_t)l + (size_t)j * g.ldb : (size_t)j + (size_t)l * g.ldb;
        float a = load_element(g.a, g.a_type, a_index);
        float b = load_element(g.b, g.b_type, b_index);
        if (g.tf32) {
          a = round_to_tf32(a);
          b = round_to_tf32(b);
        }
        sum += a * b;
      }
      const size_t c_index = (size_t)i + (size_t)j * g.ldc;
      float result = g.alpha * sum;
      if (g.beta != 0.0f) result += g.beta * load_element(g.c, g.c_type, c_index);
      store_element(g.c, g.c_type, c_index, result);
    }
  }
}

// Bytes from the start of a column-major rows × cols matrix with leading dimension ld to the end
// of its last element.
size_t matrix_extent_bytes(int rows, int cols, int ld, int type) {
  if (rows == 0 || cols == 0) return 0;
  return ((size_t)(rows - 1) + (size_t)(cols - 1) * ld + 1) * element_bytes(type);
}

const char* error_name(CUresult result) {
  switch (result) {
    case CUDA_SUCCESS: return "CUDA_SUCCESS";
    case CUDA_ERROR_INVALID_VALUE: return "CUDA_ERROR_INVALID_VALUE";
    case CUDA_ERROR_OUT_OF_MEMORY: return "CUDA_ERROR_OUT_OF_MEMORY";
    case CUDA_ERROR_NOT_INITIALIZED: return "CUDA_ERROR_NOT_INITIALIZED";
    case CUDA_ERROR_NO_DEVICE: return "CUDA_ERROR_NO_DEVICE";
    case CUDA_ERROR_INVALID_DEVICE: return "CUDA_ERROR_INVALID_DEVICE";
    case CUDA_ERROR_INVALID_IMAGE: return "CUDA_ERROR_INVALID_IMAGE";
    case CUDA_ERROR_INVALID_CONTEXT: return "CUDA_ERROR_INVALID_CONTEXT";
    case CUDA_ERROR_NO_BINARY_FOR_GPU: return "CUDA_ERROR_NO_BINARY_FOR_GPU";
    case CUDA_ERROR_INVALID_HANDLE: return "CUDA_ERROR_INVALID_HANDLE";
    case CUDA_ERROR_ILLEGAL_STATE: return "CUDA_ERROR_ILLEGAL_STATE";
    case CUDA_ERROR_NOT_FOUND: return "CUDA_ERROR_NOT_FOUND";
    case CUDA_ERROR_NOT_READY: return "CUDA_ERROR_NOT_READY";
    case CUDA_ERROR_LAUNCH_FAILED: return "CUDA_ERROR_LAUNCH_FAILED";
    case CUDA_ERROR_NOT_SUPPORTED: return "CUDA_ERROR_NOT_SUPPORTED";
    case CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED: return "CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED";
    case CUDA_ERROR_STREAM_CAPTURE_INVALIDATED: return "CUDA_ERROR_STREAM_CAPTURE_INVALIDATED";
    case CUDA_ERROR_STREAM_CAPTURE_IMPLICIT: return "CUDA_ERROR_STREAM_CAPTURE_IMPLICIT";
    case CUDA_ERROR_CAPTURED_EVENT: return "CUDA_ERROR_CAPTURED_EVENT";
    case CUDA_ERROR_STREAM_CAPTURE_WRONG_THREAD: return "CUDA_ERROR_STREAM_CAPTURE_WRONG_THREAD";
    default: return nullptr;
  }
}

const char* error_text(CUresult result) {
  switch (result) {
    case CUDA_SUCCESS: return "no error";
    case CUDA_ERROR_INVALID_VALUE: return "invalid argument";
    case CUDA_ERROR_OUT_OF_MEMORY: return "out of memory";
    case CUDA_ERROR_NOT_INITIALIZED: return "initialization error";
    case CUDA_ERROR_NO_DEVICE: return "no CUDA-capable device is detected";
    case CUDA_ERROR_INVALID_DEVICE: return "invalid device ordinal";
    case CUDA_ERROR_INVALID_IMAGE: return "device kernel image is invalid";
    case CUDA_ERROR_INVALID_CONTEXT: return "invalid device context";
    case CUDA_ERROR_NO_BINARY_FOR_GPU: return "no kernel image is available for execution on the device";
    case CUDA_ERROR_INVALID_HANDLE: return "invalid resource handle";
    case CUDA_ERROR_ILLEGAL_STATE: return "the operation cannot be performed in the present state";
    case CUDA_ERROR_NOT_FOUND: return "named symbol not found";
    case CUDA_ERROR_NOT_READY: return "device not ready";
    case CUDA_ERROR_LAUNCH_FAILED: return "unspecified launch failure";
    case CUDA_ERROR_NOT_SUPPORTED: return "operation not supported";
    case CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED: return "operation not permitted when stream is capturing";
    case CUDA_ERROR_STREAM_CAPTURE_INVALIDATED: return "operation failed due to a previous error during capture";
    case CUDA_ERROR_STREAM_CAPTURE_IMPLICIT: return "operation would make the legacy stream depend on a capturing blocking stream";
    case CUDA_ERROR_CAPTURED_EVENT: return "operation not permitted on an event last recorded in a capturing stream";
    case CUDA_ERROR_STREAM_CAPTURE_WRONG_THREAD: return "attempt to terminate a thread-local capture sequence from another thread";
    default: return nullptr;
  }
}

// Whether `name` is an entry point of the module image: a symbol of the CUBIN's string table
// (NUL on both sides) or a `.entry` of PTX.
bool image_defines(const Module& module, const std::string& name) {
  if (module.is_elf) {
    std::string needle(1, '\0');
    needle += name;
    needle += '\0';
    return std::search(module.image.begin(), module.image.end(), needle.begin(), needle.end()) != module.image.end();
  }
  const std::string text(module.image.begin(), module.image.end());
  for (const char* after : {" (", "("}) {
    if (text.find(".entry " + name + after) != std::string::npos) return true;
  }
  return false;
}

// The size of an ELF image from its header (section headers come last in NVRTC's CUBINs), or 0
// when the header is not a 64-bit ELF.
size_t elf_image_bytes(const unsigned char* image) {
  if (image[4] != 2) return 0;  // ELFCLASS64
  uint64_t section_header_offset, program_header_offset;
  uint16_t program_header_size, program_header_count, section_header_size, section_header_count;
  std::memcpy(&program_header_offset, image + 0x20, 8);
  std::memcpy(&section_header_offset, image + 0x28, 8);
  std::memcpy(&program_header_size, image + 0x36, 2);
  std::memcpy(&program_header_count, image + 0x38, 2);
  std::memcpy(&section_header_size, image + 0x3a, 2);
  std::memcpy(&section_header_count, image + 0x3c, 2);
  return std::max(section_header_offset + (uint64_t)section_header_size * section_header_count,
                  program_header_offset + (uint64_t)program_header_size * program_header_count);
}

// The emulated library must be loaded once: two copies would keep two sets of allocations. glibc
// opens a file once whatever name (symbolic link) it is reached by; this checks that it did.
__attribute__((constructor)) void check_single_copy() {
  static int marker;
  char expected[64];
  snprintf(expected, sizeof expected, "%ld:%p", (long)getpid(), (void*)&marker);
  const char* seen = getenv("PROOFWRIGHT_EMULATED_CUDA_LOADED");
  char pid_prefix[32];
  snprintf(pid_prefix, sizeof pid_prefix, "%ld:", (long)getpid());
  if (seen != nullptr && strncmp(seen, pid_prefix, strlen(pid_prefix)) == 0 && strcmp(seen, expected) != 0) {
    fprintf(stderr, "%s: two copies of the emulated CUDA library are loaded in this process; point "
                    "LD_LIBRARY_PATH and PROOFWRIGHT_CUDA_LIBRARY_PATH at one folder of symbolic links to one file\n", PREFIX);
    abort();
  }
  setenv("PROOFWRIGHT_EMULATED_CUDA_LOADED", expected, 1);
}

}  // namespace driver_emulation

using namespace driver_emulation;
using CUdeviceptr = unsigned long long;

// ==== driver API ================================================================================
EXPORT CUresult cuInit(unsigned flags) {
  Lock lock(state().mutex);
  if (flags != 0) return CUDA_ERROR_INVALID_VALUE;
  // As the real driver, no visible device when CUDA_VISIBLE_DEVICES hides device 0.
  if (const char* visible = getenv("CUDA_VISIBLE_DEVICES")) {
    if (visible[0] == '\0' || visible[0] == '-' || strtol(visible, nullptr, 10) != 0) return CUDA_ERROR_NO_DEVICE;
  }
  state().initialized = true;
  return CUDA_SUCCESS;
}

// NVRTC opens libcuda.so.1 itself and asks it for private interfaces by UUID (undocumented); a
// missing symbol makes NVRTC call a null pointer. The emulation offers none, as a driver answers
// for an unknown UUID.
EXPORT CUresult cuGetExportTable(const void** table, const void* table_id) {
  if (table == nullptr || table_id == nullptr) return CUDA_ERROR_INVALID_VALUE;
  *table = nullptr;
  return CUDA_ERROR_INVALID_VALUE;
}

EXPORT CUresult cuDriverGetVersion(int* version) {
  if (version == nullptr) return CUDA_ERROR_INVALID_VALUE;
  *version = DRIVER_VERSION;
  return CUDA_SUCCESS;
}

EXPORT CUresult cuGetErrorName(CUresult error, const char** name) {
  if (name == nullptr) return CUDA_ERROR_INVALID_VALUE;
  *name = error_name(error);
  return *name ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}

EXPORT CUresult cuGetErrorString(CUresult error, const char** text) {
  if (text == nullptr) return CUDA_ERROR_INVALID_VALUE;
  *text = error_text(error);
  return *text ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}

EXPORT CUresult cuDeviceGetCount(int* count) {
  Lock lock(state().mutex);
  if (!state().initialized) return CUDA_ERROR_NOT_INITIALIZED;
  if (count == nullptr) return CUDA_ERROR_INVALID_VALUE;
  *count = 1;
  return CUDA_SUCCESS;
}

EXPORT CUresult cuDeviceGet(int* device, int ordinal) {
  Lock lock(state().mutex);
  if (!state().initialized) return CUDA_ERROR_NOT_INITIALIZED;
  if (device == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (ordinal != 0) return CUDA_ERROR_INVALID_DEVICE;
  *device = 0;
  return CUDA_SUCCESS;
}

EXPORT CUresult cuDeviceGetName(char* name, int length, int device) {
  Lock lock(state().mutex);
  if (!state().initialized) return CUDA_ERROR_NOT_INITIALIZED;
  if (name == nullptr || length <= 0) return CUDA_ERROR_INVALID_VALUE;
  if (device != 0) return CUDA_ERROR_INVALID_DEVICE;
  snprintf(name, (size_t)length, "%s", DEVICE_NAME);
  return CUDA_SUCCESS;
}

EXPORT CUresult cuDeviceTotalMem_v2(size_t* bytes, int device) {
  Lock lock(state().mutex);
  if (!state().initialized) return CUDA_ERROR_NOT_INITIALIZED;
  if (bytes == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (device != 0) return CUDA_ERROR_INVALID_DEVICE;
  *bytes = state().device_memory_bytes;
  return CUDA_SUCCESS;
}

EXPORT CUresult cuDeviceGetAttribute(int* value, int attribute, int device) {
  Lock lock(state().mutex);
  if (!state().initialized) return CUDA_ERROR_NOT_INITIALIZED;
  if (value == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (device != 0) return CUDA_ERROR_INVALID_DEVICE;
  switch (attribute) {
    case ATTRIBUTE_MAX_THREADS_PER_BLOCK: *value = (int)MAX_THREADS_PER_BLOCK; break;
    case ATTRIBUTE_MAX_BLOCK_DIM_X: case ATTRIBUTE_MAX_BLOCK_DIM_Y: *value = (int)MAX_BLOCK_DIM_XY; break;
    case ATTRIBUTE_MAX_BLOCK_DIM_Z: *value = (int)MAX_BLOCK_DIM_Z; break;
    case ATTRIBUTE_MAX_GRID_DIM_X: *value = (int)MAX_GRID_DIM_X; break;
    case ATTRIBUTE_MAX_GRID_DIM_Y: case ATTRIBUTE_MAX_GRID_DIM_Z: *value = (int)MAX_GRID_DIM_YZ; break;
    case ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK: *value = STATIC_SHARED_MEMORY_LIMIT; break;
    case ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN: *value = SHARED_MEMORY_OPT_IN_LIMIT; break;
    case ATTRIBUTE_WARP_SIZE: *value = (int)emulation::WARP_LANES; break;
    case ATTRIBUTE_MULTIPROCESSOR_COUNT: *value = MULTIPROCESSOR_COUNT; break;
    case ATTRIBUTE_INTEGRATED: *value = 0; break;
    case ATTRIBUTE_CONCURRENT_KERNELS: case ATTRIBUTE_UNIFIED_ADDRESSING: *value = 1; break;
    case ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR: *value = COMPUTE_CAPABILITY_MAJOR; break;
    case ATTRIBUTE_COMPUTE_CAPABILITY_MINOR: *value = COMPUTE_CAPABILITY_MINOR; break;
    case ATTRIBUTE_MEMORY_POOLS_SUPPORTED: *value = 1; break;
    default:
      report("cuDeviceGetAttribute: attribute %d is not emulated; add it to driver.cpp", attribute);
      return CUDA_ERROR_NOT_SUPPORTED;
  }
  return CUDA_SUCCESS;
}

EXPORT CUresult cuDevicePrimaryCtxRetain(void** context, int device) {
  Lock lock(state().mutex);
  if (!state().initialized) return CUDA_ERROR_NOT_INITIALIZED;
  if (context == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (device != 0) return CUDA_ERROR_INVALID_DEVICE;
  ++state().primary_context.retain_count;
  *context = &state().primary_context;
  return CUDA_SUCCESS;
}

EXPORT CUresult cuDevicePrimaryCtxRelease_v2(int device) {
  Lock lock(state().mutex);
  if (!state().initialized) return CUDA_ERROR_NOT_INITIALIZED;
  if (device != 0) return CUDA_ERROR_INVALID_DEVICE;
  if (state().primary_context.retain_count <= 0) return CUDA_ERROR_INVALID_CONTEXT;
  --state().primary_context.retain_count;
  return CUDA_SUCCESS;
}

EXPORT CUresult cuCtxSetCurrent(void* context) {
  Lock lock(state().mutex);
  if (!state().initialized) return CUDA_ERROR_NOT_INITIALIZED;
  if (context != nullptr && context != &state().primary_context) return CUDA_ERROR_INVALID_CONTEXT;
  current_context = static_cast<Context*>(context);
  return CUDA_SUCCESS;
}

EXPORT CUresult cuCtxGetCurrent(void** context) {
  Lock lock(state().mutex);
  if (!state().initialized) return CUDA_ERROR_NOT_INITIALIZED;
  if (context == nullptr) return CUDA_ERROR_INVALID_VALUE;
  *context = current_context;
  return CUDA_SUCCESS;
}

EXPORT CUresult cuCtxSynchronize() {
  Lock lock(state().mutex);
  if (CUresult result = require_context(__func__)) return result;
  if (CUresult result = check_unsafe_during_capture("cuCtxSynchronize")) return result;
  release_pool_cache();
  return CUDA_SUCCESS;
}

EXPORT CUresult cuCtxGetStreamPriorityRange(int* least, int* greatest) {
  Lock lock(state().mutex);
  if (CUresult result = require_context(__func__)) return result;
  if (least) *least = 0;
  if (greatest) *greatest = -5;
  return CUDA_SUCCESS;
}

EXPORT CUresult cuMemGetInfo_v2(size_t* free_bytes, size_t* total_bytes) {
  Lock lock(state().mutex);
  if (CUresult result = require_context(__func__)) return result;
  if (free_bytes == nullptr || total_bytes == nullptr) return CUDA_ERROR_INVALID_VALUE;
  const State& s = state();
  *total_bytes = s.device_memory_bytes;
  *free_bytes = s.device_memory_bytes - s.used_bytes - s.pool_cached_bytes;
  return CUDA_SUCCESS;
}

// ---- streams -----------------------------------------------------------------------------------
EXPORT CUresult cuStreamCreate(void** stream, unsigned flags) {
  Lock lock(state().mutex);
  if (CUresult result = require_context(__func__)) return result;
  if (stream == nullptr || (flags & ~STREAM_NON_BLOCKING) != 0) return CUDA_ERROR_INVALID_VALUE;
  auto* created = new Stream();
  created->flags = flags;
  state().streams.insert(created);
  *stream = created;
  return CUDA_SUCCESS;
}

EXPORT CUresult cuStreamCreateWithPriority(void** stream, unsigned flags, int) {
  return cuStreamCreate(stream, flags);
}

EXPORT CUresult cuStreamDestroy_v2(void* handle) {
  Lock lock(state().mutex);
  if (CUresult result = require_context(__func__)) return result;
  Stream* stream = stream_from_handle(handle);
  if (stream == nullptr || stream->legacy) return CUDA_ERROR_INVALID_HANDLE;
  if (stream->capturing) report("cuStreamDestroy: stream %p is destroyed while it is being captured", handle);
  state().streams.erase(stream);
  delete stream;
  return CUDA_SUCCESS;
}

EXPORT CUresult cuStreamSynchronize(void* handle) {
  Lock lock(state().mutex);
  if (CUresult result = require_context(__func__)) return result;
  Stream* stream = stream_from_handle(handle);
  if (stream == nullptr) return CUDA_ERROR_INVALID_HANDLE;
  if (stream->capturing) {
    invalidate_capture(stream, "cuStreamSynchronize was called on the capturing stream");
    return CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED;
  }
  if (stream->legacy) {
    if (CUresult result = check_unsafe_during_capture("cuStreamSynchronize on the legacy stream")) return result;
  }
  release_pool_cache();
  return CUDA_SUCCESS;
}

EXPORT CUresult cuStreamQuery(void* handle) {
  Lock lock(state().mutex);
  if (CUresult result = require_context(__func__)) return result;
  Stream* stream = stream_from_handle(handle);
  if (stream == nullptr) return CUDA_ERROR_INVALID_HANDLE;
  if (stream->capturing) {
    invalidate_capture(stream, "cuStreamQuery was called on the capturing stream");
    return CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED;
  }
  return CUDA_SUCCESS;
}

EXPORT CUresult cuStreamWaitEvent(void* handle, void* event_handle, unsigned) {
  Lock lock(state().mutex);
  if (CUresult result = require_context(__func__)) return result;
  if (stream_from_handle(handle) == nullptr || !state().events.count(static_cast<Event*>(event_handle))) {
    return CUDA_ERROR_INVALID_HANDLE;
  }
  // Every op has already run when its call returned: there is nothing to wait for.
  return CUDA_SUCCESS;
}

EXPORT CUresult cuStreamBeginCapture_v2(void* handle, int mode) {
  Lock lock(state().mutex);
  if (CUresult result = require_context(__func__)) return result;
  Stream* stream = stream_from_handle(handle);
  if (stream == nullptr) return CUDA_ERROR_INVALID_HANDLE;
  if (mode < CAPTURE_MODE_GLOBAL || mode > CAPTURE_MODE_RELAXED) return CUDA_ERROR_INVALID_VALUE;
  if (stream->legacy) return CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED;
  if (stream->capturing) return CUDA_ERROR_ILLEGAL_STATE;
  stream->capturing = true;
  stream->invalidated = false;
  stream->capture_mode = mode;
  stream->capture_thread = std::this_thread::get_id();
  stream->capture_id = state().next_capture_id++;
  stream->captured.clear();
  ++state().captures;
  return CUDA_SUCCESS;
}

EXPORT CUresult cuStreamEndCapture(void* handle, void** graph) {
  Lock lock(state().mutex);
  if (CUresult result = require_context(__func__)) return result;
  Stream* stream = stream_from_handle(handle);
  if (stream == nullptr) return CUDA_ERROR_INVALID_HANDLE;
  if (graph == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (!stream->capturing) return CUDA_ERROR_ILLEGAL_STATE;
  if (stream->capture_mode != CAPTURE_MODE_RELAXED && stream->capture_thread != std::this_thread::get_id()) {
    return CUDA_ERROR_STREAM_CAPTURE_WRONG_THREAD;
  }
  stream->capturing = false;
  std::vector<Operation> operations = std::move(stream->captured);
  stream->captured.clear();
  if (const char* fail = getenv(FAIL_CAPTURES_VARIABLE); fail != nullptr && strcmp(fail, "1") == 0) {
    invalidate_capture(stream, std::string(FAIL_CAPTURES_VARIABLE) + "=1");
  }
  if (stream->invalidated) {
    stream->invalidated = false;
    *graph = nullptr;
    return CUDA_ERROR_STREAM_CAPTURE_INVALIDATED;
  }
  auto* made = new Graph{std::move(operations)};
  state().graphs.insert(made);
  *graph = made;
  return CUDA_SUCCESS;
}

EXPORT CUresult cuStreamIsCapturing(void* handle, int* status) {
  Lock lock(state().mutex);
  if (CUresult result = require_context(__func__)) return result;
  Stream* stream = stream_from_handle(handle);
  if (stream == nullptr) return CUDA_ERROR_INVALID_HANDLE;
  if (status == nullptr) return CUDA_ERROR_INVALID_VALUE;
  *status = !stream->capturing ? CAPTURE_STATUS_NONE : stream->invalidated ? CAPTURE_STATUS_INVALIDATED : CAPTURE_STATUS_ACTIVE;
  return CUDA_SUCCESS;
}

EXPORT CUresult cuStreamGetCaptureInfo_v2(void* handle, int* status, unsigned long long* id, void** graph,
                                          const void** dependencies, size_t* dependency_count) {
  Lock lock(state().mutex);
  if (CUresult result = cuStreamIsCapturing(handle, status)) return result;
  Stream* stream = stream_from_handle(handle);
  if (id) *id = stream->capturing ? stream->capture_id : 0;
  if (graph) *graph = nullptr;
  if (dependencies) *dependencies = nullptr;
  if (dependency_count) *dependency_count = 0;
  return CUDA_SUCCESS;
}

// ---- events ------------------------------------------------------------------------------------
EXPORT CUresult cuEventCreate(void** event, unsigned flags) {
  Lock lock(state().mutex);
  if (CUresult result = require_context(__func__)) return result;
  if (event == nullptr || (flags & ~EVENT_FLAGS_KNOWN) != 0) return CUDA_ERROR_INVALID_VALUE;
  auto* created = new Event();
  created->flags = flags;
  state().events.insert(created);
  *event = created;
  return CUDA_SUCCESS;
}

EXPORT CUresult cuEventDestroy_v2(void* handle) {
  Lock lock(state().mutex);
  auto* event = static_cast<Event*>(handle);
  if (!state().events.erase(event)) return CUDA_ERROR_INVALID_HANDLE;
  delete event;
  return CUDA_SUCCESS;
}

EXPORT CUresult cuEventRecord(void* event_handle, void* stream_handle) {
  Lock lock(state().mutex);
  if (CUresult result = require_context(__func__)) return result;
  auto* event = static_cast<Event*>(event_handle);
  Stream* stream = stream_from_handle(stream_handle);
  if (!state().events.count(event) || stream == nullptr) return CUDA_ERROR_INVALID_HANDLE;
  if (stream->capturing) {
    report("cuEventRecord on a capturing stream (an event node) is not emulated");
    invalidate_capture(stream, "cuEventRecord is not emulated inside a capture");
    return CUDA_ERROR_NOT_SUPPORTED;
  }
  Operation operation;
  operation.description = "cuEventRecord";
  operation.run = [event] {
    event->recorded = true;
    event->time = std::chrono::steady_clock::now();
    return CUDA_SUCCESS;
  };
  return enqueue(stream, std::move(operation));
}

EXPORT CUresult cuEventSynchronize(void* handle) {
  Lock lock(state().mutex);
  if (!state().events.count(static_cast<Event*>(handle))) return CUDA_ERROR_INVALID_HANDLE;
  release_pool_cache();
  return CUDA_SUCCESS;
}

EXPORT CUresult cuEventQuery(void* handle) {
  Lock lock(state().mutex);
  if (!state().events.count(static_cast<Event*>(handle))) return CUDA_ERROR_INVALID_HANDLE;
  return CUDA_SUCCESS;
}

EXPORT CUresult cuEventElapsedTime(float* milliseconds, void* start_handle, void* end_handle) {
  Lock lock(state().mutex);
  auto* start = static_cast<Event*>(start_handle);
  auto* end = static_cast<Event*>(end_handle);
  if (milliseconds == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (!state().events.count(start) || !state().events.count(end)) return CUDA_ERROR_INVALID_HANDLE;
  if (!start->recorded || !end->recorded) return CUDA_ERROR_INVALID_HANDLE;
  if ((start->flags | end->flags) & EVENT_DISABLE_TIMING) return CUDA_ERROR_INVALID_HANDLE;
  *milliseconds = std::chrono::duration<float, std::milli>(end->time - start->time).count();
  return CUDA_SUCCESS;
}

EXPORT CUresult cuEventElapsedTime_v2(float* milliseconds, void* start, void* end) {
  return cuEventElapsedTime(milliseconds, start, end);
}

// ---- memory ------------------------------------------------------------------------------------
EXPORT CUresult cuMemAlloc_v2(CUdeviceptr* device_pointer, size_t bytes) {
  Lock lock(state().mutex);
  if (CUresult result = require_context(__func__)) return result;
  if (CUresult result = check_unsafe_during_capture("cuMemAlloc")) return result;
  return allocate(device_pointer, bytes, false);
}

EXPORT CUresult cuMemFree_v2(CUdeviceptr device_pointer) {
  Lock lock(state().mutex);
  if (CUresult result = require_context(__func__)) return result;
  if (CUresult result = check_unsafe_during_capture("cuMemFree")) return result;
  if (device_pointer == 0) return CUDA_SUCCESS;
  return release(device_pointer, false);
}

EXPORT CUresult cuMemAllocAsync(CUdeviceptr* device_pointer, size_t bytes, void* stream_handle) {
  Lock lock(state().mutex);
  if (CUresult result = require_context(__func__)) return result;
  Stream* stream = stream_from_handle(stream_handle);
  if (stream == nullptr) return CUDA_ERROR_INVALID_HANDLE;
  if (stream->capturing) {
    // CUDA makes this a graph allocation: memory that belongs to the graph, valid from its
    // launch until a free node or cuMemFreeAsync. Not emulated: said loudly instead.
    report("cuMemAllocAsync of %zu bytes inside a stream capture (a graph allocation) is not emulated; "
           "allocate before capturing", bytes);
    invalidate_capture(stream, "cuMemAllocAsync inside the capture");
    return CUDA_ERROR_NOT_SUPPORTED;
  }
  if (stream->legacy) {
    for (Stream* other : state().streams) {
      if (other->capturing && (other->flags & STREAM_NON_BLOCKING) == 0) return CUDA_ERROR_STREAM_CAPTURE_IMPLICIT;
    }
  }
  return allocate(device_pointer, bytes, true);
}

EXPORT CUresult cuMemFreeAsync(CUdeviceptr device_pointer, void* stream_handle) {
  Lock lock(state().mutex);
  if (CUresult result = require_context(__func__)) return result;
  Stream* stream = stream_from_handle(stream_handle);
  if (stream == nullptr) return CUDA_ERROR_INVALID_HANDLE;
  if (stream->capturing) {
    report("cuMemFreeAsync of %#llx inside a stream capture (a graph free node) is not emulated; "
           "free after the capture ended", device_pointer);
    invalidate_capture(stream, "cuMemFreeAsync inside the capture");
    return CUDA_ERROR_NOT_SUPPORTED;
  }
  if (device_pointer == 0) return CUDA_ERROR_INVALID_VALUE;
  return release(device_pointer, true);
}

// One copy of `bytes` from `source` to `destination`; each end that is device memory must lie in one
// live allocation. With a stream (the *Async calls) it is queued on that stream (recorded while the
// stream is captured; a host end is pageable memory, which a capture refuses); without one (the
// synchronous calls) it is refused during a capture and runs at once.
CUresult copy(const char* call, void* destination, bool destination_on_device, const void* source,
              bool source_on_device, size_t bytes, std::optional<void*> stream_handle) {
  Lock lock(state().mutex);
  if (CUresult result = require_context(call)) return result;
  Stream* stream = nullptr;
  if (stream_handle) {
    stream = stream_from_handle(*stream_handle);
    if (stream == nullptr) return CUDA_ERROR_INVALID_HANDLE;
    if (bytes > 0 && ((!destination_on_device && destination == nullptr) || (!source_on_device && source == nullptr))) {
      return CUDA_ERROR_INVALID_VALUE;
    }
  } else if (CUresult result = check_unsafe_during_capture(call)) {
    return result;
  }
  for (const auto& [on_device, address] : {std::pair{destination_on_device, static_cast<const void*>(destination)},
                                           std::pair{source_on_device, source}}) {
    if (!on_device) continue;
    if (CUresult result = check_device_range(call, reinterpret_cast<uintptr_t>(address), bytes)) return result;
  }
  if (stream == nullptr) {
    std::memmove(destination, source, bytes);
    return CUDA_SUCCESS;
  }
  const bool pageable = !destination_on_device || !source_on_device;
  return enqueue(stream, copy_operation(call, destination, source, bytes, pageable));
}

void* device_address(CUdeviceptr pointer) { return reinterpret_cast<void*>(pointer); }

EXPORT CUresult cuMemcpyHtoDAsync_v2(CUdeviceptr destination, const void* source, size_t bytes, void* stream_handle) {
  return copy("cuMemcpyHtoDAsync", device_address(destination), true, source, false, bytes, stream_handle);
}

EXPORT CUresult cuMemcpyDtoHAsync_v2(void* destination, CUdeviceptr source, size_t bytes, void* stream_handle) {
  return copy("cuMemcpyDtoHAsync", destination, false, device_address(source), true, bytes, stream_handle);
}

EXPORT CUresult cuMemcpyDtoDAsync_v2(CUdeviceptr destination, CUdeviceptr source, size_t bytes, void* stream_handle) {
  return copy("cuMemcpyDtoDAsync", device_address(destination), true, device_address(source), true, bytes,
              stream_handle);
}

EXPORT CUresult cuMemcpyHtoD_v2(CUdeviceptr destination, const void* source, size_t bytes) {
  return copy("cuMemcpyHtoD", device_address(destination), true, source, false, bytes, std::nullopt);
}

EXPORT CUresult cuMemcpyDtoH_v2(void* destination, CUdeviceptr source, size_t bytes) {
  return copy("cuMemcpyDtoH", destination, false, device_address(source), true, bytes, std::nullopt);
}

EXPORT CUresult cuMemcpyDtoD_v2(CUdeviceptr destination, CUdeviceptr source, size_t bytes) {
  return copy("cuMemcpyDtoD", device_address(destination), true, device_address(source), true, bytes, std::nullopt);
}

EXPORT CUresult cuMemsetD8Async(CUdeviceptr destination, unsigned char value, size_t count, void* stream_handle) {
  Lock lock(state().mutex);
  if (CUresult result = require_context(__func__)) return result;
  Stream* stream = stream_from_handle(stream_handle);
  if (stream == nullptr) return CUDA_ERROR_INVALID_HANDLE;
  if (CUresult result = check_device_range("cuMemsetD8Async", destination, count)) return result;
  return enqueue(stream, memset_operation<unsigned char>("cuMemsetD8Async", destination, value, count));
}

EXPORT CUresult cuMemsetD32Async(CUdeviceptr destination, unsigned value, size_t count, void* stream_handle) {
  Lock lock(state().mutex);
  if (CUresult result = require_context(__func__)) return result;
  Stream* stream = stream_from_handle(stream_handle);
  if (stream == nullptr) return CUDA_ERROR_INVALID_HANDLE;
  if (destination % 4 != 0) return CUDA_ERROR_INVALID_VALUE;
  if (CUresult result = check_device_range("cuMemsetD32Async", destination, count * 4)) return result;
  return enqueue(stream, memset_operation<unsigned>("cuMemsetD32Async", destination, value, count));
}

EXPORT CUresult cuMemsetD8_v2(CUdeviceptr destination, unsigned char value, size_t count) {
  Lock lock(state().mutex);
  if (CUresult result = require_context(__func__)) return result;
  if (CUresult result = check_unsafe_during_capture("cuMemsetD8")) return result;
  if (CUresult result = check_device_range("cuMemsetD8", destination, count)) return result;
  return memset_operation<unsigned char>("cuMemsetD8", destination, value, count).run();
}

EXPORT CUresult cuMemsetD32_v2(CUdeviceptr destination, unsigned value, size_t count) {
  Lock lock(state().mutex);
  if (CUresult result = require_context(__func__)) return result;
  if (CUresult result = check_unsafe_during_capture("cuMemsetD32")) return result;
  if (destination % 4 != 0) return CUDA_ERROR_INVALID_VALUE;
  if (CUresult result = check_device_range("cuMemsetD32", destination, count * 4)) return result;
  return memset_operation<unsigned>("cuMemsetD32", destination, value, count).run();
}

// ---- modules and kernels -----------------------------------------------------------------------
EXPORT CUresult cuModuleLoadData(void** module, const void* image) {
  Lock lock(state().mutex);
  if (CUresult result = require_context(__func__)) return result;
  if (module == nullptr || image == nullptr) return CUDA_ERROR_INVALID_VALUE;
  const auto* bytes = static_cast<const unsigned char*>(image);
  auto* loaded = new Module();
  if (std::memcmp(bytes, "\x7f" "ELF", 4) == 0) {
    const size_t size = elf_image_bytes(bytes);
    if (size == 0) {
      delete loaded;
      return CUDA_ERROR_INVALID_IMAGE;
    }
    loaded->is_elf = true;
    loaded->image.assign(bytes, bytes + size);
  } else {
    const size_t size = strlen(static_cast<const char*>(image));
    if (std::string(static_cast<const char*>(image), size).find(".entry") == std::string::npos) {
      delete loaded;
      return CUDA_ERROR_INVALID_IMAGE;
    }
    loaded->image.assign(bytes, bytes + size);
  }
  state().modules.insert(loaded);
  *module = loaded;
  return CUDA_SUCCESS;
}

EXPORT CUresult cuModuleUnload(void* handle) {
  Lock lock(state().mutex);
  auto* module = static_cast<Module*>(handle);
  if (!state().modules.erase(module)) return CUDA_ERROR_INVALID_HANDLE;
  for (auto it = state().functions.begin(); it != state().functions.end();) {
    if ((*it)->module == module) {
      delete *it;
      it = state().functions.erase(it);
    } else {
      ++it;
    }
  }
  delete module;
  return CUDA_SUCCESS;
}

EXPORT CUresult cuModuleGetFunction(void** function, void* module_handle, const char* name) {
  Lock lock(state().mutex);
  if (CUresult result = require_context(__func__)) return result;
  auto* module = static_cast<Module*>(module_handle);
  if (function == nullptr || name == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (!state().modules.count(module)) return CUDA_ERROR_INVALID_HANDLE;
  if (!image_defines(*module, name)) return CUDA_ERROR_NOT_FOUND;
  auto found = kernel_table().find(name);
  if (found == kernel_table().end()) {
    report("cuModuleGetFunction: `%s` is in the image but not compiled into the emulation; is it "
           "declared in kernels/src/cuda/sources.rs?", name);
    return CUDA_ERROR_NOT_FOUND;
  }
  auto* made = new Function{&found->second, module, 0};
  state().functions.insert(made);
  *function = made;
  return CUDA_SUCCESS;
}

EXPORT CUresult cuFuncGetAttribute(int* value, int attribute, void* handle) {
  Lock lock(state().mutex);
  auto* function = static_cast<Function*>(handle);
  if (value == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (!state().functions.count(function)) return CUDA_ERROR_INVALID_HANDLE;
  switch (attribute) {
    case FUNCTION_ATTRIBUTE_MAX_THREADS_PER_BLOCK: *value = (int)MAX_THREADS_PER_BLOCK; break;
    case FUNCTION_ATTRIBUTE_SHARED_SIZE_BYTES: case FUNCTION_ATTRIBUTE_CONST_SIZE_BYTES:
    case FUNCTION_ATTRIBUTE_LOCAL_SIZE_BYTES: case FUNCTION_ATTRIBUTE_NUM_REGS: *value = 0; break;
    case FUNCTION_ATTRIBUTE_PTX_VERSION: case FUNCTION_ATTRIBUTE_BINARY_VERSION:
      *value = COMPUTE_CAPABILITY_MAJOR * 10 + COMPUTE_CAPABILITY_MINOR;
      break;
    case FUNCTION_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES: *value = function->max_dynamic_shared_bytes; break;
    default:
      report("cuFuncGetAttribute: attribute %d is not emulated; add it to driver.cpp", attribute);
      return CUDA_ERROR_NOT_SUPPORTED;
  }
  return CUDA_SUCCESS;
}

EXPORT CUresult cuFuncSetAttribute(void* handle, int attribute, int value) {
  Lock lock(state().mutex);
  auto* function = static_cast<Function*>(handle);
  if (!state().functions.count(function)) return CUDA_ERROR_INVALID_HANDLE;
  if (attribute != FUNCTION_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES) {
    report("cuFuncSetAttribute: attribute %d is not emulated; add it to driver.cpp", attribute);
    return CUDA_ERROR_NOT_SUPPORTED;
  }
  if (value < 0 || value > SHARED_MEMORY_OPT_IN_LIMIT) return CUDA_ERROR_INVALID_VALUE;
  function->max_dynamic_shared_bytes = value;
  return CUDA_SUCCESS;
}

EXPORT CUresult cuLaunchKernel(void* function_handle, unsigned grid_x, unsigned grid_y, unsigned grid_z,
                               unsigned block_x, unsigned block_y, unsigned block_z, unsigned shared_bytes,
                               void* stream_handle, void** parameters, void** extra) {
  Lock lock(state().mutex);
  if (CUresult result = require_context(__func__)) return result;
  auto* function = static_cast<Function*>(function_handle);
  if (function == nullptr || !state().functions.count(function)) return CUDA_ERROR_INVALID_HANDLE;
  Stream* stream = stream_from_handle(stream_handle);
  if (stream == nullptr) return CUDA_ERROR_INVALID_HANDLE;
  const KernelEntry& kernel = *function->kernel;
  const unsigned long long threads = (unsigned long long)block_x * block_y * block_z;
  if (block_x == 0 || block_y == 0 || block_z == 0 || block_x > MAX_BLOCK_DIM_XY || block_y > MAX_BLOCK_DIM_XY ||
      block_z > MAX_BLOCK_DIM_Z || threads > MAX_THREADS_PER_BLOCK) {
    report("cuLaunchKernel %s: block (%u,%u,%u) is out of range", kernel.name, block_x, block_y, block_z);
    return CUDA_ERROR_INVALID_VALUE;
  }
  if (grid_x == 0 || grid_y == 0 || grid_z == 0 || grid_x > MAX_GRID_DIM_X || grid_y > MAX_GRID_DIM_YZ ||
      grid_z > MAX_GRID_DIM_YZ) {
    report("cuLaunchKernel %s: grid (%u,%u,%u) is out of range", kernel.name, grid_x, grid_y, grid_z);
    return CUDA_ERROR_INVALID_VALUE;
  }
  const int dynamic_limit = std::max(STATIC_SHARED_MEMORY_LIMIT, function->max_dynamic_shared_bytes);
  if (shared_bytes > (unsigned)dynamic_limit) {
    report("cuLaunchKernel %s: %u bytes of dynamic shared memory (at most %d)", kernel.name, shared_bytes, dynamic_limit);
    return CUDA_ERROR_INVALID_VALUE;
  }
  if (extra != nullptr) {
    report("cuLaunchKernel %s: parameters through `extra` are not emulated", kernel.name);
    return CUDA_ERROR_NOT_SUPPORTED;
  }
  if (kernel.parameter_count > 0 && parameters == nullptr) return CUDA_ERROR_INVALID_VALUE;
  // By value, now: CUDA copies kernel parameters when the launch is queued or recorded.
  std::vector<std::vector<unsigned char>> values(kernel.parameter_count);
  for (size_t index = 0; index < kernel.parameter_count; ++index) {
    if (parameters[index] == nullptr) return CUDA_ERROR_INVALID_VALUE;
    const auto* bytes = static_cast<const unsigned char*>(parameters[index]);
    values[index].assign(bytes, bytes + kernel.parameter_sizes[index]);
  }
  Operation operation;
  operation.description = std::string("cuLaunchKernel ") + kernel.name;
  const dim3 grid{grid_x, grid_y, grid_z};
  const dim3 block{block_x, block_y, block_z};
  const KernelEntry* entry = &kernel;
  operation.run = [entry, grid, block, values = std::move(values)] {
    ++state().kernel_launches;
    emulation::emu.print_failures = false;
    const auto started = std::chrono::steady_clock::now();
    const bool succeeded = entry->run(grid, block, values);
    auto& [launches, seconds] = state().kernel_time[entry->name];
    ++launches;
    seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    if (!succeeded) {
      report("kernel failed: %s", emulation::emu.failures.back().c_str());
    }
    emulation::emu.failures.clear();
    emulation::emu.launched.clear();
    return succeeded ? CUDA_SUCCESS : CUDA_ERROR_LAUNCH_FAILED;
  };
  return enqueue(stream, std::move(operation));
}

// ---- graphs ------------------------------------------------------------------------------------
EXPORT CUresult cuGraphInstantiateWithFlags(void** exec, void* graph_handle, unsigned long long flags) {
  Lock lock(state().mutex);
  if (CUresult result = require_context(__func__)) return result;
  auto* graph = static_cast<Graph*>(graph_handle);
  if (exec == nullptr || (flags & ~GRAPH_INSTANTIATE_FLAGS_KNOWN) != 0) return CUDA_ERROR_INVALID_VALUE;
  if (!state().graphs.count(graph)) return CUDA_ERROR_INVALID_HANDLE;
  auto* made = new GraphExec{graph->operations};
  state().graph_execs.insert(made);
  *exec = made;
  return CUDA_SUCCESS;
}

EXPORT CUresult cuGraphUpload(void* exec_handle, void* stream_handle) {
  Lock lock(state().mutex);
  if (CUresult result = require_context(__func__)) return result;
  if (!state().graph_execs.count(static_cast<GraphExec*>(exec_handle)) || stream_from_handle(stream_handle) == nullptr) {
    return CUDA_ERROR_INVALID_HANDLE;
  }
  return CUDA_SUCCESS;
}

EXPORT CUresult cuGraphLaunch(void* exec_handle, void* stream_handle) {
  Lock lock(state().mutex);
  if (CUresult result = require_context(__func__)) return result;
  auto* exec = static_cast<GraphExec*>(exec_handle);
  Stream* stream = stream_from_handle(stream_handle);
  if (!state().graph_execs.count(exec) || stream == nullptr) return CUDA_ERROR_INVALID_HANDLE;
  if (stream->capturing) {
    report("cuGraphLaunch into a capturing stream (a child graph) is not emulated");
    invalidate_capture(stream, "cuGraphLaunch inside the capture");
    return CUDA_ERROR_NOT_SUPPORTED;
  }
  Operation operation;
  operation.description = "cuGraphLaunch";
  operation.run = [exec] {
    ++state().graph_launches;
    return run_operations(exec->operations);
  };
  return enqueue(stream, std::move(operation));
}

EXPORT CUresult cuGraphExecDestroy(void* exec_handle) {
  Lock lock(state().mutex);
  auto* exec = static_cast<GraphExec*>(exec_handle);
  if (!state().graph_execs.erase(exec)) return CUDA_ERROR_INVALID_HANDLE;
  delete exec;
  return CUDA_SUCCESS;
}

EXPORT CUresult cuGraphDestroy(void* graph_handle) {
  Lock lock(state().mutex);
  auto* graph = static_cast<Graph*>(graph_handle);
  if (!state().graphs.erase(graph)) return CUDA_ERROR_INVALID_HANDLE;
  delete graph;
  return CUDA_SUCCESS;
}

// ==== cuBLAS ====================================================================================
EXPORT cublasStatus cublasCreate_v2(void** handle) {
  Lock lock(state().mutex);
  if (handle == nullptr) return CUBLAS_STATUS_INVALID_VALUE;
  if (require_context(__func__) != CUDA_SUCCESS) return CUBLAS_STATUS_NOT_INITIALIZED;
  auto* made = new BlasHandle();
  made->stream = &state().legacy_stream;
  state().blas_handles.insert(made);
  *handle = made;
  return CUBLAS_STATUS_SUCCESS;
}

EXPORT cublasStatus cublasDestroy_v2(void* handle) {
  Lock lock(state().mutex);
  auto* blas = static_cast<BlasHandle*>(handle);
  if (!state().blas_handles.erase(blas)) return CUBLAS_STATUS_NOT_INITIALIZED;
  delete blas;
  return CUBLAS_STATUS_SUCCESS;
}

EXPORT cublasStatus cublasSetStream_v2(void* handle, void* stream_handle) {
  Lock lock(state().mutex);
  auto* blas = static_cast<BlasHandle*>(handle);
  if (!state().blas_handles.count(blas)) return CUBLAS_STATUS_NOT_INITIALIZED;
  Stream* stream = stream_from_handle(stream_handle);
  if (stream == nullptr) return CUBLAS_STATUS_INVALID_VALUE;
  blas->stream = stream;
  return CUBLAS_STATUS_SUCCESS;
}

EXPORT cublasStatus cublasGetStream_v2(void* handle, void** stream_handle) {
  Lock lock(state().mutex);
  auto* blas = static_cast<BlasHandle*>(handle);
  if (!state().blas_handles.count(blas)) return CUBLAS_STATUS_NOT_INITIALIZED;
  if (stream_handle == nullptr) return CUBLAS_STATUS_INVALID_VALUE;
  *stream_handle = blas->stream->legacy ? nullptr : blas->stream;
  return CUBLAS_STATUS_SUCCESS;
}

EXPORT cublasStatus cublasSetWorkspace_v2(void* handle, void* workspace, size_t bytes) {
  Lock lock(state().mutex);
  auto* blas = static_cast<BlasHandle*>(handle);
  if (!state().blas_handles.count(blas)) return CUBLAS_STATUS_NOT_INITIALIZED;
  const auto address = reinterpret_cast<uintptr_t>(workspace);
  if (bytes > 0 && (address % CUBLAS_WORKSPACE_ALIGNMENT != 0 || find_allocation(address, bytes) == nullptr)) {
    return CUBLAS_STATUS_INVALID_VALUE;
  }
  // The emulated GEMM needs no workspace.
  return CUBLAS_STATUS_SUCCESS;
}

EXPORT cublasStatus cublasSetMathMode(void* handle, int mode) {
  Lock lock(state().mutex);
  auto* blas = static_cast<BlasHandle*>(handle);
  if (!state().blas_handles.count(blas)) return CUBLAS_STATUS_NOT_INITIALIZED;
  blas->math_mode = mode;
  return CUBLAS_STATUS_SUCCESS;
}

EXPORT cublasStatus cublasGetMathMode(void* handle, int* mode) {
  Lock lock(state().mutex);
  auto* blas = static_cast<BlasHandle*>(handle);
  if (!state().blas_handles.count(blas)) return CUBLAS_STATUS_NOT_INITIALIZED;
  if (mode == nullptr) return CUBLAS_STATUS_INVALID_VALUE;
  *mode = blas->math_mode;
  return CUBLAS_STATUS_SUCCESS;
}

EXPORT cublasStatus cublasSetPointerMode_v2(void* handle, int mode) {
  Lock lock(state().mutex);
  auto* blas = static_cast<BlasHandle*>(handle);
  if (!state().blas_handles.count(blas)) return CUBLAS_STATUS_NOT_INITIALIZED;
  blas->pointer_mode = mode;
  return CUBLAS_STATUS_SUCCESS;
}

EXPORT cublasStatus cublasGetPointerMode_v2(void* handle, int* mode) {
  Lock lock(state().mutex);
  auto* blas = static_cast<BlasHandle*>(handle);
  if (!state().blas_handles.count(blas)) return CUBLAS_STATUS_NOT_INITIALIZED;
  if (mode == nullptr) return CUBLAS_STATUS_INVALID_VALUE;
  *mode = blas->pointer_mode;
  return CUBLAS_STATUS_SUCCESS;
}

EXPORT cublasStatus cublasGetProperty(int type, int* value) {
  if (value == nullptr) return CUBLAS_STATUS_INVALID_VALUE;
  switch (type) {
    case 0: *value = CUBLAS_VERSION_MAJOR; break;
    case 1: *value = CUBLAS_VERSION_MINOR; break;
    case 2: *value = CUBLAS_VERSION_PATCH; break;
    default: return CUBLAS_STATUS_INVALID_VALUE;
  }
  return CUBLAS_STATUS_SUCCESS;
}

EXPORT cublasStatus cublasGetVersion_v2(void*, int* version) {
  if (version == nullptr) return CUBLAS_STATUS_INVALID_VALUE;
  *version = CUBLAS_VERSION_MAJOR * 10000 + CUBLAS_VERSION_MINOR * 100 + CUBLAS_VERSION_PATCH;
  return CUBLAS_STATUS_SUCCESS;
}

EXPORT cublasStatus cublasGemmEx(void* handle, int transa, int transb, int m, int n, int k, const void* alpha,
                                 const void* a, int a_type, int lda, const void* b, int b_type, int ldb,
                                 const void* beta, void* c, int c_type, int ldc, int compute_type, int) {
  Lock lock(state().mutex);
  auto* blas = static_cast<BlasHandle*>(handle);
  if (!state().blas_handles.count(blas)) return CUBLAS_STATUS_NOT_INITIALIZED;
  auto valid_operation = [](int operation) {
    return operation == CUBLAS_OP_N || operation == CUBLAS_OP_T || operation == CUBLAS_OP_C;
  };
  if (!valid_operation(transa) || !valid_operation(transb) || m < 0 || n < 0 || k < 0) return CUBLAS_STATUS_INVALID_VALUE;
  // op(A) is m × k, op(B) is k × n, C is m × n, each stored column-major.
  const int a_rows = transa == CUBLAS_OP_N ? m : k;
  const int b_rows = transb == CUBLAS_OP_N ? k : n;
  if (lda < std::max(1, a_rows) || ldb < std::max(1, b_rows) || ldc < std::max(1, m)) return CUBLAS_STATUS_INVALID_VALUE;
  if (alpha == nullptr || beta == nullptr) return CUBLAS_STATUS_INVALID_VALUE;
  const bool input_16bit = a_type == b_type && (a_type == CUDA_R_16F || a_type == CUDA_R_16BF) &&
                           (c_type == CUDA_R_32F || c_type == a_type);
  const bool input_32bit = a_type == CUDA_R_32F && b_type == CUDA_R_32F && c_type == CUDA_R_32F;
  if (!(input_16bit || input_32bit) || (compute_type != CUBLAS_COMPUTE_32F && compute_type != CUBLAS_COMPUTE_32F_PEDANTIC)) {
    report("cublasGemmEx: types A %d, B %d, C %d with compute type %d are not emulated", a_type, b_type, c_type, compute_type);
    return CUBLAS_STATUS_NOT_SUPPORTED;
  }
  if (blas->pointer_mode != CUBLAS_POINTER_MODE_HOST) {
    report("cublasGemmEx: device pointer mode is not emulated");
    return CUBLAS_STATUS_NOT_SUPPORTED;
  }
  if (m == 0 || n == 0) return CUBLAS_STATUS_SUCCESS;
  const int a_cols = transa == CUBLAS_OP_N ? k : m;
  const int b_cols = transb == CUBLAS_OP_N ? n : k;
  // Out-of-bounds matrices are an illegal address on a GPU, reported as a failed execution.
  if (k > 0 && (find_allocation(reinterpret_cast<uintptr_t>(a), matrix_extent_bytes(a_rows, a_cols, lda, a_type)) == nullptr ||
                find_allocation(reinterpret_cast<uintptr_t>(b), matrix_extent_bytes(b_rows, b_cols, ldb, b_type)) == nullptr)) {
    report("cublasGemmEx: A or B is not inside one live allocation (m %d, n %d, k %d, lda %d, ldb %d)", m, n, k, lda, ldb);
    return CUBLAS_STATUS_EXECUTION_FAILED;
  }
  if (find_allocation(reinterpret_cast<uintptr_t>(c), matrix_extent_bytes(m, n, ldc, c_type)) == nullptr) {
    report("cublasGemmEx: C is not inside one live allocation (m %d, n %d, ldc %d)", m, n, ldc);
    return CUBLAS_STATUS_EXECUTION_FAILED;
  }
  // Host-pointer scalars are read when the call is made (also while capturing), as cuBLAS does.
  const Gemm gemm{transa, transb, m, n, k, *static_cast<const float*>(alpha), *static_cast<const float*>(beta),
                  a, a_type, lda, b, b_type, ldb, c, c_type, ldc,
                  input_32bit && blas->math_mode == CUBLAS_TF32_TENSOR_OP_MATH};
  Operation operation;
  operation.description = "cublasGemmEx";
  operation.run = [gemm] {
    ++state().gemms;
    const auto started = std::chrono::steady_clock::now();
    run_gemm(gemm);
    state().gemm_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    return CUDA_SUCCESS;
  };
  const CUresult result = enqueue(blas->stream, std::move(operation));
  if (result != CUDA_SUCCESS) {
    report("cublasGemmEx: queuing on its stream failed with %s", error_name(result) ? error_name(result) : "an error");
    return CUBLAS_STATUS_EXECUTION_FAILED;
  }
  return CUBLAS_STATUS_SUCCESS;
}
