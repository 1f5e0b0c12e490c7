// Balanced assignment for BASE layers: n items, E experts, every expert gets exactly n/E items,
// and the total score Σ_i scores[i, assign[i]] is maximised.
//
// Method: the auction algorithm for assignment with similar objects (Bertsekas): each expert is
// n/E slots with their own prices; an unassigned item bids for the cheapest slot of the expert
// with the best value score − price, raising that slot's price by (best − second best) + ε and
// evicting its holder. ε-scaling runs phases with ε shrinking 5× from range/4 down to
// ε_min = range · 1e-7 / n, keeping prices between phases. At termination ε-complementary slackness
// holds, so the total is within n · ε_min = 1e-7 · range of the optimum — exact at f32 resolution.
// Ties go to the lower expert index and items bid in index order, so the result is a pure
// function of the scores (every rank computes the same assignment from the same gathered scores).
#pragma once

#include <cstdint>
#include <vector>

namespace sy {

struct AuctionStats {
  int64_t bids = 0;
  int phases = 0;
};

// scores is (n, E) row-major. n must be a multiple of E. Returns assign (n).
std::vector<int32_t> balanced_assignment(const float* scores, int64_t n, int num_experts,
                                         AuctionStats* stats = nullptr);

}  // namespace sy
