// Every CUDA op against its CPU twin on the same inputs, one test per op (so a failure names the
// op), in the families of runtime/ops/ops.h; then the composite Monarch and long-convolution
// products. Inputs a backward needs from its forward are computed on the CPU and copied, so each
// test checks its own op only. Skipped only where no GPU is visible (the CUDA code is still
// compiled and linked in every build that found the toolkit).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "runtime/ops/long_conv.h"
#include "runtime/ops/monarch.h"
#include "runtime/ops/ops.h"
#include "tests/ops_reference.h"

namespace sy {
namespace {

class CudaOps : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!cuda_available()) GTEST_SKIP() << "no GPU visible: the CUDA ops are compiled, not run";
  }
  static Tensor gpu(const Tensor& t) { return t.to(Device::cuda()); }
  static Tensor f(const std::vector<float>& v, const Shape& s) { return Tensor::from_vector(v, s); }
  static Tensor i(const std::vector<int32_t>& v, const Shape& s) {
    return Tensor::from_vector(v, s);
  }
  static Tensor empty(const Shape& s, DType t = DType::kF32) { return Tensor::empty(s, t); }
};

void expect_close(const Tensor& got_gpu, const Tensor& want_cpu, float tol, const char* what) {
  auto g = got_gpu.to_vector<float>(), w = want_cpu.to_vector<float>();
  ASSERT_EQ(g.size(), w.size()) << what;
  for (size_t k = 0; k < g.size(); ++k)
    ASSERT_LE(std::fabs(g[k] - w[k]), tol * (1 + std::fabs(w[k])))
        << what << " at " << k << ": " << g[k] << " vs " << w[k];
}

const std::pair<int64_t, int64_t> kRowShapes[] = {{0, 8}, {1, 1}, {333, 17}, {64, 1000}};

// ---- gemm ---------------------------------------------------------------------------------------

TEST_F(CudaOps, gemm) {
  for (auto [m, n, k] :
       {std::tuple<int64_t, int64_t, int64_t>{0, 3, 4}, {3, 4, 0}, {37, 13, 29}, {128, 96, 200}})
    for (bool ta : {false, true})
      for (bool tb : {false, true}) {
        Tensor a = f(ref::random_floats(m * k, 1), ta ? Shape{k, m} : Shape{m, k});
        Tensor b = f(ref::random_floats(k * n, 2), tb ? Shape{n, k} : Shape{k, n});
        Tensor c = f(ref::random_floats(m * n, 3), {m, n});
        Tensor cg = gpu(c);
        gemm(c, a, b, ta, tb, 0.5f, 2.0f);
        gemm(cg, gpu(a), gpu(b), ta, tb, 0.5f, 2.0f);
        expect_close(cg, c, 1e-4f, "gemm");
      }
}

Tensor f32_input(int64_t n, uint32_t seed, const Shape& shape) {
  return Tensor::from_vector(ref::random_floats(n, seed, -3, 3), shape);
}

// A bf16 copy of a CPU f32 tensor, and any float tensor read back as floats.
Tensor to_bf16(const Tensor& t) {
  Tensor h = Tensor::empty(t.shape(), DType::kBF16, t.device());
  cast(h, t);
  return h;
}
Tensor as_f32(const Tensor& t) {
  if (t.dtype() == DType::kF32) return t;
  Tensor f = Tensor::empty(t.shape(), DType::kF32, t.device());
  cast(f, t);
  return f;
}

// bf16 inputs with fp32 accumulation (cublasGemmEx) against the CPU's widened f32 GEMM: f32 c to
// fp32 accuracy; bf16 c within one bf16 unit (the two fp32 results may round to neighbours).
TEST_F(CudaOps, gemm_bf16) {
  for (auto [m, n, k] :
       {std::tuple<int64_t, int64_t, int64_t>{3, 4, 0}, {37, 13, 29}, {128, 96, 200}})
    for (bool ta : {false, true})
      for (DType out : {DType::kF32, DType::kBF16}) {
        Tensor a = to_bf16(f(ref::random_floats(m * k, 1), ta ? Shape{k, m} : Shape{m, k}));
        Tensor b = to_bf16(f(ref::random_floats(k * n, 2), {k, n}));
        Tensor c = f(ref::random_floats(m * n, 3), {m, n});
        if (out == DType::kBF16) c = to_bf16(c);
        Tensor cg = gpu(c);
        gemm(c, a, b, ta, false, 0.5f, 2.0f);
        gemm(cg, gpu(a), gpu(b), ta, false, 0.5f, 2.0f);
        expect_close(as_f32(cg), as_f32(c), out == DType::kF32 ? 1e-4f : 1.0f / 128, "gemm bf16");
      }
}

const std::vector<int64_t> kGroups = {0, 0, 5, 5, 6, 40, 40};  // empty groups included

TEST_F(CudaOps, grouped_gemm_bf16) {
  int64_t g = 6, m = 40, k = 24, n = 16;
  for (DType out : {DType::kF32, DType::kBF16}) {
    Tensor a = to_bf16(f(ref::random_floats(m * k, 4), {m, k}));
    Tensor b = to_bf16(f(ref::random_floats(g * k * n, 5), {g, k, n}));
    Tensor d = to_bf16(f(ref::random_floats(m * n, 8), {m, n}));
    Tensor c = f(ref::random_floats(m * n, 6), {m, n});
    Tensor w = f(ref::random_floats(g * k * n, 9), {g, k, n});
    if (out == DType::kBF16) {
      c = to_bf16(c);
      w = to_bf16(w);
    }
    Tensor cg = gpu(c), wg = gpu(w);
    grouped_gemm(c, a, b, kGroups, false, 1.0f, 0.5f);
    grouped_gemm(cg, gpu(a), gpu(b), kGroups, false, 1.0f, 0.5f);
    grouped_gemm_weight_grad(w, a, d, kGroups, 1.0f, 0.25f);
    grouped_gemm_weight_grad(wg, gpu(a), gpu(d), kGroups, 1.0f, 0.25f);
    const float tol = out == DType::kF32 ? 1e-4f : 1.0f / 128;
    expect_close(as_f32(cg), as_f32(c), tol, "grouped_gemm bf16");
    expect_close(as_f32(wg), as_f32(w), tol, "grouped_gemm_weight_grad bf16");
  }
}

