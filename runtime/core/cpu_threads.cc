#include "runtime/core/cpu_threads.h"

#include <cblas.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <exception>
#include <mutex>

#include "runtime/core/cpu_pool.h"

#include "runtime/core/error.h"

namespace sy {

namespace {

std::atomic<int> g_kernels{-1};  // a CpuKernels once chosen
std::atomic<int> g_threads{0};   // 0: not chosen yet

bool cpu_can_run(CpuKernels k) {
#if defined(__x86_64__)
  switch (k) {
    case CpuKernels::kBaseline: return true;
    case CpuKernels::kAvx2: return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    case CpuKernels::kAvx512:
      return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
             __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl");
  }
  return false;
#else
  return k == CpuKernels::kBaseline;  // the vector variants are x86-64 only
#endif
}

CpuKernels kernels_from_environment() {
  const char* env = std::getenv("SY_CPU_KERNELS");
  return env == nullptr || *env == '\0' ? best_cpu_kernels() : cpu_kernels_from_name(env);
}

int threads_from_environment() {
  const char* env = std::getenv("SY_CPU_THREADS");
  if (env == nullptr || *env == '\0') return std::max(1, openblas_get_num_threads());
  char* end = nullptr;
  const long n = std::strtol(env, &end, 10);
  SY_CHECK(*end == '\0' && n >= 1 && n <= 1024,
           "SY_CPU_THREADS=" << env
                             << " is not a thread count (1 to 1024); unset it to use as "
                                "many threads as the BLAS");
  return static_cast<int>(n);
}

}  // namespace

const char* cpu_kernels_name(CpuKernels k) {
  switch (k) {
    case CpuKernels::kBaseline: return "baseline";
    case CpuKernels::kAvx2: return "avx2";
    case CpuKernels::kAvx512: return "avx512";
  }
  return "?";
}

CpuKernels cpu_kernels_from_name(const std::string& name) {
  for (CpuKernels k : {CpuKernels::kBaseline, CpuKernels::kAvx2, CpuKernels::kAvx512}) {
    if (name != cpu_kernels_name(k)) continue;
    SY_CHECK(cpu_can_run(k), "SY_CPU_KERNELS=" << name << ": this CPU cannot run them (it can run "
                                               << cpu_kernels_name(best_cpu_kernels())
                                               << "); unset SY_CPU_KERNELS or name that");
    return k;
  }
  SY_THROW("SY_CPU_KERNELS=" << name
                             << " is not one of baseline, avx2, avx512; unset it to use "
                                "the widest this CPU runs");
}

CpuKernels best_cpu_kernels() {
  for (CpuKernels k : {CpuKernels::kAvx512, CpuKernels::kAvx2})
    if (cpu_can_run(k)) return k;
  return CpuKernels::kBaseline;
}

CpuKernels cpu_kernels() {
  int k = g_kernels.load(std::memory_order_relaxed);
  if (k < 0) {
    k = static_cast<int>(kernels_from_environment());
    g_kernels.store(k);
  }
  return static_cast<CpuKernels>(k);
}

void set_cpu_kernels(CpuKernels k) {
  SY_CHECK(cpu_can_run(k),
           "set_cpu_kernels: this CPU cannot run " << cpu_kernels_name(k) << " kernels");
  g_kernels.store(static_cast<int>(k));
}

namespace {

// The CPU threads from now on; with several, OpenBLAS gives its calls one thread (the GEMM ops
// split their work over ours).
void use_threads(int n) {
  g_threads.store(n);
  if (n > 1 && openblas_get_num_threads() > 1) openblas_set_num_threads(1);
}

}  // namespace

int cpu_threads() {
  int n = g_threads.load(std::memory_order_relaxed);
  if (n == 0) {
    static std::once_flag once;
    std::call_once(once, [] { use_threads(threads_from_environment()); });
    n = g_threads.load();
  }
  return n;
}

void set_cpu_threads(int n) {
  SY_CHECK(n >= 1, "set_cpu_threads: need at least one thread, got " << n);
  cpu_threads();  // the environment's choice settled first, so that it cannot overwrite n later
  use_threads(n);
}

bool gemms_on_cpu_threads() {
  return cpu_threads() > 1 && openblas_get_num_threads() == 1;
}

void set_gemms_on_cpu_threads(bool on) {
  if (cpu_threads() > 1) openblas_set_num_threads(on ? 1 : cpu_threads());
}

namespace {

// The ranges on OpenMP's threads — the same threads an OpenMP build of OpenBLAS runs its GEMMs on.
void parallel_for_openmp(int64_t n, int64_t parts, const std::function<void(int64_t, int64_t)>& f) {
  std::exception_ptr error;
  std::mutex mu;
#pragma omp parallel for num_threads(static_cast <int>(parts)) schedule(static, 1)
  for (int64_t p = 0; p < parts; ++p) {
    try {
      f(n * p / parts, n * (p + 1) / parts);
    } catch (...) {
      std::lock_guard<std::mutex> lock(mu);
      if (!error) error = std::current_exception();
    }
  }
  if (error) std::rethrow_exception(error);
}

}  // namespace

void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& f) {
  const int64_t parts = std::min<int64_t>(cpu_threads(), n / std::max<int64_t>(grain, 1));
  if (parts <= 1) {
    if (n > 0) f(0, n);
  } else if (openblas_get_parallel() == 2) {
    parallel_for_openmp(n, parts, f);
  } else if (!CpuPool::instance().run(n, parts, f)) {
    f(0, n);
  }
}

std::string cpu_ops_description() {
  return std::string(cpu_kernels_name(cpu_kernels())) + " kernels, " +
         std::to_string(cpu_threads()) + " thread" + (cpu_threads() == 1 ? "" : "s") +
         (gemms_on_cpu_threads() ? " (the GEMMs' too)" : "");
}

}  // namespace sy
