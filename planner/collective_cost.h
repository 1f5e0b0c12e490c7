// What the planner charges for communication on a cluster of `gpus_per_node`-GPU nodes: an ep
// group's all-to-all (flat, or hierarchical as comm/hierarchical_communicator.h runs it) and a
// ring all-reduce. An α-β model per hop: a fixed cost per collective and per peer message, plus
// bytes over the hop's bandwidth; the intra- and inter-node parts of a flat all-to-all run at once.
#pragma once

#include "switchyard/config.pb.h"
#include "switchyard/hardware.pb.h"

namespace sy {

// How an ep group of consecutive ranks lies on the nodes: `per_node` of its ranks on each of
// `nodes` nodes.
struct GroupSpan {
  int ranks = 1, per_node = 1, nodes = 1;
};
GroupSpan ep_group_span(int ep, int gpus_per_node);

struct CollectiveCost {
  double bandwidth_s = 0;                   // bytes over the links
  double fixed_s = 0;                       // latencies and per-message costs
  double intra_bytes = 0, inter_bytes = 0;  // what this rank sends over each hop
  int messages = 0;                         // peer messages this rank posts
  double seconds() const { return bandwidth_s + fixed_s; }
};

// One all-to-all in which every rank of the group sends `bytes` in all, the same share to every
// rank (itself included, which costs nothing). HIERARCHICAL on a group within one node, or of
// one rank per node, is FLAT.
CollectiveCost all_to_all_cost(const pb::HardwareProfile& hw, const GroupSpan& g, double bytes,
                               pb::AllToAllAlgorithm a2a);
// A ring all-reduce of `bytes` over `ranks` ranks, across nodes when `spans_nodes`.
CollectiveCost all_reduce_cost(const pb::HardwareProfile& hw, int ranks, bool spans_nodes,
                               double bytes);

}  // namespace sy
