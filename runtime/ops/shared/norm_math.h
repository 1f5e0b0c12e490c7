// Per-row logic of the normalisations and per-column sums of their parameter gradients, shared by
// CPU and CUDA (contract 12).
#pragma once

#include <cmath>
#include <cstdint>

#include "runtime/core/hostdevice.h"

namespace sy {
namespace kernels {

SY_HD void layernorm_row(float* out, float* mean, float* rstd, const float* x, const float* g,
                         const float* b, int64_t n, float eps) {
  float m = 0.0f;
  for (int64_t i = 0; i < n; ++i) m += x[i];
  m /= static_cast<float>(n);
  float var = 0.0f;
  for (int64_t i = 0; i < n; ++i) var += (x[i] - m) * (x[i] - m);
  var /= static_cast<float>(n);
  float r = 1.0f / sqrtf(var + eps);
  for (int64_t i = 0; i < n; ++i) out[i] = (x[i] - m) * r * g[i] + b[i];
  *mean = m;
  *rstd = r;
}

// dx = rstd · (g⊙dy − mean(g⊙dy) − x̂ · mean(g⊙dy ⊙ x̂)), x̂ = (x − mean)·rstd.
SY_HD void layernorm_backward_row(float* dx, const float* dy, const float* x, float mean,
                                  float rstd, const float* g, int64_t n) {
  float a = 0.0f, b = 0.0f;
  for (int64_t i = 0; i < n; ++i) {
    float gdy = g[i] * dy[i];
    a += gdy;
    b += gdy * (x[i] - mean) * rstd;
  }
  a /= static_cast<float>(n);
  b /= static_cast<float>(n);
  for (int64_t i = 0; i < n; ++i) dx[i] = rstd * (g[i] * dy[i] - a - (x[i] - mean) * rstd * b);
}

SY_HD void rmsnorm_row(float* out, float* rstd, const float* x, const float* g, int64_t n,
                       float eps) {
  float ss = 0.0f;
  for (int64_t i = 0; i < n; ++i) ss += x[i] * x[i];
  float r = 1.0f / sqrtf(ss / static_cast<float>(n) + eps);
  for (int64_t i = 0; i < n; ++i) out[i] = x[i] * r * g[i];
  *rstd = r;
}

// dx = rstd · (g⊙dy − x · rstd² · mean(g⊙dy⊙x)).
SY_HD void rmsnorm_backward_row(float* dx, const float* dy, const float* x, float rstd,
                                const float* g, int64_t n) {
  float a = 0.0f;
  for (int64_t i = 0; i < n; ++i) a += g[i] * dy[i] * x[i];
  a /= static_cast<float>(n);
  for (int64_t i = 0; i < n; ++i) dx[i] = rstd * (g[i] * dy[i] - x[i] * rstd * rstd * a);
}

// Column c of the parameter gradients of a norm: Σ_rows in row order.
SY_HD void norm_param_grad_column(float* dgamma, float* dbeta, const float* dy, const float* x,
                                  const float* mean, const float* rstd, int64_t rows, int64_t n,
                                  int64_t c) {
  float sg = 0.0f, sb = 0.0f;
  for (int64_t r = 0; r < rows; ++r) {
    float xhat = (x[r * n + c] - (mean ? mean[r] : 0.0f)) * rstd[r];
    sg += dy[r * n + c] * xhat;
    sb += dy[r * n + c];
  }
  dgamma[c] += sg;
  if (dbeta) dbeta[c] += sb;
}

}  // namespace kernels
}  // namespace sy
