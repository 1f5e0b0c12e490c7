#include "experts/mh_moe_layer.h"

#include <cmath>

#include "experts/expert_cost.h"

namespace sy {

namespace {
const MoeOptions& with_valid_heads(const MoeOptions& o) {
  SY_CHECK(o.num_heads >= 1 && o.d_model % o.num_heads == 0,
           "MoE layer '" << o.name << "': num_heads = " << o.num_heads
                         << " must divide d_model = " << o.d_model);
  return o;
}
}  // namespace

MhMoeLayer::MhMoeLayer(const MoeOptions& o, const ProcessGroups& groups, Device device)
    : heads_(o.num_heads), d_(o.d_model), core_(with_valid_heads(o), groups, device) {
  if (!o.mh_projections) return;
  head_ = std::make_unique<Linear>(o.name + ".head", d_, d_, true, o.seed, device);
  merge_ = std::make_unique<Linear>(o.name + ".merge", d_, d_, true, o.seed, device);
}

std::vector<Param*> MhMoeLayer::params() {
  std::vector<Param*> out = core_.params();
  for (Linear* l : {head_.get(), merge_.get()})
    if (l)
      for (Param* p : l->params()) out.push_back(p);
  return out;
}

double MhMoeLayer::forward_flops_per_token() const {
  return mh_projection_flops_per_token(core_.options()) + heads_ * core_.forward_flops_per_token();
}

void MhMoeLayer::forward(const Tensor& y, const Tensor& x, const int32_t* token_ids,
                         bool training) {
  const int64_t n = x.dim(0);
  SY_CHECK(x.ndim() == 2 && x.dim(1) == d_ && y.shape() == x.shape(),
           "MoE layer '" << core_.options().name << "': x and y must be (N, " << d_ << "), got "
                         << shape_str(x.shape()) << " and " << shape_str(y.shape()));
  Tensor xh = x;
  if (head_) {
    xh = Tensor::empty({n, d_}, DType::kF32, x.device());
    head_->forward(xh, x);
  }
  // The (N, d) tokens viewed as (N·h, d/h) sub-tokens (contiguous slices of each token).
  std::vector<int32_t> sub_ids;
  if (token_ids)
    for (int64_t t = 0; t < n; ++t)
      for (int i = 0; i < heads_; ++i) sub_ids.push_back(token_ids[t] * heads_ + i);
  merged_ = merge_ ? Tensor::empty({n, d_}, DType::kF32, x.device()) : y;
  core_.forward(merged_.reshape({n * heads_, d_ / heads_}), xh.reshape({n * heads_, d_ / heads_}),
                token_ids ? sub_ids.data() : nullptr, training);
  if (merge_) merge_->forward(y, merged_);
}

void MhMoeLayer::backward(const Tensor& dx, const Tensor& dy) {
  const int64_t n = dy.dim(0);
  Tensor dmerged = dy;
  if (merge_) {
    dmerged = Tensor::empty({n, d_}, DType::kF32, dy.device());
    merge_->backward(dmerged, dy);
  }
  Tensor dxh = head_ ? Tensor::empty({n, d_}, DType::kF32, dy.device()) : dx;
  core_.backward(dxh.reshape({n * heads_, d_ / heads_}),
                 dmerged.reshape({n * heads_, d_ / heads_}));
  if (head_) head_->backward(dx, dxh);
}

void MhMoeLayer::drop_activations() {
  core_.drop_activations();
  if (head_) head_->drop_activations();
  if (merge_) merge_->drop_activations();
  release(merged_);
}

}  // namespace sy
