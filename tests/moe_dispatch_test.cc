// Dispatch properties at np 1, 2 and 4: BASE gives exactly S/E items per expert (and its assignment
// is optimal); a router forced onto one expert drops exactly the overflow, the lowest-priority
// items, and reports it; payloads that encode their origin arrive at the expert the plan names, in
// the documented order, and come back to where they started; MH-MoE with h = 1 and identity
// projections is plain MoE.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>

#include "comm/tensor_exchange.h"
#include "experts/balanced_assignment.h"
#include "experts/dispatch_plan.h"
#include "experts/mh_moe_layer.h"
#include "experts/topk_gate.h"
#include "runtime/ops/ops.h"
#include "tests/moe_test_util.h"
#include "tests/test_world.h"

namespace sy {
namespace {

// Brute force over all balanced assignments of a tiny problem.
double best_total(const std::vector<float>& a, int n, int e_count) {
  int cap = n / e_count;
  std::vector<int> left(e_count, cap);
  double best = -1e300;
  std::function<void(int, double)> go = [&](int i, double acc) {
    if (i == n) {
      best = std::max(best, acc);
      return;
    }
    for (int e = 0; e < e_count; ++e)
      if (left[e] > 0) {
        --left[e];
        go(i + 1, acc + a[i * e_count + e]);
        ++left[e];
      }
  };
  go(0, 0.0);
  return best;
}

TEST(BalancedAssignment, OptimalOnSmallProblemsAndExactlyBalanced) {
  for (uint32_t seed = 1; seed <= 20; ++seed) {
    const int n = 8, e_count = seed % 2 ? 4 : 2;
    std::vector<float> a(n * e_count);
    for (size_t i = 0; i < a.size(); ++i) a[i] = random_normal(seed, 5, i);
    auto assign = balanced_assignment(a.data(), n, e_count);
    std::vector<int> load(e_count, 0);
    double total = 0;
    for (int i = 0; i < n; ++i) {
      ++load[assign[i]];
      total += a[i * e_count + assign[i]];
    }
    for (int l : load) EXPECT_EQ(l, n / e_count);
    EXPECT_NEAR(total, best_total(a, n, e_count), 1e-5) << "seed " << seed;
  }
  // A larger, skewed problem (every item prefers expert 0) still comes out exactly balanced.
  const int n = 512, e_count = 8;
  std::vector<float> a(n * e_count);
  for (int i = 0; i < n; ++i)
    for (int e = 0; e < e_count; ++e)
      a[i * e_count + e] = (e == 0 ? 3.0f : 0.0f) + random_normal(3, 6, i * e_count + e);
  auto assign = balanced_assignment(a.data(), n, e_count);
  std::vector<int> load(e_count, 0);
  for (int x : assign) ++load[x];
  for (int l : load) EXPECT_EQ(l, n / e_count);
  EXPECT_THROW(balanced_assignment(a.data(), 10, 8), Error);
}

TEST(BalancedAssignment, ManyIdenticalItemsAreNoProblem) {
  // Identical rows (identical tokens at initialisation) are where an auction's price war stalls.
  for (uint32_t seed = 1; seed <= 10; ++seed) {
    const int n = 8, e_count = 4;
    std::vector<float> a(n * e_count);
    for (int i = 0; i < n; ++i)
      for (int e = 0; e < e_count; ++e)
        a[i * e_count + e] = random_normal(seed, 7, (i % 2) * e_count + e);
    auto assign = balanced_assignment(a.data(), n, e_count);
    double total = 0;
    for (int i = 0; i < n; ++i) total += a[i * e_count + assign[i]];
    EXPECT_NEAR(total, best_total(a, n, e_count), 1e-5) << "seed " << seed;
  }
  const int n = 4096, e_count = 16;
  std::vector<float> a(n * e_count);
  for (int i = 0; i < n; ++i)
    for (int e = 0; e < e_count; ++e)
      a[i * e_count + e] = random_normal(9, 8, (i % 30) * e_count + e);
  auto assign = balanced_assignment(a.data(), n, e_count);
  std::vector<int> load(e_count, 0);
  for (int x : assign) ++load[x];
  for (int l : load) EXPECT_EQ(l, n / e_count);
}

// A diverging router's NaN and infinite scores (issue 14: "no augmenting path (internal error)")
// still give an exactly balanced assignment; finite rows keep their best experts where they can.
TEST(BalancedAssignment, NonFiniteScoresStillBalance) {
  const float nan = std::nanf("");
  const int n = 8, e_count = 4;
  std::vector<float> a(n * e_count, nan);
  a[0 * e_count + 2] = INFINITY;
  a[1 * e_count + 3] = 1.0f;
  a[2 * e_count + 1] = -INFINITY;
  auto assign = balanced_assignment(a.data(), n, e_count);
  std::vector<int> load(e_count, 0);
  for (int x : assign) {
    ASSERT_TRUE(x >= 0 && x < e_count);
    ++load[x];
  }
  for (int l : load) EXPECT_EQ(l, n / e_count);
  EXPECT_EQ(assign[0], 2);
  EXPECT_EQ(assign[1], 3);
}

TEST(MoeDispatch, BaseGivesEveryExpertExactlySOverE) {
  auto world = testing::world();
  const int w = world->size();
  MoeOptions o;
  o.d_model = 8;
  o.num_experts = 4;
  o.router = pb::BASE;
  const int64_t global = 32, per = global / w, t0 = world->rank() * per;
  MoeLayer layer(o, make_process_groups(world, w), Device::cpu());
  Tensor x = testing::global_rows(1, t0, t0 + per, 8, 1.0f);
  // Skew the inputs towards one centroid so that greedy routing would be unbalanced.
  Param* c = testing::find_param(layer, ".router.centroids");
  ASSERT_NE(c, nullptr);
  for (int i = 0; i < 8; ++i) c->value.data<float>()[i] += 2.0f;  // expert 0's centroid
  for (int64_t i = 0; i < x.numel(); ++i) x.data<float>()[i] += 0.5f;
  Tensor y = Tensor::empty(x.shape(), DType::kF32);
  layer.forward(y, x, nullptr, true);
  for (int64_t l : layer.stats().load()) EXPECT_EQ(l, global / 4);
  EXPECT_EQ(layer.stats().dropped_world(), 0);
  // Evaluation is greedy: unbalanced here, since every item prefers expert 0 — and dropless, so
  // no item loses its expert to a capacity meant for the balanced training assignment.
  layer.forward(y, x, nullptr, false);
  EXPECT_GT(layer.stats().load(0), global / 4);
  EXPECT_GT(layer.stats().load(0), expert_capacity(o.capacity_factor, 1, global, 4));
  EXPECT_EQ(layer.stats().dropped_world(), 0);
}

// ⌈cf·k·S/E⌉ for the factor as written: float arithmetic would give 23 and 4 for the first two.
TEST(MoeDispatch, CapacityIsTheExactCeilingOfTheWrittenFactor) {
  EXPECT_EQ(expert_capacity(1.1f, 2, 40, 4), 22);
  EXPECT_EQ(expert_capacity(1.2f, 1, 10, 4), 3);
  EXPECT_EQ(expert_capacity(1.25f, 2, 4096, 8), 1280);
  EXPECT_EQ(expert_capacity(1.0f, 1, 10, 4), 3);  // 2.5 rounds up
  EXPECT_EQ(expert_capacity(1.0f, 2, 40, 4), 20);
  EXPECT_EQ(expert_capacity(0.3f, 1, 7, 2), 2);  // 1.05 rounds up
}

// MH-MoE's expert width rules against the plain MoE (h = 1) of the same d and F: FLOP_MATCHED
// costs a token the same expert FLOPs (h sub-tokens of width d/h), PARAM_MATCHED gives an expert
// the same number of weights.
TEST(MoeDispatch, ExpertWidthRulesMatchThePlainMoeInFlopsOrParameters) {
  MoeOptions plain;
  plain.d_model = 16;
  plain.num_experts = 4;
  const ExpertRange all{0, 4};
  auto weights = [](Experts& e) {
    int64_t n = 0;
    for (Param* p : e.params()) n += p->value.numel();
    return n;
  };
  for (pb::ExpertKind kind : {pb::FFN_GELU, pb::SWIGLU}) {
    plain.expert = kind;
    auto base = make_experts(plain, plain.item_width(), all, Device::cpu());
    MoeOptions mh = plain;
    mh.num_heads = 4;
    mh.expert_width = pb::MoeConfig::FLOP_MATCHED;
    auto flop = make_experts(mh, mh.item_width(), all, Device::cpu());
    EXPECT_EQ(flop->forward_flops(mh.num_heads), base->forward_flops(1));
    mh.expert_width = pb::MoeConfig::PARAM_MATCHED;
    auto param = make_experts(mh, mh.item_width(), all, Device::cpu());
    EXPECT_EQ(weights(*param), weights(*base));
    mh.expert_width = pb::MoeConfig::EXPLICIT;
    EXPECT_EQ(mh.hidden(), 4 * mh.item_width()) << "the default keeps today's rule";
  }
}

TEST(MoeDispatch, RenormalizingASingleChoiceIsRefused) {
  EXPECT_THROW(TopKGate(4, 1, true, 0.01f, 0.0f), Error);
  EXPECT_NO_THROW(TopKGate(4, 2, true, 0.01f, 0.0f));
}

TEST(MoeDispatch, ForcedExpertDropsExactlyTheOverflow) {
  auto world = testing::world();
  const int w = world->size(), me = world->rank();
  for (int k : {1, 2}) {
    MoeOptions o;
    o.d_model = 8;
    o.num_experts = 4;
    o.top_k = k;
    o.capacity_factor = 1.0f;
    const int64_t global = 40, per = global / w, t0 = me * per;
    for (int ep : {1, w}) {
      MoeLayer layer(o, make_process_groups(world, ep), Device::cpu());
      // Zero router weights: every logit is 0, every item picks experts 0 (then 1) on ties.
      testing::find_param(layer, ".router.w")->value.fill(0.0);
      Tensor x = testing::global_rows(1, t0, t0 + per, 8);
      Tensor y = Tensor::empty(x.shape(), DType::kF32);
      layer.forward(y, x, nullptr, true);
      const int64_t cap = static_cast<int64_t>(std::ceil(1.0 * k * global / 4));
      EXPECT_EQ(layer.stats().capacity(), cap);
      EXPECT_EQ(layer.stats().dropped_world(), k * (global - std::min(global, cap)));
      EXPECT_EQ(layer.stats().load(0), std::min(global, cap));
      // Selections count before capacity: every item chose expert 0 (and, with k 2, expert 1).
      EXPECT_EQ(layer.stats().selected(0), global);
      if (k == 2) {
        EXPECT_EQ(layer.stats().selected(1), global);
      }
      // The kept items are the first `cap` of the global batch (priority = batch position).
      auto yv = y.to_vector<float>();
      const std::vector<int32_t> pos = layer.exchange_plan().pos.to_vector<int32_t>();
      for (int64_t s = 0; s < per; ++s) {
        bool kept = t0 + s < cap;
        for (int j = 0; j < k; ++j) EXPECT_EQ(pos[s * k + j] >= 0, kept) << "item " << t0 + s;
        double norm = 0;
        for (int i = 0; i < 8; ++i) norm += std::fabs(yv[s * 8 + i]);
        if (kept) {
          EXPECT_GT(norm, 0.0);
        } else {
          EXPECT_EQ(norm, 0.0) << "a dropped token's MoE output is zero";
        }
      }
    }
  }
}

// Payload rows carry (source rank, item, choice); experts are a pure function of them, so every
// rank knows where every row must go.
int32_t expert_of(int rank, int64_t item, int j, int e_count) {
  return static_cast<int32_t>(mix64(rank * 1000003ull + item * 131ull + j) % e_count);
}

TEST(MoeDispatch, ProvenancePayloadsArriveWhereThePlanSays) {
  auto world = testing::world();
  const int w = world->size(), me = world->rank();
  for (int ep = 1; ep <= w; ++ep) {
    if (w % ep) continue;
    ProcessGroups g = make_process_groups(world, ep);
    const int e_count = 4 * ep, k = 2, e_local = e_count / ep;
    const int64_t items = 5 + 3 * me;  // uneven per rank
    MoeOptions o;
    o.num_experts = e_count;
    o.top_k = k;
    o.dropless = true;
    Routing r;
    r.items = items;
    r.k = k;
    std::vector<int32_t> experts;
    for (int64_t s = 0; s < items; ++s)
      for (int j = 0; j < k; ++j) experts.push_back(expert_of(me, s, j, e_count));
    r.expert = Tensor::from_vector(experts, {items, k});
    const SortedChoices sorted = sort_choices(r, e_count);
    CapacityPlan cap =
        plan_capacity(read_plan_counts(sorted, r).counts, items, k, o, *g.world_host);
    ExchangePlan plan = plan_exchange(sorted, cap, e_count, *g.ep_group_host);
    // Send rows: [world rank, item, choice].
    const std::vector<int32_t> send_item = plan.send_item.to_vector<int32_t>();
    const std::vector<int32_t> pos = plan.pos.to_vector<int32_t>();
    Tensor send = Tensor::empty({plan.send_total(), 3}, DType::kF32);
    for (int64_t row = 0; row < plan.send_total(); ++row) {
      int64_t s = send_item[row];
      int j = -1;
      for (int jj = 0; jj < k; ++jj)
        if (pos[s * k + jj] == row) j = jj;
      ASSERT_GE(j, 0);
      float* p = send.data<float>() + row * 3;
      p[0] = static_cast<float>(me);
      p[1] = static_cast<float>(s);
      p[2] = static_cast<float>(j);
    }
    Tensor recv = Tensor::empty({plan.recv_total(), 3}, DType::kF32);
    exchange_rows(recv, send, plan.layout(), *g.ep_group);
    Tensor em = Tensor::empty(recv.shape(), DType::kF32);
    gather_rows(em, recv, plan.expert_major_src);
    // Every row of local expert le was routed there by its sender; within an expert, rows are
    // ordered by source rank, then choice, then item.
    const int first = g.ep_group->rank() * e_local;
    for (int le = 0; le < e_local; ++le) {
      std::tuple<int, int, int> prev{-1, -1, -1};
      for (int64_t row = plan.expert_offsets[le]; row < plan.expert_offsets[le + 1]; ++row) {
        const float* p = em.data<float>() + row * 3;
        int src_ep = static_cast<int>(p[0]) % ep, s = static_cast<int>(p[1]),
            j = static_cast<int>(p[2]);
        EXPECT_EQ(expert_of(static_cast<int>(p[0]), s, j, e_count), first + le);
        EXPECT_EQ(static_cast<int>(p[0]) / ep, me / ep) << "rows stay inside the ep group";
        std::tuple<int, int, int> cur{src_ep, j, s};
        EXPECT_LT(prev, cur);
        prev = cur;
      }
    }
    // Every row routed to one of my experts by a member of my ep group arrived (dropless).
    int64_t expected = 0;
    for (int src = (me / ep) * ep; src < (me / ep + 1) * ep; ++src)
      for (int64_t s = 0; s < 5 + 3 * src; ++s)
        for (int j = 0; j < k; ++j) {
          int e = expert_of(src, s, j, e_count);
          expected += e >= first && e < first + e_local;
        }
    EXPECT_EQ(plan.recv_total(), expected);
    // The return trip puts each row back at its sender's pos.
    Tensor back = Tensor::empty(send.shape(), DType::kF32);
    exchange_rows(back, recv, plan.layout().reversed(), *g.ep_group);
    EXPECT_EQ(back.to_vector<float>(), send.to_vector<float>());
  }
}

TEST(MoeDispatch, MultiHeadWithOneHeadAndIdentityProjectionsIsPlainMoe) {
  auto world = testing::world();
  const int w = world->size();
  MoeOptions o;
  o.d_model = 8;
  o.num_experts = 4;
  o.top_k = 2;
  o.capacity_factor = 1.0f;
  MoeOptions mh = o;
  mh.mh_projections = true;
  mh.num_heads = 1;
  ProcessGroups g = make_process_groups(world, w);
  MoeLayer plain(o, g, Device::cpu());
  MhMoeLayer multi(mh, g, Device::cpu());
  for (const char* name : {".head.w", ".merge.w"}) {
    Tensor eye = testing::find_param(multi, name)->value;
    eye.fill(0.0);
    for (int i = 0; i < 8; ++i) eye.data<float>()[i * 8 + i] = 1.0f;
  }
  const int64_t per = 12, t0 = world->rank() * per;
  Tensor x = testing::global_rows(1, t0, t0 + per, 8);
  Tensor y1 = Tensor::empty(x.shape(), DType::kF32), y2 = Tensor::empty(x.shape(), DType::kF32);
  plain.forward(y1, x, nullptr, true);
  multi.forward(y2, x, nullptr, true);
  EXPECT_EQ(y1.to_vector<float>(), y2.to_vector<float>());
}

TEST(MoeDispatch, RanksWithNoTokensStillTakePartAndNumbersMatch) {
  auto world = testing::world();
  const int w = world->size(), me = world->rank();
  // Rank r holds 6·r tokens: rank 0 has none (and at np 1 the whole batch is empty).
  std::vector<int64_t> start(w + 1, 0);
  for (int r = 0; r < w; ++r) start[r + 1] = start[r] + 6 * r;
  const int64_t total = start[w], t0 = start[me], t1 = start[me + 1], d = 8;
  MoeOptions o;
  o.d_model = d;
  o.num_experts = 4;
  o.top_k = 2;
  o.capacity_factor = 0.75f;
  auto self = std::shared_ptr<Communicator>(world->split(me, 0, "self"));
  MoeLayer ref(o, make_process_groups(self, 1), Device::cpu());
  MoeLayer layer(o, make_process_groups(world, w), Device::cpu());
  auto run = [&](MoeLayer& l, int64_t a, int64_t b) {
    Tensor x = testing::global_rows(1, a, b, d), dy = testing::global_rows(2, a, b, d);
    Tensor y = Tensor::empty({b - a, d}, DType::kF32), dx = Tensor::empty({b - a, d}, DType::kF32);
    l.zero_grad();
    l.forward(y, x, nullptr, true);
    l.backward(dx, dy);
    l.reduce_gradients();
    return std::make_pair(y.to_vector<float>(), dx.to_vector<float>());
  };
  auto [ry, rdx] = run(ref, 0, total);
  auto [y, dx] = run(layer, t0, t1);
  ASSERT_EQ(y.size(), static_cast<size_t>((t1 - t0) * d));
  for (int64_t i = 0; i < (t1 - t0) * d; ++i) {
    EXPECT_NEAR(y[i], ry[t0 * d + i], 2e-5 * (1 + std::fabs(ry[t0 * d + i])));
    EXPECT_NEAR(dx[i], rdx[t0 * d + i], 2e-5 * (1 + std::fabs(rdx[t0 * d + i])));
  }
  auto pr = ref.params(), pl = layer.params();
  for (size_t i = 0; i < pl.size(); ++i) {
    Tensor want = pr[i]->grad;
    if (pl[i]->is_expert)
      want = want.slice_rows(layer.first_expert(), layer.first_expert() + pl[i]->grad.dim(0));
    auto g = pl[i]->grad.to_vector<float>(), wv = want.to_vector<float>();
    for (size_t j = 0; j < g.size(); ++j)
      EXPECT_NEAR(g[j], wv[j], 2e-5 * (1 + std::fabs(wv[j]))) << pl[i]->name;
  }
  EXPECT_EQ(layer.stats().items_world(), total);
}

// The routing and the plan are ops on the layer's device: a pass reads the host once — the plan's
// counts (which size the all-to-all-v) and the router's loss sums, in one copy — and the backward
// not at all; BASE's balanced assignment adds one read each way (its documented exception). Counted
// on the CPU, where every such read would be a device→host copy on a GPU.
TEST(MoeDispatch, RoutingAndPlanReadTheHostOncePerPass) {
  auto world = testing::world();
  const int w = world->size();
  for (const testing::MoeCase& c : testing::moe_cases(testing::small_moe_options(5))) {
    SCOPED_TRACE(c.name);
    std::unique_ptr<TokenMoe> layer =
        make_token_moe(c.o, make_process_groups(world, w), Device::cpu());
    const int64_t per = 16, t0 = world->rank() * per;
    testing::forward_backward(*layer, t0, t0 + per);
    const pb::MoeLayerStats& st = layer->core().stats();
    const int extra = c.o.router == pb::BASE ? 1 : 0;
    EXPECT_EQ(st.host_syncs_forward(), 1 + extra);
    EXPECT_EQ(st.host_syncs_backward(), extra);
  }
}

}  // namespace
}  // namespace sy
