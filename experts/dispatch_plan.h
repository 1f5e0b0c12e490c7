// The dispatch plan (DESIGN contract 3), as ops on the routing's device with one host read.
//
// 1. Sort (device): the k·S choices, enumerated choice-major (choice j, then item), by
//    key = expert · k + j with the stable counting sort: key-major, items in order within a key.
// 2. Read (the pass's one device→host copy): this rank's choices per key and the router's sums.
// 3. Capacity (host, collective over the world): capacity C = ⌈cf · k · S_world / E⌉ per expert
//    counts the items of all ranks, and priority is global: first choices before second choices
//    (GShard), then position in the global batch (rank order, then item order). So the drop
//    decisions are the same whatever the world size or ep — a project choice (DeepSpeed and Tutel
//    drop per source rank) made for EP invariance; its cost is one all-gather of E·k counts per
//    layer. Dropless: C = ∞. The result is how many of this rank's choices each key keeps: the
//    first ones, in item order.
// 4. Exchange (device, and a counts exchange over the ep group on the host): the kept choices go
//    to send rows key by key — expert-major, then choice, then item; the per-expert counts go to
//    the experts' owners (all-to-all of integers), so every receiver knows its sizes before the
//    payload arrives. Rows arrive grouped by sending rank; expert_major_src permutes them into the
//    expert-major buffer the grouped GEMM works on. The overlap scheduler moves the rows of a slice
//    of every rank's local experts at a time (layout(lb, le)): each expert's rows stay together, so
//    its GEMMs see exactly the same rows whatever the number of chunks.
#pragma once

#include <cstdint>
#include <vector>

#include "comm/communicator.h"
#include "experts/moe_options.h"
#include "experts/router.h"

namespace sy {

// The choices sorted by key (device): order (k·S) lists choice indices j·S + i, counts (E·k) per
// key.
struct SortedChoices {
  Tensor order, counts;
};
SortedChoices sort_choices(const Routing& routing, int num_experts);

// What the host needs to plan, read in one copy: this rank's choices per key and the router's
// sums (routing.world_sums, to be summed over the world).
struct PlanCounts {
  std::vector<int64_t> counts;
  std::vector<double> router_sums;
};
PlanCounts read_plan_counts(const SortedChoices& sorted, const Routing& routing);

struct CapacityPlan {
  int64_t items = 0;  // this rank's items S
  int k = 1;
  int64_t items_world = 0;              // S over the world
  int64_t capacity = -1;                // per expert; -1 = dropless
  std::vector<int64_t> counts;          // (E·k) this rank's choices per key
  std::vector<int64_t> keep_n;          // (E·k) how many of them are kept (the first ones)
  int64_t routed_world = 0;             // choices with an expert, over the world
  int64_t dropped_world = 0;            // of those, dropped for capacity
  std::vector<int64_t> load_world;      // (E) items each expert receives, over the world
  std::vector<int64_t> selected_world;  // (E) the router's selections of each, before capacity
  double activation_ratio() const;      // share of experts with at least one item
};

// Per-expert capacity ⌈cf·k·S/E⌉, exact for the decimal the user wrote: cf is taken to 6
// significant decimals (a float's 1.1 is 1.10000002) and the ceiling is taken in integers — so
// cf 1.1, k 2, S 40, E 4 gives 22, not 23.
int64_t expert_capacity(float capacity_factor, int k, int64_t items, int experts);

// Collective over world (host buffers).
CapacityPlan plan_capacity(const std::vector<int64_t>& counts, int64_t items, int k,
                           const MoeOptions& options, Communicator& world);

struct ExchangePlan {
  int k = 1;
  int ep = 1, e_local = 1;
  // On the routing's device:
  Tensor send_item;         // (send rows) i32: the item of each send row
  Tensor pos;               // (S, k) i32: the send row of choice j, or −1 (dropped)
  Tensor expert_major_src;  // (recv rows) i32: expert-major row → arrival-order row
  // On the host:
  std::vector<int64_t> send_counts;     // (ep, E_local): rows I send for peer p's local expert l
  std::vector<int64_t> recv_counts;     // (ep, E_local): rows peer p sends me for my local expert l
  std::vector<int64_t> expert_offsets;  // E_local + 1 row offsets of the expert-major buffer
  int64_t recv_total() const { return expert_offsets.empty() ? 0 : expert_offsets.back(); }
  int64_t send_total() const { return send_item.numel(); }

  // The exchange of the rows for local experts [lb, le) of every rank (the overlap scheduler's
  // chunk), an all-to-all layout counted in rows: toward the experts; reversed() brings the
  // results back. Its rows are the expert-major rows [expert_offsets[lb], expert_offsets[le]).
  // A whole-plan exchange is packed; a chunk's exchange takes sub-blocks.
  AllToAllLayout layout(int lb, int le) const;
  AllToAllLayout layout() const { return layout(0, e_local); }
  // The exchange of local expert l's rows of every rank, received straight into the expert-major
  // buffer (peer p's rows at expert_offsets[l] + the rows of peers before p, minus `base`): the
  // expert-major rows need no gather.
  AllToAllLayout expert_major_layout(int l, int64_t base = 0) const;
};

// Collective over the ep group (host buffers). num_experts is E (global); experts are sharded
// contiguously: ep rank p owns [p·E/ep, (p+1)·E/ep).
ExchangePlan plan_exchange(const SortedChoices& sorted, const CapacityPlan& capacity,
                           int num_experts, Communicator& ep_group);

}  // namespace sy
