// The AdamW update of one element, shared by the CPU and CUDA optimizers (contract 12).
#pragma once

#include <cmath>
#include <cstdint>

#include "runtime/core/hostdevice.h"

namespace sy {
namespace kernels {

SY_HD void adamw_element(float* p, float* m, float* v, float g, float lr, float b1, float b2,
                         float eps, float wd, float bias1, float bias2) {
  float mi = b1 * *m + (1.0f - b1) * g;
  float vi = b2 * *v + (1.0f - b2) * g * g;
  *m = mi;
  *v = vi;
  float mhat = mi / bias1, vhat = vi / bias2;
  *p -= lr * (mhat / (sqrtf(vhat) + eps) + wd * *p);
}

// Whether the global squared norm Σ sq[0..k) is finite: a step whose gradients hold NaN or inf
// changes nothing (the trainer counts it as skipped).
SY_HD bool finite_norm(const double* sq, int k) {
  double total = 0;
  for (int i = 0; i < k; ++i) total += sq[i];
  return total - total == 0.0;  // false for NaN and ±inf
}

// The factor that clips the gradients to the global norm √(Σ sq[0..k)) (1: no clipping).
SY_HD float clip_scale(const double* sq, int k, float clip) {
  double total = 0;
  for (int i = 0; i < k; ++i) total += sq[i];
  const double norm = sqrt(total);
  return clip > 0 && norm > clip ? static_cast<float>(clip / (norm + 1e-6)) : 1.0f;
}

// Whether element i lies in one of the r ascending, disjoint [begin, end) ranges (binary search).
SY_HD bool in_ranges(const int64_t* ranges, int64_t r, int64_t i) {
  int64_t lo = 0, hi = r;  // the first range with begin > i is at hi after the search
  while (lo < hi) {
    const int64_t mid = (lo + hi) / 2;
    if (ranges[2 * mid] <= i)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo > 0 && i < ranges[2 * (lo - 1) + 1];
}

}  // namespace kernels
}  // namespace sy
