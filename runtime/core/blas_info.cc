#include "runtime/core/blas_info.h"

#include <cblas.h>
#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
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

// The most threads the environment asks a rank for (OpenBLAS quietly caps its own at the cores
// the affinity allows).
int threads_asked_for() {
  int n = cpu_threads();
  for (const char* var : {"OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"}) {  // cpu_threads() has ours
    const char* v = std::getenv(var);
    if (v != nullptr) n = std::max(n, std::atoi(v));
  }
  return n;
}

}  // namespace

int cores_this_process_may_use() {
#if defined(__linux__)
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) == 0) return CPU_COUNT(&set);
#endif
  return 0;
}

int ranks_on_this_node() {
  for (const char* var :
       {"OMPI_COMM_WORLD_LOCAL_SIZE", "MPI_LOCALNRANKS", "SLURM_NTASKS_PER_NODE"}) {
    const char* v = std::getenv(var);
    if (v != nullptr && std::atoi(v) >= 1) return std::atoi(v);
  }
  return 1;
}

std::string oversubscription_advice(int ranks, int threads, int cores) {
  if (cores <= 0 || threads <= 1 || ranks * threads <= cores) return "";  // fewer threads: no help
  const int fit = std::max(1, cores / ranks);
  const char* var = std::getenv("SY_CPU_THREADS") ? "SY_CPU_THREADS" : "OPENBLAS_NUM_THREADS";
  return std::to_string(ranks) + " ranks on this node with " + std::to_string(threads) +
         " CPU threads each ask for " + std::to_string(ranks * threads) + " threads on " +
         std::to_string(cores) + " cores: they will take turns, and every threaded op waits " +
         "for its slowest part. Give each rank " + std::to_string(fit) + ": " + var + "=" +
         std::to_string(fit) + " (mpirun -x " + var + ")" +
         (std::string(var) == "OPENBLAS_NUM_THREADS" ? "; launch/run.sh sets 1 unless told" : "");
}

std::string blas_description() {
  cpu_threads();  // settles who threads the GEMMs: OpenBLAS, or the CPU ops' threads
  const int threads = openblas_get_num_threads();
  return std::string(openblas_get_config()) + " (core " + openblas_get_corename() + ", " +
         std::to_string(threads) + (threads == 1 ? " thread" : " threads") + " per call)";
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
  const int cores = cores_this_process_may_use(), threads = threads_asked_for();
  if (cores > 0 && cores < threads)
    SY_WARN0("this rank may run on " << cores << " core" << (cores == 1 ? "" : "s")
                                     << " (its CPU affinity) but was asked for " << threads
                                     << " threads (it runs " << cpu_threads()
                                     << "). Give each rank its cores (mpirun --bind-to none, or "
                                        "--map-by slot:PE=<threads>; srun --cpus-per-task)");
  const std::string advice = blas_kernel_advice();
  if (!advice.empty()) SY_WARN0(advice);
  const std::string crowded = oversubscription_advice(
      ranks_on_this_node(), cpu_threads(), static_cast<int>(sysconf(_SC_NPROCESSORS_ONLN)));
  if (!crowded.empty()) SY_WARN0(crowded);
}

}  // namespace sy
