// Checks of the emulated CUDA driver and cuBLAS (driver.cpp, a test double): that it refuses what
// a real driver refuses, with the same codes (capture rules, ranges, launch limits, cuBLAS
// arguments), that capture records and replay runs, and that its GEMM computes what cuBLAS
// defines. Without these, a GPU test passing against the emulation would not say the emulation
// checked anything. Prints one line per check; exit status 0 when all pass. Built and run by
// gpu-tests, linked against the emulated library.
#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>
#include <vector>
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

extern "C" {
int cuInit(unsigned);
int cuDeviceGet(int*, int);
int cuDevicePrimaryCtxRetain(void**, int);
int cuCtxSetCurrent(void*);
int cuMemAlloc_v2(unsigned long long*, size_t);
int cuMemAllocAsync(unsigned long long*, size_t, void*);
int cuMemFreeAsync(unsigned long long, void*);
int cuMemGetInfo_v2(size_t*, size_t*);
int cuMemcpyHtoDAsync_v2(unsigned long long, const void*, size_t, void*);
int cuMemcpyDtoHAsync_v2(void*, unsigned long long, size_t, void*);
int cuMemsetD32Async(unsigned long long, unsigned, size_t, void*);
int cuStreamCreate(void**, unsigned);
int cuStreamSynchronize(void*);
int cuStreamBeginCapture_v2(void*, int);
int cuStreamEndCapture(void*, void**);
int cuStreamIsCapturing(void*, int*);
int cuGraphInstantiateWithFlags(void**, void*, unsigned long long);
int cuGraphLaunch(void*, void*);
int cuModuleLoadData(void**, const void*);
int cuModuleGetFunction(void**, void*, const char*);
int cuLaunchKernel(void*, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned, void*, void**, void**);
int cublasCreate_v2(void**);
int cublasSetStream_v2(void*, void*);
int cublasGemmEx(void*, int, int, int, int, int, const void*, const void*, int, int, const void*, int, int,
                 const void*, void*, int, int, int, int);
}

