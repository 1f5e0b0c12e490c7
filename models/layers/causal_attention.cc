#include "models/layers/causal_attention.h"

#include <cmath>

#include "runtime/layers/mixed_precision.h"
#include "runtime/ops/ops.h"

namespace sy {

CausalSelfAttention::CausalSelfAttention(const std::string& name, int64_t dim, int heads,
                                         uint64_t seed, Device device, double rope_base,
                                         bool bidirectional)
    : dim_(dim),
      heads_(heads),
      rope_base_(rope_base),
      bidirectional_(bidirectional),
      qkv_(name + ".qkv", dim, 3 * dim, true, seed, device),
      out_(name + ".out", dim, dim, true, seed, device) {
  SY_CHECK(heads >= 1 && dim % heads == 0,
           "attention '" << name << "': " << heads << " heads must divide the width " << dim);
  SY_CHECK(rope_base_ <= 0 || (dim / heads) % 2 == 0,
           "attention '" << name << "': rotary positions need an even head width, got d/heads = "
                         << dim / heads << "; change model.d_model or model.n_heads");
}

const Tensor& CausalSelfAttention::rope_table_for(int64_t seq_len, Device device) {
  if (!rope_table_.defined() || rope_table_.dim(0) != seq_len)
    rope_table_ = rope_table(seq_len, dim_ / heads_, rope_base_, device);
  return rope_table_;
}

std::vector<Param*> CausalSelfAttention::params() {
  std::vector<Param*> p = qkv_.params();
  for (Param* q : out_.params()) p.push_back(q);
  return p;
}

void CausalSelfAttention::forward(const Tensor& y, const Tensor& x, int64_t batch,
                                  int64_t seq_len) {
  const int64_t h = heads_, dh = dim_ / heads_, bh = batch * h, n = batch * seq_len;
  SY_CHECK(x.rows() == n && x.cols() == dim_,
           "attention: x must be (B·T, d) = (" << n << ", " << dim_ << ")");
  b_ = batch;
  t_ = seq_len;
  Device d = x.device();
  Tensor qkv = Tensor::empty({n, 3 * dim_}, DType::kF32, d);
  qkv_.forward(qkv, x);
  // (B, T, 3, H, dh) → (3, B, H, T, dh): q, k and v each (B·H, T, dh), contiguous.
  // q, k and v enter the score and value GEMMs (and stay for the backward) in the compute dtype
  // (bf16 in mixed precision); the scores, the softmax and the probabilities kept stay fp32.
  const DType ct = qkv_.weight().compute().dtype();
  Tensor heads = Tensor::empty({3, batch, h, seq_len, dh}, DType::kF32, d);
  permute(heads, qkv.reshape({batch, seq_len, 3, h, dh}), {2, 0, 3, 1, 4});
  if (rope_base_ > 0) {  // rotate q and k in place (v is not rotated)
    const Tensor qk = heads.slice_rows(0, 2).reshape({2 * bh, seq_len, dh});
    rope(qk, qk, rope_table_for(seq_len, d), false);
  }
  heads_qkv_ = as_compute(heads, ct);
  Tensor q = heads_qkv_.slice_rows(0, 1).reshape({bh, seq_len, dh});
  Tensor k = heads_qkv_.slice_rows(1, 2).reshape({bh, seq_len, dh});
  Tensor v = heads_qkv_.slice_rows(2, 3).reshape({bh, seq_len, dh});
  Tensor scores = Tensor::empty({bh, seq_len, seq_len}, DType::kF32, d);
  batched_gemm(scores, q, k, false, true, 1.0f / std::sqrt(static_cast<float>(dh)), 0.0f);
  probs_ = Tensor::empty(scores.shape(), DType::kF32, d);
  if (bidirectional_)
    softmax_forward(probs_, scores);
  else
    causal_softmax_forward(probs_, scores);
  o_ = Tensor::empty({bh, seq_len, dh}, DType::kF32, d);
  batched_gemm(o_, as_compute(probs_, ct), v, false, false, 1.0f, 0.0f);
  Tensor merged = Tensor::empty({batch, seq_len, h, dh}, DType::kF32, d);
  permute(merged, o_.reshape({batch, h, seq_len, dh}), {0, 2, 1, 3});
  out_.forward(y, merged.reshape({n, dim_}));
}

void CausalSelfAttention::backward(const Tensor& dx, const Tensor& dy) {
  const int64_t h = heads_, dh = dim_ / heads_, bh = b_ * h, n = b_ * t_;
  Device d = dy.device();
  Tensor dmerged = Tensor::empty({n, dim_}, DType::kF32, d);
  out_.backward(dmerged, dy);
  Tensor d_o = Tensor::empty({b_, h, t_, dh}, DType::kF32, d);
  permute(d_o, dmerged.reshape({b_, t_, h, dh}), {0, 2, 1, 3});
  const DType ct = heads_qkv_.dtype();
  const Tensor dov = as_compute(d_o.reshape({bh, t_, dh}), ct);
  Tensor q = heads_qkv_.slice_rows(0, 1).reshape({bh, t_, dh});
  Tensor k = heads_qkv_.slice_rows(1, 2).reshape({bh, t_, dh});
  Tensor v = heads_qkv_.slice_rows(2, 3).reshape({bh, t_, dh});
  Tensor dheads = Tensor::empty({3, b_, h, t_, dh}, DType::kF32, d);
  Tensor dq = dheads.slice_rows(0, 1).reshape({bh, t_, dh});
  Tensor dk = dheads.slice_rows(1, 2).reshape({bh, t_, dh});
  Tensor dv = dheads.slice_rows(2, 3).reshape({bh, t_, dh});
  Tensor dp = Tensor::empty({bh, t_, t_}, DType::kF32, d);
  batched_gemm(dp, dov, v, false, true, 1.0f, 0.0f);                       // dP = dO·vᵀ
  batched_gemm(dv, as_compute(probs_, ct), dov, true, false, 1.0f, 0.0f);  // dv = Pᵀ·dO
  Tensor ds = Tensor::empty(dp.shape(), DType::kF32, d);
  softmax_backward(ds, probs_, dp);  // masked entries have P = 0: no gradient
  float scale = 1.0f / std::sqrt(static_cast<float>(dh));
  const Tensor ds_c = as_compute(ds, ct);
  batched_gemm(dq, ds_c, k, false, false, scale, 0.0f);  // dq = dS·k/√dh
  batched_gemm(dk, ds_c, q, true, false, scale, 0.0f);   // dk = dSᵀ·q/√dh
  if (rope_base_ > 0) {  // q and k were rotated: their gradients rotate back
    const Tensor dqk = dheads.slice_rows(0, 2).reshape({2 * bh, t_, dh});
    rope(dqk, dqk, rope_table_for(t_, d), true);
  }
  Tensor dqkv = Tensor::empty({b_, t_, 3, h, dh}, DType::kF32, d);
  permute(dqkv, dheads, {1, 3, 0, 2, 4});  // the inverse of {2, 0, 3, 1, 4}
  qkv_.backward(dx, dqkv.reshape({n, 3 * dim_}));
}

}  // namespace sy
