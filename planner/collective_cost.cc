#include "planner/collective_cost.h"

#include <algorithm>

#include "runtime/core/error.h"

namespace sy {

namespace {

constexpr double kGB = 1e9, kUs = 1e-6;

// One hop's all-to-all among `peers` + 1 ranks of which each gets bytes / (peers + 1).
CollectiveCost hop(double bytes, int peers, double gbs, double latency_us, double message_us,
                   bool inter) {
  CollectiveCost c;
  if (peers == 0) return c;
  const double moved = bytes * peers / (peers + 1);
  c.bandwidth_s = moved / (gbs * kGB);
  c.fixed_s = (latency_us + peers * message_us) * kUs;
  (inter ? c.inter_bytes : c.intra_bytes) = moved;
  c.messages = peers;
  return c;
}

CollectiveCost then(CollectiveCost a, const CollectiveCost& b) {
  a.bandwidth_s += b.bandwidth_s;
  a.fixed_s += b.fixed_s;
  a.intra_bytes += b.intra_bytes;
  a.inter_bytes += b.inter_bytes;
  a.messages += b.messages;
  return a;
}

}  // namespace

GroupSpan ep_group_span(int ep, int gpus_per_node) {
  SY_CHECK(ep >= 1 && gpus_per_node >= 1 && (ep % gpus_per_node == 0 || gpus_per_node % ep == 0),
           "an ep group of " << ep << " ranks does not tile nodes of " << gpus_per_node
                             << " GPUs; use an ep that divides or is a multiple of it");
  GroupSpan g;
  g.ranks = ep;
  g.per_node = std::min(ep, gpus_per_node);
  g.nodes = ep / g.per_node;
  return g;
}

CollectiveCost all_to_all_cost(const pb::HardwareProfile& hw, const GroupSpan& g, double bytes,
                               pb::AllToAllAlgorithm a2a) {
  const double share = bytes / g.ranks;
  const bool hierarchical = a2a == pb::HIERARCHICAL && g.nodes > 1 && g.per_node > 1;
  if (hierarchical) {
    // Inside the node (to the same-local-index ranks' gatherers), across nodes, inside again.
    const CollectiveCost inside = hop(bytes, g.per_node - 1, hw.intra_node_gbs(),
                                      hw.intra_node_latency_us(), hw.message_us(), false);
    const CollectiveCost across = hop(bytes, g.nodes - 1, hw.inter_node_gbs(),
                                      hw.inter_node_latency_us(), hw.message_us(), true);
    return then(then(inside, across), inside);
  }
  // Flat: every peer directly; the NVLink and network shares move at the same time.
  CollectiveCost c;
  c.intra_bytes = share * (g.per_node - 1);
  c.inter_bytes = share * (g.ranks - g.per_node);
  c.bandwidth_s = std::max(c.intra_bytes / (hw.intra_node_gbs() * kGB),
                           c.inter_bytes / (hw.inter_node_gbs() * kGB));
  c.messages = g.ranks - 1;
  c.fixed_s = ((g.per_node > 1 ? hw.intra_node_latency_us() : 0) +
               (g.nodes > 1 ? hw.inter_node_latency_us() : 0) + c.messages * hw.message_us()) *
              kUs;
  return c;
}

CollectiveCost all_reduce_cost(const pb::HardwareProfile& hw, int ranks, bool spans_nodes,
                               double bytes) {
  CollectiveCost c;
  if (ranks <= 1 || bytes <= 0) return c;
  const double gbs = spans_nodes ? hw.inter_node_gbs() : hw.intra_node_gbs();
  const double moved = 2.0 * bytes * (ranks - 1) / ranks;  // reduce-scatter, then all-gather
  c.bandwidth_s = moved / (gbs * kGB);
  c.messages = 2 * (ranks - 1);
  c.fixed_s = ((spans_nodes ? hw.inter_node_latency_us() : hw.intra_node_latency_us()) +
               c.messages * hw.message_us()) *
              kUs;
  (spans_nodes ? c.inter_bytes : c.intra_bytes) = moved;
  return c;
}

}  // namespace sy
