#include "experts/balanced_assignment.h"

#include <algorithm>
#include <functional>
#include <limits>
#include <queue>
#include <utility>

#include "runtime/core/error.h"

namespace sy {

namespace {

using Entry = std::pair<double, int64_t>;  // (cost of moving the item, item index)
using MinHeap = std::priority_queue<Entry, std::vector<Entry>, std::greater<Entry>>;

}  // namespace

std::vector<int32_t> balanced_assignment(const float* scores, int64_t n, int num_experts) {
  const int e_count = num_experts;
  SY_CHECK(e_count >= 1, "balanced assignment needs at least one expert");
  SY_CHECK(n % e_count == 0, "BASE routing gives every expert exactly S/E items, but S = "
                                 << n << " items are not divisible by E = " << e_count
                                 << " experts: make the tokens per step (over all ranks) a "
                                    "multiple of the number of experts");
  std::vector<int32_t> assign(static_cast<size_t>(n), 0);
  if (n == 0 || e_count == 1) return assign;
  const int64_t cap = n / e_count;
  auto a = [&](int64_t i, int e) { return static_cast<double>(scores[i * e_count + e]); };

  // Greedy start and the move heaps: heap[e·E + f] holds the items in e by the cost of moving
  // them to f (stale entries — items that have left e — are skipped when they surface).
  std::vector<int64_t> count(e_count, 0);
  std::vector<MinHeap> heap(static_cast<size_t>(e_count) * e_count);
  auto enter = [&](int64_t i, int e) {
    assign[i] = e;
    ++count[e];
    for (int f = 0; f < e_count; ++f)
      if (f != e) heap[e * e_count + f].push({a(i, e) - a(i, f), i});
  };
  for (int64_t i = 0; i < n; ++i) {
    int best = 0;
    for (int e = 1; e < e_count; ++e)
      if (a(i, e) > a(i, best)) best = e;
    enter(i, best);
  }
  // The cheapest item that can move from e to f, dropping stale heap tops.
  auto top = [&](int e, int f) -> const Entry* {
    MinHeap& h = heap[e * e_count + f];
    while (!h.empty() && assign[h.top().second] != e) h.pop();
    return h.empty() ? nullptr : &h.top();
  };

  const double inf = std::numeric_limits<double>::infinity();
  std::vector<double> potential(e_count, 0.0), dist(e_count);
  std::vector<int> prev(e_count);
  std::vector<int64_t> via(e_count);
  std::vector<char> done(e_count);
  for (;;) {
    bool over = false;
    for (int e = 0; e < e_count; ++e) over |= count[e] > cap;
    if (!over) break;
    // Dijkstra from every over-full expert at once (dense: E is small).
    for (int e = 0; e < e_count; ++e) {
      dist[e] = count[e] > cap ? 0.0 : inf;
      prev[e] = -1;
      done[e] = 0;
    }
    int target = -1;
    for (int round = 0; round < e_count; ++round) {
      int u = -1;
      for (int e = 0; e < e_count; ++e)
        if (!done[e] && dist[e] < inf && (u < 0 || dist[e] < dist[u])) u = e;
      if (u < 0) break;
      done[u] = 1;
      if (count[u] < cap) {
        target = u;  // the nearest under-full expert
        break;
      }
      for (int f = 0; f < e_count; ++f) {
        if (f == u || done[f]) continue;
        const Entry* t = top(u, f);
        if (!t) continue;
        double d = dist[u] + t->first + potential[u] - potential[f];
        if (d < dist[f]) {
          dist[f] = d;
          prev[f] = u;
          via[f] = t->second;
        }
      }
    }
    SY_CHECK(target >= 0, "balanced assignment: no augmenting path (internal error)");
    // Move the recorded items along the path, then update the potentials (Johnson).
    for (int f = target; prev[f] >= 0; f = prev[f]) {
      --count[prev[f]];
      enter(via[f], f);
    }
    const double reach = dist[target];
    for (int e = 0; e < e_count; ++e) potential[e] += std::min(dist[e], reach);
  }
  return assign;
}

}  // namespace sy
