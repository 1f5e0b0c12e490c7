#include "comm/process_groups.h"

#include "runtime/core/error.h"

namespace sy {

ProcessGroups make_process_groups(std::shared_ptr<Communicator> world, int ep) {
  int w = world->size(), r = world->rank();
  SY_CHECK(ep >= 1 && w % ep == 0,
           "expert-parallel degree ep = " << ep << " must divide the world size " << w
                                          << ": set parallel.ep to a divisor of " << w
                                          << " or launch a multiple of " << ep << " ranks");
  ProcessGroups g;
  g.ep = ep;
  g.world = world;
  int ep_index = r / ep, edp_index = r % ep;
  g.ep_group = world->split(ep_index, edp_index, "ep_group[" + std::to_string(ep_index) + "]");
  g.edp_group = world->split(edp_index, ep_index, "edp_group[" + std::to_string(edp_index) + "]");
  return g;
}

}  // namespace sy
