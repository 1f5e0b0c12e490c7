// Monarch matrices on the CPU: the block-diagonal linear and the Monarch product equal the dense
// matrices built independently from their factors (explicit permutation and block-diagonal
// matrices, multiplied in double); materialising M by multiplying the identity gives the same
// dense matrix; with DFT blocks the complex Monarch product is the DFT (and its inverse); the
// gradients match finite differences.
#include <gtest/gtest.h>

#include <cmath>
#include <complex>
#include <functional>
#include <tuple>

#include "runtime/core/random.h"
#include "runtime/ops/long_conv.h"
#include "runtime/ops/monarch.h"
#include "runtime/ops/ops.h"
#include "tests/finite_difference.h"
#include "tests/ops_reference.h"

namespace sy {
namespace {

using Dense = std::vector<std::vector<double>>;

Dense matmul(const Dense& a, const Dense& b) {
  size_t n = a.size(), k = b.size(), m = b[0].size();
  Dense c(n, std::vector<double>(m, 0.0));
  for (size_t i = 0; i < n; ++i)
    for (size_t p = 0; p < k; ++p)
      for (size_t j = 0; j < m; ++j) c[i][j] += a[i][p] * b[p][j];
  return c;
}

// The permutation matrix of "view as (rows, cols), transpose, flatten".
Dense transpose_perm(int64_t rows, int64_t cols) {
  Dense p(rows * cols, std::vector<double>(rows * cols, 0.0));
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t j = 0; j < cols; ++j) p[j * rows + i][i * cols + j] = 1.0;
  return p;
}

// diag(blocks[0], blocks[1], …), blocks (nb, bo, bi).
Dense block_diag(const std::vector<float>& w, int64_t nb, int64_t bo, int64_t bi) {
  Dense d(nb * bo, std::vector<double>(nb * bi, 0.0));
  for (int64_t b = 0; b < nb; ++b)
    for (int64_t o = 0; o < bo; ++o)
      for (int64_t i = 0; i < bi; ++i) d[b * bo + o][b * bi + i] = w[(b * bo + o) * bi + i];
  return d;
}

// M = P₂ · BD(R) · P₁ · BD(L) · P₀ for N = b1·b2.
Dense monarch_dense(const std::vector<float>& l, const std::vector<float>& r, int64_t b1,
                    int64_t b2) {
  Dense p0 = transpose_perm(b1, b2), p1 = transpose_perm(b2, b1), p2 = transpose_perm(b1, b2);
  return matmul(
      p2, matmul(block_diag(r, b1, b2, b2), matmul(p1, matmul(block_diag(l, b2, b1, b1), p0))));
}

Tensor tf(const std::vector<float>& v, const Shape& s) {
  return Tensor::from_vector(v, s);
}

void expect_rows_match(const Tensor& y, const Tensor& x, const Dense& m, double tol,
                       const char* what) {
  auto yv = y.to_vector<float>(), xv = x.to_vector<float>();
  const int64_t rows = x.rows(), n = x.cols(), out = y.cols();
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t i = 0; i < out; ++i) {
      double want = 0;
      for (int64_t j = 0; j < n; ++j) want += m[i][j] * xv[r * n + j];
      ASSERT_NEAR(yv[r * out + i], want, tol) << what << " row " << r << " entry " << i;
    }
}

TEST(Monarch, BlockDiagonalLinearEqualsItsDenseMatrix) {
  const int64_t nb = 4, bo = 3, bi = 5, rows = 7;
  auto w = ref::random_floats(nb * bo * bi, 1), x = ref::random_floats(rows * nb * bi, 2);
  Tensor y = Tensor::empty({rows, nb * bo}, DType::kF32);
  block_diag_forward(y, tf(x, {rows, nb * bi}), tf(w, {nb, bo, bi}));
  expect_rows_match(y, tf(x, {rows, nb * bi}), block_diag(w, nb, bo, bi), 1e-5, "block-diag");
}