namespace {
constexpr int SUCCESS = 0, INVALID_VALUE = 1, NOT_INITIALIZED = 3, INVALID_HANDLE = 400, NOT_FOUND = 500;
constexpr int CAPTURE_UNSUPPORTED = 900, CAPTURE_INVALIDATED = 901, CAPTURE_WRONG_THREAD = 908;
constexpr int MODE_GLOBAL = 0, MODE_THREAD_LOCAL = 1;
constexpr int STATUS_NONE = 0, STATUS_INVALIDATED = 2;
constexpr int BLAS_INVALID_VALUE = 7;
constexpr int OP_N = 0, OP_T = 1, R_32F = 0, R_16BF = 14, COMPUTE_32F = 68;
constexpr unsigned NON_BLOCKING = 1;
constexpr double GEMM_TOLERANCE = 1e-5;

int passed = 0, failed = 0;

void expect(bool condition, const std::string& what) {
  if (condition) {
    ++passed;
    printf("PASS %s\n", what.c_str());
  } else {
    ++failed;
    printf("FAIL %s\n", what.c_str());
  }
}

void expect_code(int got, int wanted, const std::string& what) {
  expect(got == wanted, what + " (got " + std::to_string(got) + ", want " + std::to_string(wanted) + ")");
}

unsigned short to_bf16(float value) {
  unsigned bits;
  std::memcpy(&bits, &value, 4);
  return (unsigned short)((bits + 0x7fffu + ((bits >> 16) & 1u)) >> 16);
}

float from_bf16(unsigned short bits) {
  const unsigned wide = (unsigned)bits << 16;
  float value;
  std::memcpy(&value, &wide, 4);
  return value;
}

unsigned long long upload(const void* data, size_t bytes, void* stream) {
  unsigned long long device = 0;
  cuMemAllocAsync(&device, bytes, stream);
  cuMemcpyHtoDAsync_v2(device, data, bytes, stream);
  return device;
}

// C (m × n, ld m+1) = op(A) · op(B) with A, B stored column-major with padded leading dimensions,
// against a naive loop over the same definition.
void check_gemm(void* blas, void* stream, int transa, int transb, int element_type) {
  const int m = 5, n = 3, k = 7;
  const int a_rows = transa == OP_N ? m : k, a_cols = transa == OP_N ? k : m;
  const int b_rows = transb == OP_N ? k : n, b_cols = transb == OP_N ? n : k;
  const int lda = a_rows + 2, ldb = b_rows + 1, ldc = m + 1;
  std::vector<float> a(lda * a_cols), b(ldb * b_cols);
  for (size_t i = 0; i < a.size(); ++i) a[i] = std::sin(0.7f * i);
  for (size_t i = 0; i < b.size(); ++i) b[i] = std::cos(0.3f * i);
  std::vector<unsigned short> a16(a.size()), b16(b.size());
  if (element_type == R_16BF) {
    for (size_t i = 0; i < a.size(); ++i) a[i] = from_bf16(a16[i] = to_bf16(a[i]));
    for (size_t i = 0; i < b.size(); ++i) b[i] = from_bf16(b16[i] = to_bf16(b[i]));
  }
  const size_t element = element_type == R_32F ? 4 : 2;
  const unsigned long long a_device = upload(element_type == R_32F ? (void*)a.data() : (void*)a16.data(), a.size() * element, stream);
  const unsigned long long b_device = upload(element_type == R_32F ? (void*)b.data() : (void*)b16.data(), b.size() * element, stream);
  // C starts as NaN: with beta 0, cuBLAS does not read it.
  std::vector<float> c(ldc * n, NAN);
  const unsigned long long c_device = upload(c.data(), c.size() * 4, stream);
  const float alpha = 2.0f, beta = 0.0f;
  const int status = cublasGemmEx(blas, transa, transb, m, n, k, &alpha, (void*)a_device, element_type, lda,
                                  (void*)b_device, element_type, ldb, &beta, (void*)c_device, R_32F, ldc, COMPUTE_32F, 0);
  cuMemcpyDtoHAsync_v2(c.data(), c_device, c.size() * 4, stream);
  double worst = 0;
  for (int j = 0; j < n; ++j) {
    for (int i = 0; i < m; ++i) {
      double sum = 0;
      for (int l = 0; l < k; ++l) {
        const double a_value = transa == OP_N ? a[i + l * lda] : a[l + i * lda];
        const double b_value = transb == OP_N ? b[l + j * ldb] : b[j + l * ldb];
        sum += a_value * b_value;
      }
      worst = std::max(worst, std::fabs(2.0 * sum - c[i + j * ldc]));
    }
  }
  char what[160];
  snprintf(what, sizeof what, "cublasGemmEx %s%s %s with padded leading dimensions matches the definition (worst %.1e)",
           transa == OP_N ? "N" : "T", transb == OP_N ? "N" : "T", element_type == R_32F ? "f32" : "bf16", worst);
  expect(status == 0 && worst <= GEMM_TOLERANCE, what);
}
}  // namespace

