#include "experts/moe_options.h"

#include <algorithm>

namespace sy {

MoeOptions MoeOptions::from_config(const pb::MoeConfig& c, int d_model, bool mh, uint64_t seed,
                                   const std::string& name) {
  MoeOptions o;
  o.d_model = d_model;
  o.num_experts = c.num_experts();
  o.top_k = c.top_k();
  o.router = c.router();
  o.expert = c.expert();
  o.d_expert = c.d_expert();
  o.expert_width = c.expert_width();
  o.capacity_factor = c.capacity_factor();
  o.dropless = c.dropless();
  o.renormalize = c.renormalize();
  if (c.gelu() == pb::ModelConfig::GELU_ERF) o.gelu = Activation::kGeluErf;
  o.balance_coef = c.balance_loss_coef();
  o.z_coef = c.z_loss_coef();
  o.num_heads = c.num_heads();
  o.mh_projections = mh;
  o.xmoe_temperature = c.xmoe_temperature();
  o.xmoe_learn_temperature = c.xmoe_learn_temperature();
  o.expert_bias = c.expert_bias();
  if (c.router() == pb::BASE) o.use_base(c.base_form());
  o.xmoe_dim = c.xmoe_dim();
  o.monarch_blocks = c.monarch_blocks();
  o.seed = seed;
  o.name = name;
  return o;
}

void MoeOptions::use_base(pb::MoeConfig::BaseForm form) {
  router = pb::BASE;
  top_k = 1;
  base_fairseq = form != pb::MoeConfig::GATED_MIX;
  zero_output_init = base_fairseq;
}

void MoeOptions::set_overlap(const pb::ParallelConfig& p) {
  overlap_auto = p.overlap_auto();
  overlap = overlap_auto || p.overlap_chunks() > 1;
  chunks = overlap_auto ? 1 : std::max(1, p.overlap_chunks());
}

}  // namespace sy
