// Per-row logic of the row ops — softmax (plain and causal), top-k, strided reductions, dots —
// shared by CPU and CUDA (contract 12). Every sum runs in index order, so the two backends agree
// bitwise wherever the arithmetic itself is the same.
#pragma once

#include <cmath>
#include <cstdint>

#include "runtime/core/dtype.h"
#include "runtime/core/hostdevice.h"

namespace sy {
namespace kernels {

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

// Row i (query position) of a causal score block of width t.
SY_HD void causal_softmax_row(float* out, const float* in, int64_t i, int64_t t) {
  softmax_row(out, in, i + 1);
  for (int64_t j = i + 1; j < t; ++j) out[j] = 0.0f;
}

// Whether v ranks above w in a top-k: the greater number, and NaN below every number (−inf
// included), so rows with NaN scores (a diverging model) still get valid indices.
SY_HD bool ranks_above(float v, float w) {
  return v > w || (w != w && v == v);
}

// Top-k of one row by insertion: a candidate enters only when it ranks strictly above the current
// k-th value, so on ties the lower column index wins. Every slot gets a column whenever k ≤ n —
// NaN columns last, in index order — so no index is out of range even on non-finite input; only
// k > n leaves slots with -inf and index -1.
SY_HD void topk_row(float* vals, int32_t* idx, const float* row, int64_t n, int k) {
  for (int i = 0; i < k; ++i) {
    vals[i] = -INFINITY;
    idx[i] = -1;
  }
  for (int64_t j = 0; j < n; ++j) {
    float v = row[j];
    if (idx[k - 1] >= 0 && !ranks_above(v, vals[k - 1])) continue;  // not above the k-th
    int p = k - 1;
    while (p > 0 && (idx[p - 1] < 0 || ranks_above(v, vals[p - 1]))) {
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

// ⟨a, b⟩ in fp32, in index order; either row may be stored as f32 or bf16.
template <typename A, typename B>
SY_HD float dot_row(const A* a, const B* b, int64_t n) {
  float acc = 0.0f;
  for (int64_t i = 0; i < n; ++i) acc += load_float(a[i]) * load_float(b[i]);
  return acc;
}

// Row normalisation to unit L2 norm, the norm floored at 1e-6 so a zero row stays finite; the
// norm is summed in double.
SY_HD void l2_normalize_row(float* out, float* norm, const float* in, int64_t n) {
  double n2 = 0;
  for (int64_t i = 0; i < n; ++i) n2 += static_cast<double>(in[i]) * in[i];
  const float r = fmaxf(static_cast<float>(sqrt(n2)), 1e-6f);
  *norm = r;
  for (int64_t i = 0; i < n; ++i) out[i] = in[i] / r;
}

// d(v/|v|)/dv applied to dout: (dout − u·⟨u, dout⟩) / |v|, u = v/|v| (out).
SY_HD void l2_normalize_backward_row(float* din, const float* dout, const float* out, float norm,
                                     int64_t n) {
  float dot = 0;
  for (int64_t i = 0; i < n; ++i) dot += out[i] * dout[i];
  for (int64_t i = 0; i < n; ++i) din[i] = (dout[i] - out[i] * dot) / norm;
}

}  // namespace kernels
}  // namespace sy