int main() {
  unsigned long long pointer = 0;
  expect_code(cuMemAlloc_v2(&pointer, 16), NOT_INITIALIZED, "a call before cuInit fails");
  expect_code(cuInit(0), SUCCESS, "cuInit");
  expect_code(cuMemAlloc_v2(&pointer, 16), 201, "an allocation without a current context fails");
  int device = -1;
  void* context = nullptr;
  cuDeviceGet(&device, 0);
  cuDevicePrimaryCtxRetain(&context, device);
  cuCtxSetCurrent(context);
  void* stream = nullptr;
  expect_code(cuStreamCreate(&stream, NON_BLOCKING), SUCCESS, "cuStreamCreate");

  // Memory ranges.
  unsigned long long buffer = 0;
  cuMemAllocAsync(&buffer, 64, stream);
  std::vector<unsigned char> host(128, 1);
  expect_code(cuMemcpyHtoDAsync_v2(buffer, host.data(), 64, stream), SUCCESS, "a copy inside an allocation");
  expect_code(cuMemcpyHtoDAsync_v2(buffer + 8, host.data(), 64, stream), INVALID_VALUE, "a copy past the end of an allocation fails");
  expect_code(cuMemAlloc_v2(&pointer, 0), INVALID_VALUE, "a zero-byte cuMemAlloc fails");

  // The stream-ordered pool keeps freed memory until a synchronisation.
  size_t free_before = 0, free_after_free = 0, free_after_sync = 0, total = 0;
  unsigned long long big = 0;
  cuMemAllocAsync(&big, 1 << 20, stream);
  cuMemGetInfo_v2(&free_before, &total);
  cuMemFreeAsync(big, stream);
  cuMemGetInfo_v2(&free_after_free, &total);
  cuStreamSynchronize(stream);
  cuMemGetInfo_v2(&free_after_sync, &total);
  expect(free_after_free == free_before && free_after_sync == free_before + (1 << 20),
         "memory freed with cuMemFreeAsync is free only after a synchronisation");

  // Capture records; replay runs.
  unsigned value = 0;
  cuMemsetD32Async(buffer, 0, 1, stream);
  expect_code(cuStreamBeginCapture_v2(stream, MODE_THREAD_LOCAL), SUCCESS, "begin a thread-local capture");
  cuMemsetD32Async(buffer, 7, 1, stream);
  void* graph = nullptr;
  expect_code(cuStreamEndCapture(stream, &graph), SUCCESS, "end the capture");
  cuMemcpyDtoHAsync_v2(&value, buffer, 4, stream);
  expect(value == 0, "capturing a memset does not run it");
  void* exec = nullptr;
  cuGraphInstantiateWithFlags(&exec, graph, 0);
  cuGraphLaunch(exec, stream);
  cuMemcpyDtoHAsync_v2(&value, buffer, 4, stream);
  expect(value == 7, "launching the graph runs the memset");

  // Capture rules.
  cuStreamBeginCapture_v2(stream, MODE_GLOBAL);
  expect_code(cuMemAlloc_v2(&pointer, 16), CAPTURE_UNSUPPORTED, "cuMemAlloc during a global capture fails");
  int status = -1;
  cuStreamIsCapturing(stream, &status);
  expect(status == STATUS_INVALIDATED, "and invalidates the capture");
  expect_code(cuStreamEndCapture(stream, &graph), CAPTURE_INVALIDATED, "ending an invalidated capture fails");
  expect(graph == nullptr, "and gives no graph");
  cuStreamIsCapturing(stream, &status);
  expect(status == STATUS_NONE, "the stream is out of capture mode afterwards");

  cuStreamBeginCapture_v2(stream, MODE_THREAD_LOCAL);
  expect_code(cuMemcpyHtoDAsync_v2(buffer, host.data(), 4, stream), CAPTURE_UNSUPPORTED,
              "a pageable host copy into a capture fails");
  cuStreamEndCapture(stream, &graph);
  cuStreamBeginCapture_v2(stream, MODE_THREAD_LOCAL);
  expect_code(cuStreamSynchronize(stream), CAPTURE_UNSUPPORTED, "synchronising the capturing stream fails");
  cuStreamEndCapture(stream, &graph);
  cuStreamBeginCapture_v2(stream, MODE_THREAD_LOCAL);
  expect_code(cuMemAllocAsync(&pointer, 16, stream), 801, "a graph allocation (cuMemAllocAsync in a capture) is refused loudly");
  cuStreamEndCapture(stream, &graph);

  cuStreamBeginCapture_v2(stream, MODE_THREAD_LOCAL);
  int from_other_thread = -1, end_from_other_thread = -1;
  std::thread other([&] {
    cuCtxSetCurrent(context);
    from_other_thread = cuMemsetD32Async(buffer, 1, 1, stream);
    end_from_other_thread = cuStreamEndCapture(stream, &graph);
  });
  other.join();
  expect_code(from_other_thread, CAPTURE_WRONG_THREAD, "work queued by another thread into a capture fails (stricter than CUDA)");
  expect_code(end_from_other_thread, CAPTURE_WRONG_THREAD, "ending a thread-local capture from another thread fails");
  expect_code(cuStreamEndCapture(stream, &graph), CAPTURE_INVALIDATED, "the capturing thread sees it invalidated");

  // Modules and launches.
  const char* ptx = ".version 8.0\n.target sm_90\n.visible .entry rms_norm(\n)\n";
  void* module = nullptr;
  void* function = nullptr;
  expect_code(cuModuleLoadData(&module, ptx), SUCCESS, "load a PTX image");
  expect_code(cuModuleGetFunction(&function, module, "silu_mul"), NOT_FOUND, "a kernel the image lacks is not found");
  expect_code(cuModuleGetFunction(&function, module, "rms_norm"), SUCCESS, "a kernel the image has is found");
  unsigned long long input = buffer, weight = buffer, output = buffer;
  int width = 4;
  float eps = 1e-5f;
  void* parameters[] = {&input, &weight, &output, &width, &eps};
  expect_code(cuLaunchKernel(function, 1, 1, 1, 1025, 1, 1, 0, stream, parameters, nullptr), INVALID_VALUE,
              "a block of 1025 threads is refused");
  expect_code(cuLaunchKernel(function, 0, 1, 1, 32, 1, 1, 0, stream, parameters, nullptr), INVALID_VALUE,
              "an empty grid is refused");
  expect_code(cuLaunchKernel(function, 1, 1, 1, 32, 1, 1, 64 * 1024, stream, parameters, nullptr), INVALID_VALUE,
              "64 KiB of dynamic shared memory without opting in is refused");
  expect_code(cuLaunchKernel(nullptr, 1, 1, 1, 32, 1, 1, 0, stream, parameters, nullptr), INVALID_HANDLE,
              "a null function is refused");

  // A 16-byte vector load from an address that is not 16-byte aligned faults on a GPU; the
  // emulation (built with -fsanitize=alignment) stops the process. In a child process.
  unsigned long long x = 0, w = 0, out = 0;
  cuMemAllocAsync(&x, 4096, stream);
  cuMemAllocAsync(&w, 4096, stream);
  cuMemAllocAsync(&out, 4096, stream);
  void* linear = nullptr;
  cuModuleLoadData(&module, ".visible .entry linear_skinny_f32(\n)\n");
  cuModuleGetFunction(&linear, module, "linear_skinny_f32");
  const pid_t child = fork();
  if (child == 0) {
    const int null_device = open("/dev/null", O_WRONLY);
    dup2(null_device, STDERR_FILENO);
    dup2(null_device, STDOUT_FILENO);
    unsigned long long misaligned_x = x + 4, no_bias = 0;
    int rows = 1, k = 8, m = 2, accumulate = 0;
    void* linear_parameters[] = {&misaligned_x, &w, &no_bias, &out, &rows, &k, &m, &accumulate};
    cuLaunchKernel(linear, 1, 1, 1, 256, 1, 1, 0, stream, linear_parameters, nullptr);
    _exit(0);
  }
  int child_status = 0;
  waitpid(child, &child_status, 0);
  expect(!(WIFEXITED(child_status) && WEXITSTATUS(child_status) == 0),
         "a kernel's misaligned 16-byte load stops the process");

  // cuBLAS.
  void* blas = nullptr;
  cublasCreate_v2(&blas);
  cublasSetStream_v2(blas, stream);
  const float one = 1.0f;
  expect_code(cublasGemmEx(blas, OP_N, OP_N, 4, 4, 4, &one, (void*)buffer, R_32F, 3, (void*)buffer, R_32F, 4, &one,
                           (void*)buffer, R_32F, 4, COMPUTE_32F, 0),
              BLAS_INVALID_VALUE, "cublasGemmEx with lda below the rows of A is refused");
  expect_code(cublasGemmEx(blas, OP_T, OP_N, 4, 4, 4, &one, (void*)buffer, R_32F, 4, (void*)buffer, R_32F, 4, &one,
                           (void*)buffer, R_32F, 3, COMPUTE_32F, 0),
              BLAS_INVALID_VALUE, "cublasGemmEx with ldc below m is refused");
  for (int element_type : {R_32F, R_16BF}) {
    for (int transa : {OP_N, OP_T}) {
      for (int transb : {OP_N, OP_T}) check_gemm(blas, stream, transa, transb, element_type);
    }
  }

  printf("%d driver checks passed, %d failed\n", passed, failed);
  return failed == 0 ? 0 : 1;
}