TEST(Monarch, ProductEqualsTheDenseMatrixOfItsFactors) {
  for (auto [b1, b2] : {std::pair<int64_t, int64_t>{4, 4}, {2, 8}, {8, 2}, {3, 5}}) {
    auto l = ref::random_floats(b2 * b1 * b1, 3), r = ref::random_floats(b1 * b2 * b2, 4);
    const int64_t n = b1 * b2, rows = 6;
    Dense m = monarch_dense(l, r, b1, b2);
    auto x = ref::random_floats(rows * n, 5);
    Tensor y = Tensor::empty({rows, n}, DType::kF32);
    monarch_forward(y, tf(x, {rows, n}), tf(l, {b2, b1, b1}), tf(r, {b1, b2, b2}));
    expect_rows_match(y, tf(x, {rows, n}), m, 1e-5, "monarch");
    // Materialised through the identity: row i of M·I is column i of M.
    std::vector<float> eye(n * n, 0.0f);
    for (int64_t i = 0; i < n; ++i) eye[i * n + i] = 1.0f;
    Tensor mi = Tensor::empty({n, n}, DType::kF32);
    monarch_forward(mi, tf(eye, {n, n}), tf(l, {b2, b1, b1}), tf(r, {b1, b2, b2}));
    auto mv = mi.to_vector<float>();
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < n; ++j) EXPECT_NEAR(mv[j * n + i], m[i][j], 1e-5);
  }
}

TEST(Monarch, WithDftBlocksItIsTheDft) {
  for (auto [b1, b2] : {std::pair<int64_t, int64_t>{4, 4}, {4, 8}, {3, 4}}) {
    const int64_t n = b1 * b2, rows = 3;
    Tensor lre = Tensor::empty({b2, b1, b1}, DType::kF32),
           lim = Tensor::empty({b2, b1, b1}, DType::kF32);
    Tensor rre = Tensor::empty({b1, b2, b2}, DType::kF32),
           rim = Tensor::empty({b1, b2, b2}, DType::kF32);
    auto xr = ref::random_floats(rows * n, 6), xi = ref::random_floats(rows * n, 7);
    Tensor yr = Tensor::empty({rows, n}, DType::kF32), yi = Tensor::empty({rows, n}, DType::kF32);
    for (bool inverse : {false, true}) {
      dft_monarch_factors(lre, lim, rre, rim, b1, b2, inverse);
      complex_monarch_forward(yr, yi, tf(xr, {rows, n}), tf(xi, {rows, n}), lre, lim, rre, rim);
      auto yrv = yr.to_vector<float>(), yiv = yi.to_vector<float>();
      const double sign = inverse ? 1.0 : -1.0;
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t k = 0; k < n; ++k) {
          std::complex<double> want = 0;
          for (int64_t t = 0; t < n; ++t)
            want += std::complex<double>(xr[r * n + t], xi[r * n + t]) *
                    std::polar(1.0, sign * 2 * M_PI * double(k * t) / double(n));
          EXPECT_NEAR(yrv[r * n + k], want.real(), 1e-4)
              << "k " << k << (inverse ? " inverse" : "");
          EXPECT_NEAR(yiv[r * n + k], want.imag(), 1e-4)
              << "k " << k << (inverse ? " inverse" : "");
        }
    }
  }
}

using testing::weighted_sum;

// Every entry of each (value, gradient) pair against a central difference of loss.
void check_gradients(std::initializer_list<std::pair<Tensor*, Tensor*>> pairs,
                     const std::function<double()>& loss) {
  testing::GradientCheck check(loss, 1e-2, 2e-3, 0.0);
  for (auto [value, grad] : pairs)
    check.check("gradient", value->data<float>(), grad->to_vector<float>());
}

