// The optimizer's ops on the GPU: the fused AdamW step (one thread per element,
// ops/shared/optimizer_math.h; the clip factor read from the device) and a deterministic sum of
// squares (deterministic_sum.cuh) — neither reads anything back to the host.
#include <cmath>

#include "runtime/core/cuda_check.h"
#include "runtime/ops/cuda/deterministic_sum.cuh"
#include "runtime/ops/cuda/ops_cuda.h"
#include "runtime/ops/shared/optimizer_math.h"

namespace sy {
namespace cuda {

namespace {

__global__ void adamw_step_kernel(float* p, float* m, float* v, const float* g, int64_t n,
                                  const int64_t* ranges, int64_t r, const double* sq, int k,
                                  AdamWHyper h, float bias1, float bias2) {
  if (!kernels::finite_norm(sq, k)) return;
  const float scale = kernels::clip_scale(sq, k, h.grad_clip);
  SY_GRID_STRIDE(i, n) {
    const float wd = kernels::in_ranges(ranges, r, i) ? h.weight_decay : 0.0f;
    kernels::adamw_element(p + i, m + i, v + i, g[i] * scale, h.lr, h.beta1, h.beta2, h.eps, wd,
                           bias1, bias2);
  }
}

}  // namespace

void adamw_step(const Tensor& p, const Tensor& m, const Tensor& v, const Tensor& grad,
                const Tensor& decay, const Tensor& grad_sq, const AdamWHyper& h, Stream stream) {
  const int64_t n = p.numel();
  if (n == 0) return;
  const float bias1 = 1.0f - std::pow(h.beta1, static_cast<float>(h.t));
  const float bias2 = 1.0f - std::pow(h.beta2, static_cast<float>(h.t));
  launch(adamw_step_kernel, n, stream, p.data<float>(), m.data<float>(), v.data<float>(),
         grad.data<float>(), n, decay.data<int64_t>(), decay.dim(0), grad_sq.data<double>(),
         static_cast<int>(grad_sq.numel()), h, bias1, bias2);
}

void sum_squares(const Tensor& out, const Tensor& x, Stream stream) {
  device_dot(out.data<double>(), x.data<float>(), x.data<float>(), x.numel(), stream);
}

}  // namespace cuda
}  // namespace sy
