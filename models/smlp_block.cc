#include "models/smlp_block.h"

#include "models/residual.h"

#include "runtime/ops/ops.h"

namespace sy {

namespace {
Tensor like(const Tensor& t) {
  return Tensor::empty(t.shape(), DType::kF32, t.device());
}
}  // namespace

SmlpSparseBlock::SmlpSparseBlock(const BlockSpec& s, const FeatureMoeOptions& smoe,
                                 const MoeOptions& tmoe, const ProcessGroups& groups,
                                 const pb::ParallelConfig* overlap)
    : spec_(s),
      d_ff_(s.d_ff),
      norm_(s.name + ".norm", s.dim, s.device),
      gate_norm_(s.name + ".smoe_norm", s.d_ff, s.device),
      tmoe_norm_(s.name + ".tmoe_norm", s.dim, s.device),
      up_(s.name + ".up", s.dim, 2 * s.d_ff, true, s.seed, s.device),
      down_(s.name + ".down", s.d_ff, s.dim, true, s.seed, s.device),
      smoe_(smoe, groups, s.device, overlap),
      tmoe_(tmoe, groups, s.device) {}

void SmlpSparseBlock::forward(const Tensor& y, const Tensor& x, const BatchShape& s) {
  const int64_t n = x.rows();
  Device d = x.device();
  Tensor a = like(x);
  norm_.forward(a, x);
  u_ = Tensor::empty({n, 2 * d_ff_}, DType::kF32, d);
  up_.forward(u_, a);
  z_ = like(u_);
  activation_forward(z_, u_, spec_.gelu);
  halves_ = Tensor::empty({2, n, d_ff_}, DType::kF32, d);  // (N, 2, F) → (2, N, F)
  permute(halves_, z_.reshape({n, 2, d_ff_}), {1, 0, 2});
  Tensor z1 = halves_.slice_rows(0, 1).reshape({n, d_ff_});
  Tensor z2 = halves_.slice_rows(1, 2).reshape({n, d_ff_});
  Tensor z2n = Tensor::empty({n, d_ff_}, DType::kF32, d);
  gate_norm_.forward(z2n, z2);
  g_ = Tensor::empty({n, d_ff_}, DType::kF32, d);
  smoe_.forward(g_, z2n, s.batch, s.training);
  Tensor gated = Tensor::empty({n, d_ff_}, DType::kF32, d);
  mul(gated, z1, g_);
  Tensor x1 = like(x);
  down_.forward(x1, gated);
  add_scaled(x1, x, 1.0f);
  sublayer_forward(
      sublayer_form(false, tmoe_.normalizes_input()), y, x1, tmoe_norm_,
      [&](const Tensor& f, const Tensor& b) { tmoe_.forward(f, b, s.token_ids, s.training); });
}

void SmlpSparseBlock::backward(const Tensor& dx, const Tensor& dy) {
  const int64_t n = dy.rows();
  Device d = dy.device();
  // tMoE: y = x1 + tMoE(LN(x1)), or x1 + tMoE(x1) when its experts normalise.
  Tensor dx1 = like(dy);
  sublayer_backward(sublayer_form(false, tmoe_.normalizes_input()), dx1, dy, tmoe_norm_,
                    [&](const Tensor& db, const Tensor& g) { tmoe_.backward(db, g); });
  // sMoE: x1 = x + V·(z1 ⊙ g).
  Tensor dgated = Tensor::empty({n, d_ff_}, DType::kF32, d);
  down_.backward(dgated, dx1);
  Tensor z1 = halves_.slice_rows(0, 1).reshape({n, d_ff_});
  Tensor dhalves = Tensor::empty({2, n, d_ff_}, DType::kF32, d);
  Tensor dz1 = dhalves.slice_rows(0, 1).reshape({n, d_ff_});
  Tensor dz2 = dhalves.slice_rows(1, 2).reshape({n, d_ff_});
  mul(dz1, dgated, g_);
  Tensor dg = Tensor::empty({n, d_ff_}, DType::kF32, d);
  mul(dg, dgated, z1);
  Tensor dz2n = Tensor::empty({n, d_ff_}, DType::kF32, d);
  smoe_.backward(dz2n, dg);
  gate_norm_.backward(dz2, dz2n);
  Tensor dz = like(z_), du = like(u_);
  permute(dz.reshape({n, 2, d_ff_}), dhalves, {1, 0, 2});
  activation_backward(du, u_, dz, spec_.gelu);
  Tensor da = like(dy);
  up_.backward(da, du);
  norm_.backward(dx, da);
  add_scaled(dx, dx1, 1.0f);
}

std::vector<Param*> SmlpSparseBlock::params() {
  std::vector<Param*> p = norm_.params();
  for (Param* q : up_.params()) p.push_back(q);
  for (Param* q : gate_norm_.params()) p.push_back(q);
  for (Param* q : smoe_.params()) p.push_back(q);
  for (Param* q : down_.params()) p.push_back(q);
  if (!tmoe_.normalizes_input())
    for (Param* q : tmoe_norm_.params()) p.push_back(q);
  for (Param* q : tmoe_.params()) p.push_back(q);
  return p;
}

void SmlpSparseBlock::drop_activations() {
  for (LayerNorm* n : {&norm_, &gate_norm_, &tmoe_norm_}) n->drop_activations();
  up_.drop_activations();
  down_.drop_activations();
  smoe_.drop_activations();
  tmoe_.drop_activations();
  release(u_, z_, halves_, g_);
}

}  // namespace sy
