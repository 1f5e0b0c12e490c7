#include "experts/experts.h"

#include "experts/normalized_experts.h"

#include "experts/ffn_experts.h"
#include "experts/structured_experts.h"

namespace sy {

namespace {

std::unique_ptr<Experts> make_kind(const MoeOptions& o, int width, ExpertRange range,
                                   Device device) {
  switch (o.expert) {
    case pb::FFN_GELU:
    case pb::SWIGLU: return std::make_unique<FfnExperts>(o, width, range, device);
    case pb::BLOCKDIAG:
    case pb::MONARCH: return std::make_unique<StructuredExperts>(o, width, range, device);
    default: break;
  }
  SY_THROW("MoE layer '" << o.name << "': expert kind " << pb::ExpertKind_Name(o.expert)
                         << " is not available in a token-MoE layer; use FFN_GELU, SWIGLU, "
                            "BLOCKDIAG or MONARCH");
}

}  // namespace

std::unique_ptr<Experts> make_experts(const MoeOptions& o, int width, ExpertRange range,
                                      Device device) {
  std::unique_ptr<Experts> e = make_kind(o, width, range, device);
  if (o.base_fairseq) return std::make_unique<NormalizedExperts>(std::move(e), width, device);
  return e;
}

}  // namespace sy
