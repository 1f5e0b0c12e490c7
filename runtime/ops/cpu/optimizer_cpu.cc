// The optimizer's ops: the AdamW update and a deterministic sum of squares, on the CPU.
#include <cmath>

#include "runtime/ops/cpu/ops_cpu.h"
#include "runtime/ops/shared/optimizer_math.h"

namespace sy {
namespace cpu {

void adamw_update(const Tensor& p, const Tensor& m, const Tensor& v, const Tensor& g, float lr,
                  float beta1, float beta2, float eps, float weight_decay, int64_t t) {
  float bias1 = 1.0f - std::pow(beta1, static_cast<float>(t));
  float bias2 = 1.0f - std::pow(beta2, static_cast<float>(t));
  float* pp = p.data<float>();
  float* mp = m.data<float>();
  float* vp = v.data<float>();
  const float* gp = g.data<float>();
  for (int64_t i = 0; i < p.numel(); ++i)
    kernels::adamw_element(pp + i, mp + i, vp + i, gp[i], lr, beta1, beta2, eps, weight_decay,
                           bias1, bias2);
}

double sum_squares(const Tensor& x) {
  const float* p = x.data<float>();
  double s = 0;
  for (int64_t i = 0; i < x.numel(); ++i) s += static_cast<double>(p[i]) * p[i];
  return s;
}

}  // namespace cpu
}  // namespace sy
