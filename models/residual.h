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

// Without a norm, for a sub-layer that normalises inside (BASE in fairseq's form): y = x + f(x),
// dx = dy + fᵀ(dy). f(out, in) must not write its input.
template <typename F>
void plain_residual_forward(const Tensor& y, const Tensor& x, F&& f) {
  f(y, x);
  add_scaled(y, x, 1.0f);
}

template <typename B>
void plain_residual_backward(const Tensor& dx, const Tensor& dy, B&& f_backward) {
  f_backward(dx, dy);
  add_scaled(dx, dy, 1.0f);
}

// Which of the three a sub-layer is: pre-norm (the default), post-norm (M2-BERT's release), or no
// norm around it (a sub-layer that normalises inside: BASE in fairseq's form).
enum class SublayerForm { kPreNorm, kPostNorm, kNoNorm };

inline SublayerForm sublayer_form(bool post_norm, bool inner_norm = false) {
  if (inner_norm) return SublayerForm::kNoNorm;
  return post_norm ? SublayerForm::kPostNorm : SublayerForm::kPreNorm;
}

template <typename Norm, typename F>
void sublayer_forward(SublayerForm form, const Tensor& y, const Tensor& x, Norm& norm, F&& f) {
  switch (form) {
    case SublayerForm::kPreNorm: residual_forward(y, x, norm, f); break;
    case SublayerForm::kPostNorm: post_norm_residual_forward(y, x, norm, f); break;
    case SublayerForm::kNoNorm: plain_residual_forward(y, x, f); break;
  }
}

template <typename Norm, typename B>
void sublayer_backward(SublayerForm form, const Tensor& dx, const Tensor& dy, Norm& norm,
                       B&& f_backward) {
  switch (form) {
    case SublayerForm::kPreNorm: residual_backward(dx, dy, norm, f_backward); break;
    case SublayerForm::kPostNorm: post_norm_residual_backward(dx, dy, norm, f_backward); break;
    case SublayerForm::kNoNorm: plain_residual_backward(dx, dy, f_backward); break;
  }
}

}  // namespace sy
