#include "runtime/layers/mixed_precision.h"

#include "runtime/ops/ops.h"

namespace sy {

DType compute_dtype(pb::Precision precision) {
  return precision == pb::BF16 ? DType::kBF16 : DType::kF32;
}

void use_compute_type(const std::vector<Param*>& params, DType type) {
  for (Param* p : params) {
    if (type == DType::kF32 || p->value.ndim() < 2 || p->keep_fp32) {
      p->compute_copy = Tensor();
      continue;
    }
    p->compute_copy = Tensor::empty(p->value.shape(), type, p->value.device());
  }
  refresh_compute_copies(params);
}

void refresh_compute_copies(const std::vector<Param*>& params, Stream stream) {
  for (Param* p : params)
    if (p->compute_copy.defined()) cast(p->compute_copy, p->value, stream);
}

Tensor as_compute(const Tensor& x, DType type, Stream stream) {
  if (x.dtype() == type) return x;
  Tensor out = Tensor::empty(x.shape(), type, x.device());
  cast(out, x, stream);
  return out;
}

}  // namespace sy
