// The optimizer's ops: the AdamW update and a deterministic sum of squares: argument checks, then
// the CPU or CUDA implementation.
#include "runtime/ops/op_checks.h"

namespace sy {

using namespace op_checks;

void adamw_step(const Tensor& p, const Tensor& m, const Tensor& v, const Tensor& grad,
                const Tensor& decay, const Tensor& grad_sq, const AdamWHyper& h, Stream stream) {
  for (const Tensor* x : {&p, &m, &v, &grad}) check_dtype("adamw_step", "tensor", *x, DType::kF32);
  check_dtype("adamw_step", "decay", decay, DType::kI64);
  check_dtype("adamw_step", "grad_sq", grad_sq, DType::kF64);
  check_same_device("adamw_step", {&p, &m, &v, &grad, &decay, &grad_sq});
  SY_CHECK(m.numel() == p.numel() && v.numel() == p.numel() && grad.numel() == p.numel(),
           "adamw_step: parameters, moments and gradients must have one element count");
  SY_CHECK(decay.ndim() == 2 && decay.dim(1) == 2,
           "adamw_step: decay must be (R, 2) ranges, got " << shape_str(decay.shape()));
  SY_CHECK(grad_sq.ndim() == 1, "adamw_step: grad_sq must be a vector of squared norms");
  SY_CHECK(h.t >= 1, "adamw_step: the step number starts at 1");
  SY_DISPATCH("adamw_step", p, cpu::adamw_step(p, m, v, grad, decay, grad_sq, h),
              cuda::adamw_step(p, m, v, grad, decay, grad_sq, h, stream));
}

void sum_squares(const Tensor& out, const Tensor& x, Stream stream) {
  check_dtype("sum_squares", "x", x, DType::kF32);
  check_dtype("sum_squares", "out", out, DType::kF64);
  check_same_device("sum_squares", {&out, &x});
  SY_CHECK(out.numel() == 1, "sum_squares: out must hold one element");
  SY_DISPATCH("sum_squares", x, cpu::sum_squares(out, x), cuda::sum_squares(out, x, stream));
}

}  // namespace sy
