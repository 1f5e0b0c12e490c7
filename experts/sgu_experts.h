// The experts of sMLP's feature-space MoE (sMoE): expert e is a causal Spatial Gating Unit of its
// own — a lower-triangular T×T matrix W_e and a bias b_e per position — that mixes along the
// sequence a chunk of c channels of one sequence. An item is one (sequence, channel chunk) pair,
// laid out as a row of T·c values (position-major). Our choice (PAPERS.md): the LayerNorm before
// the gating and the U, V projections stay dense and shared; only the spatial weights are experts,
// so the compute equals one SGU while the spatial parameters grow E-fold.
//
//   y_item (T, c) = tril(W_e) · x_item (T, c) + b_e ⊗ 1
//
// Computed per expert as one GEMM over all its items side by side: (T×T)·(T × m·c).
#pragma once

#include <vector>

#include "experts/expert_cost.h"
#include "experts/experts.h"

namespace sy {

class SguExperts final : public Experts {
 public:
  // Global experts [first, first + local); weights from the counter RNG at offset e (independent of
  // ep), W ≈ U(−1e-3/T, 1e-3/T) and b = 1: a fresh unit passes its input's gate through as 1.
  SguExperts(const std::string& name, int64_t seq_len, int64_t channels, ExpertRange range,
             uint64_t seed, Device device);

  // x, y (M, T·c) expert-major items of the segments' experts.
  void forward(const Tensor& y, std::unique_ptr<ExpertState>& saved, const Tensor& x,
               const ExpertSegments& segments) override;
  void backward_data(const Tensor& dx, ExpertState& saved, const Tensor& dy,
                     const ExpertSegments& segments) override;
  // W and b gradients accumulate, W's masked to the lower triangle.
  void backward_weights(const ExpertState& saved, const Tensor& dy,
                        const ExpertSegments& segments) override;
  std::vector<Param*> params() override { return {&w_, &b_}; }
  double forward_flops(int64_t m) const override {
    return static_cast<double>(m) * sgu_expert_flops_per_item(t_, c_);
  }

 private:
  // W_e with the upper triangle zeroed: (T, T).
  Tensor masked_weight(int l) const;

  int64_t t_, c_;
  Param w_, b_;  // (E_local, T, T), (E_local, T)
};

}  // namespace sy
