// LayerNorm (gain and bias) and RMSNorm (gain) over the last dimension; gains start at 1.
#pragma once

#include <string>
#include <vector>

#include "runtime/core/param.h"

namespace sy {

class LayerNorm {
 public:
  LayerNorm(const std::string& name, int64_t dim, Device device, float eps = 1e-5f);
  void forward(const Tensor& y, const Tensor& x);
  void backward(const Tensor& dx, const Tensor& dy);
  std::vector<Param*> params() { return {&gamma_, &beta_}; }
  void drop_activations() { release(x_, mean_, rstd_); }

 private:
  Param gamma_, beta_;
  float eps_;
  Tensor x_, mean_, rstd_;
};

class RMSNorm {
 public:
  RMSNorm(const std::string& name, int64_t dim, Device device, float eps = 1e-6f);
  void forward(const Tensor& y, const Tensor& x);
  void backward(const Tensor& dx, const Tensor& dy);
  std::vector<Param*> params() { return {&gamma_}; }
  void drop_activations() { release(x_, rstd_); }

 private:
  Param gamma_;
  float eps_;
  Tensor x_, rstd_;
};

}  // namespace sy
