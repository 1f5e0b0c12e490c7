// The Spatial Gating Unit of gMLP (PAPERS.md), causal and multi-head, on Z (B·T, 2F):
//   Z1, Z2 = the two halves of Z;  G = W_s · LN(Z2) + b  (W_s: T×T, lower-triangular, one per
//   head of F/h channels, mixing along the sequence; b: one value per head and position);
//   out = Z1 ⊙ G  (B·T, F).
// W_s starts near zero (U(−ε, ε), ε = 1e-3/T) and b at 1, so a fresh SGU passes Z1 through — the
// block starts as a plain FFN. The upper triangle of W_s is masked out in the forward pass and in
// its gradient, so no position ever reads a later one.
#pragma once

#include <string>
#include <vector>

#include "models/layers/norms.h"

namespace sy {

class SpatialGatingUnit {
 public:
  SpatialGatingUnit(const std::string& name, int64_t channels, int64_t seq_len, int heads,
                    uint64_t seed, Device device);
  // z (B·T, 2F) → out (B·T, F).
  void forward(const Tensor& out, const Tensor& z, int64_t batch);
  void backward(const Tensor& dz, const Tensor& dout);
  std::vector<Param*> params();
  void drop_activations() {
    norm_.drop_activations();
    release(halves_, z2n_, zp_, gate_, w_eff_);
  }

 private:
  int64_t f_, t_;
  int heads_;
  LayerNorm norm_;
  Param w_, b_;  // (h, T, T), (h, T)
  int64_t batch_ = 0;
  Tensor halves_, z2n_, zp_, gate_, w_eff_;
};

}  // namespace sy
