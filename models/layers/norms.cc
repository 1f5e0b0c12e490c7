#include "models/layers/norms.h"

#include "runtime/ops/ops.h"

namespace sy {

LayerNorm::LayerNorm(const std::string& name, int64_t dim, Device device, float eps)
    : gamma_(name + ".gamma", {dim}, device), beta_(name + ".beta", {dim}, device), eps_(eps) {
  gamma_.value.fill(1.0);
}

void LayerNorm::forward(const Tensor& y, const Tensor& x) {
  x_ = x;
  mean_ = Tensor::empty({x.rows()}, DType::kF32, x.device());
  rstd_ = Tensor::empty({x.rows()}, DType::kF32, x.device());
  layernorm_forward(y, mean_, rstd_, x, gamma_.value, beta_.value, eps_);
}

void LayerNorm::backward(const Tensor& dx, const Tensor& dy) {
  layernorm_backward(dx, gamma_.grad, beta_.grad, dy, x_, mean_, rstd_, gamma_.value);
}

RMSNorm::RMSNorm(const std::string& name, int64_t dim, Device device, float eps)
    : gamma_(name + ".gamma", {dim}, device), eps_(eps) {
  gamma_.value.fill(1.0);
}

void RMSNorm::forward(const Tensor& y, const Tensor& x) {
  x_ = x;
  rstd_ = Tensor::empty({x.rows()}, DType::kF32, x.device());
  rmsnorm_forward(y, rstd_, x, gamma_.value, eps_);
}

void RMSNorm::backward(const Tensor& dx, const Tensor& dy) {
  rmsnorm_backward(dx, gamma_.grad, dy, x_, rstd_, gamma_.value);
}

}  // namespace sy
