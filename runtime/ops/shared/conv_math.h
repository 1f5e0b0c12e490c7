// Per-element logic of the M2 mixer's ops — the short causal depthwise convolution and the complex
// pointwise product — shared by CPU and CUDA (contract 12).
#pragma once

#include <cstdint>

#include "runtime/core/hostdevice.h"

namespace sy {
namespace kernels {

SY_HD float dwconv_element(const float* x, const float* k, int64_t r, int64_t t, int64_t len,
                           int64_t taps, int64_t channels) {
  const float* kc = k + (r % channels) * taps;
  float acc = 0.0f;
  for (int64_t j = 0; j < taps && j <= t; ++j) acc += kc[j] * x[r * len + t - j];
  return acc;
}

SY_HD float dwconv_dx_element(const float* dy, const float* k, int64_t r, int64_t s, int64_t len,
                              int64_t taps, int64_t channels) {
  const float* kc = k + (r % channels) * taps;
  float acc = 0.0f;
  for (int64_t j = 0; j < taps && s + j < len; ++j) acc += kc[j] * dy[r * len + s + j];
  return acc;
}

// dk[c, j]: Σ over rows r ≡ c (mod C), in row order, of Σ_t x[r, t−j] · dy[r, t].
SY_HD float dwconv_dk_element(const float* x, const float* dy, int64_t c, int64_t j, int64_t rows,
                              int64_t len, int64_t channels) {
  float acc = 0.0f;
  for (int64_t r = c; r < rows; r += channels)
    for (int64_t t = j; t < len; ++t) acc += x[r * len + t - j] * dy[r * len + t];
  return acc;
}

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
