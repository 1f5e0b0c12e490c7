#include "experts/router_projection.h"

namespace sy {

std::vector<float> project_to_host(const Tensor& x, const Tensor& w, bool trans_w) {
  int64_t n = trans_w ? w.dim(0) : w.dim(1);
  Tensor out = Tensor::empty({x.dim(0), n}, DType::kF32, x.device());
  gemm(out, x, w, false, trans_w, 1.0f, 0.0f);
  return out.to_vector<float>();
}

void project_backward(const Tensor& dx, Param& w, const Tensor& x, const std::vector<float>& d,
                      bool trans_w) {
  int64_t n = trans_w ? w.value.dim(0) : w.value.dim(1);
  Tensor dd = Tensor::from_vector(d, {x.dim(0), n}).to(x.device());
  if (trans_w)
    gemm(w.grad, dd, x, true, false, 1.0f, 1.0f);  // (n,S)·(S,w)
  else
    gemm(w.grad, x, dd, true, false, 1.0f, 1.0f);  // (w,S)·(S,n)
  gemm(dx, dd, w.value, false, !trans_w, 1.0f, 1.0f);
}

}  // namespace sy