TEST(Monarch, GradientsMatchFiniteDifferences) {
  const int64_t b1 = 3, b2 = 4, n = 12, rows = 2, nb = 3, bo = 2, bi = 4;
  Tensor x = tf(ref::random_floats(rows * n, 8), {rows, n}),
         dy = tf(ref::random_floats(rows * n, 9), {rows, n});
  Tensor l = tf(ref::random_floats(b2 * b1 * b1, 10), {b2, b1, b1});
  Tensor r = tf(ref::random_floats(b1 * b2 * b2, 11), {b1, b2, b2});
  auto loss = [&] {
    Tensor y = Tensor::empty({rows, n}, DType::kF32);
    monarch_forward(y, x, l, r);
    return weighted_sum(y, dy);
  };
  Tensor dx = Tensor::empty({rows, n}, DType::kF32);
  Tensor dl = Tensor::zeros(l.shape(), DType::kF32), dr = Tensor::zeros(r.shape(), DType::kF32);
  monarch_backward(dx, dl, dr, dy, x, l, r);
  check_gradients({std::pair<Tensor*, Tensor*>{&x, &dx}, {&l, &dl}, {&r, &dr}}, loss);
  // The block-diagonal linear.
  Tensor bx = tf(ref::random_floats(rows * nb * bi, 12), {rows, nb * bi});
  Tensor bw = tf(ref::random_floats(nb * bo * bi, 13), {nb, bo, bi});
  Tensor bdy = tf(ref::random_floats(rows * nb * bo, 14), {rows, nb * bo});
  auto bloss = [&] {
    Tensor y = Tensor::empty({rows, nb * bo}, DType::kF32);
    block_diag_forward(y, bx, bw);
    return weighted_sum(y, bdy);
  };
  Tensor bdx = Tensor::empty(bx.shape(), DType::kF32), bdw = Tensor::zeros(bw.shape(), DType::kF32);
  block_diag_backward(bdx, bdw, bdy, bx, bw);
  check_gradients({std::pair<Tensor*, Tensor*>{&bx, &bdx}, {&bw, &bdw}}, bloss);
}

TEST(LongConv, EqualsTheDirectCausalConvolution) {
  for (auto [rows, c, t] :
       {std::tuple<int64_t, int64_t, int64_t>{4, 2, 8}, {3, 3, 16}, {2, 1, 12}}) {
    auto x = ref::random_floats(rows * t, 20), k = ref::random_floats(c * t, 21);
    Tensor y = Tensor::empty({rows, t}, DType::kF32);
    long_conv_forward(y, tf(x, {rows, t}), tf(k, {c, t}));
    auto yv = y.to_vector<float>();
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t i = 0; i < t; ++i) {
        double want = 0;
        for (int64_t s = 0; s <= i; ++s) want += double(k[(r % c) * t + s]) * x[r * t + i - s];
        EXPECT_NEAR(yv[r * t + i], want, 1e-4) << "row " << r << " t " << i;
      }
  }
}

TEST(LongConv, GradientsMatchFiniteDifferencesAndItIsCausal) {
  const int64_t rows = 4, c = 2, t = 8;
  Tensor x = tf(ref::random_floats(rows * t, 22), {rows, t}),
         k = tf(ref::random_floats(c * t, 23), {c, t});
  Tensor dy = tf(ref::random_floats(rows * t, 24), {rows, t});
  auto loss = [&] {
    Tensor y = Tensor::empty({rows, t}, DType::kF32);
    long_conv_forward(y, x, k);
    return weighted_sum(y, dy);
  };
  Tensor dx = Tensor::empty(x.shape(), DType::kF32), dk = Tensor::zeros(k.shape(), DType::kF32);
  long_conv_backward(dx, dk, dy, x, k);
  check_gradients({std::pair<Tensor*, Tensor*>{&x, &dx}, {&k, &dk}}, loss);
  // Outputs at positions ≤ p move by rounding only when inputs after p change (the FFT mixes all
  // positions numerically; the exact result does not depend on them).
  Tensor y0 = Tensor::empty({rows, t}, DType::kF32);
  long_conv_forward(y0, x, k);
  auto base = y0.to_vector<float>();
  for (int64_t p = 0; p + 1 < t; ++p) {
    Tensor xp = x.to(Device::cpu());
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t q = p + 1; q < t; ++q) xp.data<float>()[r * t + q] += 10.0f;
    Tensor y = Tensor::empty({rows, t}, DType::kF32);
    long_conv_forward(y, xp, k);
    auto yv = y.to_vector<float>();
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t q = 0; q <= p; ++q) EXPECT_NEAR(yv[r * t + q], base[r * t + q], 1e-4);
  }
}

