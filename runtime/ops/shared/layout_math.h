// Index arithmetic of the permute op, shared by CPU and CUDA (contract 12).
#pragma once

#include <cstdint>

#include "runtime/core/hostdevice.h"
#include "runtime/ops/shared/rowwise_math.h"

namespace sy {
namespace kernels {

constexpr int kMaxPermuteDims = 6;

struct PermuteIndex {
  int ndim;
  int64_t out_shape[kMaxPermuteDims];
  int64_t in_stride_for_out_dim[kMaxPermuteDims];  // stride in `in` of out dimension i
};

// The offset in `in` of the element at linear index `o` of `out`.
SY_HD int64_t permute_source(const PermuteIndex& p, int64_t o) {
  int64_t src = 0;
  for (int d = p.ndim - 1; d >= 0; --d) {
    int64_t i = o % p.out_shape[d];
    o /= p.out_shape[d];
    src += i * p.in_stride_for_out_dim[d];
  }
  return src;
}

// Row i (query position) of a causal score block of width t.
SY_HD void causal_softmax_row(float* out, const float* in, int64_t i, int64_t t) {
  softmax_row(out, in, i + 1);
  for (int64_t j = i + 1; j < t; ++j) out[j] = 0.0f;
}

}  // namespace kernels
}  // namespace sy
