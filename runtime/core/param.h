// A trainable parameter: its value, its gradient (accumulated with +=, per contract 1) and how its
// gradient is reduced across ranks: expert parameters over the edp_group, everything else over the
// world (DESIGN.md contract 2).
#pragma once

#include <string>
#include <vector>

#include "runtime/core/tensor.h"

namespace sy {

struct Param {
  std::string name;
  Tensor value;
  Tensor grad;
  bool is_expert = false;

  Param() = default;
  Param(std::string n, const Shape& shape, Device device, bool expert = false)
      : name(std::move(n)),
        value(Tensor::zeros(shape, DType::kF32, device)),
        grad(Tensor::zeros(shape, DType::kF32, device)),
        is_expert(expert) {}
  void zero_grad() { grad.fill(0.0); }
};

}  // namespace sy
