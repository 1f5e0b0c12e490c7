// What a model config costs, from the config alone — nothing allocated, so a config for
// thousands of GPUs can be costed on a laptop: forward FLOPs per token, weights (replicated vs
// expert), and an estimate of the activations kept for backward. The built blocks report their
// FLOPs through the same functions (attention, dense FFN here; the MoE layer's in
// experts/expert_cost.h), and a test holds the counts equal to the built model's.
//
// Covers every family: the attention families (TRANSFORMER, BERT, TRANSFORMER_MOE, MH_MOE), gMLP,
// sMLP (its sMoE as the feature MoE it is) and M2 (GPT and BERT).
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "experts/moe_options.h"
#include "switchyard/config.pb.h"

namespace sy {

// Attention per token: QKV and output projections (4d²) and the T×T scores and weighted sum
// (2·T·d), as multiply-adds × 2.
double attention_flops_per_token(int64_t dim, int64_t seq_len);
// The dense GELU FFN per token: d → F → d.
double dense_ffn_flops_per_token(int64_t dim, int64_t hidden);

// One MoE layer of a block, as the planner needs it: a token MoE (items: tokens or MH-MoE
// sub-tokens) or sMLP's feature MoE (items: one sequence's chunk of channels).
struct MoeCost {
  int num_experts = 0;
  double items_per_token = 0;  // routed items per token (k·h; the sMoE: E / T)
  int64_t item_width = 0;      // values per item: what the all-to-all moves
  double expert_flops_per_item = 0;
  int64_t weights_per_expert = 0;
  // Values kept for backward per item inside the experts (input, hidden, output); the input only
  // under recompute MOE_EXPERTS. Estimates of what the experts keep.
  double kept_per_item = 0, kept_input_per_item = 0;

  double expert_flops_per_token() const { return items_per_token * expert_flops_per_item; }
  // Values per token the layer's all-to-all moves each way.
  double payload_per_token() const { return items_per_token * static_cast<double>(item_width); }
  // Bytes one rank's all-to-all moves each way for `tokens` tokens at the precision's activations.
  double payload_bytes(double tokens, pb::Precision precision) const;
  int64_t expert_weights() const { return num_experts * weights_per_expert; }
};
MoeCost token_moe_cost(const MoeOptions& options);

struct BlockCost {
  // Everything but the routed experts: attention or spatial gating, the dense FFN, the MoE
  // routers and MH-MoE projections.
  double dense_flops_per_token = 0;
  int64_t dense_weights = 0;  // replicated on every rank (norms, attention, FFN, routers)
  std::vector<MoeCost> moes;  // the block's MoE layers (sMLP's sparse block: sMoE and tMoE)
  double kept_per_token = 0;  // values kept for backward per token outside the experts

  double expert_flops_per_token() const;
  int64_t expert_weights() const;  // every global expert's weights
};

struct ModelCost {
  std::vector<BlockCost> blocks;
  int64_t dim = 0, seq_len = 0, vocab = 0;
  double head_flops_per_token = 0;
  int64_t other_weights = 0;  // embedding, learned positions, final norm, an untied head

  // Equal to LanguageModel::forward_flops_per_token of the built model.
  double forward_flops_per_token() const;
  double expert_flops_per_token() const;
  int64_t dense_weights() const;
  int64_t expert_weights() const;
  int64_t weight_count() const { return dense_weights() + expert_weights(); }
  int moe_layers() const;
};

ModelCost model_cost(const pb::RunConfig& config);
// The bytes one rank sends in the config's largest MoE exchange (tokens per rank × items per
// token × item width × payload bytes) on `world` ranks: what parallel.a2a AUTO times the two
// all-to-alls at. 0 for a model without MoE layers.
size_t moe_exchange_bytes_per_rank(const pb::RunConfig& config, int world);
// A lone MoE layer (as `bench moe-layer` runs it): its router, projections and experts.
BlockCost moe_layer_cost(const MoeOptions& options);

}  // namespace sy
