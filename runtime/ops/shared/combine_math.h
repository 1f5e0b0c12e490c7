// Per-row logic of the MoE combine and the small elementwise ops, shared by CPU and CUDA
// (contract 12). Every sum runs in index order, so the two backends agree bitwise wherever the
// arithmetic itself is the same.
#pragma once

#include <cstdint>

#include "runtime/core/hostdevice.h"
#include "runtime/ops/shared/rowwise_math.h"

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

SY_HD float dot_row(const float* a, const float* b, int64_t n) {
  float acc = 0.0f;
  for (int64_t i = 0; i < n; ++i) acc += a[i] * b[i];
  return acc;
}

SY_HD void swiglu_element(float* out, const float* in, int64_t r, int64_t c, int64_t f) {
  float g = in[r * 2 * f + c], u = in[r * 2 * f + f + c];
  out[r * f + c] = silu(g) * u;
}

SY_HD void swiglu_backward_element(float* din, const float* in, const float* dout, int64_t r,
                                   int64_t c, int64_t f) {
  float g = in[r * 2 * f + c], u = in[r * 2 * f + f + c], d = dout[r * f + c];
  din[r * 2 * f + c] = d * u * silu_grad(g);
  din[r * 2 * f + f + c] = d * silu(g);
}

}  // namespace kernels
}  // namespace sy

namespace sy {
namespace kernels {

// One element of a complex product with b's row chosen by r mod period.
SY_HD void complex_mul_element(float* o_re, float* o_im, const float* a_re, const float* a_im,
                               const float* b_re, const float* b_im, int64_t r, int64_t j,
                               int64_t n, int64_t period, bool conj_b) {
  const int64_t ai = r * n + j, bi = (r % period) * n + j;
  const float ar = a_re[ai], aim = a_im[ai], br = b_re[bi], bim = conj_b ? -b_im[bi] : b_im[bi];
  o_re[ai] = ar * br - aim * bim;
  o_im[ai] = ar * bim + aim * br;
}

}  // namespace kernels
}  // namespace sy
