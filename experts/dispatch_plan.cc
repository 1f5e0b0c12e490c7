#include "experts/dispatch_plan.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "runtime/ops/ops.h"

namespace sy {

double CapacityPlan::activation_ratio() const {
  if (load_world.empty()) return 0.0;
  int64_t active = 0;
  for (int64_t l : load_world) active += l > 0;
  return static_cast<double>(active) / static_cast<double>(load_world.size());
}

int64_t expert_capacity(float capacity_factor, int k, int64_t items, int experts) {
  char decimal[32];  // the factor as the user wrote it: its float rounded to 6 significant digits
  std::snprintf(decimal, sizeof decimal, "%.6g", static_cast<double>(capacity_factor));
  const int64_t micro = std::llround(std::strtod(decimal, nullptr) * 1e6);  // cf · 10⁶, exact
  const int64_t num = micro * k * items, den = int64_t{1000000} * experts;
  return (num + den - 1) / den;
}

CapacityPlan plan_capacity(const std::vector<int64_t>& counts, int64_t items, int k,
                           const MoeOptions& o, Communicator& world) {
  const int e_count = o.num_experts;
  const int n = world.size(), me = world.rank();
  SY_CHECK(counts.size() == static_cast<size_t>(e_count) * k,
           "plan_capacity: " << counts.size() << " counts for E·k = " << e_count * k << " keys");
  CapacityPlan plan;
  plan.items = items;
  plan.k = k;
  plan.counts = counts;
  // Everybody's counts per (expert, choice), then the item count: [rank][e * k + j | S].
  const size_t cells = static_cast<size_t>(e_count) * k + 1;
  std::vector<int64_t> mine(counts), all(cells * n);
  mine.push_back(items);
  world.all_gather(mine.data(), all.data(), cells * sizeof(int64_t));
  auto count = [&](int rank, int e, int j) {
    return all[rank * cells + static_cast<size_t>(e) * k + j];
  };
  for (int p = 0; p < n; ++p) plan.items_world += all[p * cells + cells - 1];

  plan.capacity =
      o.dropless ? -1 : expert_capacity(o.capacity_factor, k, plan.items_world, e_count);
  // How many of this rank's items each (expert, choice) keeps: those whose global priority index
  // is below the capacity.
  std::vector<int64_t> keep_n(static_cast<size_t>(e_count) * k, 0);
  plan.load_world.assign(e_count, 0);
  plan.selected_world.assign(e_count, 0);
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
    plan.selected_world[e] = before;
    plan.load_world[e] = plan.capacity < 0 ? before : std::min(before, plan.capacity);
  }
  for (int64_t l : plan.load_world) plan.dropped_world -= l;
  plan.dropped_world += plan.routed_world;
  plan.keep_n = keep_n;
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

AllToAllLayout ExchangePlan::expert_major_layout(int l, int64_t base) const {
  AllToAllLayout out = layout(l, l + 1);
  size_t at = static_cast<size_t>(expert_offsets[l] - base);
  for (int p = 0; p < ep; ++p) {
    out.recv_offsets[p] = at;
    at += out.recv_counts[p];
  }
  return out;
}

namespace {

// Exclusive prefix sums.
std::vector<int32_t> starts(const std::vector<int64_t>& v) {
  std::vector<int32_t> out(v.size(), 0);
  for (size_t i = 1; i < v.size(); ++i) out[i] = out[i - 1] + static_cast<int32_t>(v[i - 1]);
  return out;
}

// Kept choices to send rows, on the device: the rows and the (3, keys) table dispatch_rows reads.
void assign_send_rows(ExchangePlan& plan, const SortedChoices& sorted, const CapacityPlan& cap) {
  const int64_t keys = static_cast<int64_t>(cap.counts.size());
  std::vector<int32_t> table = starts(cap.counts);
  const std::vector<int32_t> kept = starts(cap.keep_n);
  table.insert(table.end(), kept.begin(), kept.end());
  int64_t rows = 0, sorted_n = 0;
  for (int64_t key = 0; key < keys; ++key) {
    table.push_back(static_cast<int32_t>(cap.keep_n[key]));
    rows += cap.keep_n[key];
    sorted_n += cap.counts[key];
  }
  const Device d = sorted.order.device();
  plan.pos = Tensor::empty({cap.items, cap.k}, DType::kI32, d);
  plan.send_item = Tensor::empty({rows}, DType::kI32, d);
  dispatch_rows(plan.pos, plan.send_item, sorted.order, Tensor::from_vector(table, {3, keys}, d),
                sorted_n);
}

// Arrival order → expert-major, on the device, from the receive counts.
void expert_major(ExchangePlan& plan, Device d) {
  std::vector<int32_t> rc(plan.recv_counts.begin(), plan.recv_counts.end());
  plan.expert_major_src = Tensor::empty({plan.recv_total()}, DType::kI32, d);
  expert_major_permutation(plan.expert_major_src,
                           Tensor::from_vector(rc, {plan.ep, plan.e_local}, d));
}

}  // namespace

SortedChoices sort_choices(const Routing& r, int num_experts) {
  const int64_t n = r.items * r.k;
  const Device d = r.expert.device();
  SortedChoices s{Tensor::empty({n}, DType::kI32, d),
                  Tensor::empty({static_cast<int64_t>(num_experts) * r.k}, DType::kI32, d)};
  Tensor keys = Tensor::empty({n}, DType::kI32, d);
  choice_keys(keys, r.expert);
  counting_sort(s.order, s.counts, keys, num_experts * r.k);
  return s;
}

PlanCounts read_plan_counts(const SortedChoices& sorted, const Routing& r) {
  const int64_t keys = sorted.counts.numel();
  const int64_t m = r.world_sums.defined() ? r.world_sums.numel() : 0;
  Tensor packed = Tensor::empty({keys + m, 1}, DType::kF64, sorted.counts.device());
  cast(packed.slice_rows(0, keys), sorted.counts);
  if (m > 0) packed.slice_rows(keys, keys + m).copy_from(r.world_sums);
  const std::vector<double> host = packed.to_vector<double>();
  PlanCounts out;
  out.counts.assign(host.begin(), host.begin() + keys);
  out.router_sums.assign(host.begin() + keys, host.end());
  return out;
}

ExchangePlan plan_exchange(const SortedChoices& sorted, const CapacityPlan& cap, int num_experts,
                           Communicator& ep_group) {
  const int k = cap.k, ep = ep_group.size();
  SY_CHECK(num_experts % ep == 0, "E = " << num_experts
                                         << " experts cannot be sharded over an ep group of " << ep
                                         << " ranks: make E a multiple of ep");
  const int e_local = num_experts / ep;
  ExchangePlan plan;
  plan.k = k;
  plan.ep = ep;
  plan.e_local = e_local;
  assign_send_rows(plan, sorted, cap);
  // Rows per destination expert go to the experts' owners: block p = counts of p's experts.
  plan.send_counts.assign(num_experts, 0);
  plan.recv_counts.assign(num_experts, 0);
  for (int e = 0; e < num_experts; ++e)
    for (int j = 0; j < k; ++j) plan.send_counts[e] += cap.keep_n[static_cast<size_t>(e) * k + j];
  ep_group.all_to_all(plan.send_counts.data(), plan.recv_counts.data(), e_local * sizeof(int64_t));
  plan.expert_offsets.assign(e_local + 1, 0);
  for (int le = 0; le < e_local; ++le) {
    int64_t n_le = 0;
    for (int p = 0; p < ep; ++p) n_le += plan.recv_counts[p * e_local + le];
    plan.expert_offsets[le + 1] = plan.expert_offsets[le] + n_le;
  }
  expert_major(plan, sorted.order.device());
  return plan;
}

}  // namespace sy
