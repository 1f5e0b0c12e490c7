#include "models/layers/positions.h"

#include "runtime/core/random.h"
#include "runtime/ops/ops.h"

namespace sy {

LearnedPositions::LearnedPositions(const std::string& name, int64_t seq_len, int64_t dim,
                                   uint64_t seed, Device device)
    : seq_len_(seq_len), table_(name, {seq_len, dim}, device) {
  fill_normal(table_.value, seed, stream_id(table_.name.c_str()), 0.02f);
  table_.keep_fp32 = true;  // added in fp32, never read by a GEMM
}

void LearnedPositions::forward(const Tensor& x, int64_t batch) {
  SY_CHECK(x.rows() == batch * seq_len_ && x.cols() == table_.value.cols(),
           "learned positions: x must be (B·T, d) = (" << batch * seq_len_ << ", "
                                                       << table_.value.cols() << ")");
  for (int64_t b = 0; b < batch; ++b)
    add_scaled(x.slice_rows(b * seq_len_, (b + 1) * seq_len_), table_.value, 1.0f);
}

void LearnedPositions::backward(const Tensor& dx, int64_t batch) {
  for (int64_t b = 0; b < batch; ++b)
    add_scaled(table_.grad, dx.slice_rows(b * seq_len_, (b + 1) * seq_len_), 1.0f);
}

}  // namespace sy
