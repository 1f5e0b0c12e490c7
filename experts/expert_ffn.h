// The experts of one rank: E_local FFNs over the expert-major buffer, computed with the grouped
// GEMM (one group per expert, row segments given by the dispatch plan).
//
//   FFN_GELU: h = x · W1 (w→F),  a = GELU(h),            y = a · W2 (F→w)
//   SWIGLU:   h = x · W1 (w→2F), a = SiLU(h_gate) ⊙ h_up, y = a · W2 (F→w)
//
// No biases (our choice: as in Switch and MH-MoE's release). The weights of global expert e are
// drawn from the counter RNG at offset e, so they do not depend on which rank holds e (or on ep).
#pragma once

#include <vector>

#include "experts/experts.h"
#include "experts/moe_options.h"
#include "runtime/core/param.h"

namespace sy {

class ExpertFFN final : public Experts {
 public:
  // Holds global experts [first_expert, first_expert + local_experts).
  ExpertFFN(const MoeOptions& options, int width, int first_expert, int local_experts,
            Device device);

  // Local experts [lb, le) on their rows: y (M, w) = expert(x) row segment by row segment;
  // offsets has le − lb + 1 entries, from 0 to M.
  void forward(ExpertActivations& saved, const Tensor& y, const Tensor& x,
               const std::vector<int64_t>& offsets, int lb, int le) override;
  // The backward in two halves, so the scheduler can send dx before computing the weight
  // gradients (which nothing downstream waits for): backward_data sets dx (M, w) = dL/dx and keeps
  // dh; backward_weights adds W1.grad and W2.grad of experts [lb, le).
  void backward_data(const Tensor& dx, const Tensor& dy, ExpertActivations& saved,
                     const std::vector<int64_t>& offsets, int lb, int le) override;
  void backward_weights(const Tensor& dy, const ExpertActivations& saved,
                        const std::vector<int64_t>& offsets, int lb, int le) override;

  std::vector<Param*> params() override { return {&w1_, &w2_}; }
  int local_experts() const { return local_; }
  // Multiply-adds of a forward pass over m rows (the benchmark's napkin math).
  double forward_flops(int64_t m) const override;

 private:
  pb::ExpertKind kind_;
  int width_, hidden_, local_;
  Param w1_;  // (E_local, w, F) or (E_local, w, 2F)
  Param w2_;  // (E_local, F, w)
};

}  // namespace sy
