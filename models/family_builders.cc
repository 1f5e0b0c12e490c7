#include "models/family_builders.h"

#include <cmath>

#include "models/smlp_block.h"
#include "runtime/core/config.h"

namespace sy {

BlockSpec block_spec(const pb::RunConfig& c, int index, Device device) {
  const pb::ModelConfig& m = c.model();
  BlockSpec s;
  s.name = "block" + std::to_string(index);
  s.dim = m.d_model();
  s.d_ff = m.d_ff() > 0 ? m.d_ff() : 4 * s.dim;
  s.seq_len = m.seq_len();
  s.heads = m.n_heads();
  s.seed = c.seed();
  s.device = device;
  if (resolved_position(m) == pb::ModelConfig::ROPE) s.rope_base = m.rope_base();
  if (m.gelu() == pb::ModelConfig::GELU_ERF) s.gelu = Activation::kGeluErf;
  s.post_norm = m.post_norm();
  return s;
}

bool attention_rms_norm(const pb::ModelConfig& m) {
  if (m.norm() != pb::ModelConfig::NORM_UNSPECIFIED) return m.norm() == pb::ModelConfig::RMSNORM;
  return m.family() == pb::MH_MOE;
}

namespace {

using Blocks = std::vector<std::unique_ptr<Block>>;

// TRANSFORMER, and BERT with bidirectional attention.
Blocks transformer(const pb::RunConfig& c, const ProcessGroups& g, Device device) {
  Blocks b;
  for (int i = 0; i < c.model().n_layers(); ++i) {
    BlockSpec s = block_spec(c, i, device);
    s.bidirectional = c.model().family() == pb::BERT;
    b.push_back(std::make_unique<TransformerBlock>(s, attention_rms_norm(c.model()), nullptr, g));
  }
  return b;
}

// A block's MoE layer options: the layer's MoeConfig, plus what the run decides (overlap,
// recompute) and the model's GELU unless moe.gelu overrides it.
MoeOptions layer_moe_options(const pb::RunConfig& c, const pb::MoeConfig& moe, const BlockSpec& s,
                             bool mh, const std::string& suffix) {
  MoeOptions o =
      MoeOptions::from_config(moe, static_cast<int>(s.dim), mh, c.seed(), s.name + suffix);
  o.set_overlap(c.parallel());
  o.recompute_experts = c.recompute() == pb::MOE_EXPERTS;
  if (!moe.has_gelu()) o.gelu = s.gelu;
  return o;
}

// TRANSFORMER_MOE and MH_MOE: every moe_freq-th block's FFN is a MoE layer.
Blocks moe_transformer(const pb::RunConfig& c, const ProcessGroups& g, Device device) {
  const pb::ModelConfig& m = c.model();
  Blocks b;
  for (int i = 0; i < m.n_layers(); ++i) {
    const std::optional<MoeOptions> o = attention_block_moe(c, i);
    b.push_back(std::make_unique<TransformerBlock>(block_spec(c, i, device), attention_rms_norm(m),
                                                   o ? &*o : nullptr, g));
  }
  return b;
}

Blocks gmlp(const pb::RunConfig& c, const ProcessGroups&, Device device) {
  Blocks b;
  for (int i = 0; i < c.model().n_layers(); ++i)
    b.push_back(std::make_unique<GmlpBlock>(block_spec(c, i, device)));
  return b;
}

Blocks m2(const pb::RunConfig& c, const ProcessGroups&, Device device) {
  const M2BlockOptions o = m2_block_options(c.model());
  Blocks b;
  for (int i = 0; i < c.model().n_layers(); ++i)
    b.push_back(std::make_unique<M2Block>(block_spec(c, i, device), o));
  return b;
}

// sMLP's sparse block i: the sMoE over channel chunks and the BASE-routed tMoE.
std::unique_ptr<Block> smlp_sparse_block(const pb::RunConfig& c, int i, const ProcessGroups& g,
                                         Device device) {
  SmlpSparseOptions o = smlp_sparse_options(c, i);
  o.spec.device = device;
  return std::make_unique<SmlpSparseBlock>(o.spec, o.smoe, o.tmoe, g, &c.parallel());
}

Blocks smlp(const pb::RunConfig& c, const ProcessGroups& g, Device device) {
  const pb::ModelConfig& m = c.model();
  Blocks b;
  for (int i = 0; i < m.n_dense_blocks(); ++i)
    b.push_back(std::make_unique<GmlpBlock>(block_spec(c, i, device)));
  for (int j = 0; j < m.n_sparse_blocks(); ++j)
    b.push_back(smlp_sparse_block(c, m.n_dense_blocks() + j, g, device));
  return b;
}

}  // namespace

namespace {

int64_t prefix_of(const pb::ModelConfig& m) {
  return std::max<int64_t>(1, static_cast<int64_t>(std::ceil(m.prefix_fraction() * m.seq_len())));
}

}  // namespace

// M2-GPT and M2-BERT: the block's options from model.m2 (and model.m2_blocks).
M2BlockOptions m2_block_options(const pb::ModelConfig& m) {
  const pb::M2Config& c = m.m2();
  M2BlockOptions o;
  o.mlp = c.mlp();
  o.blocks = m.m2_blocks();
  o.mixer.bidirectional = m.family() == pb::M2_BERT;
  o.mixer.residual_long_conv = c.residual_long_conv();
  LongKernelOptions& k = o.mixer.kernel;
  k.implicit = c.filter() != pb::M2Config::EXPLICIT;
  k.heads = c.filter_heads();
  k.filter_lr = c.filter_lr();
  k.filter_weight_decay = c.filter_weight_decay();
  k.filter.width = c.filter_width();
  k.filter.features = c.filter_features();
  k.filter.inner_layers = c.filter_inner_layers();
  k.filter.frequency = c.filter_frequency();
  return o;
}

SmlpSparseOptions smlp_sparse_options(const pb::RunConfig& c, int index) {
  const pb::ModelConfig& m = c.model();
  SmlpSparseOptions o;
  o.spec = block_spec(c, index, Device::cpu());
  const BlockSpec& s = o.spec;
  const pb::MoeConfig moe = moe_for_layer(m, index);
  FeatureMoeOptions& f = o.smoe;
  f.num_experts = m.smoe_experts() > 0 ? m.smoe_experts() : moe.num_experts();
  f.channels = s.d_ff;
  f.seq_len = s.seq_len;
  f.routing = m.feature_routing();
  f.prefix_len = routed_prefix_len(m);
  f.balance_coef = moe.balance_loss_coef();
  f.z_coef = moe.z_loss_coef();
  f.seed = c.seed();
  f.name = s.name + ".smoe";
  f.recompute_experts = c.recompute() == pb::MOE_EXPERTS;
  // tMoE: token MoE with BASE routing (the paper's choice), one expert per token.
  o.tmoe = layer_moe_options(c, moe, s, false, ".tmoe");
  o.tmoe.use_base(moe.base_form());
  o.tmoe.num_heads = 1;
  return o;
}

std::optional<MoeOptions> attention_block_moe(const pb::RunConfig& c, int index) {
  const pb::ModelConfig& m = c.model();
  const bool moe_family = m.family() == pb::TRANSFORMER_MOE || m.family() == pb::MH_MOE;
  if (!moe_family || (index + 1) % m.moe_freq() != 0) return std::nullopt;
  return layer_moe_options(c, moe_for_layer(m, index), block_spec(c, index, Device::cpu()),
                           m.family() == pb::MH_MOE, ".moe");
}

int64_t routed_prefix_len(const pb::ModelConfig& m) {
  if (m.family() != pb::SMLP || m.feature_routing() != pb::PARTIAL_PREDICTION) return 0;
  return prefix_of(m);
}

int64_t unscored_prefix_len(const pb::ModelConfig& m) {
  return m.score_suffix_only() ? prefix_of(m) : routed_prefix_len(m);
}

std::vector<std::unique_ptr<Block>> build_blocks(const pb::RunConfig& c, const ProcessGroups& g,
                                                 Device device) {
  switch (c.model().family()) {
    case pb::TRANSFORMER:
    case pb::BERT: return transformer(c, g, device);
    case pb::TRANSFORMER_MOE:
    case pb::MH_MOE: return moe_transformer(c, g, device);
    case pb::GMLP: return gmlp(c, g, device);
    case pb::SMLP: return smlp(c, g, device);
    case pb::M2_GPT:
    case pb::M2_BERT: return m2(c, g, device);
    default: break;
  }
  SY_THROW("model family " << pb::ModelFamily_Name(c.model().family())
                           << " is not set or not known; use TRANSFORMER, TRANSFORMER_MOE, MH_MOE, "
                              "GMLP, SMLP, M2_GPT or M2_BERT");
}

}  // namespace sy