TEST_F(CudaOps, batched_gemm_bf16) {
  Tensor a = to_bf16(f(ref::random_floats(4 * 20 * 12, 20), {4, 20, 12}));
  Tensor b = to_bf16(f(ref::random_floats(12 * 9, 21), {1, 12, 9}));
  Tensor c = Tensor::zeros({4, 20, 9}, DType::kF32), cg = gpu(c);
  batched_gemm(c, a, b, false, false, 1.0f, 0.0f);
  batched_gemm(cg, gpu(a), gpu(b), false, false, 1.0f, 0.0f);
  expect_close(cg, c, 1e-4f, "batched_gemm bf16");
}

TEST_F(CudaOps, grouped_gemm) {
  int64_t g = 6, m = 40, k = 24, n = 16;
  for (bool tb : {false, true}) {
    Tensor a = f(ref::random_floats(m * k, 4), {m, k});
    Tensor b = f(ref::random_floats(g * k * n, 5), tb ? Shape{g, n, k} : Shape{g, k, n});
    Tensor c = f(ref::random_floats(m * n, 6), {m, n});
    Tensor cg = gpu(c);
    grouped_gemm(c, a, b, kGroups, tb, 1.0f, 0.5f);
    grouped_gemm(cg, gpu(a), gpu(b), kGroups, tb, 1.0f, 0.5f);
    expect_close(cg, c, 1e-4f, "grouped_gemm");
  }
}

TEST_F(CudaOps, grouped_gemm_weight_grad) {
  int64_t g = 6, m = 40, k = 24, n = 16;
  Tensor a = f(ref::random_floats(m * k, 7), {m, k});
  Tensor d = f(ref::random_floats(m * n, 8), {m, n});
  Tensor w = f(ref::random_floats(g * k * n, 9), {g, k, n});
  Tensor wg = gpu(w);
  grouped_gemm_weight_grad(w, a, d, kGroups, 1.0f, 0.25f);
  grouped_gemm_weight_grad(wg, gpu(a), gpu(d), kGroups, 1.0f, 0.25f);
  expect_close(wg, w, 1e-4f, "grouped_gemm_weight_grad");
}

TEST_F(CudaOps, batched_gemm) {
  for (bool ta : {false, true})
    for (bool tb : {false, true}) {
      Tensor a = f(ref::random_floats(7 * 8 * 9, 51), ta ? Shape{7, 9, 8} : Shape{7, 8, 9});
      Tensor b = f(ref::random_floats(1 * 9 * 10, 52), tb ? Shape{1, 10, 9} : Shape{1, 9, 10});
      Tensor c = f(ref::random_floats(7 * 8 * 10, 53), {7, 8, 10}), cg = gpu(c);
      batched_gemm(c, a, b, ta, tb, 1.0f, 0.5f);
      batched_gemm(cg, gpu(a), gpu(b), ta, tb, 1.0f, 0.5f);
      expect_close(cg, c, 1e-4f, "batched_gemm");
    }
}

// ---- index --------------------------------------------------------------------------------------

TEST_F(CudaOps, gather_rows) {
  for (int64_t cols : {1, 3, 4, 33}) {
    Tensor in = f(ref::random_floats(50 * cols, 10), {50, cols});
    Tensor idx = i(ref::random_ints(70, 11, -1, 49), {70});
    Tensor out = empty({70, cols}), outg = gpu(out);
    gather_rows(out, in, idx);
    gather_rows(outg, gpu(in), gpu(idx));
    EXPECT_EQ(outg.to_vector<float>(), out.to_vector<float>()) << cols;
  }
}

TEST_F(CudaOps, scatter_rows) {
  for (int64_t cols : {1, 3, 4, 33}) {
    Tensor in = f(ref::random_floats(50 * cols, 10), {50, cols});
    // A permutation with holes.
    std::vector<int32_t> perm(50);
    for (int r = 0; r < 50; ++r) perm[r] = r % 7 == 3 ? -1 : (r * 17) % 50;
    Tensor p = i(perm, {50});
    Tensor back = Tensor::zeros({50, cols}, DType::kF32), backg = gpu(back);
    scatter_rows(back, in, p);
    scatter_rows(backg, gpu(in), gpu(p));
    EXPECT_EQ(backg.to_vector<float>(), back.to_vector<float>()) << cols;
  }
}

TEST_F(CudaOps, counting_sort) {
  for (auto [n, keys] :
       {std::pair<int64_t, int>{0, 4}, {1, 1}, {1000, 8}, {100000, 64}, {300000, 1024}, {10, 0}}) {
    Tensor k = i(ref::random_ints(n, 14, -1, keys), {n});
    Tensor o = empty({n}, DType::kI32), og = gpu(o);
    Tensor c = empty({keys}, DType::kI32), cg = gpu(c);
    counting_sort(o, c, k, keys);
    counting_sort(og, cg, gpu(k), keys);
    EXPECT_EQ(og.to_vector<int32_t>(), o.to_vector<int32_t>()) << n << " items, " << keys;
    EXPECT_EQ(cg.to_vector<int32_t>(), c.to_vector<int32_t>());
  }
}

TEST_F(CudaOps, permute) {
  Tensor x = f(ref::random_floats(2 * 3 * 4 * 5, 50), {2, 3, 4, 5});
  Tensor o = empty({4, 2, 5, 3}), og = gpu(o);
  permute(o, x, {2, 0, 3, 1});
  permute(og, gpu(x), {2, 0, 3, 1});
  EXPECT_EQ(og.to_vector<float>(), o.to_vector<float>());
}

TEST_F(CudaOps, embedding_backward) {
  const int64_t rows = 300, n = 96, vocab = 50;
  Tensor dy = f(ref::random_floats(rows * n, 43), {rows, n});
  Tensor ids = i(ref::random_ints(rows, 47, 0, vocab - 1), {rows});
  Tensor table = Tensor::zeros({vocab, n}, DType::kF32), tableg = gpu(table);
  embedding_backward(table, dy, ids);
  embedding_backward(tableg, gpu(dy), gpu(ids));
  EXPECT_EQ(tableg.to_vector<float>(), table.to_vector<float>());  // same order: bitwise
}

