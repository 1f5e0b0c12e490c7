#include "experts/balanced_assignment.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <queue>
#include <utility>

#include "runtime/core/error.h"

namespace sy {

namespace {

using Entry = std::pair<double, int64_t>;  // (cost of moving the item, item index)
using MinHeap = std::priority_queue<Entry, std::vector<Entry>, std::greater<Entry>>;

// Successive shortest paths on the graph of experts (see the header), one augmentation at a time.
class Assigner {
 public:
  Assigner(const float* scores, int64_t n, int num_experts)
      : scores_(scores),
        e_count_(num_experts),
        cap_(n / num_experts),
        assign_(static_cast<size_t>(n), 0),
        count_(num_experts, 0),
        heap_(static_cast<size_t>(num_experts) * num_experts),
        potential_(num_experts, 0.0),
        dist_(num_experts),
        prev_(num_experts),
        via_(num_experts),
        done_(num_experts) {}

  std::vector<int32_t> run() {
    greedy_start();
    while (over_full()) {
      const int target = shortest_path();
      SY_CHECK(target >= 0, "balanced assignment: no augmenting path (internal error)");
      augment(target);
    }
    return assign_;
  }

 private:
  double a(int64_t i, int e) const { return static_cast<double>(scores_[i * e_count_ + e]); }

  // Puts item i in expert e; heap[e·E + f] holds the items in e by the cost of moving them to f
  // (stale entries — items that have left e — are skipped when they surface).
  void enter(int64_t i, int e) {
    assign_[i] = e;
    ++count_[e];
    for (int f = 0; f < e_count_; ++f)
      if (f != e) heap_[e * e_count_ + f].push({a(i, e) - a(i, f), i});
  }

  // Every item to its best expert: optimal without the balance constraint.
  void greedy_start() {
    const int64_t n = static_cast<int64_t>(assign_.size());
    for (int64_t i = 0; i < n; ++i) {
      int best = 0;
      for (int e = 1; e < e_count_; ++e)
        if (a(i, e) > a(i, best)) best = e;
      enter(i, best);
    }
  }

  bool over_full() const {
    bool over = false;
    for (int e = 0; e < e_count_; ++e) over |= count_[e] > cap_;
    return over;
  }

  // The cheapest item that can move from e to f, dropping stale heap tops.
  const Entry* top(int e, int f) {
    MinHeap& h = heap_[e * e_count_ + f];
    while (!h.empty() && assign_[h.top().second] != e) h.pop();
    return h.empty() ? nullptr : &h.top();
  }

  // Dijkstra from every over-full expert at once (dense: E is small), with Johnson potentials;
  // returns the nearest under-full expert (−1 if none is reachable).
  int shortest_path() {
    const double inf = std::numeric_limits<double>::infinity();
    for (int e = 0; e < e_count_; ++e) {
      dist_[e] = count_[e] > cap_ ? 0.0 : inf;
      prev_[e] = -1;
      done_[e] = 0;
    }
    for (int round = 0; round < e_count_; ++round) {
      int u = -1;
      for (int e = 0; e < e_count_; ++e)
        if (!done_[e] && dist_[e] < inf && (u < 0 || dist_[e] < dist_[u])) u = e;
      if (u < 0) return -1;
      done_[u] = 1;
      if (count_[u] < cap_) return u;
      relax(u);
    }
    return -1;
  }

  void relax(int u) {
    for (int f = 0; f < e_count_; ++f) {
      if (f == u || done_[f]) continue;
      const Entry* t = top(u, f);
      if (!t) continue;
      double d = dist_[u] + t->first + potential_[u] - potential_[f];
      if (d < dist_[f]) {
        dist_[f] = d;
        prev_[f] = u;
        via_[f] = t->second;
      }
    }
  }

  // Moves the recorded items along the path, then updates the potentials (Johnson).
  void augment(int target) {
    for (int f = target; prev_[f] >= 0; f = prev_[f]) {
      --count_[prev_[f]];
      enter(via_[f], f);
    }
    const double reach = dist_[target];
    for (int e = 0; e < e_count_; ++e) potential_[e] += std::min(dist_[e], reach);
  }

  const float* scores_;
  int e_count_;
  int64_t cap_;
  std::vector<int32_t> assign_;
  std::vector<int64_t> count_;
  std::vector<MinHeap> heap_;
  std::vector<double> potential_, dist_;
  std::vector<int> prev_;
  std::vector<int64_t> via_;
  std::vector<char> done_;
};

// The scores with every non-finite one made finite (NaN the lowest, ±inf the largest magnitudes),
// so a diverging router still gets a valid assignment (the trainer's non-finite guard then skips
// the step). Costs are differences in double: no overflow.
std::vector<float> finite_scores(const float* scores, int64_t count) {
  const float big = std::numeric_limits<float>::max();
  std::vector<float> out(scores, scores + count);
  for (float& v : out)
    if (!std::isfinite(v)) v = v > 0 ? big : -big;  // NaN compares false: the lowest
  return out;
}

}  // namespace

std::vector<int32_t> balanced_assignment(const float* scores, int64_t n, int num_experts) {
  SY_CHECK(num_experts >= 1, "balanced assignment needs at least one expert");
  SY_CHECK(n % num_experts == 0, "BASE routing gives every expert exactly S/E items, but S = "
                                     << n << " items are not divisible by E = " << num_experts
                                     << " experts: make the tokens per step (over all ranks) a "
                                        "multiple of the number of experts");
  if (n == 0 || num_experts == 1) return std::vector<int32_t>(static_cast<size_t>(n), 0);
  const int64_t count = n * num_experts;
  if (std::all_of(scores, scores + count, [](float v) { return std::isfinite(v); }))
    return Assigner(scores, n, num_experts).run();
  const std::vector<float> finite = finite_scores(scores, count);
  return Assigner(finite.data(), n, num_experts).run();
}

}  // namespace sy
