// Monarch Mixer layers (PAPERS.md, M2; M2-BERT's release `monarch_mixer_sequence_mixer.py`).
// Sequence mixer, on x (B·T, d):
//   [x1 | x2 | v] = x · W_in (d → 3d);  each of the 3d channels through a short causal depthwise
//   convolution (3 taps);  z = v ⊙ x1;  c = k ∗ z, a long convolution per channel computed with
//   Monarch DFTs at 2T (runtime/ops/long_conv.h), causal (M2-GPT) or bidirectional (M2-BERT), its
//   kernel k implicit (Hyena's filter plus the skip u·D) or explicit (long_kernel.h);
//   g = c ⊙ x2 (+ k₂ ∗ x, the residual long convolution of the input, as the release's);
//   y = g · W_out.
// The short convolution stays causal in M2-BERT too (our choice: it only sees 2 positions back;
// the release pads both sides and keeps the first T outputs, which is the same causal filter).
// Dimension mixer: a gated MLP with block-diagonal weights (4 blocks by default), the release's
// split: the in-projection's first F outputs are the gate, its last F the value —
//   y = W2 · (GELU(W1[:F] · x) ⊙ W1[F:] · x) + b2,  W1 (d → 2F) and W2 (F → d) block-diagonal,
// so gate and value read different input blocks.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "models/layers/long_kernel.h"
#include "runtime/layers/linear.h"
#include "runtime/ops/shared/elementwise_math.h"

namespace sy {

struct M2MixerOptions {
  bool bidirectional = false;  // M2-BERT: the long kernels span lags −(T−1) … T−1
  LongKernelOptions kernel;    // both long convolutions' kernels
  bool residual_long_conv = false;
};

class M2SequenceMixer {
 public:
  M2SequenceMixer(const std::string& name, int64_t dim, int64_t seq_len,
                  const M2MixerOptions& options, uint64_t seed, Device device);
  // x, y (B·T, d).
  void forward(const Tensor& y, const Tensor& x, int64_t batch);
  void backward(const Tensor& dx, const Tensor& dy);
  std::vector<Param*> params();
  void drop_activations();

 private:
  void residual_backward(const Tensor& dx, const Tensor& dg);

  int64_t d_, t_;
  Linear in_, out_;
  Param short_k_;  // (3d, 3): the short depthwise kernel, positions 0..2
  LongKernel long_k_;
  std::unique_ptr<LongKernel> residual_k_;  // residual_long_conv
  int64_t b_ = 0;
  Tensor u_cm_, s_cm_, parts_, z_, c_, x2_, k_;  // channel-major activations, the kernel
  Tensor x_cm_, k2_;                             // the residual convolution's input and kernel
};

class BlockDiagGluMlp {
 public:
  BlockDiagGluMlp(const std::string& name, int64_t dim, int64_t hidden, int blocks, uint64_t seed,
                  Device device, Activation gelu = Activation::kGelu);
  void forward(const Tensor& y, const Tensor& x);
  void backward(const Tensor& dx, const Tensor& dy);
  std::vector<Param*> params() { return {&w1_, &w2_, &b2_}; }
  void drop_activations() { release(x_, ab_, ga_, g_); }

 private:
  int64_t d_, h_;
  Activation gelu_;
  Param w1_;  // (nb, 2h/nb, d/nb): output columns [0, h) the gate, [h, 2h) the value
  Param w2_;  // (nb, d/nb, h/nb)
  Param b2_;  // (d)
  Tensor x_, ab_, ga_, g_;
};

}  // namespace sy
