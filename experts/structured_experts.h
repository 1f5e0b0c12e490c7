// Monarch experts (PAPERS.md, "Where experts meet Monarch"): the MoE layer's expert FFN with
// structured weight matrices — fewer parameters and FLOPs per expert, the same dispatch.
//   BLOCKDIAG: y = BD(W2) · GELU(BD(W1) · x), W1 (nb blocks of F/nb × w/nb), W2 (nb of w/nb × F/nb)
//   MONARCH:   y = M2 · GELU(M1 · x), M1 and M2 Monarch matrices of size w (so F = w; our choice:
//              a square Monarch keeps the order-2 structure exact), w = b1·b2 with b1 the largest
//              divisor ≤ √w.
// Computed expert by expert over the expert-major rows (a loop of batched GEMMs: fine on the CPU;
// on a GPU it serialises experts, unlike the dense experts' grouped GEMM). Weight gradients are
// computed with the data gradient, by the same Monarch and block-diagonal backward ops, so this
// kind opts out of sending dx first: backward_weights has nothing left to do.
#pragma once

#include "experts/experts.h"
#include "experts/moe_options.h"

namespace sy {

class StructuredExperts final : public Experts {
 public:
  StructuredExperts(const MoeOptions& options, int width, ExpertRange range, Device device);
  void forward(const Tensor& y, std::unique_ptr<ExpertState>& saved, const Tensor& x,
               const ExpertSegments& segments) override;
  void backward_data(const Tensor& dx, ExpertState& saved, const Tensor& dy,
                     const ExpertSegments& segments) override;
  void backward_weights(const ExpertState&, const Tensor&, const ExpertSegments&) override {}
  std::vector<Param*> params() override;
  double forward_flops(int64_t m) const override;

 private:
  // First and second projection of expert l on rows (y = P(x)), and their backward.
  void project(int which, int l, const Tensor& y, const Tensor& x);
  void project_backward(int which, int l, const Tensor& dx, const Tensor& dy, const Tensor& x);

  pb::ExpertKind kind_;
  Activation gelu_;
  int64_t width_, hidden_, b1_ = 1, b2_ = 1;
  double flops_per_item_;  // expert_flops_per_item (experts/expert_cost.h)
  std::vector<Param> p_;   // BLOCKDIAG: w1, w2; MONARCH: l1, r1, l2, r2 — each (E_local, …)
};

}  // namespace sy
