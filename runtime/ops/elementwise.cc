// Elementwise ops: activations and SwiGLU with their backwards, casts, biases, scaled adds,
// products, the causal mask: argument checks, then the CPU or CUDA implementation.
#include <cmath>
#include <vector>

#include "runtime/ops/op_checks.h"

namespace sy {

using namespace op_checks;

void activation_forward(const Tensor& out, const Tensor& in, Activation act, Stream stream) {
  check_float_storage("activation_forward", {&out, &in});
  check_same_shape("activation_forward", out, in);
  check_same_device("activation_forward", {&out, &in});
  SY_DISPATCH("activation_forward", in, cpu::activation_forward(out, in, act),
              cuda::activation_forward(out, in, act, stream));
}

void bias_activation_forward(const Tensor& out, const Tensor& h, const Tensor& bias, Activation act,
                             Stream stream) {
  check_float_storage("bias_activation_forward", {&out, &h});
  check_same_shape("bias_activation_forward", out, h);
  check_dtype("bias_activation_forward", "bias", bias, DType::kF32);
  check_same_device("bias_activation_forward", {&out, &h, &bias});
  SY_CHECK(bias.numel() == h.cols(),
           "bias_activation_forward: bias must hold " << h.cols() << " values");
  SY_DISPATCH("bias_activation_forward", h, cpu::bias_activation_forward(out, h, bias, act),
              cuda::bias_activation_forward(out, h, bias, act, stream));
}

void activation_backward(const Tensor& din, const Tensor& in, const Tensor& dout, Activation act,
                         Stream stream) {
  check_float_storage("activation_backward", {&din, &in, &dout});
  check_same_shape("activation_backward", din, in);
  check_same_shape("activation_backward", dout, in);
  check_same_device("activation_backward", {&din, &in, &dout});
  SY_DISPATCH("activation_backward", in, cpu::activation_backward(din, in, dout, act),
              cuda::activation_backward(din, in, dout, act, stream));
}

void swiglu_forward(const Tensor& out, const Tensor& in, Stream stream) {
  check_float_storage("swiglu_forward", {&out, &in});
  check_same_device("swiglu_forward", {&out, &in});
  SY_CHECK(in.rows() == out.rows() && in.cols() == 2 * out.cols(),
           "swiglu_forward: in must be (M,2F) for out (M,F); got "
               << shape_str(in.shape()) << " and " << shape_str(out.shape()));
  SY_DISPATCH("swiglu_forward", in, cpu::swiglu_forward(out, in),
              cuda::swiglu_forward(out, in, stream));
}

void swiglu_backward(const Tensor& din, const Tensor& in, const Tensor& dout, Stream stream) {
  check_float_storage("swiglu_backward", {&din, &in, &dout});
  check_same_device("swiglu_backward", {&din, &in, &dout});
  SY_CHECK(din.shape() == in.shape() && in.rows() == dout.rows() && in.cols() == 2 * dout.cols(),
           "swiglu_backward: din and in must be (M,2F) for dout (M,F)");
  SY_DISPATCH("swiglu_backward", in, cpu::swiglu_backward(din, in, dout),
              cuda::swiglu_backward(din, in, dout, stream));
}

void cast(const Tensor& out, const Tensor& in, Stream stream) {
  check_same_device("cast", {&out, &in});
  SY_CHECK(out.numel() == in.numel(), "cast: element counts differ");
  bool ok = in.dtype() == out.dtype() ||
            (in.dtype() == DType::kF32 && out.dtype() == DType::kBF16) ||
            (in.dtype() == DType::kBF16 && out.dtype() == DType::kF32) ||
            (in.dtype() == DType::kI32 && out.dtype() == DType::kF64);
  SY_CHECK(ok, "cast: " << dtype_name(in.dtype()) << " → " << dtype_name(out.dtype())
                        << " is not supported (f32 ↔ bf16, i32 → f64)");
  SY_DISPATCH("cast", in, cpu::cast(out, in), cuda::cast(out, in, stream));
}

void add_bias(const Tensor& out, const Tensor& bias, Stream stream) {
  check_float_storage("add_bias", {&out});
  check_dtype("add_bias", "bias", bias, DType::kF32);
  check_same_device("add_bias", {&out, &bias});
  SY_CHECK(bias.numel() == out.cols(), "add_bias: bias must hold " << out.cols() << " values");
  SY_DISPATCH("add_bias", out, cpu::add_bias(out, bias), cuda::add_bias(out, bias, stream));
}

void add_scaled(const Tensor& out, const Tensor& in, float alpha, Stream stream) {
  check_same_device("add_scaled", {&out, &in});
  SY_CHECK(out.numel() == in.numel(), "add_scaled: element counts differ");
  SY_DISPATCH("add_scaled", out, cpu::add_scaled(out, in, alpha),
              cuda::add_scaled(out, in, alpha, stream));
}

void add_row_scaled(const Tensor& out, const Tensor& x, const Tensor& scale, Stream stream) {
  check_same_device("add_row_scaled", {&out, &x, &scale});
  SY_CHECK(out.shape() == x.shape() && scale.numel() == out.rows(),
           "add_row_scaled: out and x must match, scale must hold one value per row");
  SY_DISPATCH("add_row_scaled", out, cpu::add_row_scaled(out, x, scale),
              cuda::add_row_scaled(out, x, scale, stream));
}

void add_row_bias(const Tensor& out, const Tensor& bias, Stream stream) {
  check_same_device("add_row_bias", {&out, &bias});
  SY_CHECK(bias.numel() == out.rows(),
           "add_row_bias: bias must hold one value per row (" << out.rows() << ")");
  SY_DISPATCH("add_row_bias", out, cpu::add_row_bias(out, bias),
              cuda::add_row_bias(out, bias, stream));
}

void mul(const Tensor& out, const Tensor& a, const Tensor& b, Stream stream) {
  check_same_device("mul", {&out, &a, &b});
  SY_CHECK(out.numel() == a.numel() && a.numel() == b.numel(), "mul: element counts differ");
  SY_DISPATCH("mul", out, cpu::mul(out, a, b), cuda::mul(out, a, b, stream));
}

void scale_inplace(const Tensor& x, float alpha, Stream stream) {
  check_dtype("scale_inplace", "x", x, DType::kF32);
  SY_DISPATCH("scale_inplace", x, cpu::scale_inplace(x, alpha),
              cuda::scale_inplace(x, alpha, stream));
}

namespace {

void check_scalar_scale(const char* op, std::initializer_list<const Tensor*> ts, const Tensor& s) {
  for (const Tensor* t : ts) check_dtype(op, "tensor", *t, DType::kF32);
  check_dtype(op, "s", s, DType::kF32);
  SY_CHECK(s.numel() == 1, op << ": s must hold one element, got " << shape_str(s.shape()));
  const int64_t n = (*ts.begin())->numel();
  for (const Tensor* t : ts) SY_CHECK(t->numel() == n, op << ": element counts differ");
}

// The sine ops: every tensor (R, C) f32 of one shape, freq (C) f32, all on one device.
void check_sine(const char* op, std::initializer_list<const Tensor*> ts, const Tensor& freq) {
  const Tensor& x = **ts.begin();
  SY_CHECK(x.ndim() == 2, op << ": tensors must be (R, C), got " << shape_str(x.shape()));
  for (const Tensor* t : ts) {
    check_dtype(op, "tensor", *t, DType::kF32);
    check_same_shape(op, *t, x);
  }
  check_dtype(op, "freq", freq, DType::kF32);
  SY_CHECK(freq.numel() == x.dim(1), op << ": freq must hold one value per column (" << x.dim(1)
                                        << "), got " << shape_str(freq.shape()));
  for (const Tensor* t : ts) check_same_device(op, {t, &freq});
}

}  // namespace

void scale_by_inverse(const Tensor& out, const Tensor& in, const Tensor& s, Stream stream) {
  check_scalar_scale("scale_by_inverse", {&out, &in}, s);
  check_same_device("scale_by_inverse", {&out, &in, &s});
  SY_DISPATCH("scale_by_inverse", in, cpu::scale_by_inverse(out, in, s),
              cuda::scale_by_inverse(out, in, s, stream));
}

void scale_by_inverse_backward(const Tensor& din, const Tensor& ds, const Tensor& dout,
                               const Tensor& in, const Tensor& s, Stream stream) {
  check_scalar_scale("scale_by_inverse_backward", {&din, &dout, &in}, s);
  check_dtype("scale_by_inverse_backward", "ds", ds, DType::kF32);
  SY_CHECK(ds.numel() == 1, "scale_by_inverse_backward: ds must hold one element");
  check_same_device("scale_by_inverse_backward", {&din, &ds, &dout, &in, &s});
  SY_DISPATCH("scale_by_inverse_backward", in, cpu::scale_by_inverse_backward(din, ds, dout, in, s),
              cuda::scale_by_inverse_backward(din, ds, dout, in, s, stream));
}

void rope(const Tensor& y, const Tensor& x, const Tensor& table, bool inverse, Stream stream) {
  check_dtype("rope", "x", x, DType::kF32);
  check_dtype("rope", "y", y, DType::kF32);
  check_dtype("rope", "table", table, DType::kF32);
  check_same_shape("rope", y, x);
  check_same_device("rope", {&y, &x, &table});
  SY_CHECK(x.ndim() == 3 && x.dim(2) % 2 == 0,
           "rope: x must be (rows, T, dh) with dh even, got " << shape_str(x.shape()));
  SY_CHECK(table.shape() == (Shape{x.dim(1), x.dim(2) / 2, 2}),
           "rope: the table must be (T, dh/2, 2) = (" << x.dim(1) << ", " << x.dim(2) / 2
                                                      << ", 2), got " << shape_str(table.shape()));
  SY_DISPATCH("rope", x, cpu::rope(y, x, table, inverse), cuda::rope(y, x, table, inverse, stream));
}

void sine_forward(const Tensor& y, const Tensor& x, const Tensor& freq, Stream stream) {
  check_sine("sine_forward", {&y, &x}, freq);
  SY_DISPATCH("sine_forward", x, cpu::sine_forward(y, x, freq),
              cuda::sine_forward(y, x, freq, stream));
}

void sine_backward(const Tensor& dx, const Tensor& dfx, const Tensor& x, const Tensor& dy,
                   const Tensor& freq, Stream stream) {
  check_sine("sine_backward", {&dx, &dfx, &x, &dy}, freq);
  SY_DISPATCH("sine_backward", x, cpu::sine_backward(dx, dfx, x, dy, freq),
              cuda::sine_backward(dx, dfx, x, dy, freq, stream));
}

Tensor rope_table(int64_t seq_len, int64_t head_dim, double base, Device device) {
  SY_CHECK(seq_len >= 1 && head_dim >= 2 && head_dim % 2 == 0 && base > 1,
           "rope_table: need T ≥ 1, an even head width ≥ 2 and a base > 1 (got T "
               << seq_len << ", dh " << head_dim << ", base " << base << ")");
  const int64_t half = head_dim / 2;
  std::vector<float> t(static_cast<size_t>(seq_len * half * 2));
  for (int64_t p = 0; p < seq_len; ++p)
    for (int64_t j = 0; j < half; ++j) {
      const double angle = static_cast<double>(p) * std::pow(base, -2.0 * j / head_dim);
      t[static_cast<size_t>((p * half + j) * 2)] = static_cast<float>(std::cos(angle));
      t[static_cast<size_t>((p * half + j) * 2 + 1)] = static_cast<float>(std::sin(angle));
    }
  return Tensor::from_vector(t, {seq_len, half, 2}, device);
}

void causal_mask(const Tensor& out, const Tensor& in, Stream stream) {
  check_float_storage("causal_mask", {&out, &in});
  check_same_shape("causal_mask", out, in);
  check_same_device("causal_mask", {&out, &in});
  SY_CHECK(in.ndim() >= 2 && in.dim(-1) == in.dim(-2), "causal_mask: in must end in square blocks");
  SY_DISPATCH("causal_mask", in, cpu::causal_mask(out, in), cuda::causal_mask(out, in, stream));
}

}  // namespace sy
