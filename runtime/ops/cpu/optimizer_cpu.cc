// The optimizer's ops on the CPU: the fused AdamW step and a deterministic sum of squares.
#include <cmath>

#include "runtime/ops/cpu/ops_cpu.h"
#include "runtime/ops/shared/optimizer_math.h"

namespace sy {
namespace cpu {

void adamw_step(const Tensor& p, const Tensor& m, const Tensor& v, const Tensor& grad,
                const Tensor& decay, const Tensor& grad_sq, const AdamWHyper& h) {
  const float bias1 = 1.0f - std::pow(h.beta1, static_cast<float>(h.t));
  const float bias2 = 1.0f - std::pow(h.beta2, static_cast<float>(h.t));
  const float scale =
      kernels::clip_scale(grad_sq.data<double>(), static_cast<int>(grad_sq.numel()), h.grad_clip);
  const int64_t* ranges = decay.data<int64_t>();
  const int64_t r = decay.dim(0);
  float* pp = p.data<float>();
  float* mp = m.data<float>();
  float* vp = v.data<float>();
  const float* gp = grad.data<float>();
  for (int64_t i = 0; i < p.numel(); ++i) {
    const float wd = kernels::in_ranges(ranges, r, i) ? h.weight_decay : 0.0f;
    kernels::adamw_element(pp + i, mp + i, vp + i, gp[i] * scale, h.lr, h.beta1, h.beta2, h.eps, wd,
                           bias1, bias2);
  }
}

void sum_squares(const Tensor& out, const Tensor& x) {
  const float* p = x.data<float>();
  double s = 0;
  for (int64_t i = 0; i < x.numel(); ++i) s += static_cast<double>(p[i]) * p[i];
  *out.data<double>() = s;
}

}  // namespace cpu
}  // namespace sy
