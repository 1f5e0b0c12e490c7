// The FFN experts of one rank: E_local FFNs over the expert-major buffer, computed with the grouped
// GEMM (one group per expert, row segments given by the dispatch plan).
//
//   FFN_GELU: h = x · W1 (w→F),  a = GELU(h),            y = a · W2 (F→w)
//   SWIGLU:   h = x · W1 (w→2F), a = SiLU(h_gate) ⊙ h_up, y = a · W2 (F→w)
//
// No biases (our choice: as in Switch and MH-MoE's release). The weights of global expert e are
// drawn from the counter RNG at offset e, so they do not depend on which rank holds e (or on ep).
// The backward comes in two halves, so the scheduler can send dx before computing the weight
// gradients (which nothing downstream waits for).
#pragma once

#include <vector>

#include "experts/experts.h"

namespace sy {

class FfnExperts final : public Experts {
 public:
  FfnExperts(const MoeOptions& options, int width, ExpertRange range, Device device);

  void forward(const Tensor& y, std::unique_ptr<ExpertState>& saved, const Tensor& x,
               const ExpertSegments& segments) override;
  // Keeps dh for backward_weights.
  void backward_data(const Tensor& dx, ExpertState& saved, const Tensor& dy,
                     const ExpertSegments& segments) override;
  // W1.grad and W2.grad of the segments' experts.
  void backward_weights(const ExpertState& saved, const Tensor& dy,
                        const ExpertSegments& segments) override;
  std::vector<Param*> params() override {
    if (bias_) return {&w1_, &w2_, &b1_, &b2_};
    return {&w1_, &w2_};
  }
  double forward_flops(int64_t m) const override;

 private:
  pb::ExpertKind kind_;
  Activation gelu_;
  int width_, hidden_;
  double flops_per_item_;  // expert_flops_per_item (experts/expert_cost.h)
  Param w1_;               // (E_local, w, F) or (E_local, w, 2F)
  Param w2_;               // (E_local, F, w)
  bool bias_;
  Param b1_, b2_;  // with options.expert_bias: (E_local, F or 2F), (E_local, w); zero at start

  // Each segment's expert bias added to its rows; the bias gradients from the rows' gradients.
  static void add_segment_bias(const Tensor& rows, const Param& b, const ExpertSegments& seg);
  static void segment_bias_grad(const Param& b, const Tensor& drows, const ExpertSegments& seg);
};

}  // namespace sy
