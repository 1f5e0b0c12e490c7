// The M2 sequence mixer's ops: the short causal depthwise convolution and the complex
// pointwise product of the spectral long convolution, on the CPU.
#include "runtime/ops/cpu/ops_cpu.h"
#include "runtime/ops/shared/conv_math.h"

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
