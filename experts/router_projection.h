// The device half shared by the routers: a linear projection of the items (S,w)·W (w,n) computed
// with the core GEMM on the items' device and brought to the host, and its backward.
#pragma once

#include <vector>

#include "runtime/core/param.h"
#include "runtime/ops/ops.h"

namespace sy {

// Host copy of x·W (trans_w: x·Wᵀ with W stored (n,w)).
std::vector<float> project_to_host(const Tensor& x, const Tensor& w, bool trans_w);

// Given dL/d(x·W) on the host (S,n): w.grad += xᵀ·d (or dᵀ·x when trans_w) and dx += d·Wᵀ (or d·W).
void project_backward(const Tensor& dx, Param& w, const Tensor& x, const std::vector<float>& d,
                      bool trans_w);

}  // namespace sy
