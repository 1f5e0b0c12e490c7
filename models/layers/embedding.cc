#include "models/layers/embedding.h"

#include "runtime/core/random.h"
#include "runtime/layers/mixed_precision.h"
#include "runtime/ops/ops.h"

namespace sy {

Embedding::Embedding(const std::string& name, int64_t vocab, int64_t dim, uint64_t seed,
                     Device device)
    : table_(name + ".table", {vocab, dim}, device) {
  fill_normal(table_.value, seed, stream_id(table_.name.c_str()), 0.02f);  // GPT-2's scale
}

void Embedding::forward(const Tensor& out, const Tensor& ids) {
  ids_ = ids;
  gather_rows(out, table_.value, ids);
}

void Embedding::backward(const Tensor& dout) {
  embedding_backward(table_.grad, dout, ids_);
}

// The head reads the table's compute copy (bf16 in mixed precision); the lookup above reads the
// fp32 master, so the residual stream starts in fp32.
void Embedding::head_forward(const Tensor& logits, const Tensor& h) {
  h_ = as_compute(h, table_.compute().dtype());
  gemm(logits, h_, table_.compute(), false, true, 1.0f, 0.0f);
}

void Embedding::head_backward(const Tensor& dh, const Tensor& dlogits) {
  const Tensor dl = as_compute(dlogits, table_.compute().dtype());
  gemm(table_.grad, dl, h_, true, false, 1.0f, 1.0f);  // (V,N)·(N,d)
  gemm(dh, dl, table_.compute(), false, false, 1.0f, 0.0f);
}

}  // namespace sy
