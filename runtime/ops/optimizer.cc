// The optimizer's ops: the AdamW update and a deterministic sum of squares: argument checks, then
// the CPU or CUDA implementation.
#include "runtime/ops/op_checks.h"

namespace sy {

using namespace op_checks;

void adamw_update(const Tensor& p, const Tensor& m, const Tensor& v, const Tensor& g, float lr,
                  float beta1, float beta2, float eps, float weight_decay, int64_t t,
                  Stream stream) {
  for (const Tensor* x : {&p, &m, &v, &g}) check_dtype("adamw_update", "tensor", *x, DType::kF32);
  check_same_device("adamw_update", {&p, &m, &v, &g});
  SY_CHECK(m.shape() == p.shape() && v.shape() == p.shape() && g.shape() == p.shape(),
           "adamw_update: parameter, moments and gradient must have one shape");
  SY_CHECK(t >= 1, "adamw_update: the step number starts at 1");
  SY_DISPATCH("adamw_update", p,
              cpu::adamw_update(p, m, v, g, lr, beta1, beta2, eps, weight_decay, t),
              cuda::adamw_update(p, m, v, g, lr, beta1, beta2, eps, weight_decay, t, stream));
}

double sum_squares(const Tensor& x, Stream stream) {
  check_dtype("sum_squares", "x", x, DType::kF32);
  double out = 0;
  SY_DISPATCH("sum_squares", x, out = cpu::sum_squares(x), out = cuda::sum_squares(x, stream));
  return out;
}

}  // namespace sy
