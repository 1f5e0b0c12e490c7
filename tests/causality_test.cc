// Causality of whole models: changing the tokens after position t must leave the logits at
// positions ≤ t unchanged, for every causal family, in evaluation mode — bitwise for the dense
// families. With MoE layers the future tokens may change which rows an expert's GEMM sees (their
// routing, or in capacity mode a drop), and a BLAS GEMM need not give a row bitwise the same
// result in a batch of another size; those families are held to 1e-5 relative, far below what
// any real leak moves (the negative control below moves logits by O(1)). (In training,
// capacity drops and BASE's balanced assignment are decided over the whole batch, future tokens
// included — a property of those methods, so the check runs with dropless MoE and greedy BASE.
// Capacity drops stay batch-level decisions at evaluation too: a token early in sequence 2 can be
// dropped because tokens late in sequence 1 took the expert's capacity. Evaluate and generate with
// dropless MoE layers.)
// sMLP with partial prediction routes each sequence's channel chunks on its first Tp positions:
// it is causal from position Tp − 1 on, which is where its loss counts. The negative control — a
// feature router that reads whole channels (Tp = T) — must fail the same check.
#include <gtest/gtest.h>

#include <cmath>

#include "models/language_model.h"
#include "runtime/core/config.h"
#include "tests/test_world.h"

namespace sy {
namespace {

// The first position p ≥ first at which perturbing the tokens after p moved a logit at a
// position ≤ p; -1 when none did.
int64_t first_leak(LanguageModel& model, int64_t first, double tol = 0.0) {
  const int64_t t = model.seq_len(), v = model.vocab(), batch = 2;
  std::vector<int32_t> ids(batch * t), targets(batch * t, 0);
  for (int64_t i = 0; i < batch * t; ++i) ids[i] = static_cast<int32_t>((i * 37 + 11) % v);
  model.forward(ids, targets, batch, false);
  auto base = model.logits().to_vector<float>();
  for (int64_t p = first; p + 1 < t; ++p) {
    std::vector<int32_t> changed = ids;
    for (int64_t b = 0; b < batch; ++b)
      for (int64_t q = p + 1; q < t; ++q) changed[b * t + q] = (changed[b * t + q] + 101) % v;
    model.forward(changed, targets, batch, false);
    auto now = model.logits().to_vector<float>();
    for (int64_t b = 0; b < batch; ++b)
      for (int64_t q = 0; q <= p; ++q)
        for (int64_t j = 0; j < v; ++j)
          if (std::fabs(now[(b * t + q) * v + j] - base[(b * t + q) * v + j]) >
              tol * (1.0 + std::fabs(base[(b * t + q) * v + j])))
            return p;
  }
  return -1;
}

pb::RunConfig config(const std::string& model) {
  return parse_config_text(
      "model { vocab_size: 64 seq_len: 10 d_model: 16 n_layers: 2 "
      "n_heads: 2 d_ff: 16 " +
          model + " } data { global_batch: 2 }",
      "test");
}

class CausalityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto world = testing::world();
    self_ = std::shared_ptr<Communicator>(world->split(world->rank(), 0, "self"));
    groups_ = make_process_groups(self_, 1);
  }
  std::shared_ptr<Communicator> self_;
  ProcessGroups groups_;
};

TEST_F(CausalityTest, EveryCausalFamilyIsCausal) {
  for (const char* m : {"family: TRANSFORMER", "family: TRANSFORMER position: LEARNED",
                        "family: TRANSFORMER position: NONE", "family: GMLP"}) {
    LanguageModel model(config(m), groups_, Device::cpu());
    EXPECT_EQ(first_leak(model, 0), -1) << m;
  }
  for (const char* m :
       {"family: TRANSFORMER_MOE moe { num_experts: 4 top_k: 2 dropless: true }",
        "family: TRANSFORMER_MOE moe { num_experts: 4 router: HASH dropless: true }",
        "family: MH_MOE moe { num_experts: 4 top_k: 2 num_heads: 2 dropless: true }",
        "family: SMLP n_dense_blocks: 1 n_sparse_blocks: 1 moe { num_experts: 4 dropless: true "
        "}"}) {
    LanguageModel model(config(m), groups_, Device::cpu());
    EXPECT_EQ(first_leak(model, 0, 1e-5), -1) << m;
  }
}

TEST_F(CausalityTest, PartialPredictionIsCausalWhereItsLossCounts) {
  LanguageModel model(
      config("family: SMLP n_dense_blocks: 1 n_sparse_blocks: 1 feature_routing: "
             "PARTIAL_PREDICTION prefix_fraction: 0.3 moe { num_experts: 4 dropless: true }"),
      groups_, Device::cpu());
  ASSERT_EQ(model.prefix_len(), 3);
  EXPECT_EQ(first_leak(model, model.prefix_len() - 1, 1e-5), -1);
}

TEST_F(CausalityTest, TheBidirectionalM2MixerFailsIt) {
  // Negative control for the mixers: M2-BERT's bidirectional long convolution reads the future.
  LanguageModel model(config("family: M2_BERT"), groups_, Device::cpu());
  EXPECT_NE(first_leak(model, 0, 1e-5), -1);
}

TEST_F(CausalityTest, BidirectionalAttentionFailsIt) {
  // The BERT baseline attends to the whole sequence: the test must see it read the future.
  LanguageModel model(config("family: BERT"), groups_, Device::cpu());
  EXPECT_NE(first_leak(model, 0, 1e-5), -1);
}

TEST_F(CausalityTest, AFeatureRouterThatReadsWholeChannelsIsCaught) {
  // Negative control: the gate reads all T positions of each chunk (prefix_fraction 1), so its
  // choice — and every position's output — depends on future tokens.
  LanguageModel model(
      config("family: SMLP n_dense_blocks: 1 n_sparse_blocks: 1 feature_routing: "
             "PARTIAL_PREDICTION prefix_fraction: 1.0 moe { num_experts: 4 dropless: true }"),
      groups_, Device::cpu());
  EXPECT_NE(first_leak(model, 2, 1e-5), -1);
}

}  // namespace
}  // namespace sy
