#include "experts/dispatch_plan.h"

#include <algorithm>
#include <cmath>

#include "runtime/ops/ops.h"

namespace sy {

double CapacityPlan::activation_ratio() const {
  if (load_world.empty()) return 0.0;
  int64_t active = 0;
  for (int64_t l : load_world) active += l > 0;
  return static_cast<double>(active) / static_cast<double>(load_world.size());
}

CapacityPlan plan_capacity(const Routing& r, const MoeOptions& o, Communicator& world) {
  const int e_count = o.num_experts, k = r.k;
  const int n = world.size(), me = world.rank();
  CapacityPlan plan;
  plan.items = r.items;
  plan.k = k;
  // Local counts per (expert, choice), then everybody's: [rank][e * k + j], plus S per rank.
  const size_t cells = static_cast<size_t>(e_count) * k + 1;
  std::vector<int64_t> mine(cells, 0), all(cells * n);
  for (int64_t s = 0; s < r.items; ++s)
    for (int j = 0; j < k; ++j) {
      int32_t e = r.expert[s * k + j];
      if (e >= 0) ++mine[static_cast<size_t>(e) * k + j];
    }
  mine[cells - 1] = r.items;
  world.all_gather(mine.data(), all.data(), cells * sizeof(int64_t));
  auto count = [&](int rank, int e, int j) {
    return all[rank * cells + static_cast<size_t>(e) * k + j];
  };
  for (int p = 0; p < n; ++p) plan.items_world += all[p * cells + cells - 1];

  plan.capacity = o.dropless
                      ? -1
                      : static_cast<int64_t>(std::ceil(static_cast<double>(o.capacity_factor) * k *
                                                       plan.items_world / e_count));
  // How many of this rank's items each (expert, choice) keeps: those whose global priority index
  // is below the capacity.
  std::vector<int64_t> keep_n(static_cast<size_t>(e_count) * k, 0);
  plan.load_world.assign(e_count, 0);
  for (int e = 0; e < e_count; ++e) {
    int64_t before = 0;  // items of expert e ahead of (choice j, rank me) in priority
    for (int j = 0; j < k; ++j) {
      int64_t total_j = 0;
      for (int p = 0; p < n; ++p) total_j += count(p, e, j);
      int64_t ahead = before;
      for (int p = 0; p < me; ++p) ahead += count(p, e, j);
      int64_t c = count(me, e, j);
      keep_n[static_cast<size_t>(e) * k + j] =
          plan.capacity < 0 ? c : std::clamp<int64_t>(plan.capacity - ahead, 0, c);
      plan.routed_world += total_j;
      before += total_j;
    }
    plan.load_world[e] = plan.capacity < 0 ? before : std::min(before, plan.capacity);
  }
  for (int64_t l : plan.load_world) plan.dropped_world -= l;
  plan.dropped_world += plan.routed_world;
  // Mark the first keep_n items (in item order) of each (expert, choice) as kept.
  plan.keep.assign(static_cast<size_t>(r.items) * k, 0);
  std::vector<int64_t> seen(keep_n.size(), 0);
  for (int64_t s = 0; s < r.items; ++s)
    for (int j = 0; j < k; ++j) {
      int32_t e = r.expert[s * k + j];
      if (e < 0) continue;
      size_t key = static_cast<size_t>(e) * k + j;
      if (seen[key]++ < keep_n[key]) plan.keep[s * k + j] = 1;
    }
  return plan;
}

AllToAllLayout ExchangePlan::layout(int lb, int le) const {
  AllToAllLayout l;
  size_t send_block = 0, recv_block = 0;
  for (int p = 0; p < ep; ++p) {
    size_t s_before = 0, s_in = 0, r_before = 0, r_in = 0, s_all = 0, r_all = 0;
    for (int x = 0; x < e_local; ++x) {
      size_t sc = static_cast<size_t>(send_counts[p * e_local + x]);
      size_t rc = static_cast<size_t>(recv_counts[p * e_local + x]);
      (x < lb ? s_before : x < le ? s_in : s_all) += sc;
      (x < lb ? r_before : x < le ? r_in : r_all) += rc;
    }
    l.send_counts.push_back(s_in);
    l.send_offsets.push_back(send_block + s_before);
    l.recv_counts.push_back(r_in);
    l.recv_offsets.push_back(recv_block + r_before);
    send_block += s_before + s_in + s_all;
    recv_block += r_before + r_in + r_all;
  }
  return l;
}

ExchangePlan plan_exchange(const Routing& r, const CapacityPlan& cap, int num_experts,
                           Communicator& ep_group) {
  const int k = r.k, ep = ep_group.size();
  SY_CHECK(num_experts % ep == 0, "E = " << num_experts
                                         << " experts cannot be sharded over an ep "
                                            "group of "
                                         << ep << " ranks: make E a multiple of ep");
  const int e_local = num_experts / ep;
  const int64_t n_items = r.items;
  ExchangePlan plan;
  plan.k = k;
  plan.ep = ep;
  plan.e_local = e_local;

  // Keys over the choices enumerated choice-major (j, item): key = e·k + j, −1 if dropped.
  std::vector<int32_t> keys(static_cast<size_t>(n_items) * k);
  for (int j = 0; j < k; ++j)
    for (int64_t i = 0; i < n_items; ++i) {
      int32_t e = r.expert[i * k + j];
      keys[j * n_items + i] = (e >= 0 && cap.keep[i * k + j]) ? e * k + j : -1;
    }
  Tensor order = Tensor::empty({static_cast<int64_t>(keys.size())}, DType::kI32);
  Tensor counts = Tensor::empty({static_cast<int64_t>(num_experts) * k}, DType::kI32);
  counting_sort(order, counts, Tensor::from_vector(keys, {static_cast<int64_t>(keys.size())}),
                num_experts * k);
  const int32_t* ord = order.data<int32_t>();
  const int32_t* cnt = counts.data<int32_t>();

  int64_t rows = 0;
  for (int64_t c = 0; c < num_experts * k; ++c) rows += cnt[c];
  plan.send_item.resize(static_cast<size_t>(rows));
  plan.pos.assign(static_cast<size_t>(n_items) * k, -1);
  plan.ones.assign(static_cast<size_t>(n_items) * k, 1.0f);
  plan.weight = r.weight;
  for (int64_t row = 0; row < rows; ++row) {
    int32_t idx = ord[row];
    int64_t j = idx / n_items, i = idx % n_items;
    plan.send_item[row] = static_cast<int32_t>(i);
    plan.pos[i * k + j] = static_cast<int32_t>(row);
  }

  // Rows per destination expert go to the experts' owners: block p = counts of p's experts.
  plan.send_counts.assign(num_experts, 0);
  plan.recv_counts.assign(num_experts, 0);
  for (int e = 0; e < num_experts; ++e)
    for (int j = 0; j < k; ++j) plan.send_counts[e] += cnt[e * k + j];
  ep_group.all_to_all(plan.send_counts.data(), plan.recv_counts.data(), e_local * sizeof(int64_t));
  // Source-major → expert-major.
  const auto& from = plan.recv_counts;
  std::vector<int64_t> src_start(ep + 1, 0);
  for (int p = 0; p < ep; ++p) {
    int64_t n = 0;
    for (int le = 0; le < e_local; ++le) n += from[p * e_local + le];
    src_start[p + 1] = src_start[p] + n;
  }
  plan.expert_offsets.assign(e_local + 1, 0);
  for (int le = 0; le < e_local; ++le) {
    int64_t n_le = 0;
    for (int p = 0; p < ep; ++p) n_le += from[p * e_local + le];
    plan.expert_offsets[le + 1] = plan.expert_offsets[le] + n_le;
  }
  plan.expert_major_src.reserve(static_cast<size_t>(src_start[ep]));
  for (int le = 0; le < e_local; ++le)
    for (int p = 0; p < ep; ++p) {
      int64_t first = src_start[p];
      for (int l2 = 0; l2 < le; ++l2) first += from[p * e_local + l2];
      for (int64_t q = 0; q < from[p * e_local + le]; ++q)
        plan.expert_major_src.push_back(static_cast<int32_t>(first + q));
    }
  return plan;
}

}  // namespace sy
