// Learned absolute position embeddings (model.position: LEARNED, as M2-BERT and BERT/GPT-2):
// x[b·T + t, :] += P[t, :] for every sequence b; P (T, d) ~ N(0, 0.02²). The gradient of P sums
// the sequences' in batch order (deterministic).
#pragma once

#include <string>
#include <vector>

#include "runtime/core/param.h"

namespace sy {

class LearnedPositions {
 public:
  LearnedPositions(const std::string& name, int64_t seq_len, int64_t dim, uint64_t seed,
                   Device device);
  // x (B·T, d), in place.
  void forward(const Tensor& x, int64_t batch);
  // dP += Σ_b dx[b·T .. b·T + T); dx itself passes through unchanged (the add's gradient).
  void backward(const Tensor& dx, int64_t batch);
  std::vector<Param*> params() { return {&table_}; }

 private:
  int64_t seq_len_;
  Param table_;  // (T, d)
};

}  // namespace sy
