// MH-MoE (PAPERS.md): each token is projected (d → d), split into h sub-tokens of width d/h that
// are routed independently through the core MoE layer, merged back and projected again (d → d).
// A wrapper around the core layer, as sMLP's feature MoE is: the core sees (N·h, d/h) items and
// the sub-tokens' ids (token · h + head, for hash routing). Without projections it only splits
// and merges (h = 1 without projections is the core layer itself: make_token_moe returns that).
#pragma once

#include <memory>
#include <vector>

#include "experts/moe_layer.h"
#include "runtime/layers/linear.h"

namespace sy {

class MhMoeLayer final : public TokenMoe {
 public:
  MhMoeLayer(const MoeOptions& options, const ProcessGroups& groups, Device device);

  void forward(const Tensor& y, const Tensor& x, const int32_t* token_ids, bool training) override;
  void backward(const Tensor& dx, const Tensor& dy) override;
  // The core's, then the head's and the merge's.
  std::vector<Param*> params() override;
  const MoeLayer& core() const override { return core_; }
  void drop_activations() override;
  // h sub-tokens through the core, and the two d × d projections.
  double forward_flops_per_token() const override;

 private:
  int heads_;
  int64_t d_;
  MoeLayer core_;
  std::unique_ptr<Linear> head_, merge_;  // with options.mh_projections
  Tensor merged_;                         // (N, d): the core's output, merged
};

}  // namespace sy
