// What a MoE layer's experts are to the layer: the local experts of one rank, computed over the
// expert-major buffer (row segments per expert), in chunks of local experts for the overlap
// scheduler, with the backward split so the data gradient can be sent before the weight gradients
// are computed. Kinds: FfnExperts (token MoE: FFN/SwiGLU on the grouped GEMM), StructuredExperts
// (block-diagonal and Monarch FFNs), SguExperts (sMLP's feature MoE: causal spatial gating).
// Gradients follow contract 1: parameter gradients accumulate, dx is assigned.
#pragma once

#include <memory>
#include <vector>

#include "comm/process_groups.h"
#include "experts/moe_options.h"
#include "runtime/core/param.h"

namespace sy {

// The rows of local experts [first, last) in an expert-major buffer: local expert first + i owns
// rows [offsets[i], offsets[i + 1]).
struct ExpertSegments {
  int first = 0, last = 0;
  std::vector<int64_t> offsets;  // last − first + 1 entries, from 0 to rows()
  int64_t rows() const { return offsets.empty() ? 0 : offsets.back(); }
  // f(l, begin, end) for every local expert l with rows, in order: rows [begin, end) are l's.
  template <typename F>
  void for_each(F&& f) const {
    for (int l = first; l < last; ++l) {
      const int64_t begin = offsets[l - first], end = offsets[l - first + 1];
      if (begin < end) f(l, begin, end);
    }
  }
};

// What a forward pass keeps for its backward (one per chunk); each kind derives its own.
struct ExpertState {
  virtual ~ExpertState() = default;
};

class Experts {
 public:
  virtual ~Experts() = default;
  // y (M, w) = the local experts of `segments` applied to their rows of x (M, w); `saved` receives
  // what the backward needs.
  virtual void forward(const Tensor& y, std::unique_ptr<ExpertState>& saved, const Tensor& x,
                       const ExpertSegments& segments) = 0;
  // dx (M, w) = dL/dx (assigned). A kind whose weight gradients come out of the same computation
  // (StructuredExperts) accumulates them here too and has nothing left for backward_weights: it
  // opts out of sending dx before the weight gradients are computed.
  virtual void backward_data(const Tensor& dx, ExpertState& saved, const Tensor& dy,
                             const ExpertSegments& segments) = 0;
  // The weight gradients of the segments' experts accumulate.
  virtual void backward_weights(const ExpertState& saved, const Tensor& dy,
                                const ExpertSegments& segments) = 0;
  virtual std::vector<Param*> params() = 0;
  // The dtype of the rows they take and give (the all-to-all payload): their weights' compute
  // dtype — bf16 in mixed precision, f32 otherwise. Every kind's first parameter is a GEMM weight.
  DType payload_dtype() { return params().front()->compute().dtype(); }
  // Multiply-adds × 2 of a forward pass over m rows (cost model, benchmarks).
  virtual double forward_flops(int64_t m) const = 0;
};

// The experts of a token-MoE layer as options.expert says (FFN_GELU, SWIGLU, BLOCKDIAG, MONARCH),
// over items of the given width: the global experts of `range`, their weights drawn per global
// expert so that they do not depend on ep.
std::unique_ptr<Experts> make_experts(const MoeOptions& options, int width, ExpertRange range,
                                      Device device);

}  // namespace sy
