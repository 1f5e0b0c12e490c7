// The projection the routers share: the items (S,w) times a router weight, on the items' device,
// and its backward.
#pragma once

#include "runtime/core/param.h"

namespace sy {

// x · W (W stored (w,n)), or x · Wᵀ with trans_w (W stored (n,w)): (S, n).
Tensor project(const Tensor& x, const Tensor& w, bool trans_w);

// Given d = dL/d(x·W) (S,n) on the device: w.grad += xᵀ·d (or dᵀ·x when trans_w) and
// dx += d·Wᵀ (or d·W).
void project_backward(const Tensor& dx, Param& w, const Tensor& x, const Tensor& d, bool trans_w);

}  // namespace sy
