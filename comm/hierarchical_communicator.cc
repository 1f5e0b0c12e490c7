#include "comm/hierarchical_communicator.h"

#include <algorithm>
#include <cstring>
#include <map>
#include <numeric>

#include "runtime/core/error.h"

namespace sy {

namespace {

// Why the group's node layout is not N ≥ 2 nodes × L ≥ 2 consecutive ranks each ("" if it is, with
// L in *local).
std::string irregular(const std::vector<int>& node_of, int* local) {
  std::map<int, int> ranks_on;
  for (int n : node_of) ++ranks_on[n];
  if (ranks_on.size() == 1) return "all of its ranks are on one node";
  const int l = ranks_on.begin()->second;
  for (const auto& node : ranks_on)
    if (node.second != l) return "its nodes hold different numbers of its ranks";
  if (l == 1) return "it has one rank per node";
  for (size_t r = 0; r < node_of.size(); ++r)
    if (node_of[r] != node_of[r - r % l])
      return "its ranks are not consecutive by node, " + std::to_string(l) + " per node";
  *local = l;
  return "";
}

void copy_block(char* to, const void* from, size_t bytes) {
  if (bytes) std::memcpy(to, from, bytes);
}

}  // namespace

std::shared_ptr<Communicator> HierarchicalCommunicator::wrap(std::shared_ptr<Communicator> group,
                                                             int node_id, std::string* why_flat) {
  std::vector<int> node_of(static_cast<size_t>(group->size()));
  group->all_gather(&node_id, node_of.data(), sizeof(int));
  int local = 1;
  const std::string why = irregular(node_of, &local);
  if (!why.empty()) {
    if (why_flat) *why_flat = why;
    return group;
  }
  return std::shared_ptr<Communicator>(new HierarchicalCommunicator(
      std::move(group), static_cast<int>(node_of.size()) / local, local));
}

HierarchicalCommunicator::HierarchicalCommunicator(std::shared_ptr<Communicator> group, int nodes,
                                                   int local_size)
    : ForwardingCommunicator(group),
      nodes_(nodes),
      local_size_(local_size),
      node_(group->rank() / local_size),
      local_(group->rank() % local_size) {
  intra_ = group->split(node_, local_, group->name() + ".node" + std::to_string(node_));
  inter_ = group->split(local_, node_, group->name() + ".local" + std::to_string(local_));
}

AllToAllLayout HierarchicalCommunicator::intra_layout(const AllToAllLayout& layout,
                                                      const std::vector<size_t>& in) const {
  std::vector<size_t> send(static_cast<size_t>(local_size_)), recv(send.size());
  for (int l = 0; l < local_size_; ++l)
    for (int n = 0; n < nodes_; ++n) {
      send[l] += layout.send_counts[peer(n, l)];
      recv[l] += in[static_cast<size_t>(l * nodes_ + n)];
    }
  return AllToAllLayout::packed(send, recv);
}

// The counts step: in[l·N + n] = the bytes local rank l has for (n, this rank's local index).
std::vector<size_t> HierarchicalCommunicator::exchange_counts(const AllToAllLayout& layout) {
  const size_t n_nodes = static_cast<size_t>(nodes_);
  std::vector<size_t> out(n_nodes * local_size_), in(out.size());
  for (int l = 0; l < local_size_; ++l)
    for (int n = 0; n < nodes_; ++n) out[l * n_nodes + n] = layout.send_counts[peer(n, l)];
  intra_->all_to_all(out.data(), in.data(), n_nodes * sizeof(size_t));
  return in;
}

// Hop 1's send buffer: this rank's blocks by local destination, then node.
void HierarchicalCommunicator::pack_by_local_peer(const void* send, const AllToAllLayout& layout) {
  packed_.resize(layout.total_send());
  char* at = packed_.data();
  for (int l = 0; l < local_size_; ++l)
    for (int n = 0; n < nodes_; ++n) {
      const size_t p = static_cast<size_t>(peer(n, l));
      copy_block(at, static_cast<const char*>(send) + layout.send_offsets[p],
                 layout.send_counts[p]);
      at += layout.send_counts[p];
    }
}

// Hop 2's send buffer from what hop 1 brought (by local source, then destination node): by
// destination node, then local source. Returns hop 2's layout.
AllToAllLayout HierarchicalCommunicator::regroup_by_node(const AllToAllLayout& layout,
                                                         const std::vector<size_t>& in,
                                                         const AllToAllLayout& hop1) {
  const size_t n_nodes = static_cast<size_t>(nodes_), n_local = static_cast<size_t>(local_size_);
  std::vector<size_t> to_node(n_nodes), from_node(n_nodes), cursor(hop1.recv_offsets);
  regrouped_.resize(middle_.size());
  char* at = regrouped_.data();
  for (size_t n = 0; n < n_nodes; ++n)
    for (size_t l = 0; l < n_local; ++l) {
      const size_t bytes = in[l * n_nodes + n];
      copy_block(at, middle_.data() + cursor[l], bytes);
      cursor[l] += bytes;
      at += bytes;
      to_node[n] += bytes;
      from_node[n] += layout.recv_counts[peer(static_cast<int>(n), static_cast<int>(l))];
    }
  return AllToAllLayout::packed(to_node, from_node);
}

void HierarchicalCommunicator::all_to_all_v(const void* send, void* recv,
                                            const AllToAllLayout& layout) {
  const size_t g = static_cast<size_t>(nodes_) * local_size_;
  SY_CHECK(layout.send_counts.size() == g && layout.recv_counts.size() == g,
           name() << ": all_to_all_v layout for " << layout.send_counts.size()
                  << " peers in a group of " << g);
  const std::vector<size_t> in = exchange_counts(layout);
  const AllToAllLayout hop1 = intra_layout(layout, in);
  pack_by_local_peer(send, layout);
  middle_.resize(hop1.total_recv());
  intra_->all_to_all_v(packed_.data(), middle_.data(), hop1);
  const AllToAllLayout hop2 = regroup_by_node(layout, in, hop1);
  packed_.resize(hop2.total_recv());
  inter_->all_to_all_v(regrouped_.data(), packed_.data(), hop2);
  // The blocks arrive by source node, then source local rank: the group's rank order.
  const char* at = packed_.data();
  for (size_t p = 0; p < g; ++p) {
    copy_block(static_cast<char*>(recv) + layout.recv_offsets[p], at, layout.recv_counts[p]);
    at += layout.recv_counts[p];
  }
}

}  // namespace sy
