// Process groups for expert parallelism (DESIGN.md contract 2).
//
// World size W, expert-parallel degree ep (divides W). Rank layout — consecutive ranks share
// experts:
//
//   ep_group g  = world ranks { g·ep, g·ep + 1, …, g·ep + ep − 1 },  g = 0 … W/ep − 1
//   edp_group j = world ranks { j, j + ep, j + 2·ep, … },             j = 0 … ep − 1
//
// so world rank r is rank r mod ep in ep_group ⌊r/ep⌋ and rank ⌊r/ep⌋ in edp_group r mod ep.
// With mpirun's default by-slot placement, consecutive ranks sit on the same node, so an ep group
// of at most one node's GPUs keeps its all-to-all on NVLink; the edp groups (gradient reduction of
// expert weights, once per step) cross nodes. Experts of a layer are sharded over the ep group:
// rank i of an ep group owns global experts [i·E/ep, (i+1)·E/ep).
#pragma once

#include <memory>

#include "comm/communicator.h"
#include "switchyard/config.pb.h"

namespace sy {

// Global experts [first, first + count) of a layer: the ones this rank holds.
struct ExpertRange {
  int first = 0, count = 0;
};

struct ProcessGroups {
  std::shared_ptr<Communicator> world;
  std::shared_ptr<Communicator> ep_group;   // the ep ranks that share one set of experts
  std::shared_ptr<Communicator> edp_group;  // the W/ep replicas of the same experts
  // The same groups over MPI, for the small host-side exchanges of a step (routing counts, losses,
  // dispatch sizes). With the MPI backend they are the very same communicators.
  std::shared_ptr<Communicator> world_host;
  std::shared_ptr<Communicator> ep_group_host;
  int ep = 1;

  int ep_index() const { return world->rank() / ep; }  // which ep group this rank is in
  // This rank's share of a layer's num_experts (rank i of the ep group owns [i·E/ep, (i+1)·E/ep));
  // throws when ep does not divide E.
  ExpertRange expert_range(int num_experts) const;
};

// Collective over world. Throws with a fix-it message when ep does not divide the world size.
// world_host: an MPI communicator of the same ranks for host-side exchanges; null means world
// itself (which must then work on host buffers, i.e. be the MPI backend).
ProcessGroups make_process_groups(std::shared_ptr<Communicator> world, int ep,
                                  std::shared_ptr<Communicator> world_host = nullptr);

// How the ep group's all-to-all runs (parallel.a2a, parallel.ranks_per_node).
struct Topology {
  pb::AllToAllAlgorithm a2a = pb::FLAT;
  int ranks_per_node = 0;  // 0: the nodes MPI reports (shared-memory split)
  // AUTO where the hierarchical form applies: the bytes one rank sends in the run's largest MoE
  // exchange. Both algorithms are timed at that size on the ep group and the faster kept (the
  // same choice on every rank: the slowest rank's times); 0 = hierarchical wherever it applies.
  size_t auto_probe_bytes = 0;
};
Topology topology_of(const pb::ParallelConfig& parallel);

// The groups of a run (parallel.comm_backend): all over MPI, or — nccl — the device exchanges and
// gradient reductions over an NCCL world bootstrapped from mpi_world, which stays the host groups.
// NCCL needs one GPU per rank and a build with CUDA; asking for it otherwise is a clear error.
// With a topology asking for it (HIERARCHICAL, or AUTO where it applies), the ep group's
// all-to-all runs in two hops (comm/hierarchical_communicator.h); rank 0 logs the choice.
ProcessGroups make_run_groups(std::shared_ptr<Communicator> mpi_world, int ep, bool nccl,
                              const Topology& topology = {});

}  // namespace sy