TEST(ShortConv, EqualsTheLongConvolutionWithAZeroPaddedKernelAndHasTheRightGradients) {
  const int64_t rows = 6, c = 3, t = 10, taps = 3;
  auto xv = ref::random_floats(rows * t, 30), kv = ref::random_floats(c * taps, 31);
  std::vector<float> wide(c * t, 0.0f);
  for (int64_t ch = 0; ch < c; ++ch)
    for (int64_t j = 0; j < taps; ++j) wide[ch * t + j] = kv[ch * taps + j];
  Tensor a = Tensor::empty({rows, t}, DType::kF32), b = Tensor::empty({rows, t}, DType::kF32);
  depthwise_causal_conv_forward(a, tf(xv, {rows, t}), tf(kv, {c, taps}));
  long_conv_forward(b, tf(xv, {rows, t}), tf(wide, {c, t}));
  auto av = a.to_vector<float>(), bv = b.to_vector<float>();
  for (size_t i = 0; i < av.size(); ++i) EXPECT_NEAR(av[i], bv[i], 1e-5);
  Tensor x = tf(xv, {rows, t}), k = tf(kv, {c, taps}),
         dy = tf(ref::random_floats(rows * t, 32), {rows, t});
  auto loss = [&] {
    Tensor y = Tensor::empty({rows, t}, DType::kF32);
    depthwise_causal_conv_forward(y, x, k);
    return weighted_sum(y, dy);
  };
  Tensor dx = Tensor::empty(x.shape(), DType::kF32), dk = Tensor::zeros(k.shape(), DType::kF32);
  depthwise_causal_conv_backward(dx, dk, dy, x, k);
  check_gradients({std::pair<Tensor*, Tensor*>{&x, &dx}, {&k, &dk}}, loss);
}

TEST(LongConv, BidirectionalKernelsReachBothWays) {
  const int64_t rows = 4, c = 2, t = 6;
  auto xv = ref::random_floats(rows * t, 40), kv = ref::random_floats(c * 2 * t, 41);
  Tensor y = Tensor::empty({rows, t}, DType::kF32);
  long_conv_forward(y, tf(xv, {rows, t}), tf(kv, {c, 2 * t}));
  auto yv = y.to_vector<float>();
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t i = 0; i < t; ++i) {
      double want = 0;
      for (int64_t j = 0; j < t; ++j) {
        int64_t lag = i - j;  // y[i] += k[lag] · x[j]
        want += double(kv[(r % c) * 2 * t + ((lag % (2 * t)) + 2 * t) % (2 * t)]) * xv[r * t + j];
      }
      EXPECT_NEAR(yv[r * t + i], want, 1e-4) << "row " << r << " t " << i;
    }
  Tensor x = tf(xv, {rows, t}), k = tf(kv, {c, 2 * t}),
         dy = tf(ref::random_floats(rows * t, 42), {rows, t});
  auto loss = [&] {
    Tensor out = Tensor::empty({rows, t}, DType::kF32);
    long_conv_forward(out, x, k);
    return weighted_sum(out, dy);
  };
  Tensor dx = Tensor::empty(x.shape(), DType::kF32), dk = Tensor::zeros(k.shape(), DType::kF32);
  long_conv_backward(dx, dk, dy, x, k);
  check_gradients({std::pair<Tensor*, Tensor*>{&x, &dx}, {&k, &dk}}, loss);
}

}  // namespace
}  // namespace sy
