// What a MoE layer's experts are to the layer: the local experts of one rank, computed over the
// expert-major buffer (row segments per expert), in chunks of local experts [lb, le) for the
// overlap scheduler, with the backward split so the data gradient can be sent before the weight
// gradients are computed. Implemented by ExpertFFN (token MoE: FFN/SwiGLU) and SguExperts
// (sMLP's feature MoE: causal spatial gating per channel chunk).
#pragma once

#include <vector>

#include "runtime/core/param.h"

namespace sy {

// What a forward pass keeps for its backward (one per chunk); each kind uses what it needs.
struct ExpertActivations {
  Tensor x;   // (M, w) the expert-major input
  Tensor h;   // hidden pre-activation (FFN)
  Tensor a;   // hidden activation (FFN)
  Tensor dh;  // set by backward_data for backward_weights (FFN)
};

class Experts {
 public:
  virtual ~Experts() = default;
  // Local experts [lb, le) on their rows: y (M, w); offsets has le − lb + 1 entries, 0 … M.
  virtual void forward(ExpertActivations& saved, const Tensor& y, const Tensor& x,
                       const std::vector<int64_t>& offsets, int lb, int le) = 0;
  // dx (M, w) = dL/dx (assigned).
  virtual void backward_data(const Tensor& dx, const Tensor& dy, ExpertActivations& saved,
                             const std::vector<int64_t>& offsets, int lb, int le) = 0;
  // The weight gradients of experts [lb, le) accumulate.
  virtual void backward_weights(const Tensor& dy, const ExpertActivations& saved,
                                const std::vector<int64_t>& offsets, int lb, int le) = 0;
  virtual std::vector<Param*> params() = 0;
  // Multiply-adds × 2 of a forward pass over m rows (cost model, benchmarks).
  virtual double forward_flops(int64_t m) const = 0;
};

}  // namespace sy
