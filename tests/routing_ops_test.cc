// The routing ops on the CPU (runtime/ops/ops.h, "routing"), each against a plain reference
// written here: the top-k gate (softmax, choices with ties to the lower expert, raw and
// renormalised weights, logsumexp), its losses' sums, its backward against finite differences, the
// sort keys, the dispatch rows of a capacity plan (the first keep_n of each key, in item order,
// key-major send rows), the expert-major permutation, hash routing, and the row normalisation
// X-MoE uses.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>

#include "runtime/core/random.h"
#include "runtime/ops/ops.h"
#include "tests/finite_difference.h"
#include "tests/ops_reference.h"

namespace sy {
namespace {

Tensor tf(const std::vector<float>& v, const Shape& s) {
  return Tensor::from_vector(v, s);
}
Tensor ti(const std::vector<int32_t>& v, const Shape& s) {
  return Tensor::from_vector(v, s);
}

struct Gate {
  Tensor probs, lse, weight, expert;
  Gate(const Tensor& logits, int k, bool renormalize)
      : probs(Tensor::empty(logits.shape(), DType::kF32)),
        lse(Tensor::empty({logits.rows()}, DType::kF32)),
        weight(Tensor::empty({logits.rows(), k}, DType::kF32)),
        expert(Tensor::empty({logits.rows(), k}, DType::kI32)) {
    topk_gate_forward(probs, lse, weight, expert, logits, k, renormalize);
  }
};

TEST(RoutingOps, TopKGateMatchesSoftmaxTopKAndLogSumExp) {
  const int64_t s = 37, e = 8;
  auto x = ref::random_floats(s * e, 1, -3, 3);
  for (int i = 0; i < 8; ++i) x[5 * e + i] = 0.5f;  // a row of ties: the lower experts win
  for (int k : {1, 2, 3})
    for (bool renorm : {false, true}) {
      Gate g(tf(x, {s, e}), k, renorm);
      auto p = ref::softmax(x, s, e);
      std::vector<float> vals;
      std::vector<int32_t> idx;
      ref::topk(vals, idx, p, s, e, k);
      EXPECT_EQ(g.expert.to_vector<int32_t>(), idx);
      auto w = g.weight.to_vector<float>(), probs = g.probs.to_vector<float>();
      auto lse = g.lse.to_vector<float>();
      for (int64_t r = 0; r < s; ++r) {
        double total = 0, z = 0, m = *std::max_element(x.begin() + r * e, x.begin() + r * e + e);
        for (int j = 0; j < k; ++j) total += vals[r * k + j];
        for (int64_t c = 0; c < e; ++c) {
          EXPECT_NEAR(probs[r * e + c], p[r * e + c], 1e-6);
          z += std::exp(double(x[r * e + c]) - m);
        }
        EXPECT_NEAR(lse[r], m + std::log(z), 1e-5);
        for (int j = 0; j < k; ++j)
          EXPECT_NEAR(w[r * k + j], renorm ? vals[r * k + j] / total : vals[r * k + j], 1e-6);
      }
      EXPECT_EQ(std::vector<int32_t>(idx.begin() + 5 * k, idx.begin() + 6 * k), [&] {
        std::vector<int32_t> low(k);
        for (int j = 0; j < k; ++j) low[j] = j;
        return low;
      }()) << "ties go to the lower expert";
    }
}

TEST(RoutingOps, GateSumsAreCountsProbabilitiesAndSquaredLogSumExp) {
  const int64_t s = 29, e = 5;
  const int k = 2;
  Gate g(tf(ref::random_floats(s * e, 2, -2, 2), {s, e}), k, false);
  Tensor sums = Tensor::empty({2 * e + 1}, DType::kF64);
  topk_gate_sums(sums, g.probs, g.lse, g.expert);
  auto got = sums.to_vector<double>();
  auto p = g.probs.to_vector<float>(), lse = g.lse.to_vector<float>();
  auto ex = g.expert.to_vector<int32_t>();
  std::vector<double> want(2 * e + 1, 0.0);
  for (int64_t r = 0; r < s; ++r) {
    want[ex[r * k]] += 1;
    for (int64_t c = 0; c < e; ++c) want[e + c] += p[r * e + c];
    want[2 * e] += double(lse[r]) * lse[r];
  }
  for (size_t c = 0; c < want.size(); ++c) EXPECT_NEAR(got[c], want[c], 1e-9) << c;
}

// L(logits) = Σ dweight ⊙ weight + Σ_e balance_e · Σ_s p_se + (z2 / S_world) · Σ_s lse_s² / 2 —
// the loss whose gradient the gate's backward computes.
TEST(RoutingOps, GateBackwardMatchesFiniteDifferences) {
  const int64_t s = 6, e = 5;
  const int k = 2;
  auto x = ref::random_floats(s * e, 3, -1, 1);
  Tensor dw = tf(ref::random_floats(s * k, 4), {s, k});
  Tensor balance = tf(ref::random_floats(e, 5, 0, 0.5f), {e});
  const double z2 = 0.3, items_world = 4;
  for (bool renorm : {false, true}) {
    SCOPED_TRACE(renorm ? "renormalised" : "raw");
    Tensor logits = tf(x, {s, e});
    auto loss = [&] {
      Gate g(logits, k, renorm);
      auto w = g.weight.to_vector<float>(), d = dw.to_vector<float>();
      auto p = g.probs.to_vector<float>(), b = balance.to_vector<float>();
      auto lse = g.lse.to_vector<float>();
      double l = 0;
      for (int64_t i = 0; i < s * k; ++i) l += double(w[i]) * d[i];
      for (int64_t r = 0; r < s; ++r) {
        for (int64_t c = 0; c < e; ++c) l += double(b[c]) * p[r * e + c];
        l += z2 / items_world * double(lse[r]) * lse[r] / 2;
      }
      return l;
    };
    Gate g(logits, k, renorm);
    Tensor dlogits = Tensor::empty({s, e}, DType::kF32);
    topk_gate_backward(dlogits, dw, g.probs, g.lse, g.expert, balance, z2, items_world, renorm);
    testing::GradientCheck check(loss, 1e-3, 1e-3, 1e-2, [&] {
      return Gate(logits, k, renorm).expert.to_vector<int32_t>();  // choices must not flip
    });
    check.check("dlogits", logits.data<float>(), dlogits.to_vector<float>());
    EXPECT_GT(check.checked(), 25);
  }
}

TEST(RoutingOps, ChoiceKeysAreExpertTimesKPlusChoiceInChoiceMajorOrder) {
  const int64_t s = 4;
  const int k = 2;
  Tensor ex = ti({3, 0, -1, 2, 1, 1, 0, -1}, {s, k});
  Tensor keys = Tensor::empty({s * k}, DType::kI32);
  choice_keys(keys, ex);
  // Choice 0 of items 0..3, then choice 1.
  EXPECT_EQ(keys.to_vector<int32_t>(), (std::vector<int32_t>{6, -1, 2, 0, 1, 5, 3, -1}));
}

// The capacity plan's dispatch rows against the plain algorithm: per key the first keep_n choices
// in item order are kept, and kept choices take send rows key by key.
TEST(RoutingOps, DispatchRowsKeepTheFirstOfEachKeyAndSendKeyByKey) {
  const int64_t s = 40;
  const int k = 2, e = 5, keys_n = e * k;
  std::vector<int32_t> ex = ref::random_ints(s * k, 6, -1, e - 1);
  Tensor keys = Tensor::empty({s * k}, DType::kI32), order = Tensor::empty({s * k}, DType::kI32);
  Tensor counts = Tensor::empty({keys_n}, DType::kI32);
  choice_keys(keys, ti(ex, {s, k}));
  counting_sort(order, counts, keys, keys_n);
  auto cnt = counts.to_vector<int32_t>();
  std::vector<int32_t> keep_n(keys_n), group(keys_n, 0), kept(keys_n, 0);
  for (int key = 0; key < keys_n; ++key) keep_n[key] = cnt[key] / 2 + key % 2;  // some cut
  for (int key = 0; key < keys_n; ++key) keep_n[key] = std::min(keep_n[key], cnt[key]);
  for (int key = 1; key < keys_n; ++key) {
    group[key] = group[key - 1] + cnt[key - 1];
    kept[key] = kept[key - 1] + keep_n[key - 1];
  }
  std::vector<int32_t> table = group;
  table.insert(table.end(), kept.begin(), kept.end());
  table.insert(table.end(), keep_n.begin(), keep_n.end());
  const int32_t rows = kept.back() + keep_n.back();
  Tensor pos = Tensor::empty({s, k}, DType::kI32);
  Tensor send_item = Tensor::empty({rows}, DType::kI32);
  dispatch_rows(pos, send_item, order, ti(table, {3, keys_n}), group.back() + cnt.back());
  // The reference: walk the items in order per key.
  std::vector<int32_t> want_pos(s * k, -1), want_item(rows, -1), seen(keys_n, 0);
  for (int64_t i = 0; i < s; ++i)
    for (int j = 0; j < k; ++j) {
      const int32_t x = ex[i * k + j];
      if (x < 0) continue;
      const int key = x * k + j;
      if (seen[key] < keep_n[key]) {
        want_pos[i * k + j] = kept[key] + seen[key];
        want_item[kept[key] + seen[key]] = static_cast<int32_t>(i);
      }
      ++seen[key];
    }
  EXPECT_EQ(pos.to_vector<int32_t>(), want_pos);
  EXPECT_EQ(send_item.to_vector<int32_t>(), want_item);
}

TEST(RoutingOps, ExpertMajorPermutationOrdersByExpertThenSourceRank) {
  const int ep = 3, e_local = 2;
  // recv_counts[p][l]: rows rank p sends for my local expert l; they arrive grouped by rank.
  std::vector<int32_t> rc = {2, 1, 0, 3, 1, 1};
  int total = 0;
  for (int c : rc) total += c;
  Tensor perm = Tensor::empty({total}, DType::kI32);
  expert_major_permutation(perm, ti(rc, {ep, e_local}));
  // Arrival rows: rank 0 → [e0 e0 e1], rank 1 → [e1 e1 e1], rank 2 → [e0 e1].
  EXPECT_EQ(perm.to_vector<int32_t>(), (std::vector<int32_t>{0, 1, 6, 2, 3, 4, 5, 7}));
}

TEST(RoutingOps, HashRouteIsMix64OfTheIdModE) {
  std::vector<int32_t> ids = ref::random_ints(100, 7, 0, 50000);
  Tensor ex = Tensor::empty({100}, DType::kI32);
  hash_route(ex, ti(ids, {100}), 1234, 7);
  auto got = ex.to_vector<int32_t>();
  for (size_t i = 0; i < ids.size(); ++i)
    EXPECT_EQ(got[i], static_cast<int32_t>(mix64(static_cast<uint64_t>(ids[i]) ^ 1234u) % 7));
}

TEST(RoutingOps, L2NormalizeRowsAndItsBackward) {
  const int64_t r = 5, c = 4;
  auto x = ref::random_floats(r * c, 8, -2, 2);
  for (int64_t j = 0; j < c; ++j) x[3 * c + j] = 0.0f;  // a zero row stays finite
  Tensor in = tf(x, {r, c}), out = Tensor::empty({r, c}, DType::kF32);
  Tensor norms = Tensor::empty({r}, DType::kF32);
  l2_normalize_rows(out, norms, in);
  auto o = out.to_vector<float>(), n = norms.to_vector<float>();
  for (int64_t i = 0; i < r; ++i) {
    double ss = 0;
    for (int64_t j = 0; j < c; ++j) ss += double(x[i * c + j]) * x[i * c + j];
    EXPECT_NEAR(n[i], std::max(std::sqrt(ss), 1e-6), 1e-6);
    for (int64_t j = 0; j < c; ++j) EXPECT_NEAR(o[i * c + j], x[i * c + j] / n[i], 1e-6);
  }
  Tensor dout = tf(ref::random_floats(r * c, 9), {r, c}), din = Tensor::empty({r, c}, DType::kF32);
  l2_normalize_rows_backward(din, dout, out, norms);
  auto loss = [&] {
    Tensor y = Tensor::empty({r, c}, DType::kF32), nn = Tensor::empty({r}, DType::kF32);
    l2_normalize_rows(y, nn, in);
    return testing::weighted_sum(y, dout);
  };
  testing::GradientCheck check(loss, 1e-3, 1e-3, 1e-2);
  // Not the zero row: its norm is floored, so it is not differentiable there.
  auto d = din.to_vector<float>();
  check.check("din rows 0-2", in.data<float>(), std::vector<float>(d.begin(), d.begin() + 3 * c));
}

}  // namespace
}  // namespace sy