// ---- rowwise ------------------------------------------------------------------------------------

TEST_F(CudaOps, softmax_forward) {
  for (auto [rows, cols] : kRowShapes) {
    Tensor x = f(ref::random_floats(rows * cols, 12, -8, 8), {rows, cols});
    Tensor y = empty({rows, cols}), yg = gpu(y);
    softmax_forward(y, x);
    softmax_forward(yg, gpu(x));
    expect_close(yg, y, 1e-5f, "softmax");
  }
}

TEST_F(CudaOps, softmax_backward) {
  for (auto [rows, cols] : kRowShapes) {
    Tensor x = f(ref::random_floats(rows * cols, 12, -8, 8), {rows, cols});
    Tensor dy = f(ref::random_floats(rows * cols, 13), {rows, cols});
    Tensor y = empty({rows, cols});
    softmax_forward(y, x);
    Tensor dx = empty({rows, cols}), dxg = gpu(dx);
    softmax_backward(dx, y, dy);
    softmax_backward(dxg, gpu(y), gpu(dy));
    expect_close(dxg, dx, 1e-5f, "softmax_backward");
  }
}

TEST_F(CudaOps, causal_softmax_forward) {
  Tensor s = f(ref::random_floats(3 * 33 * 33, 54, -4, 4), {3, 33, 33});
  Tensor p = empty(s.shape()), pg = gpu(p);
  causal_softmax_forward(p, s);
  causal_softmax_forward(pg, gpu(s));
  expect_close(pg, p, 1e-6f, "causal_softmax_forward");
}

TEST_F(CudaOps, topk) {
  for (auto [rows, cols] : kRowShapes) {
    if (cols < 4) continue;
    Tensor x = f(ref::random_floats(rows * cols, 12, -8, 8), {rows, cols});
    Tensor v = empty({rows, 4}), vg = gpu(v);
    Tensor ix = empty({rows, 4}, DType::kI32), ixg = gpu(ix);
    topk(v, ix, x, 4);
    topk(vg, ixg, gpu(x), 4);
    EXPECT_EQ(ixg.to_vector<int32_t>(), ix.to_vector<int32_t>());
    EXPECT_EQ(vg.to_vector<float>(), v.to_vector<float>());
  }
}

// Reductions run in the CPU's order: bitwise equal.
TEST_F(CudaOps, reduce_rows) {
  for (auto [rows, cols] : kRowShapes) {
    Tensor x = f(ref::random_floats(rows * cols, 12, -8, 8), {rows, cols});
    for (ReduceOp op : {ReduceOp::kSum, ReduceOp::kMax}) {
      Tensor r = empty({rows}), rg = gpu(r);
      reduce_rows(r, x, op);
      reduce_rows(rg, gpu(x), op);
      EXPECT_EQ(rg.to_vector<float>(), r.to_vector<float>());
    }
  }
}

TEST_F(CudaOps, reduce_cols) {
  for (auto [rows, cols] : kRowShapes) {
    Tensor x = f(ref::random_floats(rows * cols, 12, -8, 8), {rows, cols});
    for (ReduceOp op : {ReduceOp::kSum, ReduceOp::kMax}) {
      Tensor c = empty({cols}), cg = gpu(c);
      reduce_cols(c, x, op);
      reduce_cols(cg, gpu(x), op);
      EXPECT_EQ(cg.to_vector<float>(), c.to_vector<float>());
    }
  }
}

TEST_F(CudaOps, row_dot) {
  const int64_t items = 300, cols = 24;
  Tensor a = f(ref::random_floats(items * cols, 34), {items, cols});
  Tensor b = f(ref::random_floats(items * cols, 32), {items, cols});
  Tensor d = empty({items}), dg = gpu(d);
  row_dot(d, a, b);
  row_dot(dg, gpu(a), gpu(b));
  expect_close(dg, d, 1e-5f, "row_dot");
}

// ---- elementwise --------------------------------------------------------------------------------

TEST_F(CudaOps, activation_forward) {
  for (auto [rows, cols] : kRowShapes) {
    Tensor x = f(ref::random_floats(rows * cols, 12, -8, 8), {rows, cols});
    for (Activation act : {Activation::kGelu, Activation::kSilu, Activation::kGeluErf}) {
      Tensor y = empty({rows, cols}), yg = gpu(y);
      activation_forward(y, x, act);
      activation_forward(yg, gpu(x), act);
      expect_close(yg, y, 1e-5f, "activation_forward");
    }
  }
}

TEST_F(CudaOps, bias_activation_forward) {
  for (auto [rows, cols] : kRowShapes) {
    Tensor h = f(ref::random_floats(rows * cols, 12, -8, 8), {rows, cols});
    Tensor b = f(ref::random_floats(cols, 14, -2, 2), {cols});
    for (Activation act : {Activation::kGelu, Activation::kSilu, Activation::kGeluErf}) {
      Tensor hc = f(h.to_vector<float>(), {rows, cols}), hg = gpu(h);
      Tensor y = empty({rows, cols}), yg = gpu(y);
      bias_activation_forward(y, hc, b, act);
      bias_activation_forward(yg, hg, gpu(b), act);
      expect_close(hg, hc, 0.0f, "bias_activation_forward h");
      expect_close(yg, y, 1e-5f, "bias_activation_forward");
    }
  }
}

TEST_F(CudaOps, activation_backward) {
  for (auto [rows, cols] : kRowShapes) {
    Tensor x = f(ref::random_floats(rows * cols, 12, -8, 8), {rows, cols});
    Tensor dy = f(ref::random_floats(rows * cols, 13), {rows, cols});
    for (Activation act : {Activation::kGelu, Activation::kSilu, Activation::kGeluErf}) {
      Tensor dx = empty({rows, cols}), dxg = gpu(dx);
      activation_backward(dx, x, dy, act);
      activation_backward(dxg, gpu(x), gpu(dy), act);
      expect_close(dxg, dx, 1e-5f, "activation_backward");
    }
  }
}

