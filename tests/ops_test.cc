// Every core op on the CPU against the independent references of ops_reference.cc, including empty
// inputs and awkward sizes. (ops_cuda_test.cc then checks each CUDA op against its CPU twin.)
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "runtime/core/blas_info.h"
#include "runtime/ops/cpu/ops_cpu.h"
#include "runtime/ops/ops.h"
#include "tests/finite_difference.h"
#include "tests/ops_reference.h"

namespace sy {
namespace {

Tensor tensor(const std::vector<float>& v, const Shape& s) {
  return Tensor::from_vector(v, s);
}
Tensor itensor(const std::vector<int32_t>& v, const Shape& s) {
  return Tensor::from_vector(v, s);
}

// |got − want| ≤ tol · (1 + |want|) element by element.
void expect_close(const std::vector<float>& got, const std::vector<float>& want, float tol,
                  const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (size_t i = 0; i < got.size(); ++i)
    ASSERT_LE(std::fabs(got[i] - want[i]), tol * (1 + std::fabs(want[i])))
        << what << " at " << i << ": " << got[i] << " vs " << want[i];
}

struct GemmCase {
  int64_t m, n, k;
};

class GemmTest : public ::testing::TestWithParam<std::tuple<GemmCase, bool, bool>> {};

TEST_P(GemmTest, MatchesReference) {
  auto [sz, ta, tb] = GetParam();
  for (auto [alpha, beta] : {std::pair<float, float>{1, 0}, {0.5f, 2.0f}}) {
    auto a = ref::random_floats(sz.m * sz.k, 1);
    auto b = ref::random_floats(sz.k * sz.n, 2);
    auto c0 = ref::random_floats(sz.m * sz.n, 3);
    Tensor ta_t = tensor(a, ta ? Shape{sz.k, sz.m} : Shape{sz.m, sz.k});
    Tensor tb_t = tensor(b, tb ? Shape{sz.n, sz.k} : Shape{sz.k, sz.n});
    Tensor tc = tensor(c0, {sz.m, sz.n});
    gemm(tc, ta_t, tb_t, ta, tb, alpha, beta);
    auto want = c0;
    ref::gemm(want, a, b, sz.m, sz.n, sz.k, ta, tb, alpha, beta);
    expect_close(tc.to_vector<float>(), want, 1e-5f, "gemm");
  }
}

// The values bf16 storage keeps, and a bf16 tensor holding them.
std::vector<float> bf16_rounded(std::vector<float> v) {
  for (float& x : v) x = bf16_to_float(float_to_bf16(x));
  return v;
}
Tensor bf16_tensor(const std::vector<float>& v, const Shape& s) {
  Tensor t = Tensor::empty(s, DType::kBF16);
  cast(t, tensor(v, s));
  return t;
}
std::vector<float> as_floats(const Tensor& t) {
  if (t.dtype() == DType::kF32) return t.to_vector<float>();
  Tensor f = Tensor::empty(t.shape(), DType::kF32);
  cast(f, t);
  return f.to_vector<float>();
}

// bf16 inputs, fp32 accumulation: the product of the rounded values to fp32 accuracy; a bf16 c is
// that result rounded once (within half a bf16 unit, 2^-9 relative, plus the fp32 error).
TEST_P(GemmTest, Bf16InputsAccumulateInFp32) {
  auto [sz, ta, tb] = GetParam();
  const auto a = bf16_rounded(ref::random_floats(sz.m * sz.k, 11));
  const auto b = bf16_rounded(ref::random_floats(sz.k * sz.n, 12));
  const auto c0 = bf16_rounded(ref::random_floats(sz.m * sz.n, 13));
  auto want = c0;
  ref::gemm(want, a, b, sz.m, sz.n, sz.k, ta, tb, 0.5f, 2.0f);
  for (DType out : {DType::kF32, DType::kBF16}) {
    Tensor c = out == DType::kF32 ? tensor(c0, {sz.m, sz.n}) : bf16_tensor(c0, {sz.m, sz.n});
    gemm(c, bf16_tensor(a, ta ? Shape{sz.k, sz.m} : Shape{sz.m, sz.k}),
         bf16_tensor(b, tb ? Shape{sz.n, sz.k} : Shape{sz.k, sz.n}), ta, tb, 0.5f, 2.0f);
    expect_close(as_floats(c), want, out == DType::kF32 ? 1e-5f : 1.0f / 256, "bf16 gemm");
  }
}

INSTANTIATE_TEST_SUITE_P(Sizes, GemmTest,
                         ::testing::Combine(::testing::Values(GemmCase{0, 3, 4}, GemmCase{5, 0, 3},
                                                              GemmCase{3, 4, 0}, GemmCase{1, 1, 1},
                                                              GemmCase{37, 13, 29},
                                                              GemmCase{64, 65, 63}),
                                            ::testing::Bool(), ::testing::Bool()));

TEST(Gemm, RejectsMismatchedShapes) {
  Tensor a = Tensor::zeros({3, 4}, DType::kF32), b = Tensor::zeros({5, 6}, DType::kF32);
  Tensor c = Tensor::zeros({3, 6}, DType::kF32);
  EXPECT_THROW(gemm(c, a, b, false, false, 1, 0), Error);
  EXPECT_THROW(gemm(c, Tensor::zeros({3, 4}, DType::kI32), b, false, false, 1, 0), Error);
}

// Segments with empty groups at the start, the middle and the end.
const std::vector<int64_t> kOffsets = {0, 0, 5, 5, 6, 19, 19};

TEST(GroupedGemm, EachSegmentMatchesItsOwnGemm) {
  int64_t g = 6, m = 19, k = 11, n = 7;
  for (bool tb : {false, true}) {
    auto a = ref::random_floats(m * k, 4);
    auto b = ref::random_floats(g * k * n, 5);
    auto c0 = ref::random_floats(m * n, 6);
    Tensor tc = tensor(c0, {m, n});
    grouped_gemm(tc, tensor(a, {m, k}), tensor(b, tb ? Shape{g, n, k} : Shape{g, k, n}), kOffsets,
                 tb, 1.5f, 0.5f);
    std::vector<float> want = c0;
    for (int64_t e = 0; e < g; ++e) {
      int64_t rows = kOffsets[e + 1] - kOffsets[e];
      std::vector<float> ae(a.begin() + kOffsets[e] * k, a.begin() + kOffsets[e + 1] * k);
      std::vector<float> be(b.begin() + e * k * n, b.begin() + (e + 1) * k * n);
      std::vector<float> ce(want.begin() + kOffsets[e] * n, want.begin() + kOffsets[e + 1] * n);
      ref::gemm(ce, ae, be, rows, n, k, false, tb, 1.5f, 0.5f);
      std::copy(ce.begin(), ce.end(), want.begin() + kOffsets[e] * n);
    }
    expect_close(tc.to_vector<float>(), want, 1e-5f, tb ? "grouped_gemm tb" : "grouped_gemm");
  }
}

TEST(GroupedGemm, WeightGradScalesEmptyGroupsByBeta) {
  int64_t g = 6, m = 19, k = 5, n = 9;
  auto a = ref::random_floats(m * k, 7);
  auto b = ref::random_floats(m * n, 8);
  auto c0 = ref::random_floats(g * k * n, 9);
  Tensor tc = tensor(c0, {g, k, n});
  grouped_gemm_weight_grad(tc, tensor(a, {m, k}), tensor(b, {m, n}), kOffsets, 1.0f, 0.25f);
  std::vector<float> want = c0;
  for (int64_t e = 0; e < g; ++e) {
    int64_t rows = kOffsets[e + 1] - kOffsets[e];
    std::vector<float> ae(a.begin() + kOffsets[e] * k, a.begin() + kOffsets[e + 1] * k);
    std::vector<float> be(b.begin() + kOffsets[e] * n, b.begin() + kOffsets[e + 1] * n);
    std::vector<float> ce(want.begin() + e * k * n, want.begin() + (e + 1) * k * n);
    ref::gemm(ce, ae, be, k, n, rows, true, false, 1.0f, 0.25f);
    std::copy(ce.begin(), ce.end(), want.begin() + e * k * n);
  }
  expect_close(tc.to_vector<float>(), want, 1e-5f, "grouped_gemm_weight_grad");
}

// The grouped GEMMs and the batched GEMM on bf16 inputs equal their f32 versions on the same
// (rounded) values: the CPU widens and runs the f32 path, so to fp32 accuracy.
TEST(GroupedGemm, Bf16InputsMatchF32OnTheRoundedValues) {
  int64_t g = 6, m = 19, k = 11, n = 7;
  const auto a = bf16_rounded(ref::random_floats(m * k, 14));
  const auto b = bf16_rounded(ref::random_floats(g * k * n, 15));
  const auto d = bf16_rounded(ref::random_floats(m * n, 16));
  Tensor c32 = Tensor::zeros({m, n}, DType::kF32), c16 = Tensor::zeros({m, n}, DType::kF32);
  grouped_gemm(c32, tensor(a, {m, k}), tensor(b, {g, k, n}), kOffsets, false, 1, 0);
  grouped_gemm(c16, bf16_tensor(a, {m, k}), bf16_tensor(b, {g, k, n}), kOffsets, false, 1, 0);
  expect_close(c16.to_vector<float>(), c32.to_vector<float>(), 1e-6f, "grouped_gemm bf16");
  Tensor w32 = Tensor::zeros({g, k, n}, DType::kF32), w16 = Tensor::zeros({g, k, n}, DType::kF32);
  grouped_gemm_weight_grad(w32, tensor(a, {m, k}), tensor(d, {m, n}), kOffsets, 1, 0);
  grouped_gemm_weight_grad(w16, bf16_tensor(a, {m, k}), bf16_tensor(d, {m, n}), kOffsets, 1, 0);
  expect_close(w16.to_vector<float>(), w32.to_vector<float>(), 1e-6f, "weight grad bf16");
  Tensor bb32 = Tensor::zeros({3, m, n}, DType::kF32),
         bb16 = Tensor::zeros({3, m, n}, DType::kBF16);
  const auto ab = bf16_rounded(ref::random_floats(3 * m * k, 17));
  const std::vector<float> b0(b.begin(), b.begin() + k * n);  // one (K,N), broadcast
  batched_gemm(bb32, tensor(ab, {3, m, k}), tensor(b0, {1, k, n}), false, false, 1, 0);
  batched_gemm(bb16, bf16_tensor(ab, {3, m, k}), bf16_tensor(b0, {1, k, n}), false, false, 1, 0);
  expect_close(as_floats(bb16), bb32.to_vector<float>(), 1.0f / 256, "batched_gemm bf16 out");
}

TEST(Gemm, RejectsMixedOrUnsupportedTypes) {
  Tensor a = Tensor::zeros({3, 4}, DType::kF32), b = Tensor::zeros({4, 5}, DType::kF32);
  Tensor a16 = Tensor::zeros({3, 4}, DType::kBF16), b16 = Tensor::zeros({4, 5}, DType::kBF16);
  EXPECT_THROW(gemm(Tensor::zeros({3, 5}, DType::kF32), a16, b, false, false, 1, 0), Error);
  EXPECT_THROW(gemm(Tensor::zeros({3, 5}, DType::kBF16), a, b, false, false, 1, 0), Error);
  EXPECT_THROW(gemm(Tensor::zeros({3, 5}, DType::kI32), a16, b16, false, false, 1, 0), Error);
  EXPECT_NO_THROW(gemm(Tensor::zeros({3, 5}, DType::kBF16), a16, b16, false, false, 1, 0));
}

TEST(GroupedGemm, RejectsBadOffsets) {
  Tensor a = Tensor::zeros({4, 3}, DType::kF32), b = Tensor::zeros({2, 3, 5}, DType::kF32);
  Tensor c = Tensor::zeros({4, 5}, DType::kF32);
  EXPECT_THROW(grouped_gemm(c, a, b, {0, 4}, false, 1, 0), Error);     // 1 group for 2 weights
  EXPECT_THROW(grouped_gemm(c, a, b, {0, 3, 2}, false, 1, 0), Error);  // does not end at 4
  EXPECT_THROW(grouped_gemm(c, a, b, {0, 3, 1, 4}, false, 1, 0), Error);
}

TEST(GatherScatter, PermuteAndUnpermuteAnyDtype) {
  // in has 5 rows of 3; gather picks rows 4, 0, (zero), 2; scatter puts them back.
  std::vector<int32_t> in_v(15);
  for (int i = 0; i < 15; ++i) in_v[i] = 100 + i;
  Tensor in = itensor(in_v, {5, 3});
  Tensor idx = itensor({4, 0, -1, 2}, {4});
  Tensor out = Tensor::full({4, 3}, DType::kI32, 7);
  gather_rows(out, in, idx);
  EXPECT_EQ(out.to_vector<int32_t>(),
            (std::vector<int32_t>{112, 113, 114, 100, 101, 102, 0, 0, 0, 106, 107, 108}));
  Tensor back = Tensor::full({5, 3}, DType::kI32, -5);
  scatter_rows(back, out, idx);
  EXPECT_EQ(back.to_vector<int32_t>(), (std::vector<int32_t>{100, 101, 102, -5, -5, -5, 106, 107,
                                                             108, -5, -5, -5, 112, 113, 114}));
  // bf16 rows (2 bytes per element, odd row length).
  Tensor f = tensor(ref::random_floats(5 * 3, 11), {5, 3});
  Tensor h = Tensor::empty({5, 3}, DType::kBF16);
  cast(h, f);
  Tensor hg = Tensor::empty({4, 3}, DType::kBF16);
  gather_rows(hg, h, idx);
  Tensor hf = Tensor::empty({4, 3}, DType::kF32);
  cast(hf, hg);
  auto hv = hf.to_vector<float>(), fv = f.to_vector<float>();
  for (int j = 0; j < 3; ++j) {
    EXPECT_EQ(hv[0 * 3 + j], bf16_to_float(float_to_bf16(fv[4 * 3 + j])));
    EXPECT_EQ(hv[2 * 3 + j], 0.0f);
  }
}

TEST(GatherScatter, EmptyAndOutOfRange) {
  Tensor in = Tensor::zeros({3, 2}, DType::kF32);
  Tensor none = Tensor::empty({0}, DType::kI32);
  Tensor out0 = Tensor::empty({0, 2}, DType::kF32);
  gather_rows(out0, in, none);
  scatter_rows(in, out0, none);
  Tensor bad = itensor({3}, {1});
  Tensor out1 = Tensor::empty({1, 2}, DType::kF32);
  EXPECT_THROW(gather_rows(out1, in, bad), Error);
  EXPECT_THROW(scatter_rows(in, out1, bad), Error);
}

TEST(Softmax, ForwardMatchesReferenceAndRowsSumToOne) {
  for (auto [rows, cols] : {std::pair<int64_t, int64_t>{0, 5}, {1, 1}, {7, 13}, {3, 257}}) {
    auto x = ref::random_floats(rows * cols, 12, -20, 20);
    Tensor y = Tensor::empty({rows, cols}, DType::kF32);
    softmax_forward(y, tensor(x, {rows, cols}));
    auto yv = y.to_vector<float>();
    expect_close(yv, ref::softmax(x, rows, cols), 1e-6f, "softmax");
    for (int64_t r = 0; r < rows; ++r) {
      double s = 0;
      for (int64_t j = 0; j < cols; ++j) s += yv[r * cols + j];
      EXPECT_NEAR(s, 1.0, 1e-5);
    }
  }
}

TEST(Softmax, BackwardMatchesFiniteDifferences) {
  int64_t rows = 4, cols = 9;
  auto x = ref::random_floats(rows * cols, 13, -3, 3);
  auto dy = ref::random_floats(rows * cols, 14);
  Tensor y = Tensor::empty({rows, cols}, DType::kF32),
         dx = Tensor::empty({rows, cols}, DType::kF32);
  softmax_forward(y, tensor(x, {rows, cols}));
  softmax_backward(dx, y, tensor(dy, {rows, cols}));
  auto dxv = dx.to_vector<float>();
  // L(x) = Σ dy ⊙ softmax(x); dL/dx_i by central differences on the double reference.
  auto loss = [&](const std::vector<float>& xs) {
    auto s = ref::softmax(xs, rows, cols);
    double l = 0;
    for (size_t i = 0; i < s.size(); ++i) l += double(dy[i]) * s[i];
    return l;
  };
  for (size_t i = 0; i < x.size(); ++i) {
    double fd = testing::central_difference(
        &x[i], [&] { return loss(x); }, 1e-2);
    EXPECT_NEAR(dxv[i], fd, 2e-4) << i;
  }
}

TEST(TopK, MatchesReferenceWithTiesToTheLowerIndex) {
  int64_t rows = 50, cols = 17;
  // Small integer values make ties common.
  auto xi = ref::random_ints(rows * cols, 15, 0, 4);
  std::vector<float> x(xi.begin(), xi.end());
  for (int k : {1, 2, 5, 17}) {
    Tensor v = Tensor::empty({rows, k}, DType::kF32), i = Tensor::empty({rows, k}, DType::kI32);
    topk(v, i, tensor(x, {rows, cols}), k);
    std::vector<float> wv;
    std::vector<int32_t> wi;
    ref::topk(wv, wi, x, rows, cols, k);
    EXPECT_EQ(i.to_vector<int32_t>(), wi) << "k = " << k;
    EXPECT_EQ(v.to_vector<float>(), wv) << "k = " << k;
  }
  Tensor v = Tensor::empty({rows, 18}, DType::kF32), i = Tensor::empty({rows, 18}, DType::kI32);
  EXPECT_THROW(topk(v, i, tensor(x, {rows, cols}), 18), Error);
}

TEST(TopK, EmptyRowsAndNegativeInfinity) {
  Tensor v = Tensor::empty({0, 2}, DType::kF32), i = Tensor::empty({0, 2}, DType::kI32);
  topk(v, i, Tensor::empty({0, 4}, DType::kF32), 2);
  Tensor x = tensor({-INFINITY, -INFINITY, -1.0f}, {1, 3});
  Tensor v2 = Tensor::empty({1, 3}, DType::kF32), i2 = Tensor::empty({1, 3}, DType::kI32);
  topk(v2, i2, x, 3);
  EXPECT_EQ(i2.to_vector<int32_t>(), (std::vector<int32_t>{2, 0, 1}));
}

// A diverging router's NaN scores must still give in-range indices (issue 14: an all-NaN row
// used to return -1, which the gate then used as an array index).
TEST(TopK, NanRanksLastButEveryIndexIsInRange) {
  const float nan = std::nanf("");
  Tensor x = tensor({nan, 2.0f, nan, -INFINITY, nan, nan, nan, nan}, {2, 4});
  Tensor v = Tensor::empty({2, 3}, DType::kF32), i = Tensor::empty({2, 3}, DType::kI32);
  topk(v, i, x, 3);
  EXPECT_EQ(i.to_vector<int32_t>(), (std::vector<int32_t>{1, 3, 0, 0, 1, 2}));
  EXPECT_EQ(v.to_vector<float>()[0], 2.0f);
  EXPECT_TRUE(std::isnan(v.to_vector<float>()[2]));
}

// NaN or inf gradients (a non-finite global norm) leave parameters and moments as they were.
TEST(AdamWStep, NonFiniteNormChangesNothing) {
  const int64_t n = 64;
  Tensor p = tensor(ref::random_floats(n, 61), {n}), g = tensor(ref::random_floats(n, 62), {n});
  Tensor m = tensor(ref::random_floats(n, 63), {n}),
         v = tensor(ref::random_floats(n, 64, 0, 1), {n});
  Tensor decay = Tensor::from_vector<int64_t>({0, n}, {1, 2});
  AdamWHyper h;
  h.lr = 1e-2f;
  h.weight_decay = 0.1f;
  for (double bad : {static_cast<double>(std::nanf("")), static_cast<double>(INFINITY)}) {
    const auto p0 = p.to_vector<float>(), m0 = m.to_vector<float>(), v0 = v.to_vector<float>();
    adamw_step(p, m, v, g, decay, Tensor::from_vector<double>({1.0, bad}, {2}), h);
    EXPECT_EQ(p.to_vector<float>(), p0);
    EXPECT_EQ(m.to_vector<float>(), m0);
    EXPECT_EQ(v.to_vector<float>(), v0);
  }
  adamw_step(p, m, v, g, decay, Tensor::from_vector<double>({1.0, 2.0}, {2}), h);  // control
  EXPECT_NE(p.to_vector<float>(), tensor(ref::random_floats(n, 61), {n}).to_vector<float>());
}

// The BLAS report (issue 17): the description names OpenBLAS, its core and threads; the advice
// appears exactly when a generic core runs on a CPU with wider vectors, and names the fix.
TEST(BlasInfo, DescribesTheLibraryAndAdvisesOnlyForGenericKernels) {
  const std::string d = blas_description();
  EXPECT_NE(d.find("OpenBLAS"), std::string::npos) << d;
  EXPECT_NE(d.find(" per call)"), std::string::npos) << d;
  EXPECT_NE(blas_kernel_advice("Prescott", true, true).find("OPENBLAS_CORETYPE=SkylakeX"),
            std::string::npos);
  EXPECT_NE(blas_kernel_advice("Sandybridge", true, false).find("OPENBLAS_CORETYPE=Haswell"),
            std::string::npos);
  EXPECT_EQ(blas_kernel_advice("SkylakeX", true, true), "");
  EXPECT_EQ(blas_kernel_advice("Haswell", true, false), "");
  EXPECT_EQ(blas_kernel_advice("Prescott", false, false), "");
}

// Ranks whose threads together ask for more than the node's cores are told how many to give each.
TEST(BlasInfo, AdvisesWhenTheNodesRanksAskForMoreThreadsThanCores) {
  unsetenv("SY_CPU_THREADS");  // the advice names the variable that sets the threads
  const std::string crowded = oversubscription_advice(8, 32, 64);
  EXPECT_NE(crowded.find("256 threads on 64 cores"), std::string::npos) << crowded;
  EXPECT_NE(crowded.find("OPENBLAS_NUM_THREADS=8"), std::string::npos) << crowded;
  EXPECT_NE(oversubscription_advice(3, 2, 2).find("OPENBLAS_NUM_THREADS=1"), std::string::npos);
  EXPECT_EQ(oversubscription_advice(8, 8, 64), "");
  EXPECT_EQ(oversubscription_advice(2, 1, 2), "");
  EXPECT_EQ(oversubscription_advice(4, 1, 2), "") << "one thread each: fewer threads cannot help";
  EXPECT_EQ(oversubscription_advice(4, 2, 0), "") << "cores unknown: no advice";
  EXPECT_GE(ranks_on_this_node(), 1);
  setenv("SY_CPU_THREADS", "32", 1);
  EXPECT_NE(oversubscription_advice(8, 32, 64).find("SY_CPU_THREADS=8"), std::string::npos);
  unsetenv("SY_CPU_THREADS");
}

TEST(Activation, ForwardAndBackwardMatchTheMath) {
  auto x = ref::random_floats(1001, 16, -6, 6);
  x.push_back(0.0f);
  int64_t n = static_cast<int64_t>(x.size());
  auto dy = ref::random_floats(n, 17);
  for (Activation act : {Activation::kGelu, Activation::kSilu, Activation::kGeluErf}) {
    auto f = act == Activation::kGelu   ? ref::gelu
             : act == Activation::kSilu ? ref::silu
                                        : ref::gelu_erf;
    Tensor y = Tensor::empty({n}, DType::kF32), dx = Tensor::empty({n}, DType::kF32);
    activation_forward(y, tensor(x, {n}), act);
    activation_backward(dx, tensor(x, {n}), tensor(dy, {n}), act);
    auto yv = y.to_vector<float>(), dxv = dx.to_vector<float>();
    for (int64_t i = 0; i < n; ++i) {
      EXPECT_NEAR(yv[i], f(x[i]), 1e-5 * (1 + std::fabs(f(x[i]))));
      double fd = testing::central_difference(f, x[i], 1e-4) * dy[i];
      EXPECT_NEAR(dxv[i], fd, 1e-4) << "x = " << x[i];
    }
  }
}

// The fused bias + activation is add_bias then activation_forward, bitwise, on f32 and bf16.
TEST(Activation, BiasActivationIsAddBiasThenActivation) {
  const int64_t rows = 37, cols = 19;
  Tensor bias = tensor(ref::random_floats(cols, 30, -2, 2), {cols});
  for (DType d : {DType::kF32, DType::kBF16})
    for (Activation act : {Activation::kGelu, Activation::kSilu, Activation::kGeluErf}) {
      Tensor h0 = tensor(ref::random_floats(rows * cols, 31, -6, 6), {rows, cols});
      Tensor h = Tensor::empty({rows, cols}, d), want_h = Tensor::empty({rows, cols}, d);
      cast(h, h0);
      cast(want_h, h0);
      Tensor y = Tensor::empty({rows, cols}, d), want_y = Tensor::empty({rows, cols}, d);
      add_bias(want_h, bias);
      activation_forward(want_y, want_h, act);
      bias_activation_forward(y, h, bias, act);
      EXPECT_EQ(0, std::memcmp(h.raw(), want_h.raw(), h.nbytes())) << dtype_name(d);
      EXPECT_EQ(0, std::memcmp(y.raw(), want_y.raw(), y.nbytes())) << dtype_name(d);
    }
  EXPECT_THROW(bias_activation_forward(Tensor::empty({2, 3}, DType::kF32),
                                       Tensor::empty({2, 3}, DType::kF32), bias, Activation::kGelu),
               Error);
}

TEST(Reduce, RowsAndColsSumAndMax) {
  int64_t rows = 13, cols = 29;
  auto x = ref::random_floats(rows * cols, 18, -5, 5);
  Tensor t = tensor(x, {rows, cols});
  Tensor sr = Tensor::empty({rows}, DType::kF32), mr = Tensor::empty({rows}, DType::kF32);
  Tensor sc = Tensor::empty({cols}, DType::kF32), mc = Tensor::empty({cols}, DType::kF32);
  reduce_rows(sr, t, ReduceOp::kSum);
  reduce_rows(mr, t, ReduceOp::kMax);
  reduce_cols(sc, t, ReduceOp::kSum);
  reduce_cols(mc, t, ReduceOp::kMax);
  auto srv = sr.to_vector<float>(), mrv = mr.to_vector<float>();
  auto scv = sc.to_vector<float>(), mcv = mc.to_vector<float>();
  for (int64_t r = 0; r < rows; ++r) {
    double s = 0;
    float m = -INFINITY;
    for (int64_t j = 0; j < cols; ++j) {
      s += x[r * cols + j];
      m = std::max(m, x[r * cols + j]);
    }
    EXPECT_NEAR(srv[r], s, 1e-4);
    EXPECT_EQ(mrv[r], m);
  }
  for (int64_t j = 0; j < cols; ++j) {
    double s = 0;
    float m = -INFINITY;
    for (int64_t r = 0; r < rows; ++r) {
      s += x[r * cols + j];
      m = std::max(m, x[r * cols + j]);
    }
    EXPECT_NEAR(scv[j], s, 1e-4);
    EXPECT_EQ(mcv[j], m);
  }
  // Empty reductions: sum 0, max -inf.
  Tensor e = Tensor::empty({3, 0}, DType::kF32);
  Tensor s3 = Tensor::empty({3}, DType::kF32), m3 = Tensor::empty({3}, DType::kF32);
  reduce_rows(s3, e, ReduceOp::kSum);
  reduce_rows(m3, e, ReduceOp::kMax);
  for (float v : s3.to_vector<float>()) EXPECT_EQ(v, 0.0f);
  for (float v : m3.to_vector<float>()) EXPECT_EQ(v, -INFINITY);
}

TEST(CountingSort, StableAndMatchesReference) {
  struct Case {
    int64_t n;
    int keys;
    uint32_t seed;
  };
  for (Case c : {Case{0, 4, 1}, Case{1, 1, 2}, Case{100, 8, 3}, Case{1000, 64, 4}, Case{777, 3, 5},
                 Case{50, 0, 6}}) {
    // Keys from -1 (dropped) to keys (out of range, also left out).
    auto k = ref::random_ints(c.n, c.seed, -1, c.keys);
    Tensor order = Tensor::empty({c.n}, DType::kI32), counts = Tensor::empty({c.keys}, DType::kI32);
    counting_sort(order, counts, itensor(k, {c.n}), c.keys);
    std::vector<int32_t> wo, wc;
    ref::counting_sort(wo, wc, k, c.keys);
    EXPECT_EQ(order.to_vector<int32_t>(), wo) << "n = " << c.n << ", keys = " << c.keys;
    EXPECT_EQ(counts.to_vector<int32_t>(), wc);
    // Cutting the work into any number of chunks (as the GPU does) gives the same permutation.
    for (int64_t chunks : {2, 3, 7, 64, 5000}) {
      Tensor o2 = Tensor::empty({c.n}, DType::kI32), c2 = Tensor::empty({c.keys}, DType::kI32);
      cpu::counting_sort(o2, c2, itensor(k, {c.n}), c.keys, chunks);
      EXPECT_EQ(o2.to_vector<int32_t>(), wo) << "chunks = " << chunks;
      EXPECT_EQ(c2.to_vector<int32_t>(), wc);
    }
  }
}

TEST(Cast, F32ToBf16AndBack) {
  auto x = ref::random_floats(100, 19, -1000, 1000);
  Tensor h = Tensor::empty({100}, DType::kBF16), back = Tensor::empty({100}, DType::kF32);
  cast(h, tensor(x, {100}));
  cast(back, h);
  auto b = back.to_vector<float>();
  for (size_t i = 0; i < x.size(); ++i) EXPECT_EQ(b[i], bf16_to_float(float_to_bf16(x[i])));
  EXPECT_THROW(cast(Tensor::empty({100}, DType::kI32), h), Error);
}

TEST(Combine, WeightedSumOfDispatchedRowsAndItsBackward) {
  // 3 items, k = 2, 5 dispatched rows; item 1's second choice was dropped.
  const int64_t cols = 4;
  auto yv = ref::random_floats(5 * cols, 21);
  Tensor y = tensor(yv, {5, cols});
  std::vector<int32_t> pos = {4, 0, 2, -1, 1, 3};
  std::vector<float> w = {0.7f, 0.3f, 1.0f, 0.5f, 0.25f, 0.75f};
  Tensor out = Tensor::empty({3, cols}, DType::kF32);
  combine_rows(out, y, itensor(pos, {3, 2}), tensor(w, {3, 2}));
  auto ov = out.to_vector<float>();
  for (int64_t s = 0; s < 3; ++s)
    for (int64_t c = 0; c < cols; ++c) {
      double want = 0;
      for (int j = 0; j < 2; ++j)
        if (pos[s * 2 + j] >= 0) want += double(w[s * 2 + j]) * yv[pos[s * 2 + j] * cols + c];
      EXPECT_NEAR(ov[s * cols + c], want, 1e-6);
    }
  auto dout_v = ref::random_floats(3 * cols, 22);
  Tensor dy = Tensor::full({5, cols}, DType::kF32, 9.0), dw = Tensor::empty({3, 2}, DType::kF32);
  combine_rows_backward(dy, dw, tensor(dout_v, {3, cols}), y, itensor(pos, {3, 2}),
                        tensor(w, {3, 2}));
  auto dyv = dy.to_vector<float>(), dwv = dw.to_vector<float>();
  for (int64_t s = 0; s < 3; ++s)
    for (int j = 0; j < 2; ++j) {
      int32_t r = pos[s * 2 + j];
      double dot = 0;
      for (int64_t c = 0; c < cols; ++c) {
        if (r >= 0) {
          EXPECT_NEAR(dyv[r * cols + c], w[s * 2 + j] * dout_v[s * cols + c], 1e-6);
          dot += double(dout_v[s * cols + c]) * yv[r * cols + c];
        }
      }
      EXPECT_NEAR(dwv[s * 2 + j], dot, 1e-5);
    }
  // A row no choice points at (row 5 of 6) is set to zero; the covered rows as before.
  auto y6 = yv;
  y6.resize(6 * cols, 1.0f);
  Tensor dy6 = Tensor::full({6, cols}, DType::kF32, 9.0);
  combine_rows_backward(dy6, dw, tensor(dout_v, {3, cols}), tensor(y6, {6, cols}),
                        itensor(pos, {3, 2}), tensor(w, {3, 2}));
  auto dy6v = dy6.to_vector<float>();
  for (int64_t c = 0; c < cols; ++c) EXPECT_EQ(dy6v[5 * cols + c], 0.0f) << "uncovered row";
  for (int64_t i = 0; i < 5 * cols; ++i) EXPECT_EQ(dy6v[i], dyv[i]) << "covered rows";
  EXPECT_THROW(combine_rows(out, y, itensor({5, 0, 2, -1, 1, 3}, {3, 2}), tensor(w, {3, 2})),
               Error);
}

TEST(SwiGlu, ForwardAndBackwardMatchTheMath) {
  const int64_t m = 5, f = 7;
  auto in = ref::random_floats(m * 2 * f, 23, -4, 4);
  auto dout = ref::random_floats(m * f, 24);
  Tensor out = Tensor::empty({m, f}, DType::kF32), din = Tensor::empty({m, 2 * f}, DType::kF32);
  swiglu_forward(out, tensor(in, {m, 2 * f}));
  swiglu_backward(din, tensor(in, {m, 2 * f}), tensor(dout, {m, f}));
  auto ov = out.to_vector<float>(), dv = din.to_vector<float>();
  for (int64_t r = 0; r < m; ++r)
    for (int64_t c = 0; c < f; ++c) {
      double g = in[r * 2 * f + c], u = in[r * 2 * f + f + c];
      EXPECT_NEAR(ov[r * f + c], ref::silu(g) * u, 1e-5);
      double hstep = 1e-4;
      double dsilu = (ref::silu(g + hstep) - ref::silu(g - hstep)) / (2 * hstep);
      EXPECT_NEAR(dv[r * 2 * f + c], dout[r * f + c] * u * dsilu, 1e-4);
      EXPECT_NEAR(dv[r * 2 * f + f + c], dout[r * f + c] * ref::silu(g), 1e-5);
    }
}

// The ops that run on bf16 storage compute in fp32 and round each result once: on bf16 data they
// equal their f32 versions on the widened values, rounded.
TEST(Bf16Storage, ActivationsAndSwiGluRoundTheFp32ResultOnce) {
  const int64_t m = 6, f = 9;
  const auto in = bf16_rounded(ref::random_floats(m * 2 * f, 25, -4, 4));
  const auto dout = bf16_rounded(ref::random_floats(m * 2 * f, 26));
  auto check = [&](const char* what, auto&& op, const Shape& out_shape) {
    Tensor o32 = Tensor::empty(out_shape, DType::kF32),
           o16 = Tensor::empty(out_shape, DType::kBF16);
    op(o32, DType::kF32);
    op(o16, DType::kBF16);
    EXPECT_EQ(as_floats(o16), bf16_rounded(o32.to_vector<float>())) << what;
  };
  auto t = [&](const std::vector<float>& v, const Shape& sh, DType d) {
    return d == DType::kF32 ? tensor(v, sh) : bf16_tensor(v, sh);
  };
  for (Activation act : {Activation::kGelu, Activation::kSilu, Activation::kGeluErf}) {
    check("activation_forward",
          [&](const Tensor& o, DType d) {
            activation_forward(o, t(in, {m, 2 * f}, d), act);
          },
          {m, 2 * f});
    check("activation_backward",
          [&](const Tensor& o, DType d) {
            activation_backward(o, t(in, {m, 2 * f}, d), t(dout, {m, 2 * f}, d), act);
          },
          {m, 2 * f});
  }
  const std::vector<float> dhalf(dout.begin(), dout.begin() + m * f);
  check("swiglu_forward",
        [&](const Tensor& o, DType d) {
          swiglu_forward(o, t(in, {m, 2 * f}, d));
        },
        {m, f});
  check("swiglu_backward",
        [&](const Tensor& o, DType d) {
          swiglu_backward(o, t(in, {m, 2 * f}, d), t(dhalf, {m, f}, d));
        },
        {m, 2 * f});
}

// RoPE against the formula in double; its inverse undoes it; in place works; and the point of it:
// the dot product of a rotated query and key depends only on their distance.
TEST(Ops, RopeRotatesPairsByPositionAndItsInverseUndoesIt) {
  const int64_t rows = 3, t = 7, dh = 6, half = dh / 2;
  const double base = 100.0;
  const auto xv = ref::random_floats(rows * t * dh, 41);
  Tensor x = Tensor::from_vector(xv, {rows, t, dh}), y = Tensor::empty({rows, t, dh}, DType::kF32);
  const Tensor table = rope_table(t, dh, base, Device::cpu());
  rope(y, x, table, false);
  const auto yv = y.to_vector<float>();
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t p = 0; p < t; ++p)
      for (int64_t j = 0; j < half; ++j) {
        const double angle = p * std::pow(base, -2.0 * j / dh);
        const size_t i = static_cast<size_t>((r * t + p) * dh + j);
        const double a = xv[i], b = xv[i + half];
        EXPECT_NEAR(yv[i], a * std::cos(angle) - b * std::sin(angle), 1e-5);
        EXPECT_NEAR(yv[i + half], b * std::cos(angle) + a * std::sin(angle), 1e-5);
      }
  Tensor back = Tensor::empty({rows, t, dh}, DType::kF32);
  rope(back, y, table, true);
  const auto bv = back.to_vector<float>();
  for (size_t i = 0; i < xv.size(); ++i) EXPECT_NEAR(bv[i], xv[i], 1e-5);
  Tensor inplace = Tensor::from_vector(xv, {rows, t, dh});
  rope(inplace, inplace, table, false);
  EXPECT_EQ(inplace.to_vector<float>(), yv);
  // The same q at every position and the same k at every position: q_m·k_n depends on m − n.
  std::vector<float> q(static_cast<size_t>(t * dh)), k(q.size());
  for (int64_t p = 0; p < t; ++p)
    for (int64_t j = 0; j < dh; ++j) {
      q[static_cast<size_t>(p * dh + j)] = xv[static_cast<size_t>(j)];
      k[static_cast<size_t>(p * dh + j)] = xv[static_cast<size_t>(dh + j)];
    }
  Tensor qt = Tensor::from_vector(q, {1, t, dh}), kt = Tensor::from_vector(k, {1, t, dh});
  rope(qt, qt, table, false);
  rope(kt, kt, table, false);
  const auto qr = qt.to_vector<float>(), kr = kt.to_vector<float>();
  auto dot = [&](int64_t m, int64_t n) {
    double s = 0;
    for (int64_t j = 0; j < dh; ++j) s += double(qr[m * dh + j]) * kr[n * dh + j];
    return s;
  };
  EXPECT_NEAR(dot(3, 1), dot(6, 4), 1e-5);
  EXPECT_NEAR(dot(2, 2), dot(5, 5), 1e-5);
  EXPECT_GT(std::fabs(dot(3, 1) - dot(3, 2)), 1e-4) << "and it does depend on the distance";
}

// A device-scalar divisor and its gradient: din = dout/s, ds += −Σ dout·in/s² (against the
// formula and a finite difference in s), in place too.
TEST(Ops, ScaleByInverseAndItsGradient) {
  const int64_t n = 37;
  const auto xv = ref::random_floats(n, 51), dyv = ref::random_floats(n, 52);
  const float sv = 0.3f;
  Tensor x = Tensor::from_vector(xv, {n}), dy = Tensor::from_vector(dyv, {n});
  Tensor s = Tensor::from_vector<float>({sv}, {1}), y = Tensor::empty({n}, DType::kF32);
  scale_by_inverse(y, x, s);
  const auto yv = y.to_vector<float>();
  for (int64_t i = 0; i < n; ++i) EXPECT_NEAR(yv[i], xv[i] / sv, 1e-5);
  Tensor dx = Tensor::empty({n}, DType::kF32), ds = Tensor::from_vector<float>({0.5f}, {1});
  scale_by_inverse_backward(dx, ds, dy, x, s);
  double dot = 0;
  for (int64_t i = 0; i < n; ++i) dot += double(dyv[i]) * xv[i];
  EXPECT_NEAR(ds.to_vector<float>()[0], 0.5 - dot / (double(sv) * sv), 1e-4);
  auto loss = [&](double sd) {
    double l = 0;
    for (int64_t i = 0; i < n; ++i) l += dyv[i] * xv[i] / sd;
    return l;
  };
  EXPECT_NEAR(ds.to_vector<float>()[0] - 0.5, testing::central_difference(loss, sv, 1e-4), 1e-3);
  const auto dxv = dx.to_vector<float>();
  for (int64_t i = 0; i < n; ++i) EXPECT_NEAR(dxv[i], dyv[i] / sv, 1e-5);
  Tensor inplace = Tensor::from_vector(dyv, {n});
  Tensor ds2 = Tensor::zeros({1}, DType::kF32);
  scale_by_inverse_backward(inplace, ds2, inplace, x, s);
  EXPECT_EQ(inplace.to_vector<float>(), dxv);
  EXPECT_NEAR(ds2.to_vector<float>()[0], -dot / (double(sv) * sv), 1e-4);
}

TEST(Ops, SineAndItsGradientsByFiniteDifferences) {
  const int64_t r = 5, c = 3;
  const auto xv = ref::random_floats(r * c, 61), dyv = ref::random_floats(r * c, 62);
  const std::vector<float> fv = {10.0f, 1.5f, -2.0f};
  Tensor x = tensor(xv, {r, c}), dy = tensor(dyv, {r, c}), freq = tensor(fv, {c});
  Tensor y = Tensor::empty({r, c}, DType::kF32);
  sine_forward(y, x, freq);
  const auto yv = y.to_vector<float>();
  for (int64_t i = 0; i < r * c; ++i) EXPECT_NEAR(yv[i], std::sin(fv[i % c] * xv[i]), 1e-6);
  Tensor dx = Tensor::empty({r, c}, DType::kF32), dfx = Tensor::empty({r, c}, DType::kF32);
  sine_backward(dx, dfx, x, dy, freq);
  const auto dxv = dx.to_vector<float>(), dfv = dfx.to_vector<float>();
  // L = Σ dy · sin(f_c · x): ∂L/∂x and the per-element share of ∂L/∂f_c, by central differences.
  for (int64_t i = 0; i < r * c; ++i) {
    const double f = fv[i % c], xi = xv[i], d = dyv[i];
    auto by_x = [&](double v) { return d * std::sin(f * v); };
    auto by_f = [&](double v) { return d * std::sin(v * xi); };
    EXPECT_NEAR(dxv[i], testing::central_difference(by_x, xi, 1e-4), 1e-3);
    EXPECT_NEAR(dfv[i], testing::central_difference(by_f, f, 1e-4), 1e-3);
  }
  Tensor inplace = tensor(dyv, {r, c});  // dx may alias dy
  sine_backward(inplace, dfx, x, inplace, freq);
  EXPECT_EQ(inplace.to_vector<float>(), dxv);
  EXPECT_EQ(dfx.to_vector<float>(), dfv);
  EXPECT_THROW(sine_forward(y, x, tensor({1.0f}, {1})), Error);
}

TEST(Bf16Storage, CausalMaskKeepsTheLowerTriangle) {
  const int64_t t = 5;
  const auto v = bf16_rounded(ref::random_floats(2 * t * t, 29));
  Tensor out = Tensor::empty({2, t, t}, DType::kBF16);
  causal_mask(out, bf16_tensor(v, {2, t, t}));
  const auto got = as_floats(out);
  for (int64_t i = 0; i < 2 * t * t; ++i) {
    const int64_t r = (i / t) % t, j = i % t;
    EXPECT_EQ(got[i], j <= r ? v[i] : 0.0f) << i;
  }
  EXPECT_THROW(causal_mask(Tensor::empty({t, t}, DType::kF32), bf16_tensor(v, {2, t, t})), Error);
}

// A bf16 payload: the combine reads it in fp32 (equal to combining the widened rows), and its
// backward writes dy rounded once and dw from the bf16 rows.
TEST(Bf16Storage, CombineReadsAndWritesTheBf16Payload) {
  const int64_t cols = 6;
  const auto yv = bf16_rounded(ref::random_floats(5 * cols, 27));
  const auto dout = ref::random_floats(3 * cols, 28);
  Tensor pos = itensor({4, 0, 2, -1, 1, 3}, {3, 2});
  Tensor w = tensor({0.7f, 0.3f, 1.0f, 0.5f, 0.25f, 0.75f}, {3, 2});
  Tensor o32 = Tensor::empty({3, cols}, DType::kF32), o16 = Tensor::empty({3, cols}, DType::kF32);
  combine_rows(o32, tensor(yv, {5, cols}), pos, w);
  combine_rows(o16, bf16_tensor(yv, {5, cols}), pos, w);
  EXPECT_EQ(o16.to_vector<float>(), o32.to_vector<float>());
  Tensor dy32 = Tensor::empty({5, cols}, DType::kF32),
         dy16 = Tensor::empty({5, cols}, DType::kBF16);
  Tensor dw32 = Tensor::empty({3, 2}, DType::kF32), dw16 = Tensor::empty({3, 2}, DType::kF32);
  combine_rows_backward(dy32, dw32, tensor(dout, {3, cols}), tensor(yv, {5, cols}), pos, w);
  combine_rows_backward(dy16, dw16, tensor(dout, {3, cols}), bf16_tensor(yv, {5, cols}), pos, w);
  EXPECT_EQ(as_floats(dy16), bf16_rounded(dy32.to_vector<float>()));
  EXPECT_EQ(dw16.to_vector<float>(), dw32.to_vector<float>());
  EXPECT_THROW(combine_rows_backward(dy32, dw16, tensor(dout, {3, cols}),
                                     bf16_tensor(yv, {5, cols}), pos, w),
               Error);  // dy and y must share the payload dtype
}

TEST(Elementwise, BiasScaledAddsAndRowDots) {
  const int64_t r = 4, c = 3;
  auto a = ref::random_floats(r * c, 25), b = ref::random_floats(r * c, 26);
  auto bias = ref::random_floats(c, 27), sc = ref::random_floats(r, 28);
  Tensor t = tensor(a, {r, c});
  add_bias(t, tensor(bias, {c}));
  add_scaled(t, tensor(b, {r, c}), 0.5f);
  add_row_scaled(t, tensor(b, {r, c}), tensor(sc, {r}));
  Tensor dots = Tensor::empty({r}, DType::kF32);
  row_dot(dots, tensor(a, {r, c}), tensor(b, {r, c}));
  auto tv = t.to_vector<float>(), dv = dots.to_vector<float>();
  for (int64_t i = 0; i < r; ++i) {
    double dot = 0;
    for (int64_t j = 0; j < c; ++j) {
      size_t k = i * c + j;
      EXPECT_NEAR(tv[k], a[k] + bias[j] + 0.5 * b[k] + sc[i] * b[k], 1e-6);
      dot += double(a[k]) * b[k];
    }
    EXPECT_NEAR(dv[i], dot, 1e-6);
  }
  EXPECT_THROW(add_bias(t, tensor(bias, {c}).reshape({1, c}).slice_rows(0, 0)), Error);
}

}  // namespace
}  // namespace sy
