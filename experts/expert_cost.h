// What a token-MoE layer costs, from its options alone — no weights built: forward FLOPs
// (2 × multiply-adds) and weight counts of its experts, its router and MH-MoE's projections. The
// built layers report their FLOPs through these functions, and the planner (`switchyard plan`)
// projects configs far larger than this machine from them, so the two cannot drift apart.
#pragma once

#include <cstdint>

#include "experts/moe_options.h"

namespace sy {

// The FFN experts' first projection's width: F, or 2F for SwiGLU's gate and up halves.
int64_t ffn_up_width(const MoeOptions& o);

// One item of `width` through one expert of kind o.expert (FFN_GELU, SWIGLU, BLOCKDIAG, MONARCH).
double expert_flops_per_item(const MoeOptions& o, int64_t width);
// One expert's weights over items of `width` (biases included with o.expert_bias).
int64_t expert_weight_count(const MoeOptions& o, int64_t width);

// sMLP's sMoE experts (experts/sgu_experts.h): one item — a sequence's chunk of c channels —
// mixed along T by a T×T matrix (2·T²·c), and each expert's weights (the matrix and a bias per
// position).
double sgu_expert_flops_per_item(int64_t seq_len, int64_t channels);
int64_t sgu_expert_weight_count(int64_t seq_len);

// The router's scores of one item (the 2·w·E projection; hash routing included, as the layer
// has always counted it).
double router_flops_per_item(const MoeOptions& o);
// The router's weights (TOPK_SOFTMAX: w·E; XMOE_COSINE: w·r + E·r, + 1 learned temperature;
// BASE: E·w centroids; HASH: none).
int64_t router_weight_count(const MoeOptions& o);

// The core layer per item: router + top_k items through their experts (routed items only).
double moe_core_flops_per_item(const MoeOptions& o);
// MH-MoE's head and merge projections (d → d each, with biases) per token; 0 without them.
double mh_projection_flops_per_token(const MoeOptions& o);
int64_t mh_projection_weight_count(const MoeOptions& o);
// The whole layer per token: projections + h sub-tokens through the core layer.
double moe_flops_per_token(const MoeOptions& o);

}  // namespace sy
