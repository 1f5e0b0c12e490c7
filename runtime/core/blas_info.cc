#include "runtime/core/blas_info.h"

#include <cblas.h>

#include <algorithm>
#include <cctype>
#include <vector>

#include "runtime/core/cpu_threads.h"
#include "runtime/core/logging.h"

namespace sy {

namespace {

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

bool one_of(const std::string& core, const std::vector<std::string>& names) {
  return std::find(names.begin(), names.end(), lower(core)) != names.end();
}

}  // namespace

std::string blas_description() {
  return std::string(openblas_get_config()) + " (core " + openblas_get_corename() + ", " +
         std::to_string(openblas_get_num_threads()) + " threads)";
}

std::string blas_kernel_advice(const std::string& core, bool cpu_avx2, bool cpu_avx512) {
  static const std::vector<std::string> avx512 = {"skylakex", "cooperlake", "sapphirerapids"};
  static const std::vector<std::string> avx2 = {"haswell", "zen", "skylakex", "cooperlake",
                                                "sapphirerapids"};
  std::string want;
  if (cpu_avx512 && !one_of(core, avx512))
    want = "SkylakeX";
  else if (cpu_avx2 && !one_of(core, avx2))
    want = "Haswell";
  if (want.empty()) return "";
  return "OpenBLAS runs its generic '" + core + "' kernels on a CPU with " +
         (cpu_avx512 ? "AVX-512" : "AVX2") +
         " (typically 3-5x slower GEMMs): set OPENBLAS_CORETYPE=" + want +
         " in the environment (mpirun -x OPENBLAS_CORETYPE) to use the fast ones";
}

std::string blas_kernel_advice() {
#if defined(__x86_64__)
  return blas_kernel_advice(openblas_get_corename(), __builtin_cpu_supports("avx2"),
                            __builtin_cpu_supports("avx512f"));
#else
  return "";
#endif
}

void report_blas() {
  SY_LOG0("# BLAS: " << blas_description());
  SY_LOG0("# CPU ops: " << cpu_ops_description());
  const std::string advice = blas_kernel_advice();
  if (!advice.empty()) SY_WARN0(advice);
}

}  // namespace sy
