// The model-layer ops on the CPU: LayerNorm and RMSNorm (forward against the formula, backward —
// input and parameter gradients — by finite differences in double), cross-entropy (against the
// formula and finite differences, ignored targets), and the embedding gradient (against a plain
// loop).
#include <gtest/gtest.h>

#include <cmath>
#include <functional>

#include "runtime/ops/ops.h"
#include "tests/finite_difference.h"
#include "tests/ops_reference.h"

namespace sy {
namespace {

Tensor tf(const std::vector<float>& v, const Shape& s) {
  return Tensor::from_vector(v, s);
}

// Central differences of a scalar function of a float buffer, in double.
double fd(std::vector<float>& x, size_t i, const std::function<double()>& f, double h = 1e-2) {
  return testing::central_difference(&x[i], f, h);
}

TEST(NormOps, LayerNormForwardAndBackward) {
  const int64_t rows = 5, n = 7;
  auto x = ref::random_floats(rows * n, 1, -2, 2), g = ref::random_floats(n, 2, 0.5f, 1.5f);
  auto b = ref::random_floats(n, 3), dy = ref::random_floats(rows * n, 4);
  auto loss = [&]() {
    Tensor out = Tensor::empty({rows, n}, DType::kF32), m = Tensor::empty({rows}, DType::kF32),
           r = Tensor::empty({rows}, DType::kF32);
    layernorm_forward(out, m, r, tf(x, {rows, n}), tf(g, {n}), tf(b, {n}), 1e-5f);
    auto o = out.to_vector<float>();
    double l = 0;
    for (size_t i = 0; i < o.size(); ++i) l += double(o[i]) * dy[i];
    return l;
  };
  Tensor out = Tensor::empty({rows, n}, DType::kF32), m = Tensor::empty({rows}, DType::kF32),
         r = Tensor::empty({rows}, DType::kF32);
  layernorm_forward(out, m, r, tf(x, {rows, n}), tf(g, {n}), tf(b, {n}), 1e-5f);
  auto ov = out.to_vector<float>();
  for (int64_t i = 0; i < rows; ++i) {
    double mean = 0, var = 0;
    for (int64_t j = 0; j < n; ++j) mean += x[i * n + j];
    mean /= n;
    for (int64_t j = 0; j < n; ++j) var += (x[i * n + j] - mean) * (x[i * n + j] - mean);
    var /= n;
    for (int64_t j = 0; j < n; ++j)
      EXPECT_NEAR(ov[i * n + j], (x[i * n + j] - mean) / std::sqrt(var + 1e-5) * g[j] + b[j], 1e-5);
  }
  Tensor dx = Tensor::empty({rows, n}, DType::kF32), dg = Tensor::full({n}, DType::kF32, 0.5),
         db = Tensor::full({n}, DType::kF32, -0.5);
  layernorm_backward(dx, dg, db, tf(dy, {rows, n}), tf(x, {rows, n}), m, r, tf(g, {n}));
  auto dxv = dx.to_vector<float>(), dgv = dg.to_vector<float>(), dbv = db.to_vector<float>();
  for (size_t i = 0; i < x.size(); ++i) EXPECT_NEAR(dxv[i], fd(x, i, loss), 2e-3) << "dx " << i;
  for (int64_t j = 0; j < n; ++j) {
    EXPECT_NEAR(dgv[j] - 0.5, fd(g, j, loss), 2e-3) << "dgamma accumulates";
    EXPECT_NEAR(dbv[j] + 0.5, fd(b, j, loss), 2e-3) << "dbeta accumulates";
  }
}

TEST(NormOps, RmsNormForwardAndBackward) {
  const int64_t rows = 4, n = 9;
  auto x = ref::random_floats(rows * n, 5, -2, 2), g = ref::random_floats(n, 6, 0.5f, 1.5f);
  auto dy = ref::random_floats(rows * n, 7);
  auto loss = [&]() {
    Tensor out = Tensor::empty({rows, n}, DType::kF32), r = Tensor::empty({rows}, DType::kF32);
    rmsnorm_forward(out, r, tf(x, {rows, n}), tf(g, {n}), 1e-6f);
    auto o = out.to_vector<float>();
    double l = 0;
    for (size_t i = 0; i < o.size(); ++i) l += double(o[i]) * dy[i];
    return l;
  };
  Tensor out = Tensor::empty({rows, n}, DType::kF32), r = Tensor::empty({rows}, DType::kF32);
  rmsnorm_forward(out, r, tf(x, {rows, n}), tf(g, {n}), 1e-6f);
  auto ov = out.to_vector<float>();
  for (int64_t i = 0; i < rows; ++i) {
    double ss = 0;
    for (int64_t j = 0; j < n; ++j) ss += double(x[i * n + j]) * x[i * n + j];
    for (int64_t j = 0; j < n; ++j)
      EXPECT_NEAR(ov[i * n + j], x[i * n + j] / std::sqrt(ss / n + 1e-6) * g[j], 1e-5);
  }
  Tensor dx = Tensor::empty({rows, n}, DType::kF32), dg = Tensor::zeros({n}, DType::kF32);
  rmsnorm_backward(dx, dg, tf(dy, {rows, n}), tf(x, {rows, n}), r, tf(g, {n}));
  auto dxv = dx.to_vector<float>(), dgv = dg.to_vector<float>();
  for (size_t i = 0; i < x.size(); ++i) EXPECT_NEAR(dxv[i], fd(x, i, loss), 2e-3) << "dx " << i;
  for (int64_t j = 0; j < n; ++j) EXPECT_NEAR(dgv[j], fd(g, j, loss), 2e-3) << "dgamma " << j;
}

TEST(NormOps, CrossEntropyWithIgnoredTargets) {
  const int64_t rows = 6, v = 11;
  auto l = ref::random_floats(rows * v, 8, -3, 3);
  std::vector<int32_t> t = {3, -1, 0, 10, 5, -1};
  auto dloss = ref::random_floats(rows, 9, 0.1f, 1.0f);
  auto total = [&]() {
    Tensor losses = Tensor::empty({rows}, DType::kF32);
    cross_entropy_forward(losses, tf(l, {rows, v}), Tensor::from_vector(t, {rows}));
    auto lv = losses.to_vector<float>();
    double s = 0;
    for (int64_t i = 0; i < rows; ++i) s += double(lv[i]) * dloss[i];
    return s;
  };
  Tensor losses = Tensor::empty({rows}, DType::kF32);
  cross_entropy_forward(losses, tf(l, {rows, v}), Tensor::from_vector(t, {rows}));
  auto lv = losses.to_vector<float>();
  auto probs = ref::softmax(l, rows, v);
  for (int64_t i = 0; i < rows; ++i) {
    if (t[i] < 0) {
      EXPECT_EQ(lv[i], 0.0f);
      continue;
    }
    EXPECT_NEAR(lv[i], -std::log(double(probs[i * v + t[i]])), 1e-5);
  }
  Tensor dl = Tensor::empty({rows, v}, DType::kF32);
  cross_entropy_backward(dl, tf(l, {rows, v}), Tensor::from_vector(t, {rows}), tf(dloss, {rows}));
  auto dlv = dl.to_vector<float>();
  for (size_t i = 0; i < l.size(); ++i) EXPECT_NEAR(dlv[i], fd(l, i, total, 1e-2f), 1e-3) << i;
  EXPECT_THROW(cross_entropy_forward(losses, tf(l, {rows, v}),
                                     Tensor::from_vector<int32_t>({0, 0, 0, 11, 0, 0}, {rows})),
               Error);
}

TEST(NormOps, EmbeddingBackwardSumsRowsPerId) {
  const int64_t vocab = 7, cols = 3, n = 20;
  auto ids = ref::random_ints(n, 10, 0, vocab - 1);
  auto dout = ref::random_floats(n * cols, 11);
  Tensor dt = Tensor::full({vocab, cols}, DType::kF32, 1.0);
  embedding_backward(dt, tf(dout, {n, cols}), Tensor::from_vector(ids, {n}));
  auto got = dt.to_vector<float>();
  std::vector<float> want(vocab * cols, 0.0f);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t c = 0; c < cols; ++c) want[ids[i] * cols + c] += dout[i * cols + c];
  for (size_t i = 0; i < want.size(); ++i) EXPECT_EQ(got[i], 1.0f + want[i]) << i;  // same order
  EXPECT_THROW(embedding_backward(dt, tf(dout, {n, cols}),
                                  Tensor::from_vector(std::vector<int32_t>(n, 7), {n})),
               Error);
}

TEST(LayoutOps, PermuteMatchesIndexArithmeticAndInvertsItself) {
  const Shape shape = {2, 3, 4, 5};
  std::vector<float> x(120);
  for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(i);
  const std::vector<int> perm = {2, 0, 3, 1};
  Tensor out = Tensor::empty({4, 2, 5, 3}, DType::kF32);
  permute(out, tf(x, shape), perm);
  auto o = out.to_vector<float>();
  for (int a = 0; a < 2; ++a)
    for (int b = 0; b < 3; ++b)
      for (int c = 0; c < 4; ++c)
        for (int d = 0; d < 5; ++d)
          EXPECT_EQ(o[((c * 2 + a) * 5 + d) * 3 + b], x[((a * 3 + b) * 4 + c) * 5 + d]);
  // The inverse permutation restores the input.
  std::vector<int> inv(4);
  for (int i = 0; i < 4; ++i) inv[perm[i]] = i;
  Tensor back = Tensor::empty(shape, DType::kF32);
  permute(back, out, inv);
  EXPECT_EQ(back.to_vector<float>(), x);
  EXPECT_THROW(permute(back, out, {0, 0, 1, 2}), Error);
}

TEST(LayoutOps, BatchedGemmWithBroadcastAndTransposes) {
  const int64_t batch = 3, m = 4, n = 5, k = 6;
  for (bool ta : {false, true})
    for (bool tb : {false, true})
      for (bool broadcast_a : {false, true}) {
        int64_t ba = broadcast_a ? 1 : batch;
        auto a = ref::random_floats(ba * m * k, 12), b = ref::random_floats(batch * k * n, 13);
        auto c0 = ref::random_floats(batch * m * n, 14);
        Tensor c = tf(c0, {batch, m, n});
        batched_gemm(c, tf(a, ta ? Shape{ba, k, m} : Shape{ba, m, k}),
                     tf(b, tb ? Shape{batch, n, k} : Shape{batch, k, n}), ta, tb, 0.5f, 1.0f);
        auto cv = c.to_vector<float>();
        for (int64_t i = 0; i < batch; ++i) {
          std::vector<float> ai(a.begin() + (broadcast_a ? 0 : i) * m * k,
                                a.begin() + ((broadcast_a ? 0 : i) + 1) * m * k);
          std::vector<float> bi(b.begin() + i * k * n, b.begin() + (i + 1) * k * n);
          std::vector<float> ci(c0.begin() + i * m * n, c0.begin() + (i + 1) * m * n);
          ref::gemm(ci, ai, bi, m, n, k, ta, tb, 0.5f, 1.0f);
          for (int64_t j = 0; j < m * n; ++j) EXPECT_NEAR(cv[i * m * n + j], ci[j], 1e-5);
        }
      }
}

TEST(LayoutOps, CausalSoftmaxMasksTheFuture) {
  const int64_t blocks = 2, t = 5;
  auto x = ref::random_floats(blocks * t * t, 15, -3, 3);
  Tensor out = Tensor::empty({blocks, t, t}, DType::kF32);
  causal_softmax_forward(out, tf(x, {blocks, t, t}));
  auto o = out.to_vector<float>();
  for (int64_t b = 0; b < blocks; ++b)
    for (int64_t i = 0; i < t; ++i) {
      std::vector<float> row(x.begin() + (b * t + i) * t, x.begin() + (b * t + i) * t + i + 1);
      auto want = ref::softmax(row, 1, i + 1);
      for (int64_t j = 0; j < t; ++j) {
        float got = o[(b * t + i) * t + j];
        if (j <= i) {
          EXPECT_NEAR(got, want[j], 1e-6);
        } else {
          EXPECT_EQ(got, 0.0f);
        }
      }
    }
}

}  // namespace
}  // namespace sy
