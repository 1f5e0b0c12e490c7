// Causal long convolution through Monarch DFTs — the core of M2-GPT's sequence mixer (PAPERS.md):
//   y[r, t] = Σ_{s ≤ t} k[r mod C, s] · x[r, t − s]
// Signal and kernel are zero-padded to N = 2T, transformed with the DFT as a Monarch product
// (N = b1·b2, b1 the largest divisor ≤ √N), multiplied pointwise, transformed back, and the first
// T outputs kept — causal by construction: the padding turns the circular convolution into a
// linear one. All GEMMs (batched) and strided permutes; O(N·(b1 + b2)) per row instead of O(T²).
#pragma once

#include "runtime/core/tensor.h"

namespace sy {

// x, y (R, T); k (C, T), C divides R (row r uses kernel r mod C: rows are batch-major).
// Bidirectional (M2-BERT): k (C, 2T) holds the taps of lags 0 … T−1 in columns 0 … T−1 and of
// lags −T … −1 in columns T … 2T−1 (circular order), so y[t] = Σ_{|lag| < T} k[lag mod 2T] ·
// x[t−lag]: the same 2T transform, without padding the kernel.
void long_conv_forward(const Tensor& y, const Tensor& x, const Tensor& k, Stream stream = {});
// dx (R, T) assigned; dk (C, T) or (C, 2T) accumulates.
void long_conv_backward(const Tensor& dx, const Tensor& dk, const Tensor& dy, const Tensor& x,
                        const Tensor& k, Stream stream = {});

}  // namespace sy
