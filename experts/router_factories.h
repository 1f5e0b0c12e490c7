// One constructor per router kind (each in its own file); make_router picks among them.
#pragma once

#include <memory>

#include "experts/router.h"

namespace sy {

std::unique_ptr<Router> make_topk_router(const MoeOptions& o, int width, Device device);
std::unique_ptr<Router> make_xmoe_router(const MoeOptions& o, int width, Device device);
std::unique_ptr<Router> make_hash_router(const MoeOptions& o, int width, Device device);
std::unique_ptr<Router> make_base_router(const MoeOptions& o, int width, Device device);
// sMLP's feature MoE (experts/feature_routers.cc).
std::unique_ptr<Router> make_deterministic_feature_router(int num_experts);
std::unique_ptr<Router> make_prefix_feature_router(const MoeOptions& o, int64_t seq_len,
                                                   int64_t channels, int64_t prefix, Device device);

}  // namespace sy
