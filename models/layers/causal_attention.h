// Causal multi-head self-attention (the baselines' and MH-MoE LM's mixer):
//   qkv = x·W_qkv + b  →  heads (B·H, T, dh)  →  P = causal_softmax(q·kᵀ/√dh)  →  o = P·v
//   →  merge heads  →  y = o·W_o + b.
// Plain O(T²) attention with batched GEMMs; scores are materialised (fine at the sizes here).
#pragma once

#include <string>
#include <vector>

#include "runtime/layers/linear.h"

namespace sy {

class CausalSelfAttention {
 public:
  // rope_base > 0: rotary position embeddings (the rope op) on the queries and keys.
  // bidirectional: every position attends to the whole sequence (BERT), not only to j ≤ i.
  CausalSelfAttention(const std::string& name, int64_t dim, int heads, uint64_t seed, Device device,
                      double rope_base = 0, bool bidirectional = false);
  // x, y (B·T, d) with sequences of length T back to back.
  void forward(const Tensor& y, const Tensor& x, int64_t batch, int64_t seq_len);
  void backward(const Tensor& dx, const Tensor& dy);
  std::vector<Param*> params();
  void drop_activations() {
    qkv_.drop_activations();
    out_.drop_activations();
    release(heads_qkv_, probs_, o_);
  }

 private:
  // The rotary table for the current T (built on the first forward of each length).
  const Tensor& rope_table_for(int64_t seq_len, Device device);

  int64_t dim_;
  int heads_;
  double rope_base_;
  bool bidirectional_;
  Tensor rope_table_;
  Linear qkv_, out_;
  int64_t b_ = 0, t_ = 0;
  Tensor heads_qkv_, probs_, o_;  // (3, B·H, T, dh), (B·H, T, T), (B·H, T, dh)
};

}  // namespace sy
