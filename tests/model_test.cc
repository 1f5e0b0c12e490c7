// Whole language models on the CPU: the gradient of the global loss (cross-entropy + MoE auxiliary
// losses) against finite differences for every family, and a full training step — forward,
// backward, gradient reduction, AdamW — giving the same loss and the same updated parameters at
// every world size (np 1, 2, 4) and ep, with the same global batch; and the overlap scheduler
// (parallel.overlap_chunks, overlap_auto) changes no number of that step in any MoE family,
// including sMLP's feature-space sMoE.
#include <gtest/gtest.h>

#include <cmath>

#include "models/language_model.h"
#include "runtime/core/config.h"
#include "runtime/core/random.h"
#include "runtime/train/optimizer.h"
#include "tests/finite_difference.h"
#include "tests/model_test_util.h"
#include "tests/test_world.h"

namespace sy {
namespace {

using testing::families;
using testing::tokens;

TEST(Model, GradientsOfEveryFamilyMatchFiniteDifferences) {
  auto world = testing::world();
  auto self = std::shared_ptr<Communicator>(world->split(world->rank(), 0, "self"));
  ProcessGroups g = make_process_groups(self, 1);
  for (const pb::RunConfig& c : families()) {
    SCOPED_TRACE(pb::ModelFamily_Name(c.model().family()));
    LanguageModel model(c, g, Device::cpu());
    // Unit-scale embeddings: at GPT-2's 0.02 the first LayerNorm makes the loss so curved in them
    // that a finite difference needs h ≪ 1e-3, below what float forward passes resolve.
    fill_normal(model.params()[0]->value, 3, 9, 1.0f);
    std::vector<int32_t> ids, targets;
    tokens(ids, targets, 0, 2, 6);
    // The routing of every MoE layer: a finite difference that changes it is not a derivative.
    auto routing = [&] {
      std::vector<int32_t> sig;
      for (const MoeLayer* l : model.moe_layers()) {
        const std::vector<int32_t> expert = l->routing().expert.to_vector<int32_t>();
        sig.insert(sig.end(), expert.begin(), expert.end());
        for (int32_t p : l->exchange_plan().pos.to_vector<int32_t>()) sig.push_back(p >= 0);
      }
      return sig;
    };
    auto loss = [&] {
      LossReport r = model.forward(ids, targets, 2, true);
      return r.loss + r.aux;
    };
    loss();
    model.zero_grad();
    model.backward();
    testing::GradientCheck check(loss, 2e-3, 2e-3, 3e-2, routing);
    for (Param* p : model.params()) check.check_param(*p, 6);
    const int checked = check.checked(), skipped = check.skipped();
    EXPECT_LE(skipped * 10, checked + skipped) << "too many routing flips";
    EXPECT_GT(checked, 40);
  }
}

// One evaluation forward of a tiny config on this rank alone (two sequences of the test tokens).
LossReport evaluate_alone(const std::string& family_text) {
  auto world = testing::world();
  auto self = std::shared_ptr<Communicator>(world->split(world->rank(), 0, "self"));
  LanguageModel m(testing::tiny(family_text), make_process_groups(self, 1), Device::cpu());
  std::vector<int32_t> ids, targets;
  tokens(ids, targets, 0, 2, 6);
  return m.forward(ids, targets, 2, false);
}

// model.gelu reaches every GELU of the model and moe.gelu overrides it for the experts: in a
// Transformer-MoE whose every FFN is a MoE layer, erf in the model but tanh in the experts is the
// all-tanh model exactly; in gMLP, sMLP and M2 the choice changes the loss.
TEST(Model, TheGeluChoiceReachesEveryGeluAndTheExpertsOverrideIt) {
  auto loss = [](const std::string& text) { return evaluate_alone(text).loss; };
  const std::string moe = "family: TRANSFORMER_MOE moe { num_experts: 4 top_k: 2 dropless: true ";
  EXPECT_NE(loss(moe + "} gelu: GELU_ERF"), loss(moe + "} gelu: GELU_TANH"));
  EXPECT_EQ(loss(moe + "gelu: GELU_TANH } gelu: GELU_ERF"), loss(moe + "} gelu: GELU_TANH"));
  for (const char* f : {"family: GMLP", "family: M2_GPT d_ff: 16",
                        "family: SMLP n_dense_blocks: 1 n_sparse_blocks: 1 d_ff: 8 moe { "
                        "num_experts: 4 }",
                        "family: TRANSFORMER"}) {
    SCOPED_TRACE(f);
    EXPECT_NE(loss(std::string(f) + " gelu: GELU_ERF"), loss(std::string(f) + " gelu: GELU_TANH"));
  }
}

// model.norm: RMSNorm has a gain and no bias, so the block norms lose their biases.
TEST(Model, TheNormChoiceReachesTheTransformerBlocks) {
  auto world = testing::world();
  auto self = std::shared_ptr<Communicator>(world->split(world->rank(), 0, "self"));
  ProcessGroups g = make_process_groups(self, 1);
  const std::string moe = "family: TRANSFORMER_MOE moe { num_experts: 4 } ";
  LanguageModel ln(testing::tiny(moe), g, Device::cpu());
  LanguageModel rms(testing::tiny(moe + "norm: RMSNORM"), g, Device::cpu());
  const int64_t norms = 2 * 2, d = 8;  // two blocks, two pre-norms each
  EXPECT_EQ(ln.parameter_count() - rms.parameter_count(), norms * d);
}

// BASE's form reaches sMLP's tMoE (which is BASE whatever moe.router says) and BASE
// Transformer-MoEs: in fairseq's form the layer normalises inside and the block has no FFN
// pre-norm, so the model holds one LayerNorm (2·d) fewer per such layer.
TEST(Model, BaseFormReachesTheBlocks) {
  auto world = testing::world();
  auto self = std::shared_ptr<Communicator>(world->split(world->rank(), 0, "self"));
  ProcessGroups g = make_process_groups(self, 1);
  const std::string smlp = "family: SMLP n_dense_blocks: 1 n_sparse_blocks: 1 d_ff: 8 ";
  const std::string base = "family: TRANSFORMER_MOE moe { router: BASE num_experts: 4 ";
  for (const std::string& text : {smlp + "moe { num_experts: 4 ", base}) {
    LanguageModel fairseq(testing::tiny(text + "}"), g, Device::cpu());
    LanguageModel mix(testing::tiny(text + "base_form: GATED_MIX }"), g, Device::cpu());
    int64_t layers = 0;  // the BASE layers (sMLP's feature MoE is not one)
    for (const MoeLayer* l : fairseq.moe_layers()) {
      if (l->options().router != pb::BASE) continue;
      EXPECT_TRUE(l->normalizes_input()) << text;
      ++layers;
    }
    for (const MoeLayer* l : mix.moe_layers()) EXPECT_FALSE(l->normalizes_input()) << text;
    const int64_t d = 8;
    EXPECT_GT(layers, 0);
    EXPECT_EQ(mix.parameter_count() - fairseq.parameter_count(), layers * 2 * d) << text;
  }
}

// score_suffix_only: every family counts the positions partial prediction is scored on.
TEST(Model, SuffixOnlyScoringCountsThePartialPredictionPositions) {
  auto targets_of = [](const std::string& text) { return evaluate_alone(text).targets; };
  const int64_t partial = targets_of(
      "family: SMLP n_dense_blocks: 1 n_sparse_blocks: 1 d_ff: 8 feature_routing: "
      "PARTIAL_PREDICTION prefix_fraction: 0.34 moe { num_experts: 4 }");
  EXPECT_EQ(partial, 2 * 3);  // T 6, prefix ⌈2.04⌉ = 3: positions 3, 4, 5 of two sequences
  for (const char* f : {"family: TRANSFORMER", "family: GMLP", "family: M2_GPT d_ff: 16"}) {
    SCOPED_TRACE(f);
    EXPECT_EQ(targets_of(std::string(f) + " score_suffix_only: true prefix_fraction: 0.34"),
              partial);
    EXPECT_EQ(targets_of(f), 2 * 5);  // every position but the one the test leaves unlabelled
  }
}

// The napkin math against the parameters: a token's forward pass multiplies by every weight
// matrix it meets once (2 FLOPs per weight), by its router and k experts per item (h items per
// token in MH-MoE; a Monarch or block-diagonal factor also costs one multiply-add per entry), and
// attention adds 2·T·d multiply-adds per layer (scores and weighted sum, no causal halving).
TEST(Model, ForwardFlopsAreTwoPerWeightMetPlusAttention) {
  auto world = testing::world();
  auto self = std::shared_ptr<Communicator>(world->split(world->rank(), 0, "self"));
  ProcessGroups g = make_process_groups(self, 1);
  for (int f : {0, 1, 2, 8}) {  // Transformer, Transformer-MoE, MH-MoE (SwiGLU, Monarch experts)
    const pb::RunConfig c = families()[f];
    SCOPED_TRACE(pb::ModelFamily_Name(c.model().family()));
    LanguageModel model(c, g, Device::cpu());
    const pb::ModelConfig& m = c.model();
    const double d = m.d_model(), t = m.seq_len(), v = m.vocab_size();
    const double h = m.family() == pb::MH_MOE ? m.moe().num_heads() : 1;
    double macs = m.n_layers() * 2 * t * d + (m.tie_embeddings() ? v * d : 0);
    for (Param* p : model.params()) {
      const double n = static_cast<double>(p->value.numel());
      if (p->value.ndim() < 2 || p->name.rfind("embed", 0) == 0) continue;  // norms, biases
      if (p->is_expert)
        macs += h * m.moe().top_k() * n / m.moe().num_experts();
      else if (p->name.find(".router.") != std::string::npos)
        macs += h * n;
      else
        macs += n;
    }
    EXPECT_NEAR(model.forward_flops_per_token(), 2 * macs, 1e-9 * macs);
  }
}

TEST(Model, TrainingStepIsTheSameAtEveryWorldSizeAndEp) {
  auto world = testing::world();
  const int w = world->size(), me = world->rank();
  auto self = std::shared_ptr<Communicator>(world->split(me, 0, "self"));
  const int64_t global = 4, t = 6, per = global / w;
  for (int f : {1, 2, 4, 5, 6, 7, 8, 19}) {  // the MoE families and M2 (data-parallel)
    pb::RunConfig c = families()[f];
    // Adam divides by √v + eps: with the default eps a gradient that is zero in exact arithmetic
    // (a key bias under softmax) but 1e-9 in floats still moves its weight by ~lr/10, and that
    // rounding differs between summation orders. eps 1e-6 keeps such noise below 1e-3·lr.
    c.mutable_optimizer()->set_eps(1e-6f);
    SCOPED_TRACE(pb::ModelFamily_Name(c.model().family()));
    auto step = [&](LanguageModel& m, const ProcessGroups& g, int64_t first, int64_t seqs) {
      std::vector<int32_t> ids, targets;
      tokens(ids, targets, first, seqs, t);
      m.zero_grad();
      LossReport r = m.forward(ids, targets, seqs, true);
      m.backward();
      m.reduce_gradients();
      AdamW opt(m.params(), c.optimizer());
      opt.step(1e-2f, g);
      return r;
    };
    ProcessGroups gref = make_process_groups(self, 1);
    LanguageModel ref(c, gref, Device::cpu());
    LossReport rr = step(ref, gref, 0, global);
    for (int ep = 1; ep <= w; ++ep) {
      if (w % ep) continue;
      ProcessGroups g = make_process_groups(world, ep);
      LanguageModel m(c, g, Device::cpu());
      LossReport r = step(m, g, me * per, per);
      EXPECT_NEAR(r.loss, rr.loss, 1e-6 * (1 + rr.loss)) << "ep " << ep;
      EXPECT_NEAR(r.aux, rr.aux, 1e-6 * (1 + rr.aux)) << "ep " << ep;
      auto pr = ref.params(), pm = m.params();
      ASSERT_EQ(pm.size(), pr.size());
      for (size_t i = 0; i < pm.size(); ++i) {
        Tensor want = pr[i]->value;
        if (pm[i]->is_expert) {
          int64_t el = pm[i]->value.dim(0), first = g.ep_group->rank() * el;
          want = want.slice_rows(first, first + el);
        }
        Tensor want_g = pr[i]->grad;
        if (pm[i]->is_expert) {
          int64_t el = pm[i]->value.dim(0), first = g.ep_group->rank() * el;
          want_g = want_g.slice_rows(first, first + el);
        }
        // Gradients (after reduction and clipping) and updated weights agree to float rounding:
        // relative to the tensor's largest gradient, since a small element can be a sum that
        // cancels (whose rounding depends on the BLAS kernels' blocking).
        auto ga = pm[i]->grad.to_vector<float>(), gb = want_g.to_vector<float>();
        float scale = 0;
        for (float v : gb) scale = std::max(scale, std::fabs(v));
        for (size_t j = 0; j < ga.size(); ++j)
          ASSERT_NEAR(ga[j], gb[j], 1e-5 * (std::fabs(gb[j]) + scale) + 1e-7)
              << pm[i]->name << ".grad ep " << ep;
        auto a = pm[i]->value.to_vector<float>(), b = want.to_vector<float>();
        for (size_t j = 0; j < a.size(); ++j)
          ASSERT_NEAR(a[j], b[j], 1e-5 * std::fabs(b[j]) + 2e-5) << pm[i]->name << " ep " << ep;
      }
    }
  }
}

TEST(Model, OverlapChangesNoNumberOfATrainingStep) {
  auto world = testing::world();
  const int w = world->size(), me = world->rank();
  const int64_t global = 4, t = 6, per = global / w;
  for (int f : {1, 2, 4, 5, 8}) {  // Switch, MH-MoE, both sMLP routings, Monarch experts
    for (int ep : {1, w}) {
      SCOPED_TRACE(pb::ModelFamily_Name(families()[f].model().family()) + " ep " +
                   std::to_string(ep) + " family " + std::to_string(f));
      ProcessGroups g = make_process_groups(world, ep);
      auto run = [&](int chunks, bool automatic) {
        pb::RunConfig c = families()[f];
        c.mutable_parallel()->set_overlap_chunks(chunks);
        c.mutable_parallel()->set_overlap_auto(automatic);
        LanguageModel m(c, g, Device::cpu());
        std::vector<int32_t> ids, targets;
        tokens(ids, targets, me * per, per, t);
        m.zero_grad();
        LossReport r = m.forward(ids, targets, per, true);
        m.backward();
        m.reduce_gradients();
        std::vector<std::vector<float>> out = {
            {static_cast<float>(r.loss), static_cast<float>(r.aux)}};
        for (Param* p : m.params()) out.push_back(p->grad.to_vector<float>());
        return out;
      };
      const auto off = run(1, false);
      for (int n : {2, 3}) EXPECT_EQ(run(n, false), off) << n << " chunks";
      EXPECT_EQ(run(1, true), off) << "auto";
    }
  }
}

}  // namespace
}  // namespace sy