TEST_F(CudaOps, swiglu_forward) {
  const int64_t items = 300, cols = 24;
  Tensor in = f(ref::random_floats(items * 2 * cols, 33, -4, 4), {items, 2 * cols});
  Tensor s = empty({items, cols}), sg = gpu(s);
  swiglu_forward(s, in);
  swiglu_forward(sg, gpu(in));
  expect_close(sg, s, 1e-5f, "swiglu_forward");
}

TEST_F(CudaOps, swiglu_backward) {
  const int64_t items = 300, cols = 24;
  Tensor in = f(ref::random_floats(items * 2 * cols, 33, -4, 4), {items, 2 * cols});
  Tensor dout = f(ref::random_floats(items * cols, 32), {items, cols});
  Tensor din = empty({items, 2 * cols}), ding = gpu(din);
  swiglu_backward(din, in, dout);
  swiglu_backward(ding, gpu(in), gpu(dout));
  expect_close(ding, din, 1e-5f, "swiglu_backward");
}

TEST_F(CudaOps, cast) {
  Tensor x = f(ref::random_floats(1001, 15, -100, 100), {1001});
  Tensor h = empty({1001}, DType::kBF16), hg = gpu(h);
  cast(h, x);
  cast(hg, gpu(x));
  Tensor back = empty({1001}), backg = gpu(back);
  cast(back, h);
  cast(backg, hg);
  EXPECT_EQ(backg.to_vector<float>(), back.to_vector<float>());
  Tensor n = i(ref::random_ints(99, 16, -100000, 100000), {99});  // i32 → f64, exact
  Tensor d = empty({99}, DType::kF64), dg = gpu(d);
  cast(d, n);
  cast(dg, gpu(n));
  EXPECT_EQ(dg.to_vector<double>(), d.to_vector<double>());
  Tensor z = Tensor::full({7}, DType::kI64, 42, Device::cuda());  // and the backend's fill
  for (int64_t v : z.to_vector<int64_t>()) EXPECT_EQ(v, 42);
}

// The bf16-storage elementwise ops: fp32 math, one rounding; within one bf16 unit of the CPU.
TEST_F(CudaOps, activations_and_swiglu_bf16) {
  const int64_t m = 300, f = 24;
  Tensor in = to_bf16(f32_input(m * 2 * f, 35, {m, 2 * f}));
  Tensor d = to_bf16(f32_input(m * 2 * f, 36, {m, 2 * f}));
  Tensor dh = to_bf16(f32_input(m * f, 37, {m, f}));
  for (Activation act : {Activation::kGelu, Activation::kSilu, Activation::kGeluErf}) {
    Tensor y = empty({m, 2 * f}, DType::kBF16), yg = gpu(y);
    activation_forward(y, in, act);
    activation_forward(yg, gpu(in), act);
    expect_close(as_f32(yg), as_f32(y), 1.0f / 128, "activation_forward bf16");
    Tensor dx = empty({m, 2 * f}, DType::kBF16), dxg = gpu(dx);
    activation_backward(dx, in, d, act);
    activation_backward(dxg, gpu(in), gpu(d), act);
    expect_close(as_f32(dxg), as_f32(dx), 1.0f / 128, "activation_backward bf16");
  }
  Tensor s = empty({m, f}, DType::kBF16), sg = gpu(s);
  swiglu_forward(s, in);
  swiglu_forward(sg, gpu(in));
  expect_close(as_f32(sg), as_f32(s), 1.0f / 128, "swiglu_forward bf16");
  Tensor ds = empty({m, 2 * f}, DType::kBF16), dsg = gpu(ds);
  swiglu_backward(ds, in, dh);
  swiglu_backward(dsg, gpu(in), gpu(dh));
  expect_close(as_f32(dsg), as_f32(ds), 1.0f / 128, "swiglu_backward bf16");
}

// The in-place updates on one (items, cols) tensor.
class CudaInPlace : public CudaOps {
 protected:
  void SetUp() override {
    CudaOps::SetUp();
    if (!IsSkipped()) tg = gpu(t);
  }
  const int64_t items = 300, cols = 24;
  Tensor t = f(ref::random_floats(items * cols, 34), {items, cols}), tg;
  Tensor x = f(ref::random_floats(items * cols, 32), {items, cols});
};

TEST_F(CudaInPlace, add_bias) {
  Tensor bias = f(ref::random_floats(cols, 35), {cols});
  add_bias(t, bias);
  add_bias(tg, gpu(bias));
  expect_close(tg, t, 1e-6f, "add_bias");
}

TEST_F(CudaInPlace, add_scaled) {
  add_scaled(t, x, -0.5f);
  add_scaled(tg, gpu(x), -0.5f);
  expect_close(tg, t, 1e-6f, "add_scaled");
}

TEST_F(CudaInPlace, add_row_scaled) {
  Tensor sc = f(ref::random_floats(items, 36), {items});
  add_row_scaled(t, x, sc);
  add_row_scaled(tg, gpu(x), gpu(sc));
  expect_close(tg, t, 1e-6f, "add_row_scaled");
}

TEST_F(CudaInPlace, add_row_bias) {
  Tensor bias = f(ref::random_floats(items, 37), {items});
  add_row_bias(t, bias);
  add_row_bias(tg, gpu(bias));
  EXPECT_EQ(tg.to_vector<float>(), t.to_vector<float>());
}

TEST_F(CudaInPlace, mul) {
  mul(t, t, x);
  mul(tg, tg, gpu(x));
  EXPECT_EQ(tg.to_vector<float>(), t.to_vector<float>());
}

TEST_F(CudaInPlace, scale_inplace) {
  scale_inplace(t, 0.375f);
  scale_inplace(tg, 0.375f);
  EXPECT_EQ(tg.to_vector<float>(), t.to_vector<float>());
}

