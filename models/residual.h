// The residual sub-layers the blocks are made of. Pre-norm: y = x + f(norm(x)), and its backward
// dx = dy + normᵀ(fᵀ(dy)). Post-norm (BERT's and M2-BERT's release): y = norm(x + f(x)), and
// dx = dz + fᵀ(dz) with dz = normᵀ(dy). f and its backward are callables (out, in).
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

template <typename Norm, typename F>
void post_norm_residual_forward(const Tensor& y, const Tensor& x, Norm& norm, F&& f) {
  Tensor z = Tensor::empty(x.shape(), DType::kF32, x.device());
  f(z, x);
  add_scaled(z, x, 1.0f);
  norm.forward(y, z);
}

template <typename Norm, typename B>
void post_norm_residual_backward(const Tensor& dx, const Tensor& dy, Norm& norm, B&& f_backward) {
  Tensor dz = Tensor::empty(dy.shape(), DType::kF32, dy.device());
  norm.backward(dz, dy);
  f_backward(dx, dz);
  add_scaled(dx, dz, 1.0f);
}

// Either form, as a block's post_norm setting says.
template <typename Norm, typename F>
void sublayer_forward(bool post_norm, const Tensor& y, const Tensor& x, Norm& norm, F&& f) {
  if (post_norm)
    post_norm_residual_forward(y, x, norm, f);
  else
    residual_forward(y, x, norm, f);
}

template <typename Norm, typename B>
void sublayer_backward(bool post_norm, const Tensor& dx, const Tensor& dy, Norm& norm,
                       B&& f_backward) {
  if (post_norm)
    post_norm_residual_backward(dx, dy, norm, f_backward);
  else
    residual_backward(dx, dy, norm, f_backward);
}

}  // namespace sy
