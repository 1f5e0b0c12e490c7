// The linear layer, the one layer below experts/ (MH-MoE's head and merge projections use it, as
// the models do). Like every layer (models/layers/), a pair forward/backward with explicit saved
// state (no autograd tape), following DESIGN.md contract 1: parameter gradients accumulate (+=),
// activation gradients are assigned; a layer keeps what its last forward needs for the backward.
// Shapes: N rows (tokens: B·T flattened), widths in the comments.
#pragma once

#include <string>
#include <vector>

#include "runtime/core/param.h"

namespace sy {

// y (N, out) = x (N, in) · W (in, out) + b. W ~ N(0, 1/in) from the counter RNG; b = 0.
class Linear {
 public:
  Linear(const std::string& name, int64_t in, int64_t out, bool bias, uint64_t seed, Device device,
         float init_scale = 1.0f);
  void forward(const Tensor& y, const Tensor& x);
  void backward(const Tensor& dx, const Tensor& dy);
  std::vector<Param*> params();
  Param& weight() { return w_; }
  // Drops what forward kept for backward (recompute: the forward runs again before backward).
  void drop_activations() { release(x_); }

 private:
  Param w_, b_;
  bool has_bias_;
  Tensor x_;
};

}  // namespace sy