TEST_F(CudaOps, causal_mask) {
  Tensor s = f(ref::random_floats(3 * 33 * 33, 55), {3, 33, 33});
  Tensor m = empty(s.shape()), mg = gpu(m);
  causal_mask(m, s);
  causal_mask(mg, gpu(s));
  EXPECT_EQ(mg.to_vector<float>(), m.to_vector<float>());
  Tensor s16 = to_bf16(s), m16 = empty(s.shape(), DType::kBF16), m16g = gpu(m16);
  causal_mask(m16, s16);
  causal_mask(m16g, gpu(s16));
  EXPECT_EQ(as_f32(m16g).to_vector<float>(), as_f32(m16).to_vector<float>());
}

// ---- combine ------------------------------------------------------------------------------------

// Dispatch positions for 300 items × 2 choices into 500 rows: distinct, some dropped.
class CudaCombine : public CudaOps {
 protected:
  void SetUp() override {
    CudaOps::SetUp();
    if (IsSkipped()) return;
    std::vector<int32_t> pos(items * k);
    for (int64_t j = 0; j < items * k; ++j)
      pos[j] = j % 7 == 0 ? -1 : static_cast<int32_t>((j * 37) % rows);
    std::vector<int32_t> seen(rows, 0);
    for (auto& q : pos)
      if (q >= 0 && seen[q]++) q = -1;
    p = i(pos, {items, k});
  }
  const int64_t items = 300, k = 2, cols = 24, rows = 500;
  Tensor y = f(ref::random_floats(rows * cols, 30), {rows, cols});
  Tensor w = f(ref::random_floats(items * k, 31), {items, k});
  Tensor p;
};

TEST_F(CudaCombine, combine_rows) {
  Tensor out = empty({items, cols}), outg = gpu(out);
  combine_rows(out, y, p, w);
  combine_rows(outg, gpu(y), gpu(p), gpu(w));
  expect_close(outg, out, 1e-6f, "combine_rows");
}

TEST_F(CudaCombine, combine_rows_backward) {
  Tensor dout = f(ref::random_floats(items * cols, 32), {items, cols});
  Tensor dy = empty({rows, cols}), dyg = gpu(dy);
  Tensor dw = empty({items, k}), dwg = gpu(dw);
  combine_rows_backward(dy, dw, dout, y, p, w);
  combine_rows_backward(dyg, dwg, gpu(dout), gpu(y), gpu(p), gpu(w));
  expect_close(dyg, dy, 1e-6f, "combine_rows_backward dy");
  EXPECT_EQ(dwg.to_vector<float>(), dw.to_vector<float>());  // same order: bitwise
}

// ---- routing ------------------------------------------------------------------------------------

// A top-k gate over 333 items × 16 experts, run on the CPU; the backward and sums tests copy its
// outputs so that each test checks its own op.
class CudaRouting : public CudaOps {
 protected:
  void gate(int k, bool renorm) {
    probs = empty({s, e});
    lse = empty({s});
    weight = empty({s, k});
    expert = empty({s, k}, DType::kI32);
    topk_gate_forward(probs, lse, weight, expert, logits, k, renorm);
  }
  const int64_t s = 333, e = 16;
  Tensor logits = f(ref::random_floats(s * e, 40, -4, 4), {s, e});
  Tensor probs, lse, weight, expert;
};

TEST_F(CudaRouting, topk_gate_forward) {
  for (int k : {1, 2, 4})
    for (bool renorm : {false, true}) {
      gate(k, renorm);
      Tensor pg = gpu(probs), lg = gpu(lse), wg = gpu(weight), eg = gpu(expert);
      topk_gate_forward(pg, lg, wg, eg, gpu(logits), k, renorm);
      EXPECT_EQ(eg.to_vector<int32_t>(), expert.to_vector<int32_t>()) << "k " << k;
      expect_close(pg, probs, 1e-6f, "topk_gate_forward probs");
      expect_close(lg, lse, 1e-6f, "topk_gate_forward lse");
      expect_close(wg, weight, 1e-6f, "topk_gate_forward weight");
    }
}

TEST_F(CudaRouting, topk_gate_sums) {
  gate(2, false);
  Tensor sums = empty({2 * e + 1}, DType::kF64), sg = gpu(sums);
  topk_gate_sums(sums, probs, lse, expert);
  topk_gate_sums(sg, gpu(probs), gpu(lse), gpu(expert));
  EXPECT_EQ(sg.to_vector<double>(), sums.to_vector<double>());  // same order: bitwise
}

TEST_F(CudaRouting, topk_gate_backward) {
  for (bool renorm : {false, true})
    for (bool balanced : {false, true}) {
      gate(2, renorm);
      Tensor dw = f(ref::random_floats(s * 2, 41), {s, 2});
      Tensor bal = balanced ? f(ref::random_floats(e, 42, 0, 0.5f), {e}) : Tensor();
      Tensor d = empty({s, e}), dg = gpu(d);
      topk_gate_backward(d, dw, probs, lse, expert, bal, 0.02, 1000, renorm);
      topk_gate_backward(dg, gpu(dw), gpu(probs), gpu(lse), gpu(expert),
                         balanced ? gpu(bal) : Tensor(), 0.02, 1000, renorm);
      expect_close(dg, d, 1e-5f, "topk_gate_backward");
    }
}

TEST_F(CudaRouting, choice_keys) {
  Tensor ex = i(ref::random_ints(s * 3, 43, -1, int32_t(e) - 1), {s, 3});
  Tensor keys = empty({s * 3}, DType::kI32), kg = gpu(keys);
  choice_keys(keys, ex);
  choice_keys(kg, gpu(ex));
  EXPECT_EQ(kg.to_vector<int32_t>(), keys.to_vector<int32_t>());
}

