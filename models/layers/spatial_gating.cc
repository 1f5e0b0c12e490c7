#include "models/layers/spatial_gating.h"

#include "runtime/core/random.h"
#include "runtime/layers/mixed_precision.h"
#include "runtime/ops/ops.h"

namespace sy {

SpatialGatingUnit::SpatialGatingUnit(const std::string& name, int64_t channels, int64_t seq_len,
                                     int heads, uint64_t seed, Device device)
    : f_(channels),
      t_(seq_len),
      heads_(heads),
      norm_(name + ".norm", channels, device),
      w_(name + ".spatial.w", {heads, seq_len, seq_len}, device),
      b_(name + ".spatial.b", {heads, seq_len}, device) {
  SY_CHECK(heads >= 1 && channels % heads == 0,
           "SGU '" << name << "': " << heads << " heads must divide " << channels << " channels");
  fill_uniform(w_.value, seed, stream_id(w_.name.c_str()), 1e-3f / static_cast<float>(seq_len));
  b_.value.fill(1.0);
}

std::vector<Param*> SpatialGatingUnit::params() {
  std::vector<Param*> p = norm_.params();
  p.push_back(&w_);
  p.push_back(&b_);
  return p;
}

void SpatialGatingUnit::forward(const Tensor& out, const Tensor& z, int64_t batch) {
  const int64_t n = batch * t_, h = heads_, c = f_ / heads_;
  SY_CHECK(z.rows() == n && z.cols() == 2 * f_,
           "SGU: z must be (B·T, 2F) = (" << n << ", " << 2 * f_ << ")");
  Device d = z.device();
  batch_ = batch;
  // (N, 2, F) → (2, N, F): z1 and z2 contiguous.
  halves_ = Tensor::empty({2, n, f_}, DType::kF32, d);
  permute(halves_, z.reshape({n, 2, f_}), {1, 0, 2});
  Tensor z1 = halves_.slice_rows(0, 1).reshape({n, f_});
  Tensor z2 = halves_.slice_rows(1, 2).reshape({n, f_});
  z2n_ = Tensor::empty({n, f_}, DType::kF32, d);
  norm_.forward(z2n_, z2);
  // (B, T, h, c) → (h, T, B, c): one (T × B·c) matrix per head, mixed along T by W_s.
  // The spatial GEMM's operands, kept for the backward in the compute dtype (bf16 in mixed
  // precision); the norm, the bias and the gate stay fp32.
  const DType ct = w_.compute().dtype();
  Tensor zp = Tensor::empty({h, t_, batch, c}, DType::kF32, d);
  permute(zp, z2n_.reshape({batch, t_, h, c}), {2, 1, 0, 3});
  zp_ = as_compute(zp, ct);
  w_eff_ = Tensor::empty(w_.value.shape(), ct, d);
  causal_mask(w_eff_, w_.compute());
  Tensor g = Tensor::empty({h, t_, batch * c}, DType::kF32, d);
  batched_gemm(g, w_eff_, zp_.reshape({h, t_, batch * c}), false, false, 1.0f, 0.0f);
  add_row_bias(g.reshape({h * t_, batch * c}), b_.value.reshape({h * t_}));
  gate_ = Tensor::empty({batch, t_, h, c}, DType::kF32, d);
  permute(gate_, g.reshape({h, t_, batch, c}), {2, 1, 0, 3});
  mul(out, z1, gate_.reshape({n, f_}));
}

void SpatialGatingUnit::backward(const Tensor& dz, const Tensor& dout) {
  const int64_t n = batch_ * t_, h = heads_, c = f_ / heads_, batch = batch_;
  Device d = dout.device();
  Tensor z1 = halves_.slice_rows(0, 1).reshape({n, f_});
  Tensor dhalves = Tensor::empty({2, n, f_}, DType::kF32, d);
  Tensor dz1 = dhalves.slice_rows(0, 1).reshape({n, f_});
  Tensor dz2 = dhalves.slice_rows(1, 2).reshape({n, f_});
  mul(dz1, dout, gate_.reshape({n, f_}));  // d z1 = dout ⊙ G
  Tensor dgate = Tensor::empty({n, f_}, DType::kF32, d);
  mul(dgate, dout, z1);  // dG = dout ⊙ z1
  Tensor dg = Tensor::empty({h, t_, batch, c}, DType::kF32, d);
  permute(dg, dgate.reshape({batch, t_, h, c}), {2, 1, 0, 3});
  Tensor dgm = dg.reshape({h, t_, batch * c});
  const Tensor dgm_c = as_compute(dgm, w_eff_.dtype());
  // b: Σ over the row; W_s: dG · zpᵀ, masked to the lower triangle; zp: W_effᵀ · dG.
  Tensor db = Tensor::empty({h * t_}, DType::kF32, d);
  reduce_rows(db, dgm.reshape({h * t_, batch * c}), ReduceOp::kSum);
  add_scaled(b_.grad, db, 1.0f);
  Tensor dw = Tensor::empty(w_.value.shape(), DType::kF32, d);
  batched_gemm(dw, dgm_c, zp_.reshape({h, t_, batch * c}), false, true, 1.0f, 0.0f);
  causal_mask(dw, dw);
  add_scaled(w_.grad, dw, 1.0f);
  Tensor dzp = Tensor::empty({h, t_, batch * c}, DType::kF32, d);
  batched_gemm(dzp, w_eff_, dgm_c, true, false, 1.0f, 0.0f);
  Tensor dz2n = Tensor::empty({batch, t_, h, c}, DType::kF32, d);
  permute(dz2n, dzp.reshape({h, t_, batch, c}), {2, 1, 0, 3});
  norm_.backward(dz2, dz2n.reshape({n, f_}));
  permute(dz.reshape({n, 2, f_}), dhalves, {1, 0, 2});
}

}  // namespace sy
