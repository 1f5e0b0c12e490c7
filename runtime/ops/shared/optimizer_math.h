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

}  // namespace kernels
}  // namespace sy
