#include "models/model_cost.h"

#include <algorithm>

#include "experts/expert_cost.h"
#include "models/family_builders.h"
#include "runtime/core/config.h"
#include "runtime/core/error.h"

namespace sy {

double attention_flops_per_token(int64_t dim, int64_t seq_len) {
  const double d = static_cast<double>(dim), t = static_cast<double>(seq_len);
  return 2.0 * (4 * d * d + 2 * t * d);
}

double dense_ffn_flops_per_token(int64_t dim, int64_t hidden) {
  return 2.0 * 2.0 * static_cast<double>(dim) * static_cast<double>(hidden);
}

double BlockCost::expert_flops_per_token() const {
  if (!moe) return 0;
  return items_per_token() * expert_flops_per_item(*moe, moe->item_width());
}

int64_t BlockCost::expert_weights() const {
  if (!moe) return 0;
  return static_cast<int64_t>(moe->num_experts) * expert_weight_count(*moe, moe->item_width());
}

namespace {

int64_t norm_weights(int64_t d, bool rms) {
  return rms ? d : 2 * d;
}

// The MoE layer in block `s`: its router and projections, and what its experts keep per item.
void add_moe(BlockCost& b, const MoeOptions& o) {
  const double h = o.num_heads, w = o.item_width();
  b.dense_flops_per_token += mh_projection_flops_per_token(o) + h * router_flops_per_item(o);
  b.dense_weights += router_weight_count(o) + mh_projection_weight_count(o);
  const double up = (o.expert == pb::SWIGLU ? 2.0 : 1.0) * o.hidden();
  b.kept_per_item = w + up + o.hidden() + w;  // input, pre-activation, activation, output
  b.kept_input_per_item = w;
  b.kept_per_token += (o.mh_projections ? 2.0 : 0.0) * o.d_model + h * o.top_k;  // + gate weights
  b.moe = o;
}

BlockCost attention_block_cost(const pb::RunConfig& c, int index) {
  const BlockSpec s = block_spec(c, index, Device::cpu());
  const int64_t d = s.dim;
  const std::optional<MoeOptions> moe = attention_block_moe(c, index);
  const bool rms = attention_rms_norm(c.model());
  const bool inner_norm = moe && moe->base_fairseq;  // fairseq's BASE: the experts normalise
  BlockCost b;
  b.dense_flops_per_token = attention_flops_per_token(d, s.seq_len);
  b.dense_weights = norm_weights(d, rms) * (inner_norm ? 1 : 2) + (d * 3 * d + 3 * d) + (d * d + d);
  // Norm inputs and outputs, QKV, the per-head probabilities, context, the residual.
  b.kept_per_token = 2.0 * d + 3.0 * d + static_cast<double>(s.heads) * s.seq_len + d + 3.0 * d;
  if (moe) {
    add_moe(b, *moe);
  } else {
    b.dense_flops_per_token += dense_ffn_flops_per_token(d, s.d_ff);
    b.dense_weights += d * s.d_ff + s.d_ff + s.d_ff * d + d;
    b.kept_per_token += 2.0 * s.d_ff;
  }
  return b;
}

}  // namespace

size_t moe_exchange_bytes_per_rank(const pb::RunConfig& c, int world) {
  const pb::ModelFamily f = c.model().family();
  if (f != pb::TRANSFORMER_MOE && f != pb::MH_MOE) return 0;
  const ModelCost m = model_cost(c);
  const double tokens = static_cast<double>(c.data().global_batch()) * m.seq_len / world;
  const double payload = c.precision() == pb::BF16 ? 2.0 : 4.0;
  double bytes = 0;
  for (const BlockCost& b : m.blocks)
    if (b.moe)
      bytes = std::max(bytes, tokens * b.items_per_token() * b.moe->item_width() * payload);
  return static_cast<size_t>(bytes);
}

BlockCost moe_layer_cost(const MoeOptions& o) {
  BlockCost b;
  add_moe(b, o);
  b.kept_per_token += o.d_model;  // the layer's input (the router's backward reads it)
  return b;
}

ModelCost model_cost(const pb::RunConfig& c) {
  const pb::ModelConfig& m = c.model();
  const pb::ModelFamily f = m.family();
  SY_CHECK(f == pb::TRANSFORMER || f == pb::BERT || f == pb::TRANSFORMER_MOE || f == pb::MH_MOE,
           "model family " << pb::ModelFamily_Name(f)
                           << " has no cost model yet; the planner covers TRANSFORMER, BERT, "
                              "TRANSFORMER_MOE and MH_MOE");
  ModelCost mc;
  mc.dim = m.d_model();
  mc.seq_len = m.seq_len();
  mc.vocab = m.vocab_size();
  mc.head_flops_per_token = 2.0 * static_cast<double>(mc.dim) * static_cast<double>(mc.vocab);
  for (int i = 0; i < m.n_layers(); ++i) mc.blocks.push_back(attention_block_cost(c, i));
  mc.other_weights = mc.vocab * mc.dim + 2 * mc.dim;  // embedding, final LayerNorm
  if (!m.tie_embeddings()) mc.other_weights += mc.dim * mc.vocab;
  if (resolved_position(m) == pb::ModelConfig::LEARNED) mc.other_weights += mc.seq_len * mc.dim;
  return mc;
}

double ModelCost::forward_flops_per_token() const {
  double f = head_flops_per_token;
  for (const BlockCost& b : blocks) f += b.dense_flops_per_token + b.expert_flops_per_token();
  return f;
}

double ModelCost::expert_flops_per_token() const {
  double f = 0;
  for (const BlockCost& b : blocks) f += b.expert_flops_per_token();
  return f;
}

int64_t ModelCost::dense_weights() const {
  int64_t n = other_weights;
  for (const BlockCost& b : blocks) n += b.dense_weights;
  return n;
}

int64_t ModelCost::expert_weights() const {
  int64_t n = 0;
  for (const BlockCost& b : blocks) n += b.expert_weights();
  return n;
}

int ModelCost::moe_layers() const {
  int n = 0;
  for (const BlockCost& b : blocks) n += b.moe ? 1 : 0;
  return n;
}

}  // namespace sy
