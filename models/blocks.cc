#include "models/blocks.h"

#include "models/residual.h"

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
                   Device device)
    : up_(name + ".up", dim, hidden, true, seed, device),
      down_(name + ".down", hidden, dim, true, seed, device) {}

void DenseFfn::forward(const Tensor& y, const Tensor& x) {
  h_ = Tensor::empty({x.rows(), up_.weight().value.dim(1)}, DType::kF32, x.device());
  up_.forward(h_, x);
  a_ = like(h_);
  activation_forward(a_, h_, Activation::kGelu);
  down_.forward(y, a_);
}

void DenseFfn::backward(const Tensor& dx, const Tensor& dy) {
  Tensor da = like(a_), dh = like(h_);
  down_.backward(da, dy);
  activation_backward(dh, h_, da, Activation::kGelu);
  up_.backward(dx, dh);
}

std::vector<Param*> DenseFfn::params() {
  std::vector<Param*> p = up_.params();
  for (Param* q : down_.params()) p.push_back(q);
  return p;
}

TransformerBlock::TransformerBlock(const std::string& name, int64_t dim, int heads, int64_t d_ff,
                                   bool rms_norm, const MoeOptions* moe,
                                   const ProcessGroups& groups, uint64_t seed, Device device)
    : norm1_(name + ".norm1", dim, rms_norm, device),
      norm2_(name + ".norm2", dim, rms_norm, device),
      attention_(name + ".attn", dim, heads, seed, device) {
  if (moe)
    moe_ = std::make_unique<MoeLayer>(*moe, groups, device);
  else
    dense_ = std::make_unique<DenseFfn>(name + ".ffn", dim, d_ff, seed, device);
}

void TransformerBlock::forward(const Tensor& y, const Tensor& x, const BatchShape& s) {
  Tensor x1 = like(x);
  residual_forward(x1, x, norm1_, [&](const Tensor& o, const Tensor& a) {
    attention_.forward(o, a, s.batch, s.seq_len);
  });
  residual_forward(y, x1, norm2_, [&](const Tensor& f, const Tensor& b) {
    if (moe_)
      moe_->forward(f, b, s.token_ids, s.training);
    else
      dense_->forward(f, b);
  });
}

void TransformerBlock::backward(const Tensor& dx, const Tensor& dy) {
  Tensor dx1 = like(dy);
  residual_backward(dx1, dy, norm2_, [&](const Tensor& db, const Tensor& g) {
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
  for (Param* q : norm2_.params()) p.push_back(q);
  for (Param* q : moe_ ? moe_->params() : dense_->params()) p.push_back(q);
  return p;
}

M2Block::M2Block(const std::string& name, int64_t dim, int64_t d_ff, int64_t seq_len, int blocks,
                 uint64_t seed, Device device, bool bidirectional)
    : norm1_(name + ".norm1", dim, device),
      norm2_(name + ".norm2", dim, device),
      mixer_(name + ".mixer", dim, seq_len, seed, device, bidirectional),
      mlp_(name + ".mlp", dim, d_ff, blocks, seed, device) {}

void M2Block::forward(const Tensor& y, const Tensor& x, const BatchShape& s) {
  Tensor x1 = like(x);
  residual_forward(x1, x, norm1_,
                   [&](const Tensor& o, const Tensor& a) { mixer_.forward(o, a, s.batch); });
  residual_forward(y, x1, norm2_, [&](const Tensor& f, const Tensor& b) { mlp_.forward(f, b); });
}

void M2Block::backward(const Tensor& dx, const Tensor& dy) {
  Tensor dx1 = like(dy);
  residual_backward(dx1, dy, norm2_,
                    [&](const Tensor& db, const Tensor& g) { mlp_.backward(db, g); });
  residual_backward(dx, dx1, norm1_,
                    [&](const Tensor& da, const Tensor& g) { mixer_.backward(da, g); });
}

std::vector<Param*> M2Block::params() {
  std::vector<Param*> p = norm1_.params();
  for (Param* q : mixer_.params()) p.push_back(q);
  for (Param* q : norm2_.params()) p.push_back(q);
  for (Param* q : mlp_.params()) p.push_back(q);
  return p;
}

GmlpBlock::GmlpBlock(const std::string& name, int64_t dim, int64_t d_ff, int64_t seq_len, int heads,
                     uint64_t seed, Device device)
    : d_ff_(d_ff),
      norm_(name + ".norm", dim, device),
      up_(name + ".up", dim, 2 * d_ff, true, seed, device),
      down_(name + ".down", d_ff, dim, true, seed, device),
      sgu_(name + ".sgu", d_ff, seq_len, heads, seed, device) {}

void GmlpBlock::forward(const Tensor& y, const Tensor& x, const BatchShape& s) {
  const int64_t n = x.rows();
  Tensor a = like(x);
  norm_.forward(a, x);
  Tensor u = Tensor::empty({n, 2 * d_ff_}, DType::kF32, x.device());
  up_.forward(u, a);
  z_ = like(u);
  activation_forward(z_, u, Activation::kGelu);
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
  activation_backward(du, u_, dz, Activation::kGelu);
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

}  // namespace sy
