// The planner (`switchyard plan`): the config-only cost of a model equals what the built model
// reports (FLOPs per token, weights, expert weights) for every family and MoE variant;
// the collective costs follow the α-β model their header states (worked by hand here); a step's
// projection behaves as its parts must (ep shrinks memory, not expert FLOPs; a hierarchical
// all-to-all moves the same network bytes in fewer messages); every shipped hardware profile
// loads; bad input fails with a message that says what to do.
#include <gtest/gtest.h>

#include <cmath>

#include "models/language_model.h"
#include "models/model_cost.h"
#include "planner/hardware.h"
#include "planner/plan.h"
#include "planner/validation.h"
#include "runtime/core/config.h"
#include "tests/model_test_util.h"
#include "tests/test_world.h"

namespace sy {
namespace {

using testing::tiny;

// Every family of the catalogue, and token-MoE variants beyond it.
std::vector<pb::RunConfig> covered_configs() {
  std::vector<pb::RunConfig> out = testing::families();
  for (const char* extra :
       {"family: TRANSFORMER_MOE moe { num_experts: 4 router: XMOE_COSINE xmoe_dim: 3 "
        "xmoe_learn_temperature: true }",
        "family: TRANSFORMER_MOE moe { num_experts: 4 router: HASH expert_bias: true }",
        "family: TRANSFORMER_MOE moe { num_experts: 4 router: BASE }",
        "family: TRANSFORMER_MOE moe { num_experts: 4 router: BASE base_form: GATED_MIX }",
        "family: TRANSFORMER_MOE moe_freq: 2 tie_embeddings: false moe { "
        "num_experts: 4 top_k: 2 expert: SWIGLU expert_bias: true }",
        "family: MH_MOE moe { num_experts: 4 top_k: 2 num_heads: 2 expert_width: PARAM_MATCHED "
        "dropless: true }"})
    out.push_back(tiny(extra));
  return out;
}

TEST(ModelCost, EqualsTheBuiltModelForEveryFamily) {
  auto world = testing::world();
  auto self = std::shared_ptr<Communicator>(world->split(world->rank(), 0, "self"));
  ProcessGroups g = make_process_groups(self, 1);
  for (const pb::RunConfig& c : covered_configs()) {
    SCOPED_TRACE(c.model().ShortDebugString());
    LanguageModel model(c, g, Device::cpu());
    const ModelCost cost = model_cost(c);
    EXPECT_NEAR(cost.forward_flops_per_token(), model.forward_flops_per_token(),
                1e-12 * model.forward_flops_per_token());
    EXPECT_EQ(cost.weight_count(), model.parameter_count());
    int64_t experts = 0;
    for (Param* p : model.params()) experts += p->is_expert ? p->value.numel() : 0;
    EXPECT_EQ(cost.expert_weights(), experts);
  }
}

TEST(ModelCost, RefusesAnUnsetFamilyNamingTheKnownOnes) {
  try {
    model_cost(tiny("family: MODEL_FAMILY_UNSPECIFIED"));
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("SMLP, M2_GPT or M2_BERT"), std::string::npos) << e.what();
  }
}

pb::HardwareProfile test_profile() {
  pb::HardwareProfile hw;
  hw.set_name("test");
  hw.set_peak_bf16_tflops(1000);
  hw.set_peak_fp32_tflops(100);
  hw.set_gemm_efficiency(0.5);
  hw.set_memory_gb(80);
  hw.set_memory_gbs(2000);
  hw.set_intra_node_gbs(400);
  hw.set_intra_node_latency_us(10);
  hw.set_inter_node_gbs(50);
  hw.set_inter_node_latency_us(20);
  hw.set_message_us(1);
  return hw;
}

// Worked by hand: 8 GB from each of 8 ranks of one node: 7 GB leave over NVLink at 400 GB/s
// (17.5 ms), plus one 10 us collective and 7 messages of 1 us.
TEST(CollectiveCost, FlatAllToAllInsideOneNode) {
  const CollectiveCost c = all_to_all_cost(test_profile(), ep_group_span(8, 8), 8e9, pb::FLAT);
  EXPECT_DOUBLE_EQ(c.intra_bytes, 7e9);
  EXPECT_DOUBLE_EQ(c.inter_bytes, 0);
  EXPECT_EQ(c.messages, 7);
  EXPECT_NEAR(c.bandwidth_s, 17.5e-3, 1e-12);
  EXPECT_NEAR(c.fixed_s, 17e-6, 1e-12);
  const CollectiveCost h =
      all_to_all_cost(test_profile(), ep_group_span(8, 8), 8e9, pb::HIERARCHICAL);
  EXPECT_DOUBLE_EQ(h.seconds(), c.seconds());  // one node: hierarchical is flat
}

// 4 nodes x 8: flat sends 24/32 of the bytes over the network (at 50 GB/s: the bottleneck) and
// 31 messages; hierarchical sends 3/4 of them over the network too, after and before two NVLink
// hops of 7/8, in 7 + 3 + 7 = 17 messages.
TEST(CollectiveCost, HierarchicalMovesTheSameNetworkBytesInFewerMessages) {
  const pb::HardwareProfile hw = test_profile();
  const GroupSpan span = ep_group_span(32, 8);
  EXPECT_EQ(span.nodes, 4);
  EXPECT_EQ(span.per_node, 8);
  const CollectiveCost f = all_to_all_cost(hw, span, 32e6, pb::FLAT);
  const CollectiveCost h = all_to_all_cost(hw, span, 32e6, pb::HIERARCHICAL);
  EXPECT_DOUBLE_EQ(f.inter_bytes, 24e6);
  EXPECT_DOUBLE_EQ(h.inter_bytes, 24e6);
  EXPECT_EQ(f.messages, 31);
  EXPECT_EQ(h.messages, 17);
  EXPECT_NEAR(f.bandwidth_s, 24e6 / 50e9, 1e-15);
  EXPECT_NEAR(h.bandwidth_s, 2 * 28e6 / 400e9 + 24e6 / 50e9, 1e-15);
  EXPECT_NEAR(f.fixed_s, (10 + 20 + 31) * 1e-6, 1e-12);
  EXPECT_NEAR(h.fixed_s, (2 * 10 + 20 + 17) * 1e-6, 1e-12);
  // Small messages: fewer messages win; large ones: the extra NVLink hops lose.
  EXPECT_LT(all_to_all_cost(hw, span, 32e3, pb::HIERARCHICAL).seconds(),
            all_to_all_cost(hw, span, 32e3, pb::FLAT).seconds());
  EXPECT_GT(h.seconds(), f.seconds());
}

TEST(CollectiveCost, RingAllReduce) {
  const CollectiveCost c = all_reduce_cost(test_profile(), 4, true, 1e9);
  EXPECT_NEAR(c.bandwidth_s, 2 * 1e9 * 3 / 4 / 50e9, 1e-15);
  EXPECT_NEAR(c.fixed_s, (20 + 6) * 1e-6, 1e-12);
  EXPECT_EQ(all_reduce_cost(test_profile(), 1, true, 1e9).seconds(), 0);
}

pb::RunConfig moe_config() {
  return parse_config_text(
      "model { family: TRANSFORMER_MOE vocab_size: 1000 seq_len: 1024 d_model: 1024 n_layers: 4 "
      "n_heads: 8 moe { num_experts: 16 top_k: 2 d_expert: 4096 } } data { global_batch: 512 } "
      "precision: BF16",
      "test");
}

TEST(StepProjection, EpShrinksMemoryNotExpertWorkAndOverlapHidesExchange) {
  const pb::RunConfig c = moe_config();
  const ModelCost m = model_cost(c);
  const Cluster cl{2, 8};
  const pb::HardwareProfile hw = test_profile();
  const StepProjection e1 = project_step(m, c, cl, hw, {1, pb::FLAT, false});
  const StepProjection e8 = project_step(m, c, cl, hw, {8, pb::FLAT, false});
  const StepProjection e8o = project_step(m, c, cl, hw, {8, pb::FLAT, true});
  ASSERT_TRUE(e1.invalid.empty() && e8.invalid.empty() && e8o.invalid.empty());
  EXPECT_DOUBLE_EQ(e1.tokens_per_gpu, 512.0 * 1024 / 16);
  EXPECT_DOUBLE_EQ(e1.time.expert_gemm, e8.time.expert_gemm);
  EXPECT_EQ(e1.time.a2a, 0);  // an ep group of one rank exchanges nothing
  EXPECT_GT(e8.time.a2a, 0);
  EXPECT_LT(e8.memory.weights, e1.memory.weights);
  EXPECT_NEAR(e1.memory.weights - e8.memory.weights, m.expert_weights() * 6.0 * 7 / 8, 1.0);
  EXPECT_LE(e8o.time.a2a_exposed, e8.time.a2a_exposed + 2 * 4 * 20e-6);
  EXPECT_GT(e8o.chunks, 1);
  // MFU cannot beat the GEMM efficiency; the step is at least its compute.
  EXPECT_LT(e8.mfu, hw.gemm_efficiency());
  EXPECT_GE(e8.time.step, e8.time.dense_gemm + e8.time.expert_gemm);
  const double flops = 3 * m.forward_flops_per_token() * e8.tokens_per_gpu;
  EXPECT_NEAR(e8.model_tflops_per_gpu, flops / e8.time.step / 1e12, 1e-9);
  // Experts' grouped GEMMs at half the dense rate: their time doubles, nothing else moves.
  pb::HardwareProfile slow = hw;
  slow.set_grouped_gemm_efficiency(0.5);
  const StepProjection g = project_step(m, c, cl, slow, {8, pb::FLAT, false});
  EXPECT_NEAR(g.time.expert_gemm, 2 * e8.time.expert_gemm, 1e-12);
  EXPECT_DOUBLE_EQ(g.time.dense_gemm, e8.time.dense_gemm);
}

TEST(Plan, ComparesOnlyValidChoicesAndRecommendsTheFastestThatFits) {
  const pb::RunConfig c = moe_config();
  const ModelCost m = model_cost(c);
  const std::vector<StepProjection> p = compare_choices(m, c, Cluster{4, 8}, test_profile());
  bool hierarchical = false;
  for (const StepProjection& s : p) {
    EXPECT_TRUE(s.invalid.empty());
    EXPECT_EQ(16 % s.choice.ep, 0);  // never more ranks than experts
    hierarchical = hierarchical || s.choice.a2a == pb::HIERARCHICAL;
    if (s.choice.a2a == pb::HIERARCHICAL) {
      EXPECT_GE(s.choice.ep, 16);  // spans two nodes
    }
  }
  EXPECT_TRUE(hierarchical);
  const int best = recommend(p);
  ASSERT_GE(best, 0);
  for (const StepProjection& s : p)
    if (s.fits) {
      EXPECT_GE(s.time.step, 0.99 * p[best].time.step);
    }
  // A dense model: ep 1 only. A batch the world does not divide: nothing, and why.
  const pb::RunConfig dense = tiny("family: TRANSFORMER");
  EXPECT_EQ(plan_choices(model_cost(dense), dense, Cluster{1, 4}).size(), 1u);
  EXPECT_NE(why_invalid(m, c, Cluster{3, 8}, {1, pb::FLAT, false}).find("global_batch"),
            std::string::npos);
}

TEST(Hardware, EveryShippedProfileLoadsAndBadOnesSayWhy) {
  const std::vector<std::string> names = hardware_profile_names();
  for (const char* n : {"h100_sxm", "h200", "a100_sxm", "h800"}) {
    EXPECT_NE(std::find(names.begin(), names.end(), n), names.end()) << n;
    EXPECT_EQ(load_hardware_profile(n).name(), n);
  }
  try {
    load_hardware_profile("no_such_gpu");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("h100_sxm"), std::string::npos) << e.what();
  }
  pb::HardwareProfile hw = test_profile();
  hw.clear_inter_node_gbs();
  try {
    validate_hardware_profile(hw);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("inter_node_gbs"), std::string::npos) << e.what();
  }
}

// The validation table (launch/results/README.md): every published figure projected within ±15%,
// or the row says why not; a row set from the very figure it is compared with says which input.
TEST(Validation, EveryRowIsWithinFifteenPercentOrSaysWhyNot) {
  const std::vector<ValidationRow> rows = validation_rows();
  ASSERT_GE(rows.size(), 10u);
  int evidence = 0;
  for (const ValidationRow& r : rows) {
    SCOPED_TRACE(r.what);
    EXPECT_GT(r.projected, 0);
    EXPECT_FALSE(r.source.empty());
    EXPECT_FALSE(r.assumed.empty());
    if (!r.within()) {
      EXPECT_FALSE(r.why_off.empty());
    }
    if (r.within() && r.by_input.empty()) ++evidence;
  }
  EXPECT_GE(evidence, 4);  // rows that agree without having been set from their own figure
}

}  // namespace
}  // namespace sy
