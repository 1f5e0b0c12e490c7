// How the CPU ops use a rank's cores (issue 17): threads and vector kernels.
//
//   Threads   the elementwise and row ops split their work over cpu_threads() threads — the
//             caller and sleeping workers (runtime/core/cpu_pool.h), or OpenMP's threads when
//             OpenBLAS is its OpenMP build (then the GEMMs' own): SY_CPU_THREADS when set, else
//             as many as the rank's BLAS uses (OPENBLAS_NUM_THREADS), so that
//             `mpirun -x OPENBLAS_NUM_THREADS=2` gives a rank two cores for everything.
//             Work is cut by index ranges, each element or row computed by one thread exactly as
//             it would be alone: results are bitwise the same for any thread count.
//   GEMMs     with more than one thread, the GEMMs run on the same threads: OpenBLAS is set to
//             one thread per call and each GEMM op splits its rows over parallel_for, cut where
//             OpenBLAS's blocks are (runtime/ops/cpu/row_pieces.h), so they too give bitwise the
//             same numbers for any thread count. One set of threads that sleep between jobs,
//             instead of OpenBLAS's workers, which spin (sched_yield, up to 2^28 cycles after
//             every GEMM) on the cores the ops want next — ~10% of a one-rank, two-thread MoE
//             layer's cycles went to that spin (perf, launch/results/README.md). With one thread
//             OpenBLAS is left as it is.
//   Kernels   the ops' loops are compiled three times — baseline x86-64, AVX2 and AVX-512
//             (runtime/ops/cpu/vectorized.h) — and run in the widest the CPU supports, or the one
//             SY_CPU_KERNELS (baseline | avx2 | avx512) names. The loops do the same IEEE
//             operations in the same order in each (no contraction into FMA, no reordered sums), so
//             every choice gives bitwise the same numbers; only the speed differs.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

namespace sy {

enum class CpuKernels { kBaseline, kAvx2, kAvx512 };

const char* cpu_kernels_name(CpuKernels k);
// The widest kernels this CPU (and its operating system) can run.
CpuKernels best_cpu_kernels();
// "baseline" | "avx2" | "avx512" (SY_CPU_KERNELS's values); an Error if unknown or beyond the CPU.
CpuKernels cpu_kernels_from_name(const std::string& name);
// The kernels the ops use: SY_CPU_KERNELS when set (an Error if unknown or beyond the CPU), else
// best_cpu_kernels().
CpuKernels cpu_kernels();
// Tests and benchmarks: use `k` from now on (an Error if the CPU cannot run it).
void set_cpu_kernels(CpuKernels k);

int cpu_threads();
// Tests and benchmarks: use n ≥ 1 threads from now on (the GEMMs too, when n > 1).
void set_cpu_threads(int n);
// Whether the GEMM ops split their work over the CPU threads (OpenBLAS at one thread per call).
bool gemms_on_cpu_threads();
// Benchmarks: false hands the GEMMs back to OpenBLAS's own cpu_threads() threads (the way before
// issue 17's change), true takes them again. No effect with one thread.
void set_gemms_on_cpu_threads(bool on);

// f(begin, end) over consecutive ranges covering [0, n), at most one per thread and none shorter
// than `grain` (so small ops stay on the calling thread). An exception from f is rethrown here.
void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& f);

// "avx512 kernels, 2 threads" for the start-up report.
std::string cpu_ops_description();

}  // namespace sy
