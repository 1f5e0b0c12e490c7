#include "models/blocks.h"

#include "models/model_cost.h"
#include "models/residual.h"

#include "runtime/ops/monarch.h"
#include "runtime/ops/ops.h"

namespace sy {

namespace {
Tensor like(const Tensor& t) {
  return Tensor::empty(t.shape(), DType::kF32, t.device());
}
}  // namespace

PreNorm::PreNorm(const std::string& name, int64_t dim, bool rms, Device device) {
  if (rms)
    rms_ = std::make_unique<RMSNorm>(name, dim, device);
  else
    ln_ = std::make_unique<LayerNorm>(name, dim, device);
}

void PreNorm::forward(const Tensor& y, const Tensor& x) {
  if (rms_)
    rms_->forward(y, x);
  else
    ln_->forward(y, x);
}

void PreNorm::backward(const Tensor& dx, const Tensor& dy) {
  if (rms_)
    rms_->backward(dx, dy);
  else
    ln_->backward(dx, dy);
}

std::vector<Param*> PreNorm::params() {
  return rms_ ? rms_->params() : ln_->params();
}

DenseFfn::DenseFfn(const std::string& name, int64_t dim, int64_t hidden, uint64_t seed,
                   Device device, Activation gelu)
    : gelu_(gelu),
      up_(name + ".up", dim, hidden, true, seed, device),
      down_(name + ".down", hidden, dim, true, seed, device) {}

void DenseFfn::forward(const Tensor& y, const Tensor& x) {
  h_ = Tensor::empty({x.rows(), up_.weight().value.dim(1)}, DType::kF32, x.device());
  up_.forward(h_, x);
  a_ = like(h_);
  activation_forward(a_, h_, gelu_);
  down_.forward(y, a_);
}

void DenseFfn::backward(const Tensor& dx, const Tensor& dy) {
  Tensor da = like(a_), dh = like(h_);
  down_.backward(da, dy);
  activation_backward(dh, h_, da, gelu_);
  up_.backward(dx, dh);
}

std::vector<Param*> DenseFfn::params() {
  std::vector<Param*> p = up_.params();
  for (Param* q : down_.params()) p.push_back(q);
  return p;
}

TransformerBlock::TransformerBlock(const BlockSpec& s, bool rms_norm, const MoeOptions* moe,
                                   const ProcessGroups& groups)
    : spec_(s),
      norm1_(s.name + ".norm1", s.dim, rms_norm, s.device),
      norm2_(s.name + ".norm2", s.dim, rms_norm, s.device),
      attention_(s.name + ".attn", s.dim, s.heads, s.seed, s.device, s.rope_base, s.bidirectional) {
  if (moe)
    moe_ = make_token_moe(*moe, groups, s.device);
  else
    dense_ = std::make_unique<DenseFfn>(s.name + ".ffn", s.dim, s.d_ff, s.seed, s.device, s.gelu);
}

double TransformerBlock::forward_flops_per_token() const {
  const double ffn =
      moe_ ? moe_->forward_flops_per_token() : dense_ffn_flops_per_token(spec_.dim, spec_.d_ff);
  return attention_flops_per_token(spec_.dim, spec_.seq_len) + ffn;
}

void TransformerBlock::forward(const Tensor& y, const Tensor& x, const BatchShape& s) {
  Tensor x1 = like(x);
  residual_forward(x1, x, norm1_, [&](const Tensor& o, const Tensor& a) {
    attention_.forward(o, a, s.batch, s.seq_len);
  });
  sublayer_forward(sublayer_form(false, moe_inner_norm()), y, x1, norm2_,
                   [&](const Tensor& f, const Tensor& b) {
                     if (moe_)
                       moe_->forward(f, b, s.token_ids, s.training);
                     else
                       dense_->forward(f, b);
                   });
}

void TransformerBlock::backward(const Tensor& dx, const Tensor& dy) {
  Tensor dx1 = like(dy);
  sublayer_backward(sublayer_form(false, moe_inner_norm()), dx1, dy, norm2_,
                    [&](const Tensor& db, const Tensor& g) {
                      if (moe_)
                        moe_->backward(db, g);
                      else
                        dense_->backward(db, g);
                    });
  residual_backward(dx, dx1, norm1_,
                    [&](const Tensor& da, const Tensor& g) { attention_.backward(da, g); });
}

std::vector<Param*> TransformerBlock::params() {
  std::vector<Param*> p = norm1_.params();
  for (Param* q : attention_.params()) p.push_back(q);
  if (!moe_inner_norm())
    for (Param* q : norm2_.params()) p.push_back(q);
  for (Param* q : moe_ ? moe_->params() : dense_->params()) p.push_back(q);
  return p;
}

M2Block::M2Block(const BlockSpec& s, const M2BlockOptions& o)
    : spec_(s),
      o_(o),
      norm1_(s.name + ".norm1", s.dim, s.device),
      norm2_(s.name + ".norm2", s.dim, s.device),
      mixer_(s.name + ".mixer", s.dim, s.seq_len, o.mixer, s.seed, s.device) {
  if (o.mlp)
    mlp_ = std::make_unique<BlockDiagGluMlp>(s.name + ".mlp", s.dim, s.d_ff, o.blocks, s.seed,
                                             s.device, s.gelu);
}

// The mixer: projections in (d → 3d) and out (4d²), the 3-tap short convolution of 3d channels,
// and one or two long convolutions per channel of d: a forward and an inverse complex Monarch DFT
// of 2T points per row, 4·(b1 + b2) real multiply-adds per point (the kernels — their transforms
// and the implicit filters, once per call — are left out). The MLP: block-diagonal W1 (d → 2F)
// and W2 (F → d).
double m2_flops_per_token(const BlockSpec& s, const M2BlockOptions& o) {
  const double d = s.dim, n = 2.0 * s.seq_len;
  const int64_t b1 = monarch_b1(2 * s.seq_len);  // the DFTs' factorisation (long_conv.cc)
  const double b1b2 = static_cast<double>(b1) + n / static_cast<double>(b1);
  const double long_conv = 2 * (n / s.seq_len) * 4 * b1b2;  // per channel and token
  const double convs = o.mixer.residual_long_conv ? 2 : 1;
  const double mixer = 4 * d * d + 3 * 3 * d + convs * long_conv * d;
  const double mlp = o.mlp ? 3 * d * s.d_ff / o.blocks : 0.0;
  return 2.0 * (mixer + mlp);
}

double M2Block::forward_flops_per_token() const {
  return m2_flops_per_token(spec_, o_);
}

void M2Block::forward(const Tensor& y, const Tensor& x, const BatchShape& s) {
  auto mix = [&](const Tensor& o, const Tensor& a) { mixer_.forward(o, a, s.batch); };
  if (!mlp_) {
    sublayer_forward(sublayer_form(spec_.post_norm), y, x, norm1_, mix);
    return;
  }
  Tensor x1 = like(x);
  sublayer_forward(sublayer_form(spec_.post_norm), x1, x, norm1_, mix);
  sublayer_forward(sublayer_form(spec_.post_norm), y, x1, norm2_,
                   [&](const Tensor& f, const Tensor& b) { mlp_->forward(f, b); });
}

void M2Block::backward(const Tensor& dx, const Tensor& dy) {
  auto mix = [&](const Tensor& da, const Tensor& g) { mixer_.backward(da, g); };
  if (!mlp_) {
    sublayer_backward(sublayer_form(spec_.post_norm), dx, dy, norm1_, mix);
    return;
  }
  Tensor dx1 = like(dy);
  sublayer_backward(sublayer_form(spec_.post_norm), dx1, dy, norm2_,
                    [&](const Tensor& db, const Tensor& g) { mlp_->backward(db, g); });
  sublayer_backward(sublayer_form(spec_.post_norm), dx, dx1, norm1_, mix);
}

std::vector<Param*> M2Block::params() {
  std::vector<Param*> p = norm1_.params();
  for (Param* q : mixer_.params()) p.push_back(q);
  if (!mlp_) return p;
  for (Param* q : norm2_.params()) p.push_back(q);
  for (Param* q : mlp_->params()) p.push_back(q);
  return p;
}

double gmlp_flops_per_token(const BlockSpec& s) {
  const double d = s.dim, f = s.d_ff, t = s.seq_len;
  return 2.0 * (d * 2 * f + f * d + t * f);
}

GmlpBlock::GmlpBlock(const BlockSpec& s)
    : spec_(s),
      d_ff_(s.d_ff),
      norm_(s.name + ".norm", s.dim, s.device),
      up_(s.name + ".up", s.dim, 2 * s.d_ff, true, s.seed, s.device),
      down_(s.name + ".down", s.d_ff, s.dim, true, s.seed, s.device),
      sgu_(s.name + ".sgu", s.d_ff, s.seq_len, s.heads, s.seed, s.device) {}

void GmlpBlock::forward(const Tensor& y, const Tensor& x, const BatchShape& s) {
  const int64_t n = x.rows();
  Tensor a = like(x);
  norm_.forward(a, x);
  Tensor u = Tensor::empty({n, 2 * d_ff_}, DType::kF32, x.device());
  up_.forward(u, a);
  z_ = like(u);
  activation_forward(z_, u, spec_.gelu);
  Tensor g = Tensor::empty({n, d_ff_}, DType::kF32, x.device());
  sgu_.forward(g, z_, s.batch);
  down_.forward(y, g);
  add_scaled(y, x, 1.0f);
  u_ = u;
}

void GmlpBlock::backward(const Tensor& dx, const Tensor& dy) {
  const int64_t n = dy.rows();
  Tensor dg = Tensor::empty({n, d_ff_}, DType::kF32, dy.device());
  down_.backward(dg, dy);
  Tensor dz = like(z_), du = like(z_);
  sgu_.backward(dz, dg);
  activation_backward(du, u_, dz, spec_.gelu);
  Tensor da = like(dy);
  up_.backward(da, du);
  norm_.backward(dx, da);
  add_scaled(dx, dy, 1.0f);
}

std::vector<Param*> GmlpBlock::params() {
  std::vector<Param*> p = norm_.params();
  for (Param* q : up_.params()) p.push_back(q);
  for (Param* q : sgu_.params()) p.push_back(q);
  for (Param* q : down_.params()) p.push_back(q);
  return p;
}

// ---- recompute ----------------------------------------------------------------------------------

void TransformerBlock::drop_activations() {
  norm1_.drop_activations();
  norm2_.drop_activations();
  attention_.drop_activations();
  if (dense_) dense_->drop_activations();
  if (moe_) moe_->drop_activations();
}

void M2Block::drop_activations() {
  norm1_.drop_activations();
  norm2_.drop_activations();
  mixer_.drop_activations();
  if (mlp_) mlp_->drop_activations();
}

void GmlpBlock::drop_activations() {
  norm_.drop_activations();
  up_.drop_activations();
  down_.drop_activations();
  sgu_.drop_activations();
  release(u_, z_);
}

}  // namespace sy
