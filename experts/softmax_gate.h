// The softmax top-k gate over router logits, on the host: choices, gate weights (raw softmax
// probabilities, or renormalised over the k chosen), the Switch/GShard balance loss and the
// ST-MoE router z-loss — both over all items of the world — and the backward of all of it.
#pragma once

#include <vector>

#include "comm/communicator.h"
#include "experts/router.h"

namespace sy {

class SoftmaxGate {
 public:
  SoftmaxGate(int num_experts, int k, bool renormalize, float balance_coef, float z_coef)
      : e_(num_experts), k_(k), renorm_(renormalize), bal_coef_(balance_coef), z_coef_(z_coef) {}

  // logits (S,E) host. Fills out.expert/weight/losses. Collective over world (sums of counts,
  // probabilities and z over all items).
  void forward(Routing& out, const std::vector<float>& logits, int64_t items, Communicator& world);
  // dweight (S,k) → dlogits (S,E), including the losses' gradients.
  void backward(std::vector<float>& dlogits, const std::vector<float>& dweight) const;

 private:
  int e_, k_;
  bool renorm_;
  float bal_coef_, z_coef_;
  // Saved by forward.
  int64_t items_ = 0;
  double items_world_ = 0;
  std::vector<float> probs_;     // (S,E)
  std::vector<float> lse_;       // (S) logsumexp of each row
  std::vector<int32_t> choice_;  // (S,k)
  std::vector<float> topv_;      // (S,k) chosen probabilities
  std::vector<double> frac_;     // f_e over the world
};

}  // namespace sy
