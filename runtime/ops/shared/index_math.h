// Index arithmetic of the permute op and the per-element sum of the embedding gradient, shared
// by CPU and CUDA (contract 12).
#pragma once

#include <cstdint>

#include "runtime/core/hostdevice.h"

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

// Row v of the embedding gradient: the rows of dout with id v, in order (order/offsets from a
// stable counting sort of the ids).
SY_HD void embedding_grad_element(float* dtable, const float* dout, const int32_t* order,
                                  const int32_t* offsets, int64_t v, int64_t c, int64_t cols) {
  float s = 0.0f;
  for (int32_t j = offsets[v]; j < offsets[v + 1]; ++j)
    s += dout[static_cast<int64_t>(order[j]) * cols + c];
  dtable[v * cols + c] += s;
}

}  // namespace kernels
}  // namespace sy
