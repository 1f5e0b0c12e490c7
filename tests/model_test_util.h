// Tiny language-model configs of every family, and deterministic token batches, shared by the
// model-level tests (model_test, grad_reducer_test).
#pragma once

#include <string>
#include <vector>

#include "runtime/core/config.h"
#include "switchyard/config.pb.h"

namespace sy {
namespace testing {

// vocab 16, T 6, d 8, two layers, two heads, global batch 4, seed 3.
inline pb::RunConfig tiny(const std::string& family_text) {
  std::string text = "model { vocab_size: 16 seq_len: 6 d_model: 8 n_layers: 2 n_heads: 2 ";
  if (family_text.find("d_ff") == std::string::npos) text += "d_ff: 12 ";
  return parse_config_text(text + family_text + " } data { global_batch: 4 } seed: 3", "test");
}

// A small implicit filter whose sines (frequency 2) are smooth enough for finite differences.
inline std::string m2(const std::string& extra) {
  return "m2 { filter_width: 6 filter_inner_layers: 1 filter_frequency: 2 " + extra + " }";
}

inline std::vector<pb::RunConfig> families() {
  return {tiny("family: TRANSFORMER"),
          tiny("family: TRANSFORMER_MOE moe { num_experts: 4 top_k: 2 d_expert: 8 "
               "capacity_factor: 1.0 balance_loss_coef: 0.1 }"),
          tiny("family: MH_MOE tie_embeddings: false moe { num_experts: 4 top_k: 2 num_heads: 2 "
               "d_expert: 6 dropless: true expert: SWIGLU }"),
          tiny("family: GMLP"),
          tiny("family: SMLP n_dense_blocks: 1 n_sparse_blocks: 1 d_ff: 8 moe { num_experts: 4 }"),
          tiny("family: SMLP n_dense_blocks: 1 n_sparse_blocks: 1 d_ff: 8 feature_routing: "
               "PARTIAL_PREDICTION prefix_fraction: 0.34 moe { num_experts: 4 }"),
          tiny("family: M2_GPT d_ff: 16 m2 { filter: EXPLICIT }"),
          tiny("family: M2_BERT d_ff: 16 mask_fraction: 0.3 " + m2("")),
          tiny("family: MH_MOE moe { num_experts: 4 top_k: 2 num_heads: 2 expert: MONARCH "
               "dropless: true }"),
          tiny("family: TRANSFORMER position: LEARNED"),
          tiny("family: M2_BERT d_ff: 16 mask_fraction: 0.3 position: LEARNED " +
               m2("residual_long_conv: true filter_lr: 0.01")),
          tiny("family: TRANSFORMER_MOE gelu: GELU_ERF moe { num_experts: 4 top_k: 2 "
               "d_expert: 8 expert: BLOCKDIAG monarch_blocks: 2 }"),
          tiny("family: GMLP gelu: GELU_ERF"),
          tiny("family: BERT mask_fraction: 0.3"),
          tiny("family: BERT mask_fraction: 0.3 position: ROPE"),
          tiny("family: TRANSFORMER_MOE norm: RMSNORM moe { num_experts: 4 top_k: 2 d_expert: 8 "
               "expert: SWIGLU }"),
          tiny("family: MH_MOE norm: LAYERNORM moe { num_experts: 4 top_k: 2 num_heads: 2 "
               "expert_width: FLOP_MATCHED dropless: true }"),
          tiny("family: SMLP n_dense_blocks: 1 n_sparse_blocks: 1 d_ff: 16 smoe_experts: 8 "
               "moe { num_experts: 4 }"),
          tiny("family: M2_BERT d_ff: 16 mask_fraction: 0.3 post_norm: true position: LEARNED "
               "gelu: GELU_ERF " +
               m2("residual_long_conv: true")),
          tiny("family: M2_GPT " + m2("filter_heads: 2 mlp: false"))};
}

inline void tokens(std::vector<int32_t>& ids, std::vector<int32_t>& targets, int64_t first_seq,
                   int64_t seqs, int64_t t) {
  ids.clear();
  targets.clear();
  for (int64_t s = first_seq; s < first_seq + seqs; ++s)
    for (int64_t i = 0; i < t; ++i) {
      ids.push_back(static_cast<int32_t>((s * 7 + i * 5 + 1) % 16));
      targets.push_back(i == 2 ? -1 : static_cast<int32_t>((s * 3 + i * 11 + 2) % 16));
    }
}

}  // namespace testing
}  // namespace sy
