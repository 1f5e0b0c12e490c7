// The MoE combine and the small elementwise ops on the CPU.
#include <cstring>

#include "runtime/ops/cpu/ops_cpu.h"
#include "runtime/ops/shared/combine_math.h"
#include "runtime/ops/shared/conv_math.h"

namespace sy {
namespace cpu {

void combine_rows(const Tensor& out, const Tensor& y, const Tensor& pos, const Tensor& w) {
  // Row by row, adding the k weighted rows in j order: the same sum as combine_element, in a
  // form the compiler vectorises.
  int64_t s_rows = out.rows(), cols = out.cols();
  int k = static_cast<int>(pos.cols());
  float* o = out.data<float>();
  const float* yv = y.data<float>();
  const int32_t* p = pos.data<int32_t>();
  const float* wv = w.data<float>();
  for (int64_t s = 0; s < s_rows; ++s) {
    float* orow = o + s * cols;
    for (int64_t c = 0; c < cols; ++c) orow[c] = 0.0f;
    for (int j = 0; j < k; ++j) {
      int32_t r = p[s * k + j];
      if (r < 0) continue;
      const float* yrow = yv + r * cols;
      const float wj = wv[s * k + j];
      for (int64_t c = 0; c < cols; ++c) orow[c] += wj * yrow[c];
    }
  }
}

void combine_rows_backward(const Tensor& dy, const Tensor& dw, const Tensor& dout, const Tensor& y,
                           const Tensor& pos, const Tensor& w) {
  int64_t s_rows = dout.rows(), cols = dout.cols();
  int k = static_cast<int>(pos.cols());
  const int32_t* p = pos.data<int32_t>();
  const float* wv = w.data<float>();
  const float* g = dout.data<float>();
  float* d = dy.data<float>();
  if (dy.numel()) std::memset(d, 0, dy.nbytes());
  for (int64_t s = 0; s < s_rows; ++s)
    for (int j = 0; j < k; ++j) {
      int32_t r = p[s * k + j];
      if (r < 0) continue;
      for (int64_t c = 0; c < cols; ++c) d[r * cols + c] = wv[s * k + j] * g[s * cols + c];
    }
  if (!dw.defined() || dw.numel() == 0) return;
  float* dwv = dw.data<float>();
  for (int64_t s = 0; s < s_rows; ++s)
    for (int j = 0; j < k; ++j) {
      int32_t r = p[s * k + j];
      dwv[s * k + j] =
          r < 0 ? 0.0f : kernels::dot_row(g + s * cols, y.data<float>() + r * cols, cols);
    }
}

void swiglu_forward(const Tensor& out, const Tensor& in) {
  int64_t m = out.rows(), f = out.cols();
  for (int64_t r = 0; r < m; ++r)
    for (int64_t c = 0; c < f; ++c)
      kernels::swiglu_element(out.data<float>(), in.data<float>(), r, c, f);
}

void swiglu_backward(const Tensor& din, const Tensor& in, const Tensor& dout) {
  int64_t m = dout.rows(), f = dout.cols();
  for (int64_t r = 0; r < m; ++r)
    for (int64_t c = 0; c < f; ++c)
      kernels::swiglu_backward_element(din.data<float>(), in.data<float>(), dout.data<float>(), r,
                                       c, f);
}

void add_bias(const Tensor& out, const Tensor& bias) {
  int64_t rows = out.rows(), cols = out.cols();
  float* o = out.data<float>();
  const float* b = bias.data<float>();
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) o[r * cols + c] += b[c];
}

void add_scaled(const Tensor& out, const Tensor& in, float alpha) {
  int64_t n = out.numel();
  float* o = out.data<float>();
  const float* x = in.data<float>();
  for (int64_t i = 0; i < n; ++i) o[i] += alpha * x[i];
}

void add_row_scaled(const Tensor& out, const Tensor& x, const Tensor& scale) {
  int64_t rows = out.rows(), cols = out.cols();
  float* o = out.data<float>();
  const float* xv = x.data<float>();
  const float* sc = scale.data<float>();
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) o[r * cols + c] += sc[r] * xv[r * cols + c];
}

void row_dot(const Tensor& out, const Tensor& a, const Tensor& b) {
  int64_t rows = a.rows(), cols = a.cols();
  for (int64_t r = 0; r < rows; ++r)
    out.data<float>()[r] =
        kernels::dot_row(a.data<float>() + r * cols, b.data<float>() + r * cols, cols);
}

}  // namespace cpu
}  // namespace sy

namespace sy {
namespace cpu {

void mul(const Tensor& out, const Tensor& a, const Tensor& b) {
  float* o = out.data<float>();
  const float* x = a.data<float>();
  const float* y = b.data<float>();
  for (int64_t i = 0; i < out.numel(); ++i) o[i] = x[i] * y[i];
}

void add_row_bias(const Tensor& out, const Tensor& bias) {
  int64_t rows = out.rows(), cols = out.cols();
  float* o = out.data<float>();
  const float* b = bias.data<float>();
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) o[r * cols + c] += b[r];
}

void causal_mask(const Tensor& out, const Tensor& in) {
  int64_t rows = in.rows(), t = in.cols();
  float* o = out.data<float>();
  const float* x = in.data<float>();
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 0; j < t; ++j) o[r * t + j] = j <= r % t ? x[r * t + j] : 0.0f;
}

}  // namespace cpu
}  // namespace sy

namespace sy {
namespace cpu {

void complex_mul_rows(const Tensor& out_re, const Tensor& out_im, const Tensor& a_re,
                      const Tensor& a_im, const Tensor& b_re, const Tensor& b_im, bool conj_b) {
  const int64_t rows = a_re.rows(), n = a_re.cols(), period = b_re.rows();
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 0; j < n; ++j)
      kernels::complex_mul_element(out_re.data<float>(), out_im.data<float>(), a_re.data<float>(),
                                   a_im.data<float>(), b_re.data<float>(), b_im.data<float>(), r, j,
                                   n, period, conj_b);
}

}  // namespace cpu
}  // namespace sy

namespace sy {
namespace cpu {

void depthwise_causal_conv_forward(const Tensor& y, const Tensor& x, const Tensor& k) {
  const int64_t rows = x.rows(), len = x.cols(), taps = k.cols(), c = k.rows();
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t t = 0; t < len; ++t)
      y.data<float>()[r * len + t] =
          kernels::dwconv_element(x.data<float>(), k.data<float>(), r, t, len, taps, c);
}

void depthwise_causal_conv_backward(const Tensor& dx, const Tensor& dk, const Tensor& dy,
                                    const Tensor& x, const Tensor& k) {
  const int64_t rows = x.rows(), len = x.cols(), taps = k.cols(), c = k.rows();
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t s = 0; s < len; ++s)
      dx.data<float>()[r * len + s] =
          kernels::dwconv_dx_element(dy.data<float>(), k.data<float>(), r, s, len, taps, c);
  for (int64_t ch = 0; ch < c; ++ch)
    for (int64_t j = 0; j < taps; ++j)
      dk.data<float>()[ch * taps + j] +=
          kernels::dwconv_dk_element(x.data<float>(), dy.data<float>(), ch, j, rows, len, c);
}

}  // namespace cpu
}  // namespace sy
