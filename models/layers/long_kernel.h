// The kernel of one long convolution of M2's sequence mixer, (C, taps) as long_conv_forward reads
// it: taps = T (causal) or 2T (bidirectional: lag j in column j, lag j − 2T in column j ≥ T), and
// C = d/heads channels — channel c of the d reads kernel row c mod C, so the heads share it
// (H3-style; heads = 1 gives one kernel per channel).
//   EXPLICIT: one learned weight per row and lag, a decaying random start.
//   IMPLICIT: Hyena's filter (implicit_filter.h) plus the skip u·D of the release, folded into
//     lag 0: conv(u, k) + u·D = conv(u, k + D·δ₀). D (C) starts N(0, 1), as the release's.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "models/layers/implicit_filter.h"

namespace sy {

struct LongKernelOptions {
  bool implicit = true;
  ImplicitFilterOptions filter;  // its `bidirectional` is the kernel's
  int heads = 1;
  float filter_lr = 0.0f;             // the filter MLPs' Param::lr
  float filter_weight_decay = -1.0f;  // and Param::weight_decay
};

class LongKernel {
 public:
  LongKernel(const std::string& name, int64_t dim, int64_t seq_len, const LongKernelOptions& o,
             uint64_t seed, Device device);
  // The kernel (C, taps), valid until the next forward.
  const Tensor& forward();
  // Where the convolution's backward accumulates dk (C, taps) — zeroed here — and the step that
  // carries it to the parameters after.
  const Tensor& grad_buffer();
  void backward();
  std::vector<Param*> params();
  void drop_activations();

 private:
  int64_t c_, taps_;
  std::unique_ptr<ImplicitFilter> filter_;
  Param explicit_;  // (C, taps), EXPLICIT
  Param skip_;      // D (C), IMPLICIT
  Tensor kernel_, dkernel_;
};

}  // namespace sy
