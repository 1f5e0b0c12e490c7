#include "runtime/layers/linear.h"

#include <cmath>

#include "runtime/core/random.h"
#include "runtime/layers/mixed_precision.h"
#include "runtime/ops/ops.h"

namespace sy {

Linear::Linear(const std::string& name, int64_t in, int64_t out, bool bias, uint64_t seed,
               Device device, float init_scale)
    : w_(name + ".w", {in, out}, device),
      b_(name + ".b", {bias ? out : 0}, device),
      has_bias_(bias) {
  fill_normal(w_.value, seed, stream_id(w_.name.c_str()), init_scale / std::sqrt(float(in)));
}

void Linear::forward(const Tensor& y, const Tensor& x) {
  x_ = as_compute(x, w_.compute().dtype());  // kept for dW: in bf16, half the memory
  gemm(y, x_, w_.compute(), false, false, 1.0f, 0.0f);
  if (has_bias_) add_bias(y, b_.value);
}

void Linear::backward(const Tensor& dx, const Tensor& dy) {
  const Tensor dyc = as_compute(dy, w_.compute().dtype());
  gemm(w_.grad, x_, dyc, true, false, 1.0f, 1.0f);
  if (has_bias_) {
    Tensor db = Tensor::empty({dy.cols()}, DType::kF32, dy.device());
    reduce_cols(db, dy, ReduceOp::kSum);
    add_scaled(b_.grad, db, 1.0f);
  }
  if (dx.defined()) gemm(dx, dyc, w_.compute(), false, true, 1.0f, 0.0f);
}

std::vector<Param*> Linear::params() {
  if (has_bias_) return {&w_, &b_};
  return {&w_};
}

}  // namespace sy
