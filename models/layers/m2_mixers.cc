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

namespace {

LongKernelOptions kernel_options(const M2MixerOptions& o) {
  LongKernelOptions k = o.kernel;
  k.filter.bidirectional = o.bidirectional;
  return k;
}

}  // namespace

M2SequenceMixer::M2SequenceMixer(const std::string& name, int64_t dim, int64_t seq_len,
                                 const M2MixerOptions& o, uint64_t seed, Device device)
    : d_(dim),
      t_(seq_len),
      in_(name + ".in", dim, 3 * dim, true, seed, device),
      out_(name + ".out", dim, dim, true, seed, device),
      short_k_(name + ".short_k", {3 * dim, 3}, device),
      long_k_(name + ".long", dim, seq_len, kernel_options(o), seed, device) {
  SY_CHECK(seq_len >= 3, "M2 mixer '" << name << "': T must be at least 3");
  if (o.residual_long_conv)
    residual_k_ = std::make_unique<LongKernel>(name + ".residual", dim, seq_len, kernel_options(o),
                                               seed, device);
  short_k_.keep_fp32 = true;  // the convolutions run in fp32
  // The short kernel starts as the identity tap (plus noise).
  std::vector<float> sk(static_cast<size_t>(3 * dim * 3));
  for (int64_t c = 0; c < 3 * dim; ++c)
    for (int j = 0; j < 3; ++j)
      sk[c * 3 + j] = (j == 0 ? 1.0f : 0.0f) +
                      0.1f * random_normal(seed, stream_id(short_k_.name.c_str()), c * 3 + j);
  short_k_.value.copy_from(Tensor::from_vector(sk, {3 * dim, 3}));
}

std::vector<Param*> M2SequenceMixer::params() {
  std::vector<Param*> p = in_.params();
  for (Param* q : out_.params()) p.push_back(q);
  p.push_back(&short_k_);
  for (Param* q : long_k_.params()) p.push_back(q);
  if (residual_k_)
    for (Param* q : residual_k_->params()) p.push_back(q);
  return p;
}

void M2SequenceMixer::drop_activations() {
  in_.drop_activations();
  out_.drop_activations();
  long_k_.drop_activations();
  if (residual_k_) residual_k_->drop_activations();
  release(u_cm_, s_cm_, parts_, z_, c_, x2_, k_, x_cm_, k2_);
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
  k_ = long_k_.forward();
  long_conv_forward(c_, z_, k_);
  Tensor g = empty({batch * d, t_}, dev);
  mul(g, c_, x2_);
  if (residual_k_) {  // g += k₂ ∗ x
    x_cm_ = to_channels(x, batch, t_, d);
    k2_ = residual_k_->forward();
    Tensor r = empty({batch * d, t_}, dev);
    long_conv_forward(r, x_cm_, k2_);
    add_scaled(g, r, 1.0f);
  }
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
  long_conv_backward(dz, long_k_.grad_buffer(), dc, z_, k_);
  long_k_.backward();
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
  if (residual_k_) residual_backward(dx, dg);
}

// dx += (k₂ ∗)ᵀ dg, and the residual kernel's gradient.
void M2SequenceMixer::residual_backward(const Tensor& dx, const Tensor& dg) {
  const int64_t batch = b_, d = d_;
  Tensor dx_cm = empty({batch * d, t_}, dg.device());
  long_conv_backward(dx_cm, residual_k_->grad_buffer(), dg, x_cm_, k2_);
  residual_k_->backward();
  Tensor dxr = empty({batch * t_, d}, dg.device());
  from_channels(dxr, dx_cm, batch, t_, d);
  add_scaled(dx, dxr, 1.0f);
}

BlockDiagGluMlp::BlockDiagGluMlp(const std::string& name, int64_t dim, int64_t hidden, int blocks,
                                 uint64_t seed, Device device, Activation gelu)
    : d_(dim),
      h_(hidden),
      gelu_(gelu),
      w1_(name + ".w1", {blocks, 2 * hidden / blocks, dim / blocks}, device),
      w2_(name + ".w2", {blocks, dim / blocks, hidden / blocks}, device),
      b2_(name + ".b2", {dim}, device) {
  SY_CHECK(blocks >= 1 && dim % blocks == 0 && hidden % blocks == 0,
           "block-diagonal MLP '" << name << "': " << blocks << " blocks must divide the width "
                                  << dim << " and the hidden width " << hidden);
  // The paper's MLP initialisation scaled for blocks: fan-in is the block's input width.
  fill_normal(w1_.value, seed, stream_id(w1_.name.c_str()), 1.0f / std::sqrt(float(dim / blocks)));
  fill_normal(w2_.value, seed, stream_id(w2_.name.c_str()),
              1.0f / std::sqrt(float(hidden / blocks)));
}

// The (N, 2h) output of W1 is regrouped into the gate a (N, h) — its first h columns — and the
// value b (N, h) — its last h — by viewing it as (N, 2, h). The two block-diagonal products
// run in the weights' compute dtype (bf16 in mixed precision: operands cast in, results cast back
// to fp32); the GLU between them stays fp32.
void BlockDiagGluMlp::forward(const Tensor& y, const Tensor& x) {
  const int64_t n = x.rows();
  const DType ct = w1_.compute().dtype();
  Device dev = x.device();
  x_ = as_compute(x, ct);
  Tensor raw = Tensor::empty({n, 2 * h_}, ct, dev);
  block_diag_forward(raw, x_, w1_.compute());
  ab_ = empty({2, n, h_}, dev);
  permute(ab_, as_compute(raw, DType::kF32).reshape({n, 2, h_}), {1, 0, 2});
  Tensor a = ab_.slice_rows(0, 1).reshape({n, h_}), b = ab_.slice_rows(1, 2).reshape({n, h_});
  ga_ = empty({n, h_}, dev);
  activation_forward(ga_, a, gelu_);
  Tensor g = empty({n, h_}, dev);
  mul(g, ga_, b);
  g_ = as_compute(g, ct);
  run_in(y, ct, [&](const Tensor& yc) { block_diag_forward(yc, g_, w2_.compute()); });
  add_bias(y, b2_.value);
}

void BlockDiagGluMlp::backward(const Tensor& dx, const Tensor& dy) {
  const int64_t n = dy.rows();
  const DType ct = g_.dtype();
  Device dev = dy.device();
  Tensor dg = empty({n, h_}, dev);
  run_in(dg, ct, [&](const Tensor& dgc) {
    block_diag_backward(dgc, w2_.grad, as_compute(dy, ct), g_, w2_.compute());
  });
  Tensor a = ab_.slice_rows(0, 1).reshape({n, h_}), b = ab_.slice_rows(1, 2).reshape({n, h_});
  Tensor db2 = empty({dy.cols()}, dev);
  reduce_cols(db2, dy, ReduceOp::kSum);
  add_scaled(b2_.grad, db2, 1.0f);
  Tensor dab = empty({2, n, h_}, dev);
  Tensor da = dab.slice_rows(0, 1).reshape({n, h_}), db = dab.slice_rows(1, 2).reshape({n, h_});
  mul(db, dg, ga_);
  Tensor dga = empty({n, h_}, dev);
  mul(dga, dg, b);
  activation_backward(da, a, dga, gelu_);
  Tensor draw = empty({n, 2 * h_}, dev);
  permute(draw.reshape({n, 2, h_}), dab, {1, 0, 2});
  run_in(dx, ct, [&](const Tensor& dxc) {
    block_diag_backward(dxc, w1_.grad, as_compute(draw, ct), x_, w1_.compute());
  });
}

}  // namespace sy
