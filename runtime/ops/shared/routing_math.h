// Per-row and per-element logic of the routing ops — the top-k softmax gate and its losses'
// sums, the gate's backward, the dispatch rows of a capacity plan, the expert-major permutation,
// hash routing — shared by CPU and CUDA (contract 12). Every sum runs in a fixed order, so the
// routing is the same on both backends and at every world size.
#pragma once

#include <cmath>
#include <cstdint>

#include "runtime/core/hostdevice.h"
#include "runtime/core/random.h"
#include "runtime/ops/shared/rowwise_math.h"

namespace sy {
namespace kernels {

// Row s of the top-k softmax gate over e logits: the probabilities, their logsumexp (in double:
// the z-loss squares it), the k choices (descending, ties to the lower index) and their combine
// weights — the raw probabilities, or renormalised over the k.
SY_HD void topk_gate_row(float* probs, float* lse, float* weight, int32_t* expert,
                         const float* logits, int64_t e, int k, bool renormalize) {
  softmax_row(probs, logits, e);
  topk_row(weight, expert, probs, e, k);
  const float m = reduce_max_strided(logits, e, 1);
  double z = 0;
  for (int64_t i = 0; i < e; ++i) z += exp(static_cast<double>(logits[i]) - m);
  *lse = static_cast<float>(m + log(z));
  if (!renormalize) return;
  float total = 0;
  for (int j = 0; j < k; ++j) total += weight[j];
  for (int j = 0; j < k; ++j) weight[j] = weight[j] / total;
}

// Column c of the gate's sums over this rank's items (for the losses, summed over the world by the
// caller): c < e: items whose first choice is expert c; e ≤ c < 2e: Σ of the probability of
// expert c − e; c = 2e: Σ lse². In item order, in double.
SY_HD double topk_gate_sum(const float* probs, const float* lse, const int32_t* expert,
                           int64_t items, int64_t e, int k, int64_t c) {
  double s = 0;
  for (int64_t i = 0; i < items; ++i) {
    if (c < e)
      s += expert[i * k] == c ? 1.0 : 0.0;
    else if (c < 2 * e)
      s += probs[i * e + (c - e)];
    else
      s += static_cast<double>(lse[i]) * lse[i];
  }
  return s;
}

// Row s of the gate's backward: dlogits (e) from the combine weights' gradient dweight (k), the
// balance loss's per-expert term `balance` (e values, or null) and the z-loss (z2 = 2·z_coef,
// over items_world items).
SY_HD void topk_gate_backward_row(float* dlogits, const float* probs, float lse,
                                  const int32_t* expert, const float* dweight, const float* balance,
                                  double z2, double items_world, int64_t e, int k,
                                  bool renormalize) {
  for (int64_t i = 0; i < e; ++i) dlogits[i] = 0.0f;
  // Gate weights: w_j = p_j (raw) or p_j / Z with Z = Σ_chosen p (renormalised).
  if (!renormalize) {
    for (int j = 0; j < k; ++j)
      if (expert[j] >= 0) dlogits[expert[j]] += dweight[j];
  } else {
    float z = 0, dot = 0;
    for (int j = 0; j < k; ++j) z += probs[expert[j]];
    for (int j = 0; j < k; ++j) dot += dweight[j] * probs[expert[j]] / z;
    for (int j = 0; j < k; ++j)
      if (expert[j] >= 0) dlogits[expert[j]] += (dweight[j] - dot) / z;
  }
  if (balance)
    for (int64_t i = 0; i < e; ++i) dlogits[i] += balance[i];
  softmax_backward_row(dlogits, probs, dlogits, e);
  // z-loss: L = (1/S_world) Σ_s lse_s²; d/dlogit = 2 lse_s p_se / S_world.
  const float zscale = items_world > 0 ? static_cast<float>(z2 * lse / items_world) : 0.0f;
  for (int64_t i = 0; i < e; ++i) dlogits[i] += zscale * probs[i];
}

// The sort key of choice c of the k·S choices enumerated choice-major (c = j·S + i): expert·k + j,
// or −1 for a choice without an expert.
SY_HD int32_t choice_key(const int32_t* expert, int64_t items, int k, int64_t c) {
  const int64_t j = c / items, i = c % items;
  const int32_t e = expert[i * k + j];
  return e >= 0 ? e * k + static_cast<int32_t>(j) : -1;
}

// Position p of the choices sorted by key = expert·k + choice (a stable counting sort over the
// choices enumerated choice-major, so items are in order within a key): capacity keeps the first
// keep_n[key] of each key, and kept ones go to send rows key by key. table holds three rows of
// num_keys: where each key's group starts among the sorted choices, where its kept rows start
// among the send rows, and keep_n.
SY_HD void dispatch_position(int32_t* pos, int32_t* send_item, const int32_t* order,
                             const int32_t* table, int num_keys, int64_t items, int k, int64_t p) {
  const int32_t* group_start = table;
  const int32_t* kept_start = table + num_keys;
  const int32_t* keep_n = table + 2 * num_keys;
  int lo = 0, hi = num_keys - 1;  // the last key whose group starts at or before p
  while (lo < hi) {
    const int mid = (lo + hi + 1) / 2;
    if (group_start[mid] <= p)
      lo = mid;
    else
      hi = mid - 1;
  }
  const int32_t rank = static_cast<int32_t>(p) - group_start[lo];
  if (rank >= keep_n[lo]) return;
  const int64_t idx = order[p], j = idx / items, i = idx % items;
  const int32_t row = kept_start[lo] + rank;
  pos[i * k + j] = row;
  send_item[row] = static_cast<int32_t>(i);
}

// The arrival-order row that expert-major row m comes from. Rows arrive grouped by source rank
// (recv_counts (ep, e_local): rows rank p sends for my local expert l); expert-major order is local
// expert, then source rank, then arrival order.
SY_HD int32_t expert_major_source(const int32_t* recv_counts, int ep, int e_local, int64_t m) {
  int64_t before = 0;
  for (int l = 0; l < e_local; ++l)
    for (int p = 0; p < ep; ++p) {
      const int64_t c = recv_counts[p * e_local + l];
      if (m < before + c) {
        int64_t src = m - before;
        for (int q = 0; q < p; ++q)
          for (int l2 = 0; l2 < e_local; ++l2) src += recv_counts[q * e_local + l2];
        for (int l2 = 0; l2 < l; ++l2) src += recv_counts[p * e_local + l2];
        return static_cast<int32_t>(src);
      }
      before += c;
    }
  return -1;
}

// Hash routing: the expert is a fixed hash of the item's id.
SY_HD int32_t hash_expert(int32_t id, uint64_t seed, int num_experts) {
  return static_cast<int32_t>(mix64(static_cast<uint64_t>(id) ^ seed) % num_experts);
}

}  // namespace kernels
}  // namespace sy
