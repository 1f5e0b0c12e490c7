// Hyena's implicit long-convolution filter (PAPERS.md, M2; M2-BERT's release `hyena_utils.py`).
// The kernel of C channels over T lags is a function of the lag t, not a table of weights:
//   z(t) = [t/(T−1), cos(f_1·ω_t), …, cos(f_n·ω_t), −sin(f_1·ω_t), …]    ω_t = 2πt/T,
//          f = linspace(1e-4, n−1, n), n = (features − 1)/2 bands         (fixed features)
//   h(t) = W_out · s(W_k · … s(W_1 · z(t) + b_1) … + b_k),  s(u) = sin(φ ⊙ u)   (C outputs)
//   k[c, t] = h_c(t) · exp(−t/(T−1) · |δ_c|),  δ = linspace(ln(1e-2)/1.5, ln(1e-2)/0.3, C)
// The sine frequency φ (width W, starts at `frequency`) is one learned vector shared by every sine
// layer, as in the release. The release also trains z with a learning rate of 1e-5; we keep z
// fixed (our choice). The decay window is fixed, as the release's (its learning rate is 0).
// Bidirectional: a second MLP gives the anticausal half, and the 2T circular kernel is
// [k_fwd(0 … T−1) | k_rev(T−1 … 0)] — lag −(j+1) reads k_rev(j).
#pragma once

#include <string>
#include <vector>

#include "runtime/layers/linear.h"

namespace sy {

struct ImplicitFilterOptions {
  int64_t width = 64;    // W, the MLP's width
  int features = 5;      // positional features, odd ≥ 3
  int inner_layers = 2;  // W → W sine layers after the first
  float frequency = 10;  // φ at start
  bool bidirectional = false;
};

class ImplicitFilter {
 public:
  ImplicitFilter(const std::string& name, int64_t channels, int64_t seq_len,
                 const ImplicitFilterOptions& options, uint64_t seed, Device device);
  // kernel (taps, C), taps = T (2T bidirectional), assigned: lag-major, window applied.
  void forward(const Tensor& kernel);
  // dkernel (taps, C): accumulates the parameters' gradients.
  void backward(const Tensor& dkernel);
  std::vector<Param*> params();
  int64_t taps() const { return window_.dim(0); }
  void drop_activations();

 private:
  // One direction's MLP: the sine layers and the output projection, with the pre-activations the
  // backward needs.
  struct Mlp {
    std::vector<Linear> layers;  // first, inner…, out (no bias)
    std::vector<Tensor> pre;     // the sine layers' inputs
  };
  void mlp_forward(Mlp& m, const Tensor& h, const Tensor& z);
  void mlp_backward(Mlp& m, const Tensor& dh);

  int64_t t_;
  ImplicitFilterOptions o_;
  Param freq_;                    // φ (W)
  std::vector<Mlp> mlps_;         // forward, then (bidirectional) reverse
  std::vector<Tensor> features_;  // per MLP (T, features): z(t), reversed for the reverse MLP
  Tensor window_;                 // (taps, C), the decay window of each half's rows
};

}  // namespace sy
