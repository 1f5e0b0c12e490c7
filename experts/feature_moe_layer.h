// sMLP's sMoE — feature-space MoE (DESIGN.md contract 4): the hidden representation z (B·T, F) is
// cut along the channels into E chunks of c = F/E; each (sequence, chunk) pair is an item of T·c
// values that travels, through the same dispatch plan and communicator as token MoE, to the rank
// that owns its expert — a causal spatial gating unit that mixes along the sequence
// (experts/sgu_experts.h) — and comes back scaled by its gate weight. Routing: deterministic
// (chunk e → expert e) or partial prediction (a gate on the first Tp positions).
#pragma once

#include <memory>

#include "experts/moe_layer.h"

namespace sy {

struct FeatureMoeOptions {
  int num_experts = 4;
  int64_t channels = 64;  // F
  int64_t seq_len = 32;   // T
  pb::FeatureRouting routing = pb::DETERMINISTIC;
  int64_t prefix_len = 0;  // Tp for partial prediction (the model masks the loss on it)
  float balance_coef = 0.01f, z_coef = 0.001f;
  uint64_t seed = 1234;
  std::string name = "smoe";
  bool recompute_experts = false;  // MoeOptions::recompute_experts
};

class FeatureMoeLayer {
 public:
  FeatureMoeLayer(const FeatureMoeOptions& options, const ProcessGroups& groups, Device device,
                  const pb::ParallelConfig* overlap = nullptr);
  // z (B·T, F) → g (B·T, F): each chunk of each sequence mixed along T by its expert.
  void forward(const Tensor& g, const Tensor& z, int64_t batch, bool training);
  void backward(const Tensor& dz, const Tensor& dg);
  std::vector<Param*> params() { return core_->params(); }
  double aux_loss() const { return core_->aux_loss(); }
  const MoeLayer& core() const { return *core_; }
  void drop_activations() { core_->drop_activations(); }

 private:
  FeatureMoeOptions o_;
  int64_t c_;
  std::unique_ptr<MoeLayer> core_;
  int64_t batch_ = 0;
};

}  // namespace sy
