// One constructor per router kind (each in its own file); make_router picks among them.
#pragma once

#include <memory>

#include "experts/router.h"

namespace sy {

std::unique_ptr<Router> make_topk_router(const MoeOptions& o, int width, Device device);
std::unique_ptr<Router> make_xmoe_router(const MoeOptions& o, int width, Device device);
std::unique_ptr<Router> make_hash_router(const MoeOptions& o, int width, Device device);
std::unique_ptr<Router> make_base_router(const MoeOptions& o, int width, Device device);

}  // namespace sy
