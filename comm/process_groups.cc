#include "comm/process_groups.h"

#include "runtime/core/error.h"

namespace sy {

ProcessGroups make_process_groups(std::shared_ptr<Communicator> world, int ep,
                                  std::shared_ptr<Communicator> world_host) {
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
  if (!world_host) {
    SY_CHECK(std::string(world->backend_name()) == "mpi",
             "process groups over " << world->backend_name()
                                    << " need an MPI communicator for host-side exchanges");
    g.world_host = g.world;
    g.ep_group_host = g.ep_group;
  } else {
    g.world_host = world_host;
    g.ep_group_host =
        world_host->split(ep_index, edp_index, "ep_group[" + std::to_string(ep_index) + "]");
  }
  return g;
}

}  // namespace sy
