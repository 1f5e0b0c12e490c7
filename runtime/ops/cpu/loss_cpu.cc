// Cross-entropy over the vocabulary, forward and backward (ignored targets < 0), on the CPU: rows
// split over threads.
#include "runtime/ops/cpu/ops_cpu.h"
#include "runtime/ops/cpu/vectorized.h"
#include "runtime/ops/shared/loss_math.h"

namespace sy {
namespace cpu {

void cross_entropy_forward(const Tensor& losses, const Tensor& logits, const Tensor& targets) {
  const int64_t v = logits.cols();
  for_row_chunks(logits.rows(), v, [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r)
      losses.data<float>()[r] =
          kernels::cross_entropy_row(logits.data<float>() + r * v, targets.data<int32_t>()[r], v);
  });
}

void cross_entropy_backward(const Tensor& dlogits, const Tensor& logits, const Tensor& targets,
                            const Tensor& dloss) {
  const int64_t v = logits.cols();
  for_row_chunks(logits.rows(), v, [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r)
      kernels::cross_entropy_backward_row(dlogits.data<float>() + r * v,
                                          logits.data<float>() + r * v, targets.data<int32_t>()[r],
                                          dloss.data<float>()[r], v);
  });
}

}  // namespace cpu
}  // namespace sy
