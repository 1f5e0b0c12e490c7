// The dispatch plan (DESIGN.md contract 3), built on the host from the routing.
//
// 1. Capacity (once per layer call, collective over the world): how many of this rank's items
//    each expert accepts. Capacity C = ⌈cf · k · S_world / E⌉ per expert counts the items of all
//    ranks, and priority is global: first choices before second choices (GShard), then position in
//    the global batch (rank order, then item order). So the drop decisions are the same whatever
//    the world size or ep — a project choice (DeepSpeed and Tutel drop per source rank) made for
//    EP invariance; its cost is one all-gather of E·k counts per layer. Dropless: C = ∞.
// 2. Exchange (collective over the ep group): the send order is
//    expert-major, then choice j, then item — the order of a stable counting sort on
//    key = expert · k + j (no atomics, identical on every backend); the per-expert counts go to the
//    experts' owners first (all-to-all of integers), so every receiver knows its sizes before the
//    payload arrives. Rows arrive source-major (grouped by sending rank); expert_major_src permutes
//    them into the expert-major buffer the grouped GEMM works on. The overlap scheduler moves the
//    rows of a slice of every rank's local experts at a time (layout(lb, le)): each expert's rows
//    stay together, so its GEMMs see exactly the same rows whatever the number of chunks.
#pragma once

#include <cstdint>
#include <vector>

#include "comm/communicator.h"
#include "experts/moe_options.h"
#include "experts/router.h"

namespace sy {

struct CapacityPlan {
  int64_t items = 0;  // this rank's items S
  int k = 1;
  int64_t items_world = 0;          // S over the world
  int64_t capacity = -1;            // per expert; -1 = dropless
  std::vector<uint8_t> keep;        // (S,k): 1 = this choice is dispatched
  int64_t routed_world = 0;         // choices with an expert, over the world
  int64_t dropped_world = 0;        // of those, dropped for capacity
  std::vector<int64_t> load_world;  // (E) items each expert receives, over the world
  double activation_ratio() const;  // share of experts with at least one item
};

// Collective over world (host buffers).
CapacityPlan plan_capacity(const Routing& routing, const MoeOptions& options, Communicator& world);

struct ExchangePlan {
  int k = 1;
  int ep = 1, e_local = 1;
  std::vector<int32_t> send_item;       // send row → item index
  std::vector<int32_t> pos;             // (S, k): send row of choice j, or −1 (dropped)
  std::vector<float> weight;            // (S, k): gate weight of choice j
  std::vector<float> ones;              // (S, k) of 1: sums the k returned rows
  std::vector<int64_t> send_counts;     // (ep, E_local): rows I send for peer p's local expert l
  std::vector<int64_t> recv_counts;     // (ep, E_local): rows peer p sends me for my local expert l
  std::vector<int64_t> expert_offsets;  // E_local + 1 row offsets of the expert-major buffer
  std::vector<int32_t> expert_major_src;  // expert-major row → source-major row
  int64_t recv_total() const { return expert_offsets.empty() ? 0 : expert_offsets.back(); }
  int64_t send_total() const { return static_cast<int64_t>(send_item.size()); }

  // The exchange of the rows for local experts [lb, le) of every rank (the overlap scheduler's
  // chunk), an all-to-all layout counted in rows: toward the experts; reversed() brings the
  // results back. Its rows are the expert-major rows [expert_offsets[lb], expert_offsets[le]).
  // A whole-plan exchange is packed; a chunk's exchange takes sub-blocks.
  AllToAllLayout layout(int lb, int le) const;
  AllToAllLayout layout() const { return layout(0, e_local); }
};

// Collective over the ep group (host buffers). num_experts is E (global); experts are sharded
// contiguously: ep rank p owns [p·E/ep, (p+1)·E/ep).
ExchangePlan plan_exchange(const Routing& routing, const CapacityPlan& capacity, int num_experts,
                           Communicator& ep_group);

}  // namespace sy
