// The optimizer's ops on the CPU: the fused AdamW step and a deterministic sum of squares.
#include <cmath>

#include "runtime/ops/cpu/ops_cpu.h"
#include "runtime/ops/cpu/vectorized.h"
#include "runtime/ops/shared/optimizer_math.h"

namespace sy {
namespace cpu {

namespace {

// Elements [begin, end) with one weight decay: a plain loop the compiler vectorises (the four
// buffers never overlap), split over threads.
void adamw_span(float* __restrict__ p, float* __restrict__ m, float* __restrict__ v,
                const float* __restrict__ g, int64_t begin, int64_t end, float scale, float wd,
                const AdamWHyper& h, float bias1, float bias2) {
  const float lr = h.lr, b1 = h.beta1, b2 = h.beta2, eps = h.eps;
  for_elements(end - begin, [&](int64_t lo, int64_t hi) {
    for (int64_t i = begin + lo; i < begin + hi; ++i)
      kernels::adamw_element(p + i, m + i, v + i, g[i] * scale, lr, b1, b2, eps, wd, bias1, bias2);
  });
}

}  // namespace

// The decay ranges split the buffer into spans of constant decay (the CUDA kernel finds each
// element's range by kernels::in_ranges instead).
void adamw_step(const Tensor& p, const Tensor& m, const Tensor& v, const Tensor& grad,
                const Tensor& decay, const Tensor& grad_sq, const AdamWHyper& h) {
  const float bias1 = 1.0f - std::pow(h.beta1, static_cast<float>(h.t));
  const float bias2 = 1.0f - std::pow(h.beta2, static_cast<float>(h.t));
  const double* sq = grad_sq.data<double>();
  const int k = static_cast<int>(grad_sq.numel());
  if (!kernels::finite_norm(sq, k)) return;
  const float scale = kernels::clip_scale(sq, k, h.grad_clip);
  const int64_t* ranges = decay.data<int64_t>();
  float *pp = p.data<float>(), *mp = m.data<float>(), *vp = v.data<float>();
  const float* gp = grad.data<float>();
  int64_t done = 0;
  for (int64_t k = 0; k < decay.dim(0); ++k) {
    const int64_t begin = ranges[2 * k], end = ranges[2 * k + 1];
    adamw_span(pp, mp, vp, gp, done, begin, scale, 0.0f, h, bias1, bias2);
    adamw_span(pp, mp, vp, gp, begin, end, scale, h.weight_decay, h, bias1, bias2);
    done = end;
  }
  adamw_span(pp, mp, vp, gp, done, p.numel(), scale, 0.0f, h, bias1, bias2);
}

void sum_squares(const Tensor& out, const Tensor& x) {
  const float* p = x.data<float>();
  double s = 0;
  for (int64_t i = 0; i < x.numel(); ++i) s += static_cast<double>(p[i]) * p[i];
  *out.data<double>() = s;
}

}  // namespace cpu
}  // namespace sy
