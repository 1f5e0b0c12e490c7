// Per-row logic of the cross-entropy, shared by CPU and CUDA (contract 12).
#pragma once

#include <cmath>
#include <cstdint>

#include "runtime/core/hostdevice.h"

namespace sy {
namespace kernels {

SY_HD float logsumexp_row(const float* l, int64_t n) {
  float m = -INFINITY;
  for (int64_t i = 0; i < n; ++i) m = l[i] > m ? l[i] : m;
  float s = 0.0f;
  for (int64_t i = 0; i < n; ++i) s += expf(l[i] - m);
  return m + logf(s);
}

SY_HD float cross_entropy_row(const float* l, int32_t target, int64_t n) {
  return target < 0 ? 0.0f : logsumexp_row(l, n) - l[target];
}

SY_HD void cross_entropy_backward_row(float* dl, const float* l, int32_t target, float dloss,
                                      int64_t n) {
  if (target < 0) {
    for (int64_t i = 0; i < n; ++i) dl[i] = 0.0f;
    return;
  }
  float lse = logsumexp_row(l, n);
  for (int64_t i = 0; i < n; ++i) dl[i] = (expf(l[i] - lse) - (i == target ? 1.0f : 0.0f)) * dloss;
}

}  // namespace kernels
}  // namespace sy
