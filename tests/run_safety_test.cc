// Never losing a run (issue 14), in process: a non-finite step is skipped for every kind of model
// (dense, top-k MoE, sMLP with BASE, MH-MoE) and training goes on; too many in a row stop the run
// naming the first; a non-finite model is never saved; the run folder is locked for the job; a
// resumed run keeps its log up to the checkpoint; a first stop signal is recorded, a second one
// ends the process. The faults
// that need whole processes (kill -9, SIGTERM to a running job, a full disk) are in
// tests/faults/run_faults.py.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <csignal>
#include <filesystem>
#include <fstream>

#include "runtime/core/config.h"
#include "runtime/core/proto_json.h"
#include "runtime/train/run_folder.h"
#include "runtime/train/step_guard.h"
#include "runtime/train/stop_signals.h"
#include "runtime/train/trainer.h"
#include "tests/synthetic_shard.h"
#include "tests/test_world.h"

namespace sy {
namespace {

namespace fs = std::filesystem;

std::string data_dir() {
  return testing::synthetic_shard_dir("safety");
}

const char* kDense = "family: TRANSFORMER";
const char* kTopK = "family: TRANSFORMER_MOE moe { num_experts: 4 top_k: 2 d_expert: 16 }";
const char* kSmlp =
    "family: SMLP n_dense_blocks: 1 n_sparse_blocks: 1 moe { num_experts: 4 d_expert: 16 }";
const char* kMhMoe = "family: MH_MOE moe { num_experts: 4 top_k: 2 num_heads: 2 d_expert: 16 }";

pb::RunConfig config(const std::string& model, const std::string& name) {
  pb::RunConfig c = parse_config_text(
      "model { vocab_size: 64 seq_len: 16 d_model: 16 n_heads: 2 d_ff: 32 n_layers: 2 " + model +
          " } data { global_batch: 4 } optimizer { lr: 1e-2 } "
          "schedule { steps: 6 warmup_steps: 1 eval_every: 0 } logging { log_every: 1000 }",
      "test");
  c.set_name(name + "-np" + std::to_string(testing::world()->size()));
  c.mutable_parallel()->set_ep(testing::world()->size());
  c.mutable_data()->set_train_path(data_dir() + "/train.bin");
  c.mutable_logging()->set_dir(::testing::TempDir() + "/sy_safety_runs_" +
                               std::to_string(::getppid()));
  return c;
}

std::vector<float> all_values(const Trainer& t) {
  std::vector<float> out;
  for (const FlatGroup& g : t.flat_params().groups()) {
    std::vector<float> v = g.values.to_vector<float>();
    out.insert(out.end(), v.begin(), v.end());
  }
  return out;
}

// Step 3 runs on NaN activations (every router sees NaN scores): it is reported skipped, changes
// no parameter, and the steps after it are finite again. Before issue 14 the top-k gate wrote out
// of bounds and BASE stopped with "no augmenting path".
TEST(StepGuard, NonFiniteStepIsSkippedAndTrainingGoesOn) {
  for (const char* model : {kDense, kTopK, kSmlp, kMhMoe}) {
    SCOPED_TRACE(model);
    pb::RunConfig c = config(model, "skip");
    c.mutable_debug()->add_nonfinite_steps(3);
    Trainer t(c, testing::world());
    t.train_step();
    t.train_step();
    const std::vector<float> before = all_values(t);
    pb::StepRecord r = t.train_step();
    EXPECT_TRUE(r.skipped());
    EXPECT_TRUE(std::isnan(r.loss()));
    EXPECT_EQ(r.skipped_steps(), 1);
    EXPECT_EQ(all_values(t), before) << "a skipped step must change nothing";
    for (int s = 4; s <= 6; ++s) {
      r = t.train_step();
      EXPECT_FALSE(r.skipped()) << "step " << s;
      EXPECT_TRUE(std::isfinite(r.loss()) && std::isfinite(r.grad_norm())) << "step " << s;
    }
    EXPECT_NE(all_values(t), before);
    EXPECT_EQ(r.skipped_steps(), 1);
  }
}

TEST(StepGuard, TooManySkippedStepsInARowStopNamingTheFirst) {
  pb::RunConfig c = config(kTopK, "stop");
  for (int s : {2, 3, 4}) c.mutable_debug()->add_nonfinite_steps(s);
  c.mutable_schedule()->set_max_skipped_steps(2);
  Trainer t(c, testing::world());
  t.train_step();
  t.train_step();
  t.train_step();
  std::string message;
  try {
    t.train_step();
  } catch (const Error& e) {
    message = e.what();
  }
  EXPECT_NE(message.find("stopping at step 4: 3 steps in a row"), std::string::npos) << message;
  EXPECT_NE(message.find("the first, step 2, had loss nan"), std::string::npos) << message;
}

TEST(StepGuard, CountsOnlyRunsInARow) {
  StepGuard g(1);
  const StepHealth ok{1.0, 0.0, 1.0, 1.0}, bad{1.0, 0.0, 1.0, INFINITY};
  EXPECT_FALSE(g.record(1, ok));
  EXPECT_TRUE(g.record(2, bad));
  EXPECT_FALSE(g.record(3, ok));
  EXPECT_TRUE(g.record(4, bad));
  EXPECT_EQ(g.skipped_total(), 2);
  EXPECT_THROW(g.record(5, bad), Error);
  EXPECT_NE(bad.describe().find("gradients of the expert parameters (squared norm) inf"),
            std::string::npos);
}

TEST(StepGuard, ANonFiniteModelIsNeverSaved) {
  Trainer t(config(kDense, "nan-save"), testing::world());
  t.train_step();
  const std::string first = t.save();
  t.train_step();
  t.model().params()[0]->value.fill(std::nan(""));
  EXPECT_THROW(t.save(), Error);
  if (testing::world()->rank() == 0) {
    std::ifstream latest(t.run_dir() + "/checkpoints/latest");
    std::string name;
    latest >> name;
    EXPECT_EQ(t.run_dir() + "/checkpoints/" + name, first);
    EXPECT_FALSE(fs::exists(t.run_dir() + "/checkpoints/step_2"));
  }
}

TEST(RunFolder, ASecondJobOnTheFolderIsRefusedNamingTheHolder) {
  if (testing::world()->rank() != 0) return;
  const std::string dir = ::testing::TempDir() + "/sy_lock_" + std::to_string(::getpid());
  fs::create_directories(dir + "/checkpoints/step_4.tmp");  // a killed job's save
  {
    RunFolder first(dir, 0);
    EXPECT_FALSE(fs::exists(dir + "/checkpoints/step_4.tmp"));
    std::string message;
    try {
      RunFolder second(dir, 0);
    } catch (const Error& e) {
      message = e.what();
    }
    EXPECT_NE(message.find("is in use by another job (pid " + std::to_string(::getpid())),
              std::string::npos)
        << message;
  }
  EXPECT_NO_THROW(RunFolder again(dir, 0));  // released with its holder
  EXPECT_THROW(RunFolder full(dir, uint64_t{1} << 62), Error);
}

std::vector<int> logged_steps(const std::string& path) {
  std::ifstream in(path);
  std::vector<int> steps;
  std::string line;
  while (std::getline(in, line)) {
    pb::StepRecord r;
    EXPECT_TRUE(parse_json_line(line, &r)) << line;
    steps.push_back(r.step());
    EXPECT_GT(r.unix_time(), 1.7e9);
    EXPECT_TRUE(r.has_eta_s());
  }
  return steps;
}

// A job that ran 6 steps (checkpoints at 3 and 6) is resumed from step 3: the log keeps steps 1–3,
// drops the old 4–6 and has the redone 4–6 after them.
TEST(RunLog, ResumeKeepsTheLogUpToTheCheckpoint) {
  pb::RunConfig c = config(kTopK, "log");
  c.mutable_schedule()->set_ckpt_every(3);
  const std::string log = c.logging().dir() + "/" + c.name() + "/log.jsonl";
  std::string step3;
  {
    Trainer t(c, testing::world());
    EXPECT_EQ(t.run(), Trainer::RunEnd::kFinished);
    step3 = t.run_dir() + "/checkpoints/step_3";
  }
  if (testing::world()->rank() == 0) {
    EXPECT_EQ(logged_steps(log), (std::vector<int>{1, 2, 3, 4, 5, 6}));
  }
  Trainer t(c, testing::world());
  t.resume(step3);
  t.run();
  if (testing::world()->rank() == 0) {
    EXPECT_EQ(logged_steps(log), (std::vector<int>{1, 2, 3, 4, 5, 6}));
  }
}

void count_signal(int) {}

TEST(StopSignals, RecordTheFirstSignalAndRestoreTheHandlers) {
  std::signal(SIGUSR1, count_signal);
  {
    StopSignals signals;
    EXPECT_EQ(StopSignals::received(), 0);
    std::raise(SIGUSR1);
    EXPECT_EQ(StopSignals::received(), SIGUSR1);
  }
  struct sigaction now {};
  sigaction(SIGUSR1, nullptr, &now);
  EXPECT_EQ(now.sa_handler, count_signal);
  std::signal(SIGUSR1, SIG_DFL);
}

// A second signal ends the process at once with the signal's default action (in a child process:
// the first raise is recorded, the second kills it).
TEST(StopSignals, ASecondSignalEndsTheProcessAtOnce) {
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    StopSignals signals;
    std::raise(SIGINT);
    if (StopSignals::received() != SIGINT) ::_exit(3);
    std::raise(SIGINT);
    ::_exit(0);  // not reached when the second signal kills
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGINT) << "status " << status;
}

}  // namespace
}  // namespace sy
