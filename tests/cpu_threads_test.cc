// The CPU ops' threads and vector kernels (runtime/core/cpu_threads.h): every threaded or
// vectorised op gives bitwise the same result under every kernel choice this CPU can run and any
// thread count, against the baseline kernels on one thread (the GEMMs too, split over the threads);
// parallel_for covers its range once, passes exceptions on, and runs nested or concurrent calls
// without deadlock; bad settings are clear errors.
#include <gtest/gtest.h>

#include <atomic>
#include <cstring>
#include <functional>
#include <mutex>
#include <set>
#include <thread>

#include "runtime/core/blas_info.h"
#include "runtime/core/cpu_threads.h"
#include "runtime/core/error.h"
#include "runtime/ops/cpu/row_pieces.h"
#include "runtime/ops/ops.h"
#include "tests/ops_reference.h"

namespace sy {
namespace {

// Large enough that three threads each get more than the minimum share of an elementwise op.
constexpr int64_t kRows = 300, kCols = 512;

Tensor randn(const Shape& s, uint32_t seed, float lo = -3, float hi = 3) {
  return Tensor::from_vector(ref::random_floats(static_cast<size_t>(shape_numel(s)), seed, lo, hi),
                             s);
}

Tensor as(const Tensor& t, DType d) {
  Tensor out = Tensor::empty(t.shape(), d);
  cast(out, t);
  return out;
}

// The bytes of every output of one op run.
using Outputs = std::vector<std::vector<char>>;

Outputs bytes_of(const std::vector<Tensor>& ts) {
  Outputs out;
  for (const Tensor& t : ts) {
    const char* p = static_cast<const char*>(t.raw());
    out.emplace_back(p, p + t.nbytes());
  }
  return out;
}

// Each case builds its inputs from fixed seeds and returns its outputs.
struct OpCase {
  const char* name;
  std::function<std::vector<Tensor>()> run;
};

std::vector<Tensor> activation_case(Activation act, DType d) {
  Tensor x = as(randn({kRows, kCols}, 1), d), dy = as(randn({kRows, kCols}, 2), d);
  Tensor y = Tensor::empty(x.shape(), d), dx = Tensor::empty(x.shape(), d);
  activation_forward(y, x, act);
  activation_backward(dx, x, dy, act);
  return {y, dx};
}

std::vector<Tensor> swiglu_case() {
  Tensor x = randn({kRows, 2 * kCols}, 3), dy = randn({kRows, kCols}, 4);
  Tensor y = Tensor::empty({kRows, kCols}, DType::kF32), dx = Tensor::empty(x.shape(), DType::kF32);
  swiglu_forward(y, x);
  swiglu_backward(dx, x, dy);
  return {y, dx};
}

std::vector<Tensor> arithmetic_case() {
  Tensor x = randn({kRows, kCols}, 5), z = randn({kRows, kCols}, 6);
  Tensor b = randn({kCols}, 7), rb = randn({kRows}, 8);
  Tensor o = randn({kRows, kCols}, 5), prod = Tensor::empty(x.shape(), DType::kF32),
         hb = as(x, DType::kBF16);
  add_scaled(o, z, 0.3f);
  add_row_scaled(o, z, rb);
  add_row_bias(o, rb);
  scale_inplace(o, 1.7f);
  mul(prod, o, z);
  add_bias(hb, b);
  return {o, prod, hb, as(hb, DType::kF32)};
}

std::vector<Tensor> row_case() {
  Tensor x = randn({kRows, kCols}, 9), dy = randn({kRows, kCols}, 10);
  Tensor y = Tensor::empty(x.shape(), DType::kF32), dx = Tensor::empty(x.shape(), DType::kF32);
  Tensor rs = Tensor::empty({kRows}, DType::kF32), cs = Tensor::empty({kCols}, DType::kF32);
  softmax_forward(y, x);
  softmax_backward(dx, y, dy);
  reduce_rows(rs, x, ReduceOp::kSum);
  reduce_cols(cs, x, ReduceOp::kMax);
  Tensor sq = randn({kRows, kRows}, 11), cy = Tensor::empty(sq.shape(), DType::kF32);
  causal_softmax_forward(cy, sq);
  return {y, dx, rs, cs, cy};
}

std::vector<Tensor> norm_case() {
  Tensor x = randn({kRows, kCols}, 12), dy = randn({kRows, kCols}, 13);
  Tensor g = randn({kCols}, 14, 0.5f, 1.5f), b = randn({kCols}, 15);
  Tensor y = Tensor::empty(x.shape(), DType::kF32), dx = Tensor::empty(x.shape(), DType::kF32);
  Tensor mean = Tensor::empty({kRows}, DType::kF32), rstd = Tensor::empty({kRows}, DType::kF32);
  Tensor dg = Tensor::full({kCols}, DType::kF32, 0.0), db = Tensor::full({kCols}, DType::kF32, 0.0);
  layernorm_forward(y, mean, rstd, x, g, b, 1e-5f);
  layernorm_backward(dx, dg, db, dy, x, mean, rstd, g);
  Tensor ry = Tensor::empty(x.shape(), DType::kF32), rdx = Tensor::empty(x.shape(), DType::kF32);
  Tensor rr = Tensor::empty({kRows}, DType::kF32), rdg = Tensor::full({kCols}, DType::kF32, 0.0);
  rmsnorm_forward(ry, rr, x, g, 1e-5f);
  rmsnorm_backward(rdx, rdg, dy, x, rr, g);
  return {y, dx, dg, db, ry, rdx, rdg};
}

// The combine over a shuffled expert buffer with some dropped choices, and the row gathers.
std::vector<Tensor> combine_case(DType d) {
  const int64_t k = 2, rows = kRows * k;
  std::vector<int32_t> pos(static_cast<size_t>(rows));
  for (int64_t i = 0; i < rows; ++i) pos[i] = static_cast<int32_t>((i * 7919) % rows);
  for (int64_t i = 0; i < rows; i += 13) pos[i] = -1;
  Tensor p = Tensor::from_vector(pos, {kRows, k}), w = randn({kRows, k}, 16, 0, 1);
  Tensor y = as(randn({rows, kCols}, 17), d), dout = randn({kRows, kCols}, 18);
  Tensor out = Tensor::empty({kRows, kCols}, DType::kF32), dy = Tensor::empty(y.shape(), d);
  Tensor dw = Tensor::empty({kRows, k}, DType::kF32);
  combine_rows(out, y, p, w);
  combine_rows_backward(dy, dw, dout, y, p, w);
  Tensor flat = p.reshape({rows}), gathered = Tensor::empty(y.shape(), d);
  Tensor scattered = Tensor::full(y.shape(), d, 0.0);
  gather_rows(gathered, y, flat);
  scatter_rows(scattered, y, flat);
  return {out, dy, dw, gathered, scattered};
}

std::vector<Tensor> loss_and_optimizer_case() {
  Tensor logits = randn({kRows, kCols}, 19);
  std::vector<int32_t> t = ref::random_ints(kRows, 20, -1, kCols - 1);
  Tensor targets = Tensor::from_vector(t, {kRows}), dloss = randn({kRows}, 21, 0, 1);
  Tensor losses = Tensor::empty({kRows}, DType::kF32),
         dl = Tensor::empty(logits.shape(), DType::kF32);
  cross_entropy_forward(losses, logits, targets);
  cross_entropy_backward(dl, logits, targets, dloss);
  const int64_t n = kRows * kCols;
  Tensor p = randn({n}, 22), m = randn({n}, 23, 0, 0.1f), v = randn({n}, 24, 0, 0.1f);
  Tensor grad = randn({n}, 25), sq = Tensor::empty({1}, DType::kF64);
  sum_squares(sq, grad);
  Tensor decay = Tensor::from_vector(std::vector<int64_t>{1000, n / 2}, {1, 2});
  AdamWHyper h;
  h.lr = 1e-2f, h.weight_decay = 0.1f, h.grad_clip = 1.0f, h.t = 3;
  adamw_step(p, m, v, grad, decay, sq, h);
  return {losses, dl, p, m, v};
}

// Every GEMM op, each big enough to be split over three threads: by rows, by columns (c wider
// than tall), by the rows of the groups (an empty and a split group), by the weight gradient's
// rows, and over a batch whose items are split (a broadcast operand).
std::vector<Tensor> gemm_case(DType d) {
  Tensor a = as(randn({kRows, kCols}, 26), d), b = as(randn({kCols, 256}, 27), d);
  Tensor c = Tensor::empty({kRows, 256}, DType::kF32), ct = randn({kCols, 256}, 28);
  gemm(c, a, b, false, false, 1.0f, 0.0f);
  gemm(ct, a, as(c, d), true, false, 0.5f, 1.0f);  // (512,300)·(300,256), beta 1
  Tensor wide = Tensor::empty({64, kRows}, DType::kF32);
  gemm(wide, a.slice_rows(0, 64), a, false, true, 1.0f, 0.0f);  // (64,512)·(512,300)
  const std::vector<int64_t> offsets = {0, 70, 70, 230, kRows};
  Tensor w = as(randn({4, kCols, 128}, 29), d), g = Tensor::empty({kRows, 128}, DType::kF32);
  grouped_gemm(g, a, w, offsets, false, 1.0f, 0.0f);
  Tensor dw = randn({4, kCols, 128}, 30);
  grouped_gemm_weight_grad(dw, a, as(g, d), offsets, 1.0f, 1.0f);
  Tensor ba = as(randn({1, 100, kCols}, 31), d), bb = as(randn({3, 256, kCols}, 32), d);
  Tensor bc = Tensor::empty({3, 100, 256}, DType::kF32);
  batched_gemm(bc, ba, bb, false, true, 1.0f, 0.0f);
  return {c, ct, wide, g, dw, bc};
}

std::vector<OpCase> op_cases() {
  std::vector<OpCase> cases;
  for (DType d : {DType::kF32, DType::kBF16}) {
    const bool f32 = d == DType::kF32;
    cases.push_back(
        {f32 ? "gelu f32" : "gelu bf16", [d] { return activation_case(Activation::kGelu, d); }});
    cases.push_back(
        {f32 ? "silu f32" : "silu bf16", [d] { return activation_case(Activation::kSilu, d); }});
    cases.push_back({f32 ? "erf gelu f32" : "erf gelu bf16",
                     [d] { return activation_case(Activation::kGeluErf, d); }});
    cases.push_back({f32 ? "combine f32" : "combine bf16", [d] { return combine_case(d); }});
    cases.push_back({f32 ? "gemms f32" : "gemms bf16", [d] { return gemm_case(d); }});
  }
  cases.push_back({"swiglu", swiglu_case});
  cases.push_back({"arithmetic", arithmetic_case});
  cases.push_back({"rows", row_case});
  cases.push_back({"norms", norm_case});
  cases.push_back({"loss and optimizer", loss_and_optimizer_case});
  return cases;
}

std::vector<CpuKernels> runnable_kernels() {
  std::vector<CpuKernels> ks = {CpuKernels::kBaseline};
  if (best_cpu_kernels() != CpuKernels::kBaseline) ks.push_back(CpuKernels::kAvx2);
  if (best_cpu_kernels() == CpuKernels::kAvx512) ks.push_back(CpuKernels::kAvx512);
  return ks;
}

// Restores the process's kernels and threads after a test that changes them.
struct KeepCpuSettings {
  CpuKernels kernels = cpu_kernels();
  int threads = cpu_threads();
  ~KeepCpuSettings() {
    set_cpu_kernels(kernels);
    set_cpu_threads(threads);
  }
};

TEST(CpuThreads, EveryKernelChoiceAndThreadCountGivesTheSameBits) {
  KeepCpuSettings keep;
  std::printf("[ info ] this CPU runs up to %s kernels\n", cpu_kernels_name(best_cpu_kernels()));
  for (const OpCase& c : op_cases()) {
    set_cpu_kernels(CpuKernels::kBaseline);
    set_cpu_threads(1);
    const Outputs want = bytes_of(c.run());
    for (CpuKernels k : runnable_kernels())
      for (int threads : {1, 2, 3}) {
        set_cpu_kernels(k);
        set_cpu_threads(threads);
        const Outputs got = bytes_of(c.run());
        ASSERT_EQ(got.size(), want.size());
        for (size_t i = 0; i < got.size(); ++i)
          EXPECT_TRUE(got[i] == want[i])
              << c.name << ": output " << i << " differs with " << cpu_kernels_name(k)
              << " kernels on " << threads << " threads";
      }
  }
}

TEST(CpuThreads, ParallelForCoversTheRangeOnceInOrderedRanges) {
  KeepCpuSettings keep;
  for (int threads : {1, 2, 4, 7})
    for (int64_t n : {0, 1, 5, 100, 1001}) {
      set_cpu_threads(threads);
      std::vector<std::atomic<int>> hits(static_cast<size_t>(n));
      std::atomic<int> calls{0};
      parallel_for(n, 10, [&](int64_t b, int64_t e) {
        EXPECT_LT(b, e);
        EXPECT_GE(e - b, std::min<int64_t>(10, n)) << "a range shorter than the grain";
        for (int64_t i = b; i < e; ++i) ++hits[i];
        ++calls;
      });
      for (int64_t i = 0; i < n; ++i) EXPECT_EQ(hits[i].load(), 1) << "element " << i;
      EXPECT_LE(calls.load(), threads);
      if (n >= 10 * threads) {
        EXPECT_EQ(calls.load(), threads) << "n " << n;
      }
    }
}

// The GEMMs' pieces (runtime/ops/cpu/row_pieces.h): with several threads every row of every
// segment is covered once, cut only at multiples of kRowBlock from its segment's start, on both
// threads when the work is large; small work runs whole segments on the calling thread.
TEST(CpuThreads, GemmRowPiecesCoverEveryRowOnceAlignedAndShareLargeWork) {
  KeepCpuSettings keep;
  set_cpu_threads(2);
  ASSERT_TRUE(gemms_on_cpu_threads());
  const std::vector<int64_t> starts = {0, 70, 70, 230, 1000, 1001};  // an empty, a one-row segment
  for (int64_t macs_per_row : {int64_t{1} << 16, int64_t{1}}) {
    std::vector<std::atomic<int>> hits(static_cast<size_t>(starts.back()));
    std::mutex mu;
    std::set<std::thread::id> threads;
    int calls = 0;
    cpu::for_row_pieces(starts, macs_per_row, [&](int64_t s, int64_t r0, int64_t r1) {
      const int64_t rows = starts[s + 1] - starts[s];
      EXPECT_TRUE(r0 < r1 && r0 % cpu::kRowBlock == 0 && (r1 == rows || r1 % cpu::kRowBlock == 0))
          << "segment " << s << " rows " << r0 << "-" << r1;
      for (int64_t r = r0; r < r1; ++r) ++hits[static_cast<size_t>(starts[s] + r)];
      std::lock_guard<std::mutex> lock(mu);
      threads.insert(std::this_thread::get_id());
      ++calls;
    });
    for (size_t i = 0; i < hits.size(); ++i) EXPECT_EQ(hits[i].load(), 1) << "row " << i;
    if (macs_per_row > 1) {
      EXPECT_EQ(threads.size(), 2u) << "large work on both threads";
    } else {
      EXPECT_EQ(calls, 4) << "small work: one call per non-empty segment";
      EXPECT_TRUE(threads.size() == 1 && *threads.begin() == std::this_thread::get_id());
    }
  }
}

TEST(CpuThreads, ExceptionsReachTheCaller) {
  KeepCpuSettings keep;
  set_cpu_threads(3);
  EXPECT_THROW(parallel_for(3000, 1,
                            [](int64_t b, int64_t) {
                              if (b > 0) SY_THROW("a worker failed");
                            }),
               Error);
  // The pool still works afterwards.
  std::atomic<int64_t> sum{0};
  parallel_for(3000, 1, [&](int64_t b, int64_t e) { sum += e - b; });
  EXPECT_EQ(sum.load(), 3000);
}

TEST(CpuThreads, NestedAndConcurrentCallsFinish) {
  KeepCpuSettings keep;
  set_cpu_threads(2);
  std::atomic<int64_t> inner{0};
  parallel_for(4, 1, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i)
      parallel_for(1000, 1, [&](int64_t lo, int64_t hi) { inner += hi - lo; });
  });
  EXPECT_EQ(inner.load(), 4000);
  std::atomic<int64_t> total{0};
  auto work = [&] {
    for (int r = 0; r < 200; ++r)
      parallel_for(1000, 1, [&](int64_t lo, int64_t hi) { total += hi - lo; });
  };
  std::thread other(work);
  work();
  other.join();
  EXPECT_EQ(total.load(), 400000);
}

