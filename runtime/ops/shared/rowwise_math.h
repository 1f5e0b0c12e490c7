// Per-element and per-row logic shared by the CPU ops and the CUDA kernels (contract 12): the CPU
// path calls these functions directly, so every machine tests the arithmetic the GPU runs.
#pragma once

#include <cmath>
#include <cstdint>

#include "runtime/core/hostdevice.h"

namespace sy {
namespace kernels {

constexpr float kSqrt2OverPi = 0.7978845608028654f;
constexpr float kGeluCoeff = 0.044715f;

SY_HD float gelu(float x) {
  float u = kSqrt2OverPi * (x + kGeluCoeff * x * x * x);
  return 0.5f * x * (1.0f + tanhf(u));
}

SY_HD float gelu_grad(float x) {
  float u = kSqrt2OverPi * (x + kGeluCoeff * x * x * x);
  float t = tanhf(u);
  float du = kSqrt2OverPi * (1.0f + 3.0f * kGeluCoeff * x * x);
  return 0.5f * (1.0f + t) + 0.5f * x * (1.0f - t * t) * du;
}

SY_HD float silu(float x) {
  return x / (1.0f + expf(-x));
}

SY_HD float silu_grad(float x) {
  float s = 1.0f / (1.0f + expf(-x));
  return s * (1.0f + x * (1.0f - s));
}

// Softmax of one row of n values, max-subtracted for stability.
SY_HD void softmax_row(float* out, const float* in, int64_t n) {
  float m = -INFINITY;
  for (int64_t j = 0; j < n; ++j) m = in[j] > m ? in[j] : m;
  float sum = 0.0f;
  for (int64_t j = 0; j < n; ++j) {
    float e = expf(in[j] - m);
    out[j] = e;
    sum += e;
  }
  float inv = 1.0f / sum;
  for (int64_t j = 0; j < n; ++j) out[j] *= inv;
}

SY_HD void softmax_backward_row(float* din, const float* out, const float* dout, int64_t n) {
  float dot = 0.0f;
  for (int64_t j = 0; j < n; ++j) dot += out[j] * dout[j];
  for (int64_t j = 0; j < n; ++j) din[j] = out[j] * (dout[j] - dot);
}

// Top-k of one row by insertion: a candidate enters only when strictly greater than the current
// k-th value, so on ties the lower column index wins. NaN never enters. Unfilled slots (k > number
// of non-NaN values) get -inf and index -1.
SY_HD void topk_row(float* vals, int32_t* idx, const float* row, int64_t n, int k) {
  for (int i = 0; i < k; ++i) {
    vals[i] = -INFINITY;
    idx[i] = -1;
  }
  for (int64_t j = 0; j < n; ++j) {
    float v = row[j];
    if (v != v) continue;                                 // NaN
    if (idx[k - 1] >= 0 && !(v > vals[k - 1])) continue;  // not better than the k-th
    int p = k - 1;
    while (p > 0 && (v > vals[p - 1] || idx[p - 1] < 0)) {
      vals[p] = vals[p - 1];
      idx[p] = idx[p - 1];
      --p;
    }
    vals[p] = v;
    idx[p] = static_cast<int32_t>(j);
  }
}

// Reductions in index order over n values spaced `stride` apart.
SY_HD float reduce_sum_strided(const float* p, int64_t n, int64_t stride) {
  float s = 0.0f;
  for (int64_t j = 0; j < n; ++j) s += p[j * stride];
  return s;
}

SY_HD float reduce_max_strided(const float* p, int64_t n, int64_t stride) {
  float m = -INFINITY;
  for (int64_t j = 0; j < n; ++j) m = p[j * stride] > m ? p[j * stride] : m;
  return m;
}

}  // namespace kernels
}  // namespace sy
