#include "models/layers/m2_mixers.h"

#include <cmath>

#include "runtime/core/random.h"
#include "runtime/layers/mixed_precision.h"
#include "runtime/ops/long_conv.h"
#include "runtime/ops/monarch.h"
#include "runtime/ops/ops.h"

namespace sy {

namespace {

Tensor empty(const Shape& s, Device d) {
  return Tensor::empty(s, DType::kF32, d);
}

// Runs op(out) with out in dtype `type`: on `out` itself when it has that dtype, else on a
// scratch tensor whose result is then cast into `out`.
template <typename Op>
void run_in(const Tensor& out, DType type, Op&& op) {
  if (out.dtype() == type) {
    op(out);
    return;
  }
  Tensor tmp = Tensor::empty(out.shape(), type, out.device());
  op(tmp);
  cast(out, tmp);
}

// (B·T, C) token-major ↔ (B·C, T) channel-major.
Tensor to_channels(const Tensor& x, int64_t b, int64_t t, int64_t c) {
  Tensor out = empty({b, c, t}, x.device());
  permute(out, x.reshape({b, t, c}), {0, 2, 1});
  return out.reshape({b * c, t});
}
void from_channels(const Tensor& out, const Tensor& x, int64_t b, int64_t t, int64_t c) {
  permute(out.reshape({b, t, c}), x.reshape({b, c, t}), {0, 2, 1});
}

}  // namespace

M2SequenceMixer::M2SequenceMixer(const std::string& name, int64_t dim, int64_t seq_len,
                                 uint64_t seed, Device device, bool bidirectional)
    : d_(dim),
      t_(seq_len),
      in_(name + ".in", dim, 3 * dim, true, seed, device),
      out_(name + ".out", dim, dim, true, seed, device),
      short_k_(name + ".short_k", {3 * dim, 3}, device),
      long_k_(name + ".long_k", {dim, bidirectional ? 2 * seq_len : seq_len}, device) {
  SY_CHECK(seq_len >= 3, "M2 mixer '" << name << "': T must be at least 3");
  short_k_.keep_fp32 = long_k_.keep_fp32 = true;  // the convolutions run in fp32
  // Short kernel starts as the identity tap (plus noise); long kernel as a small decaying filter.
  std::vector<float> sk(static_cast<size_t>(3 * dim * 3));
  for (int64_t c = 0; c < 3 * dim; ++c)
    for (int j = 0; j < 3; ++j)
      sk[c * 3 + j] = (j == 0 ? 1.0f : 0.0f) +
                      0.1f * random_normal(seed, stream_id(short_k_.name.c_str()), c * 3 + j);
  short_k_.value.copy_from(Tensor::from_vector(sk, {3 * dim, 3}));
  const int64_t taps = long_k_.value.dim(1);
  std::vector<float> lk(static_cast<size_t>(dim * taps));
  for (int64_t c = 0; c < dim; ++c)
    for (int64_t j = 0; j < taps; ++j) {
      // Lag j (or j − 2T in the bidirectional kernel's second half) decays with |lag|.
      const int64_t s = j < seq_len ? j : 2 * seq_len - j;
      lk[c * taps + j] = std::exp(-0.3f * static_cast<float>(s)) *
                         random_normal(seed, stream_id(long_k_.name.c_str()), c * taps + j) * 0.5f;
    }
  long_k_.value.copy_from(Tensor::from_vector(lk, {dim, taps}));
}

std::vector<Param*> M2SequenceMixer::params() {
  std::vector<Param*> p = in_.params();
  for (Param* q : out_.params()) p.push_back(q);
  p.push_back(&short_k_);
  p.push_back(&long_k_);
  return p;
}

void M2SequenceMixer::forward(const Tensor& y, const Tensor& x, int64_t batch) {
  const int64_t n = batch * t_, d = d_;
  Device dev = x.device();
  b_ = batch;
  Tensor u = empty({n, 3 * d}, dev);
  in_.forward(u, x);
  u_cm_ = to_channels(u, batch, t_, 3 * d);  // rows b·3d + c, c = part·d + channel
  s_cm_ = empty({batch * 3 * d, t_}, dev);
  depthwise_causal_conv_forward(s_cm_, u_cm_, short_k_.value);
  // The three parts, each (B·d, T): rows of part p are [b·3d + p·d, b·3d + p·d + d).
  Tensor parts = empty({3, batch, d, t_}, dev);
  permute(parts, s_cm_.reshape({batch, 3, d, t_}), {1, 0, 2, 3});
  Tensor x1 = parts.slice_rows(0, 1).reshape({batch * d, t_});
  x2_ = parts.slice_rows(1, 2).reshape({batch * d, t_});
  Tensor v = parts.slice_rows(2, 3).reshape({batch * d, t_});
  z_ = empty({batch * d, t_}, dev);
  mul(z_, v, x1);
  c_ = empty({batch * d, t_}, dev);
  long_conv_forward(c_, z_, long_k_.value);
  Tensor g = empty({batch * d, t_}, dev);
  mul(g, c_, x2_);
  Tensor gt = empty({n, d}, dev);
  from_channels(gt, g, batch, t_, d);
  out_.forward(y, gt);
  parts_ = parts;
}

void M2SequenceMixer::backward(const Tensor& dx, const Tensor& dy) {
  const int64_t batch = b_, n = batch * t_, d = d_;
  Device dev = dy.device();
  Tensor dgt = empty({n, d}, dev);
  out_.backward(dgt, dy);
  Tensor dg = to_channels(dgt, batch, t_, d);
  Tensor dc = empty({batch * d, t_}, dev), dparts = empty({3, batch, d, t_}, dev);
  Tensor dx1 = dparts.slice_rows(0, 1).reshape({batch * d, t_});
  Tensor dx2 = dparts.slice_rows(1, 2).reshape({batch * d, t_});
  Tensor dv = dparts.slice_rows(2, 3).reshape({batch * d, t_});
  mul(dc, dg, x2_);
  mul(dx2, dg, c_);
  Tensor dz = empty({batch * d, t_}, dev);
  long_conv_backward(dz, long_k_.grad, dc, z_, long_k_.value);
  Tensor x1 = parts_.slice_rows(0, 1).reshape({batch * d, t_});
  Tensor v = parts_.slice_rows(2, 3).reshape({batch * d, t_});
  mul(dv, dz, x1);
  mul(dx1, dz, v);
  Tensor ds = empty({batch * 3 * d, t_}, dev);
  permute(ds.reshape({batch, 3, d, t_}), dparts, {1, 0, 2, 3});
  Tensor du_cm = empty({batch * 3 * d, t_}, dev);
  depthwise_causal_conv_backward(du_cm, short_k_.grad, ds, u_cm_, short_k_.value);
  Tensor du = empty({n, 3 * d}, dev);
  from_channels(du, du_cm, batch, t_, 3 * d);
  in_.backward(dx, du);
}

BlockDiagGluMlp::BlockDiagGluMlp(const std::string& name, int64_t dim, int64_t hidden, int blocks,
                                 uint64_t seed, Device device, Activation gelu)
    : d_(dim),
      h_(hidden),
      gelu_(gelu),
      w1_(name + ".w1", {blocks, 2 * hidden / blocks, dim / blocks}, device),
      w2_(name + ".w2", {blocks, dim / blocks, hidden / blocks}, device) {
  SY_CHECK(blocks >= 1 && dim % blocks == 0 && hidden % blocks == 0,
           "block-diagonal MLP '" << name << "': " << blocks << " blocks must divide the width "
                                  << dim << " and the hidden width " << hidden);
  // The paper's MLP initialisation scaled for blocks: fan-in is the block's input width.
  fill_normal(w1_.value, seed, stream_id(w1_.name.c_str()), 1.0f / std::sqrt(float(dim / blocks)));
  fill_normal(w2_.value, seed, stream_id(w2_.name.c_str()),
              1.0f / std::sqrt(float(hidden / blocks)));
}

// W1's blocks interleave a and b ([a_0; b_0], [a_1; b_1], …); the (N, 2h) output is regrouped
// into a (N, h) and b (N, h) by viewing it as (N, nb, 2, h/nb). The two block-diagonal products
// run in the weights' compute dtype (bf16 in mixed precision: operands cast in, results cast back
// to fp32); the GLU between them stays fp32.
void BlockDiagGluMlp::forward(const Tensor& y, const Tensor& x) {
  const int64_t n = x.rows(), nb = w1_.value.dim(0), hb = h_ / nb;
  const DType ct = w1_.compute().dtype();
  Device dev = x.device();
  x_ = as_compute(x, ct);
  Tensor raw = Tensor::empty({n, 2 * h_}, ct, dev);
  block_diag_forward(raw, x_, w1_.compute());
  ab_ = empty({2, n, nb, hb}, dev);
  permute(ab_, as_compute(raw, DType::kF32).reshape({n, nb, 2, hb}), {2, 0, 1, 3});
  Tensor a = ab_.slice_rows(0, 1).reshape({n, h_}), b = ab_.slice_rows(1, 2).reshape({n, h_});
  ga_ = empty({n, h_}, dev);
  activation_forward(ga_, a, gelu_);
  Tensor g = empty({n, h_}, dev);
  mul(g, ga_, b);
  g_ = as_compute(g, ct);
  run_in(y, ct, [&](const Tensor& yc) { block_diag_forward(yc, g_, w2_.compute()); });
}

void BlockDiagGluMlp::backward(const Tensor& dx, const Tensor& dy) {
  const int64_t n = dy.rows(), nb = w1_.value.dim(0), hb = h_ / nb;
  const DType ct = g_.dtype();
  Device dev = dy.device();
  Tensor dg = empty({n, h_}, dev);
  run_in(dg, ct, [&](const Tensor& dgc) {
    block_diag_backward(dgc, w2_.grad, as_compute(dy, ct), g_, w2_.compute());
  });
  Tensor a = ab_.slice_rows(0, 1).reshape({n, h_}), b = ab_.slice_rows(1, 2).reshape({n, h_});
  Tensor dab = empty({2, n, nb, hb}, dev);
  Tensor da = dab.slice_rows(0, 1).reshape({n, h_}), db = dab.slice_rows(1, 2).reshape({n, h_});
  mul(db, dg, ga_);
  Tensor dga = empty({n, h_}, dev);
  mul(dga, dg, b);
  activation_backward(da, a, dga, gelu_);
  Tensor draw = empty({n, 2 * h_}, dev);
  permute(draw.reshape({n, nb, 2, hb}), dab, {1, 2, 0, 3});
  run_in(dx, ct, [&](const Tensor& dxc) {
    block_diag_backward(dxc, w1_.grad, as_compute(draw, ct), x_, w1_.compute());
  });
}

}  // namespace sy
