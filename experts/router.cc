#include "experts/router.h"

#include "experts/router_factories.h"

namespace sy {

std::unique_ptr<Router> make_router(const MoeOptions& o, int width, Device device) {
  switch (o.router) {
    case pb::TOPK_SOFTMAX: return make_topk_router(o, width, device);
    case pb::XMOE_COSINE: return make_xmoe_router(o, width, device);
    case pb::HASH: return make_hash_router(o, width, device);
    case pb::BASE: return make_base_router(o, width, device);
    default: break;
  }
  SY_THROW("router kind " << pb::RouterKind_Name(o.router)
                          << " is not set or not supported; use TOPK_SOFTMAX, XMOE_COSINE, HASH "
                             "or BASE");
}

}  // namespace sy
