#include "comm/process_groups.h"

#include <algorithm>
#include <iomanip>
#include <sstream>

#include "comm/exchange_timing.h"
#include "comm/hierarchical_communicator.h"
#include "comm/mpi_communicator.h"
#include "runtime/core/error.h"
#include "runtime/core/logging.h"

#if defined(SY_WITH_NCCL)
#include "comm/nccl_communicator.h"
#endif

namespace sy {

ExpertRange ProcessGroups::expert_range(int num_experts) const {
  const int n = ep_group->size();
  SY_CHECK(num_experts >= 1 && num_experts % n == 0,
           "E = " << num_experts << " experts cannot be sharded over an ep group of " << n
                  << " ranks: make the expert count a multiple of parallel.ep");
  const int count = num_experts / n;
  return {ep_group->rank() * count, count};
}

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

Topology topology_of(const pb::ParallelConfig& parallel) {
  return Topology{parallel.a2a(), parallel.ranks_per_node()};
}

namespace {

// The groups over MPI, or the device exchanges over an NCCL world bootstrapped from mpi_world.
ProcessGroups make_groups_for_backend(std::shared_ptr<Communicator> mpi_world, int ep, bool nccl) {
  if (!nccl) return make_process_groups(mpi_world, ep);
#if defined(SY_WITH_NCCL)
  SY_CHECK(cuda_available(),
           "parallel.comm_backend = NCCL needs a GPU on every rank; none is "
           "visible here (use comm_backend: MPI)");
  const int local = mpi_local_size(), gpus = cuda_device_count();
  SY_CHECK(local <= gpus,
           "parallel.comm_backend = NCCL needs one GPU per rank, but "
               << local << " ranks run on this node and it has " << gpus
               << " GPU(s): launch at most " << gpus
               << " ranks per node, or use comm_backend: MPI (ranks may share a GPU; "
                  "their exchanges pass through host memory)");
  auto world = std::make_shared<NcclCommunicator>(mpi_world, "world", mpi_world->timeout_s());
  return make_process_groups(world, ep, mpi_world);
#else
  SY_THROW(
      "parallel.comm_backend = NCCL needs a build with CUDA and NCCL (configure with "
      "-DSY_CUDA=ON), or use comm_backend: MPI");
#endif
}

// AUTO: times the flat and the hierarchical exchange of `bytes` per rank on the group; empty when
// the hierarchical one is faster, else why the group stays flat (both logged).
std::string auto_by_measurement(Communicator& flat, Communicator& hierarchical, size_t bytes) {
  const size_t per_peer = std::max<size_t>(bytes / flat.size(), 1);
  const double f = time_all_to_all_s(flat, per_peer, 5);
  const double h = time_all_to_all_s(hierarchical, per_peer, 5);
  std::ostringstream times;
  times << std::fixed << std::setprecision(3) << "hierarchical " << h * 1e3 << " ms vs flat "
        << f * 1e3 << " ms for " << bytes << " bytes per rank, measured";
  if (h < f) {
    SY_LOG0("ep group all-to-all: AUTO measured " << times.str());
    return "";
  }
  return times.str();
}

// The ep group's all-to-all as the topology asks, or flat with the reason logged.
void arrange_all_to_all(ProcessGroups& g, const Topology& t, bool nccl) {
  if (t.a2a == pb::FLAT || t.a2a == pb::ALL_TO_ALL_ALGORITHM_UNSPECIFIED) return;
  std::string why;
  if (nccl) {
    why = "NCCL's device exchanges are flat for now";
  } else {
    const int node = t.ranks_per_node > 0 ? g.world->rank() / t.ranks_per_node : mpi_node_id();
    auto wrapped = HierarchicalCommunicator::wrap(g.ep_group, node, &why);
    if (why.empty() && t.a2a == pb::AUTO && t.auto_probe_bytes > 0)
      why = auto_by_measurement(*g.ep_group, *wrapped, t.auto_probe_bytes);
    if (why.empty()) {
      const auto& h = static_cast<const HierarchicalCommunicator&>(*wrapped);
      SY_LOG0("ep group all-to-all: hierarchical, " << h.nodes() << " nodes x "
                                                    << h.ranks_per_node() << " ranks");
      g.ep_group = wrapped;
      return;
    }
  }
  const bool asked = t.a2a == pb::HIERARCHICAL;
  if (asked)
    SY_WARN0("parallel.a2a = HIERARCHICAL, but the ep group's all-to-all stays flat: " << why);
  else
    SY_LOG0("ep group all-to-all: flat (AUTO: " << why << ")");
}

}  // namespace

ProcessGroups make_run_groups(std::shared_ptr<Communicator> mpi_world, int ep, bool nccl,
                              const Topology& topology) {
  ProcessGroups g = make_groups_for_backend(std::move(mpi_world), ep, nccl);
  arrange_all_to_all(g, topology, nccl);
  return g;
}

}  // namespace sy