// The dispatch rows of a plan that keeps at most 20 choices per key, built the way the dispatch
// plan builds them (keys → counting sort → table), all on the CPU; then dispatch_rows on both.
TEST_F(CudaRouting, dispatch_rows) {
  const int k = 2;
  const int64_t keys = e * k, cap = 20;
  Tensor ex = i(ref::random_ints(s * k, 44, -1, int32_t(e) - 1), {s, k});
  Tensor key = empty({s * k}, DType::kI32), order = empty({s * k}, DType::kI32);
  Tensor counts = empty({keys}, DType::kI32);
  choice_keys(key, ex);
  counting_sort(order, counts, key, static_cast<int>(keys));
  const std::vector<int32_t> c = counts.to_vector<int32_t>();
  std::vector<int32_t> table(3 * keys, 0);
  int64_t sorted = 0, rows = 0;
  for (int64_t q = 0; q < keys; ++q) {
    table[q] = static_cast<int32_t>(sorted);
    table[keys + q] = static_cast<int32_t>(rows);
    table[2 * keys + q] = static_cast<int32_t>(std::min<int64_t>(c[q], cap));
    sorted += c[q];
    rows += table[2 * keys + q];
  }
  Tensor t = i(table, {3, keys});
  Tensor pos = empty({s, k}, DType::kI32), item = empty({rows}, DType::kI32);
  Tensor posg = gpu(pos), itemg = gpu(item);
  dispatch_rows(pos, item, order, t, sorted);
  dispatch_rows(posg, itemg, gpu(order), gpu(t), sorted);
  EXPECT_EQ(posg.to_vector<int32_t>(), pos.to_vector<int32_t>());
  EXPECT_EQ(itemg.to_vector<int32_t>(), item.to_vector<int32_t>());
}

TEST_F(CudaRouting, expert_major_permutation) {
  const int64_t ep = 4, e_local = 3;
  const std::vector<int32_t> rc = ref::random_ints(ep * e_local, 45, 0, 40);
  int64_t total = 0;
  for (int32_t v : rc) total += v;
  Tensor counts = i(rc, {ep, e_local});
  Tensor perm = empty({total}, DType::kI32), pg = gpu(perm);
  expert_major_permutation(perm, counts);
  expert_major_permutation(pg, gpu(counts));
  EXPECT_EQ(pg.to_vector<int32_t>(), perm.to_vector<int32_t>());
}

TEST_F(CudaRouting, hash_route) {
  Tensor ids = i(ref::random_ints(1000, 46, 0, 50000), {1000});
  Tensor ex = empty({1000}, DType::kI32), eg = gpu(ex);
  hash_route(ex, ids, 1234567, 12);
  hash_route(eg, gpu(ids), 1234567, 12);
  EXPECT_EQ(eg.to_vector<int32_t>(), ex.to_vector<int32_t>());
}

TEST_F(CudaRouting, l2_normalize_rows) {
  Tensor in = f(ref::random_floats(s * e, 47), {s, e});
  Tensor out = empty({s, e}), norms = empty({s});
  Tensor og = gpu(out), ng = gpu(norms);
  l2_normalize_rows(out, norms, in);
  l2_normalize_rows(og, ng, gpu(in));
  expect_close(og, out, 1e-6f, "l2_normalize_rows");
  expect_close(ng, norms, 1e-6f, "l2_normalize_rows norms");
  Tensor dout = f(ref::random_floats(s * e, 48), {s, e});
  Tensor din = empty({s, e}), dg = gpu(din);
  l2_normalize_rows_backward(din, dout, out, norms);
  l2_normalize_rows_backward(dg, gpu(dout), gpu(out), gpu(norms));
  expect_close(dg, din, 1e-5f, "l2_normalize_rows_backward");
}

TEST_F(CudaCombine, combine_rows_bf16_payload) {
  Tensor y16 = to_bf16(y), dout = f(ref::random_floats(items * cols, 33), {items, cols});
  Tensor out = empty({items, cols}), outg = gpu(out);
  combine_rows(out, y16, p, w);
  combine_rows(outg, gpu(y16), gpu(p), gpu(w));
  expect_close(outg, out, 1e-6f, "combine_rows bf16");
  Tensor dy = empty({rows, cols}, DType::kBF16), dyg = gpu(dy);
  Tensor dw = empty({items, k}), dwg = gpu(dw);
  combine_rows_backward(dy, dw, dout, y16, p, w);
  combine_rows_backward(dyg, dwg, gpu(dout), gpu(y16), gpu(p), gpu(w));
  expect_close(as_f32(dyg), as_f32(dy), 1.0f / 128, "combine_rows_backward bf16 dy");
  expect_close(dwg, dw, 1e-5f, "combine_rows_backward bf16 dw");
}

// ---- norm ---------------------------------------------------------------------------------------

class CudaNorm : public CudaOps {
 protected:
  const int64_t rows = 300, n = 96;
  Tensor x = f(ref::random_floats(rows * n, 40, -2, 2), {rows, n});
  Tensor g = f(ref::random_floats(n, 41, 0.5f, 1.5f), {n}), b = f(ref::random_floats(n, 42), {n});
  Tensor dy = f(ref::random_floats(rows * n, 43), {rows, n});
  Tensor out = empty({rows, n}), m = empty({rows}), r = empty({rows});
};

TEST_F(CudaNorm, layernorm_forward) {
  Tensor outg = gpu(out), mg = gpu(m), rg = gpu(r);
  layernorm_forward(out, m, r, x, g, b, 1e-5f);
  layernorm_forward(outg, mg, rg, gpu(x), gpu(g), gpu(b), 1e-5f);
  expect_close(outg, out, 1e-5f, "layernorm_forward");
  expect_close(rg, r, 1e-5f, "layernorm_forward rstd");
}

TEST_F(CudaNorm, layernorm_backward) {
  layernorm_forward(out, m, r, x, g, b, 1e-5f);
  Tensor dx = empty({rows, n}), dxg = gpu(dx);
  Tensor dg = Tensor::zeros({n}, DType::kF32), dgg = gpu(dg), db = Tensor::zeros({n}, DType::kF32),
         dbg = gpu(db);
  layernorm_backward(dx, dg, db, dy, x, m, r, g);
  layernorm_backward(dxg, dgg, dbg, gpu(dy), gpu(x), gpu(m), gpu(r), gpu(g));
  expect_close(dxg, dx, 1e-4f, "layernorm_backward dx");
  expect_close(dgg, dg, 1e-4f, "layernorm_backward dgamma");
  expect_close(dbg, db, 1e-5f, "layernorm_backward dbeta");
}

