// The trainer end to end on the default corpus (Debian's `fortunes` package, byte-level): the same
// seed twice gives the identical loss curve for 20 steps, and a short run of every model family
// lowers the validation loss by at least 1 nat from its initial value (ln 256 ≈ 5.55 for an
// untrained byte model). A learning test, not a timed one.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <unistd.h>
#include <algorithm>
#include <cmath>
#include <filesystem>

#include "runtime/core/config.h"
#include "runtime/train/trainer.h"
#include "tests/test_world.h"

namespace sy {
namespace {

// Prepares the corpus once per process (rank 0 writes, everybody waits).
std::string corpus_dir() {
  static std::string dir;
  if (!dir.empty()) return dir;
  auto world = testing::world();
  dir = ::testing::TempDir() + "/sy_fortunes_" + std::to_string(::getppid());
  const std::string src = "/usr/share/games/fortunes";
  if (world->rank() == 0) {
    std::vector<std::string> files;
    if (std::filesystem::is_directory(src))
      for (const auto& e : std::filesystem::directory_iterator(src)) {
        std::string p = e.path().string();
        if (e.is_regular_file() && p.size() > 4 && p.substr(p.size() - 4) != ".dat" &&
            p.substr(p.size() - 3) != ".u8")
          files.push_back(p);
      }
    std::sort(files.begin(), files.end());
    if (!files.empty()) {
      std::filesystem::create_directories(dir);
      prepare_text(files, dir, 0.1, pb::LLMC);
    }
  }
  world->barrier();
  return dir;
}

pb::RunConfig config(const std::string& model, int steps) {
  std::string d = corpus_dir();
  SY_CHECK(std::filesystem::exists(d + "/train.bin"),
           "the default corpus needs Debian's fortunes package (apt-get install fortunes); "
           "launch/test.sh installs it");
  pb::RunConfig c = parse_config_text(
      "name: 'trainer-test' model { vocab_size: 256 seq_len: 32 d_model: 32 n_layers: 2 "
      "n_heads: 2 d_ff: 64 " +
          model +
          " } data { global_batch: 8 } "
          "optimizer { lr: 1e-2 } schedule { warmup_steps: 5 eval_every: 0 eval_batches: 4 } "
          "logging { log_every: 1000 jsonl: false }",
      "test");
  c.mutable_schedule()->set_steps(steps);
  c.mutable_data()->set_train_path(d + "/train.bin");
  c.mutable_data()->set_val_path(d + "/val.bin");
  c.mutable_logging()->set_dir(::testing::TempDir() + "/sy_runs_" + std::to_string(::getppid()));
  c.mutable_parallel()->set_ep(testing::world()->size());
  return c;
}

const char* kMoe = "family: MH_MOE moe { num_experts: 4 top_k: 2 num_heads: 2 d_expert: 32 }";

TEST(Trainer, SameSeedSameLossCurve) {
  std::vector<double> runs[2];
  for (auto& losses : runs) {
    Trainer t(config(kMoe, 20), testing::world());
    for (int s = 0; s < 20; ++s) losses.push_back(t.train_step().loss);
  }
  EXPECT_EQ(runs[0], runs[1]);
  EXPECT_LT(runs[0].back(), runs[0].front());
}

TEST(Trainer, EveryFamilyLearnsTheDefaultCorpus) {
  for (const char* model :
       {"family: TRANSFORMER", "family: GMLP",
        "family: TRANSFORMER_MOE moe { num_experts: 4 top_k: 1 d_expert: 64 }", kMoe,
        "family: SMLP n_dense_blocks: 1 n_sparse_blocks: 1 moe { num_experts: 4 d_expert: 64 }",
        "family: SMLP n_dense_blocks: 1 n_sparse_blocks: 1 feature_routing: PARTIAL_PREDICTION "
        "moe { num_experts: 4 d_expert: 64 }",
        "family: M2_GPT", "family: M2_BERT mask_fraction: 0.3"}) {
    Trainer t(config(model, 80), testing::world());
    double before = t.evaluate();
    for (int s = 0; s < 80; ++s) t.train_step();
    double after = t.evaluate();
    if (testing::world()->rank() == 0) std::printf("%-70s val %.3f → %.3f\n", model, before, after);
    EXPECT_LT(after, before - 1.0) << model;
  }
}

}  // namespace
}  // namespace sy
