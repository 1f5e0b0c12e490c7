// Cross-entropy over the vocabulary, forward and backward (ignored targets < 0): argument checks,
// then the CPU or CUDA implementation.
#include "runtime/ops/op_checks.h"

namespace sy {

using namespace op_checks;

void cross_entropy_forward(const Tensor& losses, const Tensor& logits, const Tensor& targets,
                           Stream stream) {
  check_dtype("cross_entropy_forward", "logits", logits, DType::kF32);
  check_dtype("cross_entropy_forward", "targets", targets, DType::kI32);
  check_same_device("cross_entropy_forward", {&losses, &logits, &targets});
  SY_CHECK(targets.numel() == logits.rows() && losses.numel() == logits.rows(),
           "cross_entropy_forward: one target and one loss per row of logits");
  check_index_host("cross_entropy_forward", targets, logits.cols());
  SY_DISPATCH("cross_entropy_forward", logits, cpu::cross_entropy_forward(losses, logits, targets),
              cuda::cross_entropy_forward(losses, logits, targets, stream));
}

void cross_entropy_backward(const Tensor& dlogits, const Tensor& logits, const Tensor& targets,
                            const Tensor& dloss, Stream stream) {
  check_dtype("cross_entropy_backward", "targets", targets, DType::kI32);
  check_same_device("cross_entropy_backward", {&dlogits, &logits, &targets, &dloss});
  SY_CHECK(dlogits.shape() == logits.shape() && targets.numel() == logits.rows() &&
               dloss.numel() == logits.rows(),
           "cross_entropy_backward: shapes do not fit");
  check_index_host("cross_entropy_backward", targets, logits.cols());
  SY_DISPATCH("cross_entropy_backward", logits,
              cpu::cross_entropy_backward(dlogits, logits, targets, dloss),
              cuda::cross_entropy_backward(dlogits, logits, targets, dloss, stream));
}

}  // namespace sy