TEST_F(CudaNorm, rmsnorm_forward) {
  Tensor outg = gpu(out), rg = gpu(r);
  rmsnorm_forward(out, r, x, g, 1e-6f);
  rmsnorm_forward(outg, rg, gpu(x), gpu(g), 1e-6f);
  expect_close(outg, out, 1e-5f, "rmsnorm_forward");
}

TEST_F(CudaNorm, rmsnorm_backward) {
  rmsnorm_forward(out, r, x, g, 1e-6f);
  Tensor dx = empty({rows, n}), dxg = gpu(dx);
  Tensor dg = Tensor::zeros({n}, DType::kF32), dgg = gpu(dg);
  rmsnorm_backward(dx, dg, dy, x, r, g);
  rmsnorm_backward(dxg, dgg, gpu(dy), gpu(x), gpu(r), gpu(g));
  expect_close(dxg, dx, 1e-4f, "rmsnorm_backward");
  expect_close(dgg, dg, 1e-4f, "rmsnorm_backward dgamma");
}

// ---- loss ---------------------------------------------------------------------------------------

class CudaLoss : public CudaOps {
 protected:
  const int64_t rows = 300, vocab = 50;
  Tensor logits = f(ref::random_floats(rows * vocab, 44, -3, 3), {rows, vocab});
  Tensor t = i(ref::random_ints(rows, 45, -1, vocab - 1), {rows});  // −1: ignored
};

TEST_F(CudaLoss, cross_entropy_forward) {
  Tensor ls = empty({rows}), lsg = gpu(ls);
  cross_entropy_forward(ls, logits, t);
  cross_entropy_forward(lsg, gpu(logits), gpu(t));
  expect_close(lsg, ls, 1e-5f, "cross_entropy_forward");
}

TEST_F(CudaLoss, cross_entropy_backward) {
  Tensor dloss = f(ref::random_floats(rows, 46), {rows});
  Tensor dl = empty({rows, vocab}), dlg = gpu(dl);
  cross_entropy_backward(dl, logits, t, dloss);
  cross_entropy_backward(dlg, gpu(logits), gpu(t), gpu(dloss));
  expect_close(dlg, dl, 1e-5f, "cross_entropy_backward");
}

TEST_F(CudaOps, scale_by_inverse) {
  const int64_t n = 100003;
  Tensor x = f(ref::random_floats(n, 53), {n}), dy = f(ref::random_floats(n, 54), {n});
  Tensor s = Tensor::from_vector<float>({0.3f}, {1});
  Tensor y = Tensor::empty({n}, DType::kF32), yg = gpu(y);
  scale_by_inverse(y, x, s);
  scale_by_inverse(yg, gpu(x), gpu(s));
  expect_close(yg, y, 1e-6f, "scale_by_inverse");
  Tensor dx = Tensor::empty({n}, DType::kF32), dxg = gpu(dx);
  Tensor ds = Tensor::zeros({1}, DType::kF32), dsg = gpu(ds);
  scale_by_inverse_backward(dx, ds, dy, x, s);
  scale_by_inverse_backward(dxg, dsg, gpu(dy), gpu(x), gpu(s));
  expect_close(dxg, dx, 1e-6f, "scale_by_inverse_backward dx");
  expect_close(dsg, ds, 1e-5f, "scale_by_inverse_backward ds");
}

TEST_F(CudaOps, rope) {
  const int64_t rows = 6, t = 9, dh = 8;
  Tensor x = f(ref::random_floats(rows * t * dh, 42), {rows, t, dh});
  const Tensor table = rope_table(t, dh, 10000.0, Device::cpu());
  for (bool inverse : {false, true}) {
    Tensor y = Tensor::empty({rows, t, dh}, DType::kF32), yg = gpu(y);
    rope(y, x, table, inverse);
    rope(yg, gpu(x), gpu(table), inverse);
    expect_close(yg, y, 1e-6f, inverse ? "rope inverse" : "rope");
  }
}

TEST_F(CudaOps, sine) {
  const int64_t r = 300, c = 17;
  Tensor x = f(ref::random_floats(r * c, 63), {r, c}),
         dy = f(ref::random_floats(r * c, 64), {r, c});
  Tensor freq = f(ref::random_floats(c, 65), {c});
  Tensor y = Tensor::empty({r, c}, DType::kF32), yg = gpu(y);
  sine_forward(y, x, freq);
  sine_forward(yg, gpu(x), gpu(freq));
  expect_close(yg, y, 1e-6f, "sine_forward");
  Tensor dx = Tensor::empty({r, c}, DType::kF32), dxg = gpu(dx);
  Tensor dfx = Tensor::empty({r, c}, DType::kF32), dfxg = gpu(dfx);
  sine_backward(dx, dfx, x, dy, freq);
  sine_backward(dxg, dfxg, gpu(x), gpu(dy), gpu(freq));
  expect_close(dxg, dx, 1e-6f, "sine_backward dx");
  expect_close(dfxg, dfx, 1e-6f, "sine_backward dfx");
}

// ---- optimizer ----------------------------------------------------------------------------------

TEST_F(CudaOps, adamw_step) {
  Tensor p = f(ref::random_floats(1000, 48), {1000}), pg = gpu(p);
  Tensor mo = Tensor::zeros({1000}, DType::kF32), mog = gpu(mo),
         vo = Tensor::zeros({1000}, DType::kF32), vog = gpu(vo);
  Tensor gr = f(ref::random_floats(1000, 49), {1000});
  Tensor decay = Tensor::from_vector<int64_t>({10, 300, 512, 999}, {2, 2});
  Tensor sq = Tensor::from_vector<double>({30.0, 20.0}, {2});  // norm √50 > clip: clipped
  AdamWHyper h;
  h.lr = 1e-2f;
  h.weight_decay = 0.1f;
  h.grad_clip = 1.0f;
  for (h.t = 1; h.t <= 3; ++h.t) {
    adamw_step(p, mo, vo, gr, decay, sq, h);
    adamw_step(pg, mog, vog, gpu(gr), gpu(decay), gpu(sq), h);
  }
  expect_close(pg, p, 1e-5f, "adamw_step");
  expect_close(vog, vo, 1e-5f, "adamw_step (second moment)");
  // A non-finite norm skips the update on the device: nothing changes.
  const std::vector<float> before = pg.to_vector<float>();
  adamw_step(pg, mog, vog, gpu(gr), gpu(decay),
             gpu(Tensor::from_vector<double>({std::nan(""), 1.0}, {2})), h);
  EXPECT_EQ(pg.to_vector<float>(), before);
}

