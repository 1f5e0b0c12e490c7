// The pre-norm residual sub-layer the blocks are made of: y = x + f(norm(x)), and its backward
// dx = dy + normᵀ(fᵀ(dy)). f and its backward are callables (out, in).
#pragma once

#include "runtime/core/tensor.h"
#include "runtime/ops/ops.h"

namespace sy {

template <typename Norm, typename F>
void residual_forward(const Tensor& y, const Tensor& x, Norm& norm, F&& f) {
  Tensor a = Tensor::empty(x.shape(), DType::kF32, x.device());
  Tensor o = Tensor::empty(x.shape(), DType::kF32, x.device());
  norm.forward(a, x);
  f(o, a);
  y.copy_from(x);
  add_scaled(y, o, 1.0f);
}

template <typename Norm, typename B>
void residual_backward(const Tensor& dx, const Tensor& dy, Norm& norm, B&& f_backward) {
  Tensor da = Tensor::empty(dy.shape(), DType::kF32, dy.device());
  Tensor dn = Tensor::empty(dy.shape(), DType::kF32, dy.device());
  f_backward(da, dy);
  norm.backward(dn, da);
  dx.copy_from(dy);
  add_scaled(dx, dn, 1.0f);
}

}  // namespace sy
