#include "experts/balanced_assignment.h"

#include <algorithm>
#include <cmath>
#include <deque>
#include <limits>
#include <set>
#include <utility>

#include "runtime/core/error.h"

namespace sy {

std::vector<int32_t> balanced_assignment(const float* scores, int64_t n, int num_experts,
                                         AuctionStats* stats) {
  const int e_count = num_experts;
  SY_CHECK(e_count >= 1, "balanced assignment needs at least one expert");
  SY_CHECK(n % e_count == 0, "BASE routing gives every expert exactly S/E items, but S = "
                                 << n << " items are not divisible by E = " << e_count
                                 << " experts: make the tokens per step (over all ranks) a "
                                    "multiple of the number of experts");
  std::vector<int32_t> assign(static_cast<size_t>(n), 0);
  if (n == 0 || e_count == 1) return assign;
  const int64_t cap = n / e_count;

  double lo = std::numeric_limits<double>::infinity(), hi = -lo;
  for (int64_t i = 0; i < n * e_count; ++i) {
    lo = std::min<double>(lo, scores[i]);
    hi = std::max<double>(hi, scores[i]);
  }
  double range = std::max(hi - lo, 1e-12);
  double eps_min = range * 1e-7 / static_cast<double>(n);

  // Slot prices persist across phases; holders are reset each phase.
  std::vector<double> price(static_cast<size_t>(n), 0.0);  // slot s of expert e: e * cap + s
  std::vector<int64_t> holder(static_cast<size_t>(n), -1);
  // Per expert, its slots ordered by (price, slot): the cheapest slot is begin().
  std::vector<std::set<std::pair<double, int64_t>>> slots(static_cast<size_t>(e_count));

  double eps = range / 4;
  for (;;) {
    if (stats) ++stats->phases;
    for (int e = 0; e < e_count; ++e) {
      slots[e].clear();
      for (int64_t s = 0; s < cap; ++s) slots[e].insert({price[e * cap + s], e * cap + s});
    }
    std::fill(holder.begin(), holder.end(), -1);
    std::deque<int64_t> queue;
    for (int64_t i = 0; i < n; ++i) queue.push_back(i);
    while (!queue.empty()) {
      int64_t i = queue.front();
      queue.pop_front();
      const float* a = scores + i * e_count;
      int best = -1;
      double w1 = -std::numeric_limits<double>::infinity(), w2 = w1;
      for (int e = 0; e < e_count; ++e) {
        double v = static_cast<double>(a[e]) - slots[e].begin()->first;
        if (v > w1) {
          w2 = w1;
          w1 = v;
          best = e;
        } else if (v > w2) {
          w2 = v;
        }
      }
      auto cheapest = *slots[best].begin();
      int64_t slot = cheapest.second;
      double new_price = cheapest.first + (w1 - w2) + eps;
      slots[best].erase(slots[best].begin());
      slots[best].insert({new_price, slot});
      price[slot] = new_price;
      if (holder[slot] >= 0) queue.push_back(holder[slot]);
      holder[slot] = i;
      assign[i] = best;
      if (stats) ++stats->bids;
    }
    if (eps <= eps_min) break;
    eps = std::max(eps / 5, eps_min);
  }
  return assign;
}

}  // namespace sy