TEST_F(CudaOps, sum_squares) {
  Tensor gr = f(ref::random_floats(100000, 49), {100000});
  Tensor out = Tensor::zeros({1}, DType::kF64), outg = gpu(out);
  sum_squares(out, gr);
  sum_squares(outg, gpu(gr));
  const double want = out.to_vector<double>()[0];
  EXPECT_NEAR(outg.to_vector<double>()[0], want, 1e-9 * want);
}

// ---- conv ---------------------------------------------------------------------------------------

class CudaConv : public CudaOps {
 protected:
  const int64_t rows = 12, c = 4, t = 64;
  Tensor x = f(ref::random_floats(rows * t, 70), {rows, t});
  Tensor dy = f(ref::random_floats(rows * t, 72), {rows, t});
  Tensor k3 = f(ref::random_floats(c * 3, 73), {c, 3});
};

TEST_F(CudaConv, depthwise_causal_conv_forward) {
  Tensor y = empty({rows, t}), yg = gpu(y);
  depthwise_causal_conv_forward(y, x, k3);
  depthwise_causal_conv_forward(yg, gpu(x), gpu(k3));
  expect_close(yg, y, 1e-5f, "depthwise_causal_conv_forward");
}

TEST_F(CudaConv, depthwise_causal_conv_backward) {
  Tensor dx = empty({rows, t}), dxg = gpu(dx);
  Tensor dk3 = Tensor::zeros({c, 3}, DType::kF32), dk3g = gpu(dk3);
  depthwise_causal_conv_backward(dx, dk3, dy, x, k3);
  depthwise_causal_conv_backward(dxg, dk3g, gpu(dy), gpu(x), gpu(k3));
  expect_close(dxg, dx, 1e-5f, "depthwise_causal_conv_backward dx");
  EXPECT_EQ(dk3g.to_vector<float>(), dk3.to_vector<float>());  // same order: bitwise
}

TEST_F(CudaConv, complex_mul_rows) {
  Tensor a_re = x, a_im = dy;
  Tensor b_re = f(ref::random_floats(c * t, 74), {c, t}),
         b_im = f(ref::random_floats(c * t, 75), {c, t});
  for (bool conj : {false, true}) {
    Tensor o_re = empty({rows, t}), o_im = empty({rows, t}), og_re = gpu(o_re), og_im = gpu(o_im);
    complex_mul_rows(o_re, o_im, a_re, a_im, b_re, b_im, conj);
    complex_mul_rows(og_re, og_im, gpu(a_re), gpu(a_im), gpu(b_re), gpu(b_im), conj);
    expect_close(og_re, o_re, 1e-6f, "complex_mul_rows re");
    expect_close(og_im, o_im, 1e-6f, "complex_mul_rows im");
  }
}

// ---- composite products (runtime/ops/monarch.h, long_conv.h)
// -------------------------------------

TEST_F(CudaOps, MonarchAndBlockDiagonal) {
  const int64_t b1 = 8, b2 = 16, n = b1 * b2, rows = 33;
  Tensor x = f(ref::random_floats(rows * n, 60), {rows, n}),
         dy = f(ref::random_floats(rows * n, 61), {rows, n});
  Tensor l = f(ref::random_floats(b2 * b1 * b1, 62), {b2, b1, b1});
  Tensor r = f(ref::random_floats(b1 * b2 * b2, 63), {b1, b2, b2});
  Tensor y = empty({rows, n}), yg = gpu(y);
  monarch_forward(y, x, l, r);
  monarch_forward(yg, gpu(x), gpu(l), gpu(r));
  expect_close(yg, y, 1e-4f, "monarch_forward");
  Tensor dx = empty({rows, n}), dxg = gpu(dx);
  Tensor dl = Tensor::zeros(l.shape(), DType::kF32), dlg = gpu(dl),
         dr = Tensor::zeros(r.shape(), DType::kF32), drg = gpu(dr);
  monarch_backward(dx, dl, dr, dy, x, l, r);
  monarch_backward(dxg, dlg, drg, gpu(dy), gpu(x), gpu(l), gpu(r));
  expect_close(dxg, dx, 1e-4f, "monarch_backward dx");
  expect_close(dlg, dl, 1e-4f, "monarch_backward dl");
  expect_close(drg, dr, 1e-4f, "monarch_backward dr");
  Tensor w = f(ref::random_floats(4 * 32 * 32, 64), {4, 32, 32});
  Tensor bx = f(ref::random_floats(rows * 128, 65), {rows, 128});
  Tensor by = empty({rows, 128}), byg = gpu(by);
  block_diag_forward(by, bx, w);
  block_diag_forward(byg, gpu(bx), gpu(w));
  expect_close(byg, by, 1e-4f, "block_diag_forward");
}

TEST_F(CudaConv, LongConvolution) {
  Tensor k = f(ref::random_floats(c * t, 71), {c, t});
  Tensor y = empty({rows, t}), yg = gpu(y);
  long_conv_forward(y, x, k);
  long_conv_forward(yg, gpu(x), gpu(k));
  expect_close(yg, y, 1e-4f, "long_conv_forward");
  Tensor dx = empty({rows, t}), dxg = gpu(dx);
  Tensor dk = Tensor::zeros({c, t}, DType::kF32), dkg = gpu(dk);
  long_conv_backward(dx, dk, dy, x, k);
  long_conv_backward(dxg, dkg, gpu(dy), gpu(x), gpu(k));
  expect_close(dxg, dx, 1e-4f, "long_conv_backward dx");
  expect_close(dkg, dk, 1e-4f, "long_conv_backward dk");
}

}  // namespace
}  // namespace sy
