// The M2 sequence mixer's ops: the short causal depthwise convolution and the complex
// pointwise product of the spectral long convolution: argument checks, then the CPU or CUDA
// implementation.
#include "runtime/ops/op_checks.h"

namespace sy {

using namespace op_checks;

void depthwise_causal_conv_forward(const Tensor& y, const Tensor& x, const Tensor& k,
                                   Stream stream) {
  const char* op = "depthwise_causal_conv_forward";
  check_same_device(op, {&y, &x, &k});
  SY_CHECK(y.shape() == x.shape() && x.ndim() == 2 && k.ndim() == 2 && k.rows() >= 1 &&
               x.rows() % k.rows() == 0,
           op << ": x, y must be (R, T) and k (C, K) with C dividing R");
  SY_DISPATCH(op, x, cpu::depthwise_causal_conv_forward(y, x, k),
              cuda::depthwise_causal_conv_forward(y, x, k, stream));
}

void depthwise_causal_conv_backward(const Tensor& dx, const Tensor& dk, const Tensor& dy,
                                    const Tensor& x, const Tensor& k, Stream stream) {
  const char* op = "depthwise_causal_conv_backward";
  check_same_device(op, {&dx, &dk, &dy, &x, &k});
  SY_CHECK(dx.shape() == x.shape() && dy.shape() == x.shape() && dk.shape() == k.shape() &&
               x.rows() % k.rows() == 0,
           op << ": shapes do not fit");
  SY_DISPATCH(op, x, cpu::depthwise_causal_conv_backward(dx, dk, dy, x, k),
              cuda::depthwise_causal_conv_backward(dx, dk, dy, x, k, stream));
}

void complex_mul_rows(const Tensor& out_re, const Tensor& out_im, const Tensor& a_re,
                      const Tensor& a_im, const Tensor& b_re, const Tensor& b_im, bool conj_b,
                      Stream stream) {
  const char* op = "complex_mul_rows";
  check_same_device(op, {&out_re, &out_im, &a_re, &a_im, &b_re, &b_im});
  SY_CHECK(out_re.shape() == a_re.shape() && out_im.shape() == a_re.shape() &&
               a_im.shape() == a_re.shape() && b_im.shape() == b_re.shape() &&
               b_re.cols() == a_re.cols() && b_re.rows() >= 1 && a_re.rows() % b_re.rows() == 0,
           op << ": a and out must be (R, N), b (P, N) with P dividing R");
  SY_DISPATCH(op, a_re, cpu::complex_mul_rows(out_re, out_im, a_re, a_im, b_re, b_im, conj_b),
              cuda::complex_mul_rows(out_re, out_im, a_re, a_im, b_re, b_im, conj_b, stream));
}

}  // namespace sy
