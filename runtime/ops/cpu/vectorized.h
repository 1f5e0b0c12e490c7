// The CPU ops' loops, threaded and compiled for the machine (runtime/core/cpu_threads.h):
//
//   for_chunks(n, grain, [&](int64_t begin, int64_t end) { for (i = begin; i < end; ++i) … });
//
// runs the body on the rank's CPU threads, each range in the widest vector kernels the CPU has.
// The body is instantiated three times, inside functions compiled for AVX-512, AVX2 and baseline
// x86-64 that inline everything it calls (flatten): the compiler vectorises each copy for its
// instruction set, while the per-element functions it calls (runtime/ops/shared/*_math.h, shared
// with the CUDA kernels) stay ordinary inline functions — no copy of them compiled for a wider
// instruction set can end up called where the CPU lacks it. -ffp-contract=off (runtime/
// CMakeLists.txt) keeps the three copies' arithmetic identical.
#pragma once

#include <cstdint>

#include "runtime/core/cpu_threads.h"

namespace sy {
namespace cpu {

// Elements per thread below which an op stays on the calling thread (waking a thread costs a few
// microseconds; this is about ten of them for the cheapest ops).
constexpr int64_t kMinElementsPerThread = 1 << 15;

#if defined(__x86_64__) && defined(__GNUC__)
template <typename F>
[[gnu::target("avx512f,avx512bw,avx512dq,avx512vl"), gnu::flatten]] void run_avx512(const F& f) {
  f();
}
template <typename F>
[[gnu::target("avx2,fma"), gnu::flatten]] void run_avx2(const F& f) {
  f();
}
#endif
template <typename F>
[[gnu::flatten]] void run_baseline(const F& f) {
  f();
}

// f() compiled for the kernels cpu_kernels() chose.
template <typename F>
void vectorized(const F& f) {
#if defined(__x86_64__) && defined(__GNUC__)
  switch (cpu_kernels()) {
    case CpuKernels::kAvx512: return run_avx512(f);
    case CpuKernels::kAvx2: return run_avx2(f);
    case CpuKernels::kBaseline: break;
  }
#endif
  run_baseline(f);
}

// body(begin, end) over ranges covering [0, n), threaded (at least `grain` per thread) and
// vectorised.
template <typename F>
void for_chunks(int64_t n, int64_t grain, const F& body) {
  parallel_for(n, grain,
               [&](int64_t begin, int64_t end) { vectorized([&] { body(begin, end); }); });
}

// for_chunks over the elements of an elementwise op.
template <typename F>
void for_elements(int64_t n, const F& body) {
  for_chunks(n, kMinElementsPerThread, body);
}

// for_chunks over the rows of a (rows, cols) operand, sized so a thread gets at least
// kMinElementsPerThread elements.
template <typename F>
void for_row_chunks(int64_t rows, int64_t cols, const F& body) {
  for_chunks(rows, kMinElementsPerThread / (cols > 0 ? cols : 1) + 1, body);
}

}  // namespace cpu
}  // namespace sy
