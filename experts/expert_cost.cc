#include "experts/expert_cost.h"

#include "runtime/core/error.h"
#include "runtime/ops/monarch.h"

namespace sy {

int64_t ffn_up_width(const MoeOptions& o) {
  return (o.expert == pb::SWIGLU ? 2 : 1) * static_cast<int64_t>(o.hidden());
}

double expert_flops_per_item(const MoeOptions& o, int64_t width) {
  const double w = static_cast<double>(width), f = o.hidden();
  switch (o.expert) {
    case pb::FFN_GELU:
    case pb::SWIGLU: return 2.0 * w * static_cast<double>(ffn_up_width(o)) + 2.0 * f * w;
    case pb::BLOCKDIAG: return 2.0 * 2.0 * w * f / o.monarch_blocks;
    case pb::MONARCH: {
      const int64_t b1 = monarch_b1(width);
      return 2.0 * 2.0 * w * static_cast<double>(b1 + width / b1);
    }
    default: break;
  }
  SY_THROW("expert kind " << pb::ExpertKind_Name(o.expert)
                          << " has no cost formula; use FFN_GELU, SWIGLU, BLOCKDIAG or MONARCH");
}

int64_t expert_weight_count(const MoeOptions& o, int64_t width) {
  const int64_t f = o.hidden();
  switch (o.expert) {
    case pb::FFN_GELU:
    case pb::SWIGLU: {
      const int64_t up = ffn_up_width(o);
      return width * up + f * width + (o.expert_bias ? up + width : 0);
    }
    case pb::BLOCKDIAG: return 2 * width * f / o.monarch_blocks;
    case pb::MONARCH: {
      const int64_t b1 = monarch_b1(width);
      return 2 * width * (b1 + width / b1);
    }
    default: break;
  }
  SY_THROW("expert kind " << pb::ExpertKind_Name(o.expert)
                          << " has no cost formula; use FFN_GELU, SWIGLU, BLOCKDIAG or MONARCH");
}

double sgu_expert_flops_per_item(int64_t seq_len, int64_t channels) {
  const double t = static_cast<double>(seq_len);
  return 2.0 * t * t * static_cast<double>(channels);
}

int64_t sgu_expert_weight_count(int64_t seq_len) {
  return seq_len * seq_len + seq_len;
}

double router_flops_per_item(const MoeOptions& o) {
  return 2.0 * o.item_width() * o.num_experts;
}

int64_t router_weight_count(const MoeOptions& o) {
  const int64_t w = o.item_width(), e = o.num_experts;
  switch (o.router) {
    case pb::TOPK_SOFTMAX: return w * e;
    case pb::XMOE_COSINE: return (w + e) * o.xmoe_dim + (o.xmoe_learn_temperature ? 1 : 0);
    case pb::BASE: return e * w;
    case pb::HASH: return 0;
    default: break;
  }
  SY_THROW("router " << pb::RouterKind_Name(o.router)
                     << " has no cost formula; use TOPK_SOFTMAX, XMOE_COSINE, BASE or HASH");
}

double moe_core_flops_per_item(const MoeOptions& o) {
  return router_flops_per_item(o) + o.top_k * expert_flops_per_item(o, o.item_width());
}

double mh_projection_flops_per_token(const MoeOptions& o) {
  const double d = o.d_model;
  return o.mh_projections ? 2.0 * 2.0 * d * d : 0.0;
}

int64_t mh_projection_weight_count(const MoeOptions& o) {
  const int64_t d = o.d_model;
  return o.mh_projections ? 2 * (d * d + d) : 0;
}

double moe_flops_per_token(const MoeOptions& o) {
  return mh_projection_flops_per_token(o) + o.num_heads * moe_core_flops_per_item(o);
}

}  // namespace sy
