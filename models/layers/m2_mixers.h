// Monarch Mixer layers (PAPERS.md, M2). Sequence mixer, causal (M2-GPT):
//   [x1 | x2 | v] = x · W_in (d → 3d);  each of the 3d channels through a short causal depthwise
//   convolution (3 taps); z = v ⊙ x1;  c = k ∗ z, a causal long convolution with a learned kernel
//   per channel, computed with Monarch DFTs at 2T (runtime/ops/long_conv.h);  y = (c ⊙ x2) · W_out.
// Dimension mixer: a gated MLP with block-diagonal weights (4 blocks by default):
//   y = W2 · (GELU(W1a · x) ⊙ (W1b · x)),  W1 = [W1a; W1b] and W2 block-diagonal.
// M2-BERT's mixer is the same with a bidirectional long kernel (the short convolution stays causal,
// our choice: it only sees 2 positions back).
#pragma once

#include <string>
#include <vector>

#include "runtime/layers/linear.h"
#include "runtime/ops/shared/elementwise_math.h"

namespace sy {

class M2SequenceMixer {
 public:
  // bidirectional (M2-BERT): the long kernel spans lags −(T−1) … T−1 (a 2T circular kernel).
  M2SequenceMixer(const std::string& name, int64_t dim, int64_t seq_len, uint64_t seed,
                  Device device, bool bidirectional = false);
  // x, y (B·T, d).
  void forward(const Tensor& y, const Tensor& x, int64_t batch);
  void backward(const Tensor& dx, const Tensor& dy);
  std::vector<Param*> params();
  void drop_activations() {
    in_.drop_activations();
    out_.drop_activations();
    release(u_cm_, s_cm_, parts_, z_, c_, x2_);
  }

 private:
  int64_t d_, t_;
  Linear in_, out_;
  Param short_k_;  // (3d, 3): the short depthwise kernel, positions 0..2
  Param long_k_;   // (d, T): the long kernel
  int64_t b_ = 0;
  Tensor u_cm_, s_cm_, parts_, z_, c_, x2_;  // channel-major activations
};

class BlockDiagGluMlp {
 public:
  BlockDiagGluMlp(const std::string& name, int64_t dim, int64_t hidden, int blocks, uint64_t seed,
                  Device device, Activation gelu = Activation::kGelu);
  void forward(const Tensor& y, const Tensor& x);
  void backward(const Tensor& dx, const Tensor& dy);
  std::vector<Param*> params() { return {&w1_, &w2_}; }
  void drop_activations() { release(x_, ab_, ga_, g_); }

 private:
  int64_t d_, h_;
  Activation gelu_;
  Param w1_;  // (nb, 2h/nb, d/nb): rows [0, h/nb) of each block → a, [h/nb, 2h/nb) → b
  Param w2_;  // (nb, d/nb, h/nb)
  Tensor x_, ab_, ga_, g_;
};

}  // namespace sy
