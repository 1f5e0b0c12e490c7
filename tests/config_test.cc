// Config parsing (positions of errors), overrides and the cross-field checks.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <functional>
#include <regex>

#include "runtime/core/config.h"
#include "runtime/core/config_defaults.h"
#include "runtime/core/config_diff.h"

namespace sy {
namespace {

std::string error_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

const char* kGood = R"(
name: "tiny"
model {
  family: MH_MOE
  d_model: 64
  n_heads: 4
  moe { num_experts: 8 top_k: 2 num_heads: 4 }
  moe_layer { layer: 1 moe { top_k: 1 } }
}
parallel { ep: 4 }
data { global_batch: 8 }
)";

TEST(Config, ParsesAndKeepsDefaults) {
  pb::RunConfig c = parse_config_text(kGood, "good.pbtxt");
  EXPECT_EQ(c.model().family(), pb::MH_MOE);
  EXPECT_EQ(c.model().moe().num_experts(), 8);
  EXPECT_EQ(c.parallel().comm_backend(), pb::MPI);            // default
  EXPECT_FLOAT_EQ(c.model().moe().capacity_factor(), 1.25f);  // default
  EXPECT_EQ(moe_for_layer(c.model(), 1).top_k(), 1);          // per-layer override
  EXPECT_EQ(moe_for_layer(c.model(), 0).top_k(), 2);
  EXPECT_EQ(moe_for_layer(c.model(), 1).num_heads(), 4);  // the rest is inherited
  EXPECT_NO_THROW(validate_config(c, 4));
  EXPECT_NO_THROW(validate_config(c, 8));
}

TEST(Config, SyntaxErrorsNameLineAndColumn) {
  // Line 3, column 12 holds the bad value "abc".
  std::string msg =
      error_of([] { parse_config_text("name: \"a\"\nmodel {\n  d_model: abc\n}\n", "bad.pbtxt"); });
  EXPECT_TRUE(std::regex_search(msg, std::regex("bad\\.pbtxt:3:12: "))) << msg;
  // A missing closing brace is reported at the end of the input (line 2).
  msg = error_of([] { parse_config_text("model {\n  d_model: 12\n", "open.pbtxt"); });
  EXPECT_TRUE(std::regex_search(msg, std::regex("open\\.pbtxt:[23]:[0-9]+: "))) << msg;
}

TEST(Config, UnknownFieldsAreErrorsWithPositions) {
  std::string msg =
      error_of([] { parse_config_text("model {\n  d_modle: 12\n}\n", "typo.pbtxt"); });
  EXPECT_TRUE(std::regex_search(msg, std::regex("typo\\.pbtxt:2:[0-9]+: .*d_modle"))) << msg;
}

TEST(Config, LoadsFilesAndReportsMissingOnes) {
  std::string path = ::testing::TempDir() + "/sy_config_test.pbtxt";
  {
    std::ofstream out(path);
    out << kGood;
  }
  EXPECT_EQ(load_config_file(path).name(), "tiny");
  std::remove(path.c_str());
  std::string msg = error_of([&] { load_config_file(path); });
  EXPECT_NE(msg.find("cannot open config file"), std::string::npos) << msg;
}

TEST(Config, OverridesSetScalarsEnumsStringsAndRepeatedMessages) {
  pb::RunConfig c = parse_config_text(kGood, "good.pbtxt");
  apply_overrides(
      &c, {"model.moe.num_experts=16", "parallel.comm_backend=NCCL", "data.train_path=/tmp/x.bin",
           "model.moe_layer[0].moe.top_k=2", "model.moe_layer[1].layer=0", "optimizer.lr=1e-4"});
  EXPECT_EQ(c.model().moe().num_experts(), 16);
  EXPECT_EQ(c.parallel().comm_backend(), pb::NCCL);
  EXPECT_EQ(c.data().train_path(), "/tmp/x.bin");
  EXPECT_EQ(c.model().moe_layer(0).moe().top_k(), 2);
  ASSERT_EQ(c.model().moe_layer_size(), 2);  // index == size appends
  EXPECT_EQ(c.model().moe_layer(1).layer(), 0);
  EXPECT_FLOAT_EQ(c.optimizer().lr(), 1e-4f);
  // A repeated scalar takes one value or a list, replacing what was there.
  apply_overrides(&c, {"debug.nonfinite_steps=[3, 5]"});
  EXPECT_EQ(c.debug().nonfinite_steps_size(), 2);
  apply_overrides(&c, {"debug.nonfinite_steps=7"});
  ASSERT_EQ(c.debug().nonfinite_steps_size(), 1);
  EXPECT_EQ(c.debug().nonfinite_steps(0), 7);

  for (const char* bad :
       {"model.nope=1", "model.d_model=abc", "model.moe=3", "nothing", "model.moe_layer[5].layer=1",
        "parallel.comm_backend=GLOO", "debug.nonfinite_steps=[x]"}) {
    std::string msg = error_of([&] { apply_override(&c, bad); });
    EXPECT_NE(msg.find("override"), std::string::npos) << bad << ": " << msg;
  }
}

TEST(Config, CrossFieldChecksSayHowToFix) {
  pb::RunConfig c = parse_config_text(kGood, "good.pbtxt");
  // ep must divide the world size.
  std::string msg = error_of([&] { validate_config(c, 6); });
  EXPECT_NE(msg.find("parallel.ep = 4 does not divide the world size 6"), std::string::npos) << msg;
  // Experts must be divisible by ep, in the model-wide and per-layer settings.
  apply_override(&c, "model.moe.num_experts=6");
  msg = error_of([&] { validate_config(c, 4); });
  EXPECT_NE(msg.find("model.moe.num_experts = 6 is not divisible by ep = 4"), std::string::npos)
      << msg;
  EXPECT_NE(msg.find("model.moe_layer[0].moe.num_experts = 6"), std::string::npos) << msg;
  // Several problems are reported together.
  apply_override(&c, "optimizer.lr=0");
  apply_override(&c, "data.global_batch=3");
  msg = error_of([&] { validate_config(c, 4); });
  EXPECT_NE(msg.find("optimizer.lr must be finite and > 0"), std::string::npos) << msg;
  EXPECT_NE(msg.find("data.global_batch = 3"), std::string::npos) << msg;
  EXPECT_NE(msg.find("problems"), std::string::npos) << msg;
}

TEST(Config, OtherRules) {
  auto invalid = [](const std::string& text, int world, const std::string& needle) {
    pb::RunConfig c = parse_config_text(text, "t");
    std::string msg = error_of([&] { validate_config(c, world); });
    EXPECT_NE(msg.find(needle), std::string::npos) << text << "\n → " << msg;
  };
  invalid("model { family: TRANSFORMER_MOE moe { router: BASE top_k: 2 } }", 1, "BASE routing");
  invalid("model { family: MH_MOE d_model: 64 moe { num_heads: 3 } }", 1, "num_heads = 3");
  invalid("model { family: SMLP d_model: 10 moe { num_experts: 3 } }", 1, "channel chunks");
  invalid("parallel { comm_backend: NCCL }", 1, "needs parallel.device = CUDA");
  invalid("model { family: MH_MOE moe_layer { layer: 9 } }", 1, "is not a block");
  invalid("schedule { steps: 10 warmup_steps: 20 }", 1, "warmup_steps = 20");
  invalid("model { family: MH_MOE moe { top_k: 9 } }", 1, "top_k = 9");
  invalid("parallel { grad_bucket_mb: -1 }", 1, "parallel.grad_bucket_mb must be ≥ 0");
  invalid("parallel { ranks_per_node: 3 a2a: HIERARCHICAL }", 4,
          "parallel.ranks_per_node = 3 must be 0 (the nodes MPI reports) or divide the world size 4");
  invalid("model { family: GMLP position: ROPE }", 1, "GMLP has no attention");
  invalid("model { family: M2_GPT norm: RMSNORM }", 1, "M2_GPT uses LayerNorm");
  invalid("model { family: GMLP post_norm: true }", 1, "post_norm applies to the M2 families");
  invalid("model { family: TRANSFORMER_MOE moe { expert: MONARCH expert_bias: true } }", 1,
          "expert_bias applies to FFN_GELU and SWIGLU");

  invalid("model { family: GMLP m2 { mlp: false } }", 1, "model.m2 configures the M2 families");
  invalid("model { family: M2_GPT d_model: 12 m2 { filter_heads: 5 } }", 1,
          "filter_heads = 5 must divide");
  invalid("model { family: M2_BERT m2 { filter_features: 4 } }", 1, "odd and ≥ 3");
  invalid("model { family: TRANSFORMER_MOE moe { router: BASE expert: BLOCKDIAG } }", 1,
          "base_form: GATED_MIX");
  pb::RunConfig ok = parse_config_text(
      "model { family: TRANSFORMER_MOE moe { router: BASE expert: BLOCKDIAG base_form: GATED_MIX } "
      "}",
      "t");
  EXPECT_NO_THROW(validate_config(ok, 1));
  invalid("model { family: SMLP d_ff: 12 smoe_experts: 8 }", 1, "8 sMoE experts");
  invalid("model { family: TRANSFORMER d_model: 12 n_heads: 4 }", 1, "even head width");
  // Issue 14's validation gaps.
  invalid("optimizer { lr: inf }", 1, "optimizer.lr must be finite");
  invalid("optimizer { grad_clip: inf }", 1, "must be finite");
  invalid("model { family: TRANSFORMER_MOE n_layers: 2 moe_freq: 3 }", 1,
          "no block would have a MoE layer");
  invalid("schedule { max_skipped_steps: -1 }", 1, "max_skipped_steps must be ≥ 0");
}

// The printed config spells out every default (so a saved config.pbtxt reproduces the run after a
// default changes) and reads back as the same run; per-layer overrides stay as written.
TEST(Config, WithDefaultsSpellsOutEveryDefaultAndReadsBackTheSame) {
  pb::RunConfig c = parse_config_text(
      "model { family: TRANSFORMER_MOE moe_layer { layer: 1 moe { top_k: 2 } } }", "t");
  const std::string text = config_to_text(with_defaults(c));
  for (const char* field : {"capacity_factor: 1.25", "d_model: 128", "comm_timeout_s: 120",
                            "lr: 0.003", "max_skipped_steps: 5", "sample_tokens: 200"})
    EXPECT_NE(text.find(field), std::string::npos) << field << " missing from\n" << text;
  pb::RunConfig back = parse_config_text(text, "printed");
  EXPECT_TRUE(model_mismatches(c.model(), back.model()).empty());
  EXPECT_EQ(back.model().moe_layer(0).moe().ByteSizeLong(),
            c.model().moe_layer(0).moe().ByteSizeLong());
  EXPECT_EQ(text.find("m2 {"), std::string::npos) << "M2 settings only for the M2 families";
}

// An enum value that does not exist is answered with the valid ones, in a file and in an override.
TEST(Config, EnumErrorsListTheValidValues) {
  std::string msg = error_of([] { parse_config_text("parallel { comm_backend: GLOO }", "f"); });
  EXPECT_NE(msg.find("Valid values: MPI | NCCL"), std::string::npos) << msg;
  pb::RunConfig c;
  msg = error_of([&] { apply_override(&c, "model.moe.router=TOPK"); });
  EXPECT_NE(msg.find("TOPK_SOFTMAX | "), std::string::npos) << msg;
}

// The deadline: the config's when it sets one, else SY_COMM_TIMEOUT_S, else 120 s.
TEST(Config, CommTimeoutFromConfigOrEnvironment) {
  pb::ParallelConfig p;
  ::setenv("SY_COMM_TIMEOUT_S", "7", 1);
  EXPECT_EQ(comm_timeout_s(p), 7.0);
  p.set_comm_timeout_s(30);
  EXPECT_EQ(comm_timeout_s(p), 30.0);
  ::unsetenv("SY_COMM_TIMEOUT_S");
  EXPECT_EQ(comm_timeout_s(pb::ParallelConfig()), 120.0);
}

// Checkpoints compare the model settings they were written with by value (unset = default) and
// name what differs, but let capacity and loss weights change.
TEST(Config, ModelMismatchesNameTheFields) {
  pb::RunConfig a =
      parse_config_text("model { family: TRANSFORMER_MOE moe { num_experts: 8 top_k: 2 } }", "a");
  pb::RunConfig b = a;
  EXPECT_TRUE(model_mismatches(a.model(), b.model()).empty());
  b.mutable_model()->set_d_model(128);  // the default, now set explicitly
  b.mutable_model()->mutable_moe()->set_capacity_factor(2.0f);
  b.mutable_model()->set_seq_len(256);
  EXPECT_TRUE(model_mismatches(a.model(), b.model()).empty());
  b.mutable_model()->mutable_moe()->set_num_experts(4);
  b.mutable_model()->mutable_moe()->set_router(pb::HASH);
  std::vector<std::string> d = model_mismatches(a.model(), b.model());
  ASSERT_EQ(d.size(), 2u);
  EXPECT_EQ(d[0], "model.moe.num_experts: 8 in the checkpoint, 4 now");
  EXPECT_NE(d[1].find("model.moe.router: TOPK_SOFTMAX in the checkpoint, HASH now"),
            std::string::npos);
}

TEST(Config, PrintsBackToParseableText) {
  pb::RunConfig c = parse_config_text(kGood, "good.pbtxt");
  pb::RunConfig again = parse_config_text(config_to_text(c), "printed");
  EXPECT_EQ(again.SerializeAsString(), c.SerializeAsString());
}

}  // namespace
}  // namespace sy
