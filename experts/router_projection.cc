#include "experts/router_projection.h"

#include "runtime/ops/ops.h"

namespace sy {

Tensor project(const Tensor& x, const Tensor& w, bool trans_w) {
  const int64_t n = trans_w ? w.dim(0) : w.dim(1);
  Tensor out = Tensor::empty({x.dim(0), n}, DType::kF32, x.device());
  gemm(out, x, w, false, trans_w, 1.0f, 0.0f);
  return out;
}

void project_backward(const Tensor& dx, Param& w, const Tensor& x, const Tensor& d, bool trans_w) {
  if (trans_w)
    gemm(w.grad, d, x, true, false, 1.0f, 1.0f);  // (n,S)·(S,w)
  else
    gemm(w.grad, x, d, true, false, 1.0f, 1.0f);  // (w,S)·(S,n)
  gemm(dx, d, w.value, false, !trans_w, 1.0f, 1.0f);
}

}  // namespace sy
