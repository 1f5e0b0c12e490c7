// Every CUDA op against its CPU twin on the same inputs. Skipped only where no GPU is visible (the
// CUDA code is still compiled and linked in every build that found the toolkit).
#include <gtest/gtest.h>

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
};

void expect_close(const Tensor& got_gpu, const Tensor& want_cpu, float tol, const char* what) {
  auto g = got_gpu.to_vector<float>(), w = want_cpu.to_vector<float>();
  ASSERT_EQ(g.size(), w.size()) << what;
  for (size_t k = 0; k < g.size(); ++k)
    ASSERT_LE(std::fabs(g[k] - w[k]), tol * (1 + std::fabs(w[k])))
        << what << " at " << k << ": " << g[k] << " vs " << w[k];
}

TEST_F(CudaOps, Gemm) {
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

TEST_F(CudaOps, GroupedGemmAndWeightGrad) {
  std::vector<int64_t> off = {0, 0, 5, 5, 6, 40, 40};
  int64_t g = 6, m = 40, k = 24, n = 16;
  for (bool tb : {false, true}) {
    Tensor a = f(ref::random_floats(m * k, 4), {m, k});
    Tensor b = f(ref::random_floats(g * k * n, 5), tb ? Shape{g, n, k} : Shape{g, k, n});
    Tensor c = f(ref::random_floats(m * n, 6), {m, n});
    Tensor cg = gpu(c);
    grouped_gemm(c, a, b, off, tb, 1.0f, 0.5f);
    grouped_gemm(cg, gpu(a), gpu(b), off, tb, 1.0f, 0.5f);
    expect_close(cg, c, 1e-4f, "grouped_gemm");
  }
  Tensor a = f(ref::random_floats(m * k, 7), {m, k});
  Tensor d = f(ref::random_floats(m * n, 8), {m, n});
  Tensor w = f(ref::random_floats(g * k * n, 9), {g, k, n});
  Tensor wg = gpu(w);
  grouped_gemm_weight_grad(w, a, d, off, 1.0f, 0.25f);
  grouped_gemm_weight_grad(wg, gpu(a), gpu(d), off, 1.0f, 0.25f);
  expect_close(wg, w, 1e-4f, "grouped_gemm_weight_grad");
}

TEST_F(CudaOps, GatherScatterExact) {
  for (int64_t cols : {1, 3, 4, 33}) {
    Tensor in = f(ref::random_floats(50 * cols, 10), {50, cols});
    Tensor idx = i(ref::random_ints(70, 11, -1, 49), {70});
    Tensor out = Tensor::empty({70, cols}, DType::kF32), outg = gpu(out);
    gather_rows(out, in, idx);
    gather_rows(outg, gpu(in), gpu(idx));
    EXPECT_EQ(outg.to_vector<float>(), out.to_vector<float>()) << cols;
    // Scatter through a permutation with holes.
    std::vector<int32_t> perm(50);
    for (int r = 0; r < 50; ++r) perm[r] = r % 7 == 3 ? -1 : (r * 17) % 50;
    Tensor p = i(perm, {50});
    Tensor back = Tensor::zeros({50, cols}, DType::kF32), backg = gpu(back);
    scatter_rows(back, in, p);
    scatter_rows(backg, gpu(in), gpu(p));
    EXPECT_EQ(backg.to_vector<float>(), back.to_vector<float>()) << cols;
  }
}

TEST_F(CudaOps, RowwiseOps) {
  for (auto [rows, cols] : {std::pair<int64_t, int64_t>{0, 8}, {1, 1}, {333, 17}, {64, 1000}}) {
    Tensor x = f(ref::random_floats(rows * cols, 12, -8, 8), {rows, cols});
    Tensor dy = f(ref::random_floats(rows * cols, 13), {rows, cols});
    Tensor y = Tensor::empty({rows, cols}, DType::kF32), yg = gpu(y);
    softmax_forward(y, x);
    softmax_forward(yg, gpu(x));
    expect_close(yg, y, 1e-5f, "softmax");
    Tensor dx = Tensor::empty({rows, cols}, DType::kF32), dxg = gpu(dx);
    softmax_backward(dx, y, dy);
    softmax_backward(dxg, yg, gpu(dy));
    expect_close(dxg, dx, 1e-5f, "softmax_backward");
    for (Activation act : {Activation::kGelu, Activation::kSilu}) {
      activation_forward(y, x, act);
      activation_forward(yg, gpu(x), act);
      expect_close(yg, y, 1e-5f, "activation_forward");
      activation_backward(dx, x, dy, act);
      activation_backward(dxg, gpu(x), gpu(dy), act);
      expect_close(dxg, dx, 1e-5f, "activation_backward");
    }
    // Reductions run in the CPU's order: bitwise equal.
    for (ReduceOp op : {ReduceOp::kSum, ReduceOp::kMax}) {
      Tensor r = Tensor::empty({rows}, DType::kF32), rg = gpu(r);
      reduce_rows(r, x, op);
      reduce_rows(rg, gpu(x), op);
      EXPECT_EQ(rg.to_vector<float>(), r.to_vector<float>());
      Tensor c = Tensor::empty({cols}, DType::kF32), cg = gpu(c);
      reduce_cols(c, x, op);
      reduce_cols(cg, gpu(x), op);
      EXPECT_EQ(cg.to_vector<float>(), c.to_vector<float>());
    }
    if (cols >= 4) {
      Tensor v = Tensor::empty({rows, 4}, DType::kF32), vg = gpu(v);
      Tensor ix = Tensor::empty({rows, 4}, DType::kI32), ixg = gpu(ix);
      topk(v, ix, x, 4);
      topk(vg, ixg, gpu(x), 4);
      EXPECT_EQ(ixg.to_vector<int32_t>(), ix.to_vector<int32_t>());
      EXPECT_EQ(vg.to_vector<float>(), v.to_vector<float>());
    }
  }
}

TEST_F(CudaOps, CountingSortIsTheSamePermutation) {
  for (auto [n, keys] :
       {std::pair<int64_t, int>{0, 4}, {1, 1}, {1000, 8}, {100000, 64}, {300000, 1024}, {10, 0}}) {
    Tensor k = i(ref::random_ints(n, 14, -1, keys), {n});
    Tensor o = Tensor::empty({n}, DType::kI32), og = gpu(o);
    Tensor c = Tensor::empty({keys}, DType::kI32), cg = gpu(c);
    counting_sort(o, c, k, keys);
    counting_sort(og, cg, gpu(k), keys);
    EXPECT_EQ(og.to_vector<int32_t>(), o.to_vector<int32_t>()) << n << " items, " << keys;
    EXPECT_EQ(cg.to_vector<int32_t>(), c.to_vector<int32_t>());
  }
}

TEST_F(CudaOps, CastAndFill) {
  Tensor x = f(ref::random_floats(1001, 15, -100, 100), {1001});
  Tensor h = Tensor::empty({1001}, DType::kBF16), hg = gpu(h);
  cast(h, x);
  cast(hg, gpu(x));
  Tensor back = Tensor::empty({1001}, DType::kF32), backg = gpu(back);
  cast(back, h);
  cast(backg, hg);
  EXPECT_EQ(backg.to_vector<float>(), back.to_vector<float>());
  Tensor z = Tensor::full({7}, DType::kI64, 42, Device::cuda());
  for (int64_t v : z.to_vector<int64_t>()) EXPECT_EQ(v, 42);
}

TEST_F(CudaOps, CombineSwiGluAndElementwise) {
  const int64_t items = 300, k = 2, cols = 24, rows = 500;
  Tensor y = f(ref::random_floats(rows * cols, 30), {rows, cols});
  // Distinct positions for the kept choices, some dropped.
  std::vector<int32_t> pos(items * k);
  for (int64_t i = 0; i < items * k; ++i)
    pos[i] = i % 7 == 0 ? -1 : static_cast<int32_t>((i * 37) % rows);
  std::vector<int32_t> seen(rows, 0);
  for (auto& p : pos)
    if (p >= 0 && seen[p]++) p = -1;
  Tensor p = i(pos, {items, k}), w = f(ref::random_floats(items * k, 31), {items, k});
  Tensor out = Tensor::empty({items, cols}, DType::kF32), outg = gpu(out);
  combine_rows(out, y, p, w);
  combine_rows(outg, gpu(y), gpu(p), gpu(w));
  expect_close(outg, out, 1e-6f, "combine_rows");
  Tensor dout = f(ref::random_floats(items * cols, 32), {items, cols});
  Tensor dy = Tensor::empty({rows, cols}, DType::kF32), dyg = gpu(dy);
  Tensor dw = Tensor::empty({items, k}, DType::kF32), dwg = gpu(dw);
  combine_rows_backward(dy, dw, dout, y, p, w);
  combine_rows_backward(dyg, dwg, gpu(dout), gpu(y), gpu(p), gpu(w));
  expect_close(dyg, dy, 1e-6f, "combine_rows_backward dy");
  EXPECT_EQ(dwg.to_vector<float>(), dw.to_vector<float>());  // same order: bitwise

  Tensor in = f(ref::random_floats(items * 2 * cols, 33, -4, 4), {items, 2 * cols});
  Tensor s = Tensor::empty({items, cols}, DType::kF32), sg = gpu(s);
  swiglu_forward(s, in);
  swiglu_forward(sg, gpu(in));
  expect_close(sg, s, 1e-5f, "swiglu_forward");
  Tensor din = Tensor::empty({items, 2 * cols}, DType::kF32), ding = gpu(din);
  swiglu_backward(din, in, dout);
  swiglu_backward(ding, gpu(in), gpu(dout));
  expect_close(ding, din, 1e-5f, "swiglu_backward");

  Tensor t = f(ref::random_floats(items * cols, 34), {items, cols}), tg = gpu(t);
  Tensor bias = f(ref::random_floats(cols, 35), {cols});
  Tensor sc = f(ref::random_floats(items, 36), {items});
  add_bias(t, bias);
  add_bias(tg, gpu(bias));
  add_scaled(t, dout, -0.5f);
  add_scaled(tg, gpu(dout), -0.5f);
  add_row_scaled(t, dout, sc);
  add_row_scaled(tg, gpu(dout), gpu(sc));
  expect_close(tg, t, 1e-6f, "bias and scaled adds");
  Tensor d = Tensor::empty({items}, DType::kF32), dg = gpu(d);
  row_dot(d, t, dout);
  row_dot(dg, tg, gpu(dout));
  expect_close(dg, d, 1e-5f, "row_dot");
}

TEST_F(CudaOps, NormsCrossEntropyEmbeddingAndAdamW) {
  const int64_t rows = 300, n = 96, vocab = 50;
  Tensor x = f(ref::random_floats(rows * n, 40, -2, 2), {rows, n});
  Tensor g = f(ref::random_floats(n, 41, 0.5f, 1.5f), {n}), b = f(ref::random_floats(n, 42), {n});
  Tensor dy = f(ref::random_floats(rows * n, 43), {rows, n});
  Tensor out = Tensor::empty({rows, n}, DType::kF32), outg = gpu(out);
  Tensor m = Tensor::empty({rows}, DType::kF32), mg = gpu(m),
         r = Tensor::empty({rows}, DType::kF32), rg = gpu(r);
  layernorm_forward(out, m, r, x, g, b, 1e-5f);
  layernorm_forward(outg, mg, rg, gpu(x), gpu(g), gpu(b), 1e-5f);
  expect_close(outg, out, 1e-5f, "layernorm_forward");
  Tensor dx = Tensor::empty({rows, n}, DType::kF32), dxg = gpu(dx);
  Tensor dg = Tensor::zeros({n}, DType::kF32), dgg = gpu(dg), db = Tensor::zeros({n}, DType::kF32),
         dbg = gpu(db);
  layernorm_backward(dx, dg, db, dy, x, m, r, g);
  layernorm_backward(dxg, dgg, dbg, gpu(dy), gpu(x), mg, rg, gpu(g));
  expect_close(dxg, dx, 1e-4f, "layernorm_backward dx");
  expect_close(dgg, dg, 1e-4f, "layernorm_backward dgamma");
  expect_close(dbg, db, 1e-5f, "layernorm_backward dbeta");
  rmsnorm_forward(out, r, x, g, 1e-6f);
  rmsnorm_forward(outg, rg, gpu(x), gpu(g), 1e-6f);
  expect_close(outg, out, 1e-5f, "rmsnorm_forward");
  rmsnorm_backward(dx, dg, dy, x, r, g);
  rmsnorm_backward(dxg, dgg, gpu(dy), gpu(x), rg, gpu(g));
  expect_close(dxg, dx, 1e-4f, "rmsnorm_backward");
  expect_close(dgg, dg, 1e-4f, "rmsnorm_backward dgamma");

  Tensor logits = f(ref::random_floats(rows * vocab, 44, -3, 3), {rows, vocab});
  auto tv = ref::random_ints(rows, 45, -1, vocab - 1);
  Tensor t = i(tv, {rows}), dloss = f(ref::random_floats(rows, 46), {rows});
  Tensor ls = Tensor::empty({rows}, DType::kF32), lsg = gpu(ls);
  cross_entropy_forward(ls, logits, t);
  cross_entropy_forward(lsg, gpu(logits), gpu(t));
  expect_close(lsg, ls, 1e-5f, "cross_entropy_forward");
  Tensor dl = Tensor::empty({rows, vocab}, DType::kF32), dlg = gpu(dl);
  cross_entropy_backward(dl, logits, t, dloss);
  cross_entropy_backward(dlg, gpu(logits), gpu(t), gpu(dloss));
  expect_close(dlg, dl, 1e-5f, "cross_entropy_backward");

  Tensor ids = i(ref::random_ints(rows, 47, 0, vocab - 1), {rows});
  Tensor table = Tensor::zeros({vocab, n}, DType::kF32), tableg = gpu(table);
  embedding_backward(table, dy, ids);
  embedding_backward(tableg, gpu(dy), gpu(ids));
  EXPECT_EQ(tableg.to_vector<float>(), table.to_vector<float>());  // same order: bitwise

  Tensor p = f(ref::random_floats(1000, 48), {1000}), pg = gpu(p);
  Tensor mo = Tensor::zeros({1000}, DType::kF32), mog = gpu(mo),
         vo = Tensor::zeros({1000}, DType::kF32), vog = gpu(vo);
  Tensor gr = f(ref::random_floats(1000, 49), {1000});
  for (int step = 1; step <= 3; ++step) {
    adamw_update(p, mo, vo, gr, 1e-2f, 0.9f, 0.95f, 1e-8f, 0.1f, step);
    adamw_update(pg, mog, vog, gpu(gr), 1e-2f, 0.9f, 0.95f, 1e-8f, 0.1f, step);
  }
  expect_close(pg, p, 1e-5f, "adamw_update");
  EXPECT_NEAR(sum_squares(gpu(gr)), sum_squares(gr), 1e-9 * sum_squares(gr));
}

TEST_F(CudaOps, PermuteBatchedGemmCausalSoftmax) {
  Tensor x = f(ref::random_floats(2 * 3 * 4 * 5, 50), {2, 3, 4, 5});
  Tensor o = Tensor::empty({4, 2, 5, 3}, DType::kF32), og = gpu(o);
  permute(o, x, {2, 0, 3, 1});
  permute(og, gpu(x), {2, 0, 3, 1});
  EXPECT_EQ(og.to_vector<float>(), o.to_vector<float>());
  for (bool ta : {false, true})
    for (bool tb : {false, true}) {
      Tensor a = f(ref::random_floats(7 * 8 * 9, 51), ta ? Shape{7, 9, 8} : Shape{7, 8, 9});
      Tensor b = f(ref::random_floats(1 * 9 * 10, 52), tb ? Shape{1, 10, 9} : Shape{1, 9, 10});
      Tensor c = f(ref::random_floats(7 * 8 * 10, 53), {7, 8, 10}), cg = gpu(c);
      batched_gemm(c, a, b, ta, tb, 1.0f, 0.5f);
      batched_gemm(cg, gpu(a), gpu(b), ta, tb, 1.0f, 0.5f);
      expect_close(cg, c, 1e-4f, "batched_gemm");
    }
  Tensor s = f(ref::random_floats(3 * 33 * 33, 54, -4, 4), {3, 33, 33});
  Tensor p = Tensor::empty(s.shape(), DType::kF32), pg = gpu(p);
  causal_softmax_forward(p, s);
  causal_softmax_forward(pg, gpu(s));
  expect_close(pg, p, 1e-6f, "causal_softmax_forward");
}

TEST_F(CudaOps, MonarchAndBlockDiagonal) {
  const int64_t b1 = 8, b2 = 16, n = b1 * b2, rows = 33;
  Tensor x = f(ref::random_floats(rows * n, 60), {rows, n}),
         dy = f(ref::random_floats(rows * n, 61), {rows, n});
  Tensor l = f(ref::random_floats(b2 * b1 * b1, 62), {b2, b1, b1});
  Tensor r = f(ref::random_floats(b1 * b2 * b2, 63), {b1, b2, b2});
  Tensor y = Tensor::empty({rows, n}, DType::kF32), yg = gpu(y);
  monarch_forward(y, x, l, r);
  monarch_forward(yg, gpu(x), gpu(l), gpu(r));
  expect_close(yg, y, 1e-4f, "monarch_forward");
  Tensor dx = Tensor::empty({rows, n}, DType::kF32), dxg = gpu(dx);
  Tensor dl = Tensor::zeros(l.shape(), DType::kF32), dlg = gpu(dl),
         dr = Tensor::zeros(r.shape(), DType::kF32), drg = gpu(dr);
  monarch_backward(dx, dl, dr, dy, x, l, r);
  monarch_backward(dxg, dlg, drg, gpu(dy), gpu(x), gpu(l), gpu(r));
  expect_close(dxg, dx, 1e-4f, "monarch_backward dx");
  expect_close(dlg, dl, 1e-4f, "monarch_backward dl");
  expect_close(drg, dr, 1e-4f, "monarch_backward dr");
  Tensor w = f(ref::random_floats(4 * 32 * 32, 64), {4, 32, 32});
  Tensor bx = f(ref::random_floats(rows * 128, 65), {rows, 128});
  Tensor by = Tensor::empty({rows, 128}, DType::kF32), byg = gpu(by);
  block_diag_forward(by, bx, w);
  block_diag_forward(byg, gpu(bx), gpu(w));
  expect_close(byg, by, 1e-4f, "block_diag_forward");
}

TEST_F(CudaOps, LongConvolution) {
  const int64_t rows = 12, c = 4, t = 64;
  Tensor x = f(ref::random_floats(rows * t, 70), {rows, t}),
         k = f(ref::random_floats(c * t, 71), {c, t});
  Tensor dy = f(ref::random_floats(rows * t, 72), {rows, t});
  Tensor y = Tensor::empty({rows, t}, DType::kF32), yg = gpu(y);
  long_conv_forward(y, x, k);
  long_conv_forward(yg, gpu(x), gpu(k));
  expect_close(yg, y, 1e-4f, "long_conv_forward");
  Tensor dx = Tensor::empty({rows, t}, DType::kF32), dxg = gpu(dx);
  Tensor dk = Tensor::zeros({c, t}, DType::kF32), dkg = gpu(dk);
  long_conv_backward(dx, dk, dy, x, k);
  long_conv_backward(dxg, dkg, gpu(dy), gpu(x), gpu(k));
  expect_close(dxg, dx, 1e-4f, "long_conv_backward dx");
  expect_close(dkg, dk, 1e-4f, "long_conv_backward dk");
  Tensor k3 = f(ref::random_floats(c * 3, 73), {c, 3});
  depthwise_causal_conv_forward(y, x, k3);
  depthwise_causal_conv_forward(yg, gpu(x), gpu(k3));
  expect_close(yg, y, 1e-5f, "depthwise_causal_conv_forward");
  Tensor dk3 = Tensor::zeros({c, 3}, DType::kF32), dk3g = gpu(dk3);
  depthwise_causal_conv_backward(dx, dk3, dy, x, k3);
  depthwise_causal_conv_backward(dxg, dk3g, gpu(dy), gpu(x), gpu(k3));
  expect_close(dxg, dx, 1e-5f, "depthwise_causal_conv_backward dx");
  EXPECT_EQ(dk3g.to_vector<float>(), dk3.to_vector<float>());  // same order: bitwise
}

}  // namespace
}  // namespace sy
