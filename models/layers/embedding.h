// Token embedding: out (N, d) = table[ids]. The table can double as the output head (tied
// weights): logits (N, V) = h · tableᵀ, whose gradient adds to the same table.
#pragma once

#include <string>
#include <vector>

#include "runtime/core/param.h"

namespace sy {

class Embedding {
 public:
  Embedding(const std::string& name, int64_t vocab, int64_t dim, uint64_t seed, Device device);
  // ids (N) i32 on the table's device.
  void forward(const Tensor& out, const Tensor& ids);
  void backward(const Tensor& dout);
  // The tied output head: logits = h · tableᵀ; backward adds to the table and assigns dh.
  void head_forward(const Tensor& logits, const Tensor& h);
  void head_backward(const Tensor& dh, const Tensor& dlogits);
  std::vector<Param*> params() { return {&table_}; }
  Param& table() { return table_; }

 private:
  Param table_;  // (V, d)
  Tensor ids_, h_;
};

}  // namespace sy
