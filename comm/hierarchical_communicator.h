// The hierarchical all-to-all (issue 16; Tutel's 2DH idea): a group of N nodes × L ranks each
// exchanges in two hops instead of one message per pair of ranks.
//
//   rank (n, l) = group rank n·L + l: node n, local index l (the group's ranks node-contiguous).
//   counts   inside each node, every rank tells each local peer l' how many bytes it has for the
//            ranks (·, l') — an all-to-all of N sizes per peer;
//   hop 1    inside each node: rank (n, l) sends local peer l' its blocks for every (n', l'),
//            so that (n, l') holds what node n sends to the ranks of local index l';
//   hop 2    among the ranks of one local index (one per node): (n, l') sends (n', l') the blocks
//            of its node's ranks for (n', l'), in local order — which arrive in the receiver's
//            rank order, as a flat all-to-all would have placed them.
//
// L − 1 + N − 1 messages per rank and hop (plus the small counts exchange) instead of N·L − 1, each
// larger: fewer, bigger messages over the slow inter-node links. Only bytes move, so the receive
// buffer is bitwise what the flat all-to-all gives (tests/hierarchical_a2a_test.cc). Every other
// call goes to the group as it is. Over a stream-ordered backend (NCCL) the device exchanges stay
// flat for now.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "comm/forwarding_communicator.h"

namespace sy {

class HierarchicalCommunicator final : public ForwardingCommunicator {
 public:
  // Collective over `group`: node_id names this rank's node (equal on the ranks of one node). The
  // hierarchical form needs every node to hold the same number L ≥ 2 of the group's ranks,
  // consecutive in group order, and N ≥ 2 nodes; otherwise returns `group` itself and says why in
  // *why_flat.
  static std::shared_ptr<Communicator> wrap(std::shared_ptr<Communicator> group, int node_id,
                                            std::string* why_flat);

  void all_to_all_v(const void* send, void* recv, const AllToAllLayout& layout) override;
  int nodes() const { return nodes_; }
  int ranks_per_node() const { return local_size_; }

 private:
  HierarchicalCommunicator(std::shared_ptr<Communicator> group, int nodes, int local_size);
  // The steps of all_to_all_v, in order.
  std::vector<size_t> exchange_counts(const AllToAllLayout& layout);
  AllToAllLayout intra_layout(const AllToAllLayout& layout, const std::vector<size_t>& in) const;
  void pack_by_local_peer(const void* send, const AllToAllLayout& layout);
  AllToAllLayout regroup_by_node(const AllToAllLayout& layout, const std::vector<size_t>& in,
                                 const AllToAllLayout& hop1);
  int peer(int node, int local) const { return node * local_size_ + local; }

  int nodes_, local_size_, node_, local_;
  std::unique_ptr<Communicator> intra_;            // this node's ranks of the group, by local index
  std::unique_ptr<Communicator> inter_;            // the group's ranks of this local index, by node
  std::vector<char> packed_, middle_, regrouped_;  // reused staging (no allocation once warm)
};

}  // namespace sy
