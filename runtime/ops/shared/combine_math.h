// One element of the MoE combine, shared by CPU and CUDA (contract 12): the k weighted rows summed
// in j order.
#pragma once

#include <cstdint>

#include "runtime/core/hostdevice.h"

namespace sy {
namespace kernels {

// One element c of combined row s.
SY_HD float combine_element(const float* y, const int32_t* pos, const float* w, int64_t s, int k,
                            int64_t c, int64_t cols) {
  float acc = 0.0f;
  for (int j = 0; j < k; ++j) {
    int32_t p = pos[s * k + j];
    if (p >= 0) acc += w[s * k + j] * y[p * cols + c];
  }
  return acc;
}

}  // namespace kernels
}  // namespace sy
