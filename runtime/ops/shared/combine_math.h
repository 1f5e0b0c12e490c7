// One element of the MoE combine, shared by CPU and CUDA (contract 12): the k weighted rows summed
// in j order, in fp32.
#pragma once

#include <cstdint>

#include "runtime/core/dtype.h"
#include "runtime/core/hostdevice.h"

namespace sy {
namespace kernels {

// One element c of combined row s; the rows y are the exchange's payload, f32 or bf16.
template <typename T>
SY_HD float combine_element(const T* y, const int32_t* pos, const float* w, int64_t s, int k,
                            int64_t c, int64_t cols) {
  float acc = 0.0f;
  for (int j = 0; j < k; ++j) {
    int32_t p = pos[s * k + j];
    if (p >= 0) acc += w[s * k + j] * load_float(y[p * cols + c]);
  }
  return acc;
}

}  // namespace kernels
}  // namespace sy
