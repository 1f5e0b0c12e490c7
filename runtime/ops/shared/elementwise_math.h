// Per-element logic of the elementwise ops — GELU, SiLU, sigmoid (through one vectorisable tanh)
// and SwiGLU — shared by the CPU ops and the CUDA kernels (contract 12): the CPU path calls these
// functions directly, so every machine tests the arithmetic the GPU runs.
#pragma once

#include <cmath>
#include <cstdint>
#include <type_traits>

#include "runtime/core/dtype.h"
#include "runtime/core/hostdevice.h"

namespace sy {

// The elementwise activations (ops.h: activation_forward).
enum class Activation { kGelu, kSilu, kGeluErf };

namespace kernels {

constexpr float kSqrt2OverPi = 0.7978845608028654f;

constexpr float kGeluCoeff = 0.044715f;

// tanh as a 13/6 rational function clamped to ±7.905 (the approximation of Eigen's ptanh_float):
// absolute error ≤ 3.5e-7 over all floats, branch-free and without library calls, so compilers
// vectorise the loops that call it and the CPU and GPU compute exactly the same function.
SY_HD float fast_tanh(float x) {
  const float clamp = 7.90531110763549805f;
  x = x < -clamp ? -clamp : (x > clamp ? clamp : x);
  const float x2 = x * x;
  float p = -2.76076847742355e-16f;
  p = p * x2 + 2.00018790482477e-13f;
  p = p * x2 + -8.60467152213735e-11f;
  p = p * x2 + 5.12229709037114e-08f;
  p = p * x2 + 1.48572235717979e-05f;
  p = p * x2 + 6.37261928875436e-04f;
  p = p * x2 + 4.89352455891786e-03f;
  p = p * x;
  float q = 1.19825839466702e-06f;
  q = q * x2 + 1.18534705686654e-04f;
  q = q * x2 + 2.26843463243900e-03f;
  q = q * x2 + 4.89352518554385e-03f;
  return p / q;
}

SY_HD float gelu(float x) {
  float u = kSqrt2OverPi * (x + kGeluCoeff * x * x * x);
  return 0.5f * x * (1.0f + fast_tanh(u));
}

SY_HD float gelu_grad(float x) {
  float u = kSqrt2OverPi * (x + kGeluCoeff * x * x * x);
  float t = fast_tanh(u);
  float du = kSqrt2OverPi * (1.0f + 3.0f * kGeluCoeff * x * x);
  return 0.5f * (1.0f + t) + 0.5f * x * (1.0f - t * t) * du;
}

// The exact GELU: 0.5·x·(1 + erf(x/√2)); its derivative Φ(x) + x·φ(x).
SY_HD float gelu_erf(float x) {
  return 0.5f * x * (1.0f + erff(x * 0.70710678118654752f));
}

SY_HD float gelu_erf_grad(float x) {
  const float cdf = 0.5f * (1.0f + erff(x * 0.70710678118654752f));
  const float pdf = 0.39894228040143268f * expf(-0.5f * x * x);
  return cdf + x * pdf;
}

// sigmoid(x) = (1 + tanh(x/2)) / 2, through the same vectorisable tanh.
SY_HD float sigmoid(float x) {
  return 0.5f + 0.5f * fast_tanh(0.5f * x);
}

SY_HD float silu(float x) {
  return x * sigmoid(x);
}

SY_HD float silu_grad(float x) {
  float s = sigmoid(x);
  return s * (1.0f + x * (1.0f - s));
}

template <Activation A>
SY_HD float activate(float v) {
  return A == Activation::kGelu ? gelu(v) : A == Activation::kGeluErf ? gelu_erf(v) : silu(v);
}

template <Activation A>
SY_HD float activate_grad(float v) {
  return A == Activation::kGelu      ? gelu_grad(v)
         : A == Activation::kGeluErf ? gelu_erf_grad(v)
                                     : silu_grad(v);
}

// f(std::integral_constant<Activation, act>{}): the one switch from a runtime activation to the
// compile-time one the element functions take (CPU loops and CUDA kernel choice alike).
template <typename F>
void with_activation(Activation act, F&& f) {
  switch (act) {
    case Activation::kGelu: f(std::integral_constant<Activation, Activation::kGelu>{}); break;
    case Activation::kSilu: f(std::integral_constant<Activation, Activation::kSilu>{}); break;
    case Activation::kGeluErf: f(std::integral_constant<Activation, Activation::kGeluErf>{}); break;
  }
}

// The activations and SwiGLU element by element, on f32 or bf16 storage (fp32 math).
template <typename T, Activation A>
SY_HD void activation_element(T* y, const T* x, int64_t i) {
  y[i] = store_as<T>(activate<A>(load_float(x[i])));
}

// The expert FFN's bias and activation in one pass: h[i] += b[i mod cols] (rounded to T, as
// add_bias_element), then out[i] = act(h[i]) from that rounded value — the same numbers as
// add_bias followed by activation_forward.
template <typename T, Activation A>
SY_HD void bias_activation_element(T* out, T* h, const float* b, int64_t i, int64_t cols) {
  const T biased = store_as<T>(load_float(h[i]) + b[i % cols]);
  h[i] = biased;
  out[i] = store_as<T>(activate<A>(load_float(biased)));
}

template <typename T, Activation A>
SY_HD void activation_backward_element(T* dx, const T* x, const T* dy, int64_t i) {
  dx[i] = store_as<T>(activate_grad<A>(load_float(x[i])) * load_float(dy[i]));
}

template <typename T>
SY_HD void swiglu_element(T* out, const T* in, int64_t r, int64_t c, int64_t f) {
  float g = load_float(in[r * 2 * f + c]), u = load_float(in[r * 2 * f + f + c]);
  out[r * f + c] = store_as<T>(silu(g) * u);
}

template <typename T>
SY_HD void swiglu_backward_element(T* din, const T* in, const T* dout, int64_t r, int64_t c,
                                   int64_t f) {
  float g = load_float(in[r * 2 * f + c]), u = load_float(in[r * 2 * f + f + c]);
  float d = load_float(dout[r * f + c]);
  din[r * 2 * f + c] = store_as<T>(d * u * silu_grad(g));
  din[r * 2 * f + f + c] = store_as<T>(d * silu(g));
}

// Element i of the lower triangle of each square (t × t) block: in[i], or zero above the
// diagonal.
// out[i] += b[i mod cols]: a bias (f32) on rows stored as f32 or bf16 (fp32 math, rounded once).
template <typename T>
SY_HD void add_bias_element(T* out, const float* b, int64_t i, int64_t cols) {
  out[i] = store_as<T>(load_float(out[i]) + b[i % cols]);
}

// The scalar-scale gradient's last step, from Σ dout·in: ds += −Σ / s².
SY_HD void inverse_scale_grad(float* ds, double dot, float s) {
  *ds += static_cast<float>(-dot / (static_cast<double>(s) * s));
}

// RoPE on pair i of (R, T, dh) rows (i over R·T·dh/2): the elements j and j + dh/2 of one position
// rotated by the table's angle (negated when inverse).
SY_HD void rope_pair(float* y, const float* x, const float* table, int64_t i, int64_t t,
                     int64_t half, bool inverse) {
  const int64_t j = i % half, row_pos = i / half, pos = row_pos % t;
  const float c = table[(pos * half + j) * 2],
              s = inverse ? -table[(pos * half + j) * 2 + 1] : table[(pos * half + j) * 2 + 1];
  const int64_t base = row_pos * 2 * half + j;
  const float a = x[base], b = x[base + half];
  y[base] = a * c - b * s;
  y[base + half] = b * c + a * s;
}

// The periodic activation of element i of (R, C) rows: sin(f_c · x), and its two gradients.
SY_HD void sine_element(float* y, const float* x, const float* freq, int64_t i, int64_t cols) {
  y[i] = sinf(freq[i % cols] * x[i]);
}
SY_HD void sine_backward_element(float* dx, float* dfx, const float* x, const float* dy,
                                 const float* freq, int64_t i, int64_t cols) {
  const float f = freq[i % cols], g = cosf(f * x[i]) * dy[i];
  dfx[i] = x[i] * g;  // before dx: dx may alias dy
  dx[i] = f * g;
}

template <typename T>
SY_HD void causal_mask_element(T* out, const T* in, int64_t i, int64_t t) {
  const int64_t r = i / t, j = i % t;
  out[i] = j <= r % t ? in[i] : store_as<T>(0.0f);
}

}  // namespace kernels
}  // namespace sy
