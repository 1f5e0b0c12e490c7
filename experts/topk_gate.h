// The top-k softmax gate over router logits, as ops on the logits' device: choices, gate weights
// (raw softmax probabilities, or renormalised over the k chosen), the Switch/GShard balance loss
// and the ST-MoE router z-loss — both over all items of the world — and the backward of all of it.
// Shared by the top-k and X-MoE routers.
#pragma once

#include <vector>

#include "experts/router.h"

namespace sy {

class TopKGate {
 public:
  // renormalize with k = 1 is refused: every weight would be 1 and the router would get no
  // gradient from the task loss.
  TopKGate(int num_experts, int k, bool renormalize, float balance_coef, float z_coef)
      : e_(num_experts), k_(k), renorm_(renormalize), bal_coef_(balance_coef), z_coef_(z_coef) {
    SY_CHECK(!(renormalize && k == 1),
             "renormalize with top_k 1 makes every gate weight 1 and cuts the router off the "
             "task loss; set renormalize: false or top_k ≥ 2");
  }

  // logits (S,E) → out.expert, out.weight and out.world_sums (the losses' sums over this rank's
  // items, 2E+1 values).
  void forward(Routing& out, const Tensor& logits);
  // The losses, from the sums over the world.
  void reduce(Routing& out, const std::vector<double>& sums, int64_t items_world);
  // dweight (S,k) → dlogits (S,E) (assigned), the losses' gradients included.
  void backward(const Tensor& dlogits, const Tensor& dweight) const;

 private:
  int e_, k_;
  bool renorm_;
  float bal_coef_, z_coef_;
  // Saved by forward and reduce.
  Tensor probs_, lse_, expert_;  // (S,E), (S), (S,k)
  Tensor balance_;               // (E): the balance loss's gradient per expert
  double items_world_ = 0;
};

}  // namespace sy
