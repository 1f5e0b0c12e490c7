// Balanced assignment for BASE layers: n items, E experts, every expert gets exactly n/E items,
// and the total score Σ_i scores[i, assign[i]] is maximised — exactly.
//
// Method: min-cost flow by successive shortest paths on the expert graph. Start from the greedy
// assignment (every item to its best expert: optimal without the balance constraint), then move
// items from over-full to under-full experts one at a time along a cheapest path, where moving an
// item from expert e to expert f costs scores[i,e] − scores[i,f] and the cheapest item for each
// (e, f) comes from a heap. Dijkstra with Johnson potentials keeps the reduced costs non-negative,
// so each augmentation is a shortest path and the final assignment is optimal. At most n
// augmentations of O(E² + E·log n) each — fast for the E of a MoE layer, and immune to the price
// wars an auction falls into when many items are identical (as tokens are at initialisation).
// Ties go to the lower item and expert index: the result is a pure function of the scores, so every
// rank computes the same assignment from the same gathered scores.
#pragma once

#include <cstdint>
#include <vector>

namespace sy {

// scores is (n, E) row-major. n must be a multiple of E. Returns assign (n).
std::vector<int32_t> balanced_assignment(const float* scores, int64_t n, int num_experts);

}  // namespace sy
