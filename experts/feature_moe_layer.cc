#include "experts/feature_moe_layer.h"

#include "experts/router_factories.h"
#include "experts/sgu_experts.h"
#include "runtime/ops/ops.h"

namespace sy {

FeatureMoeLayer::FeatureMoeLayer(const FeatureMoeOptions& o, const ProcessGroups& groups,
                                 Device device, const pb::ParallelConfig* overlap)
    : o_(o) {
  SY_CHECK(o.num_experts >= 1 && o.channels % o.num_experts == 0,
           "sMoE '" << o.name << "': " << o.channels << " channels do not split into "
                    << o.num_experts << " chunks");
  c_ = o.channels / o.num_experts;
  MoeOptions m;
  m.d_model = static_cast<int>(o.seq_len * c_);  // an item: one chunk of one sequence
  m.num_experts = o.num_experts;
  m.top_k = 1;
  m.dropless = true;  // a dropped item would lose a whole chunk of a sequence
  m.balance_coef = o.balance_coef;
  m.z_coef = o.z_coef;
  m.seed = o.seed;
  m.name = o.name;
  m.recompute_experts = o.recompute_experts;
  if (overlap) m.set_overlap(*overlap);
  std::unique_ptr<Router> router =
      o.routing == pb::PARTIAL_PREDICTION
          ? make_prefix_feature_router(m, o.seq_len, c_, o.prefix_len, device)
          : make_deterministic_feature_router(o.num_experts);
  auto experts = std::make_unique<SguExperts>(o.name, o.seq_len, c_,
                                              groups.expert_range(o.num_experts), o.seed, device);
  core_ = std::make_unique<MoeLayer>(m, groups, device, std::move(router), std::move(experts));
}

void FeatureMoeLayer::forward(const Tensor& g, const Tensor& z, int64_t batch, bool training) {
  const int64_t t = o_.seq_len, e = o_.num_experts;
  SY_CHECK(z.rows() == batch * t && z.cols() == o_.channels,
           "sMoE: z must be (B·T, F) = (" << batch * t << ", " << o_.channels << ")");
  batch_ = batch;
  Device d = z.device();
  // (B, T, E, c) → (B, E, T, c): item b·E + e is chunk e of sequence b, T·c contiguous values.
  Tensor items = Tensor::empty({batch, e, t, c_}, DType::kF32, d);
  permute(items, z.reshape({batch, t, e, c_}), {0, 2, 1, 3});
  Tensor out = Tensor::empty({batch * e, t * c_}, DType::kF32, d);
  core_->forward(out, items.reshape({batch * e, t * c_}), nullptr, training);
  permute(g.reshape({batch, t, e, c_}), out.reshape({batch, e, t, c_}), {0, 2, 1, 3});
}

void FeatureMoeLayer::backward(const Tensor& dz, const Tensor& dg) {
  const int64_t t = o_.seq_len, e = o_.num_experts, b = batch_;
  Device d = dg.device();
  Tensor dout = Tensor::empty({b, e, t, c_}, DType::kF32, d);
  permute(dout, dg.reshape({b, t, e, c_}), {0, 2, 1, 3});
  Tensor ditems = Tensor::empty({b * e, t * c_}, DType::kF32, d);
  core_->backward(ditems, dout.reshape({b * e, t * c_}));
  permute(dz.reshape({b, t, e, c_}), ditems.reshape({b, e, t, c_}), {0, 2, 1, 3});
}

}  // namespace sy