TEST(CpuThreads, SettingsAreCheckedAndReported) {
  KeepCpuSettings keep;
  EXPECT_THROW(set_cpu_threads(0), Error);
  EXPECT_THROW(cpu_kernels_from_name("sse9"), Error);
  EXPECT_EQ(cpu_kernels_from_name("baseline"), CpuKernels::kBaseline);
  if (best_cpu_kernels() != CpuKernels::kAvx512) {
    EXPECT_THROW(cpu_kernels_from_name("avx512"), Error);
    EXPECT_THROW(set_cpu_kernels(CpuKernels::kAvx512), Error);
  } else {
    EXPECT_EQ(cpu_kernels_from_name("avx512"), CpuKernels::kAvx512);
  }
  set_cpu_kernels(CpuKernels::kBaseline);
  set_cpu_threads(3);
  EXPECT_EQ(cpu_ops_description(), "baseline kernels, 3 threads (the GEMMs' too)");
  EXPECT_TRUE(gemms_on_cpu_threads());
  EXPECT_NE(blas_description().find("1 thread per call"), std::string::npos) << blas_description();
  set_cpu_threads(1);
  EXPECT_EQ(cpu_ops_description(), "baseline kernels, 1 thread");
  EXPECT_FALSE(gemms_on_cpu_threads());
  EXPECT_GE(cores_this_process_may_use(), 1) << "the affinity check behind the start-up warning";
}

}  // namespace
}  // namespace sy
