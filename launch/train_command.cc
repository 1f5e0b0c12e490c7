// `switchyard train CONFIG [--set path=value ...]`: trains the model the config describes.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <memory>

#include "comm/mpi_communicator.h"
#include "launch/args.h"
#include "launch/commands.h"
#include "runtime/core/clock.h"
#include "runtime/core/config.h"
#include "runtime/core/config_defaults.h"
#include "runtime/core/logging.h"
#include "runtime/core/version.h"
#include "runtime/train/stop_signals.h"
#include "runtime/train/trainer.h"

namespace sy {

namespace {

// The config CONFIG names, with the --set overrides and then `adjust` applied.
pb::RunConfig command_config(const Args& args,
                             const std::function<void(pb::RunConfig&)>& adjust = {}) {
  pb::RunConfig config = load_config_file(args.positional()[0]);
  apply_overrides(&config, args.get_all("--set"));
  if (adjust) adjust(config);
  return config;
}

// A trainer holding the weights of --checkpoint (eval and generate).
std::unique_ptr<Trainer> trainer_with_weights(const pb::RunConfig& config, const Args& args) {
  auto trainer = std::make_unique<Trainer>(config, mpi_world(comm_timeout_s(config.parallel())));
  trainer->load_weights(args.get("--checkpoint", ""));
  return trainer;
}

}  // namespace

int train_command(const std::vector<std::string>& argv) {
  Args args(argv, {"--set", "--resume"},
            "usage: mpirun -np N switchyard train CONFIG.pbtxt [--set path=value ...] "
            "[--resume CHECKPOINT]\n"
            "  trains the model CONFIG describes (proto/switchyard/config.proto); --set overrides\n"
            "  a field (model.moe.top_k=2; lists: debug.nonfinite_steps=[3,4]); --resume takes a\n"
            "  checkpoint folder or its parent (runs/NAME/checkpoints). Exit code 75: stopped by\n"
            "  SIGTERM/SIGINT/SIGUSR1 after writing a checkpoint (resume it)\n");
  SY_USAGE_CHECK(args.positional().size() == 1, args);
  const pb::RunConfig config = command_config(args);
  std::shared_ptr<Communicator> world = mpi_world(comm_timeout_s(config.parallel()));
  validate_config(config, world->size());
  SY_LOG0("# switchyard " << version()
                          << "; config (merged, defaults written out, saved next "
                             "to the logs):\n"
                          << config_to_text(with_defaults(config)));
  Trainer trainer(config, world);
  if (args.has("--resume")) trainer.resume(args.get("--resume", ""));
  return trainer.run() == Trainer::RunEnd::kStopped ? kExitStopped : 0;
}

int eval_command(const std::vector<std::string>& argv) {
  Args args(argv, {"--set", "--checkpoint", "--batches"},
            "usage: mpirun -np N switchyard eval CONFIG.pbtxt --checkpoint DIR [--batches N] "
            "[--set path=value ...]\n"
            "  validation loss and perplexity of the weights in DIR on data.val_path, over N\n"
            "  batches (default schedule.eval_batches); writes nothing\n");
  SY_USAGE_CHECK(args.positional().size() == 1 && args.has("--checkpoint"), args);
  const pb::RunConfig config = command_config(args, [&args](pb::RunConfig& c) {
    if (args.has("--batches"))
      c.mutable_schedule()->set_eval_batches(static_cast<int>(args.get_int("--batches", 4)));
  });
  SY_CHECK(!config.data().val_path().empty(),
           "eval reads data.val_path, which is not set: --set data.val_path=...");
  const double loss = trainer_with_weights(config, args)->evaluate();
  if (process_rank() == 0)
    std::printf("%s: val loss %.4f (ppl %.2f) over %d batches of %d sequences\n",
                args.get("--checkpoint", "").c_str(), loss, std::exp(loss),
                std::max(1, config.schedule().eval_batches()), config.data().global_batch());
  return 0;
}

int generate_command(const std::vector<std::string>& argv) {
  Args args(
      argv,
      {"--set", "--checkpoint", "--prompt", "--tokens", "--temperature", "--seed", "--samples"},
      "usage: mpirun -np N switchyard generate CONFIG.pbtxt --checkpoint DIR "
      "[--prompt TEXT] [--tokens 200] [--temperature 0.8 (0 = greedy)] [--seed S]\n"
      "       [--samples K]\n"
      "  samples text from the model CONFIG describes with the weights in DIR. Every rank\n"
      "  continues the prompt on its own (rank r draws with seed S + r) in the same\n"
      "  forwards: rank 0's text streams out, and --samples K (≤ N) prints K of them.\n");
  SY_USAGE_CHECK(args.positional().size() == 1 && args.has("--checkpoint"), args);
  const pb::RunConfig config = command_config(args);
  std::unique_ptr<Trainer> trainer = trainer_with_weights(config, args);
  const std::string prompt = args.get("--prompt", "");
  const int tokens = static_cast<int>(args.get_int("--tokens", 200));
  const int samples = static_cast<int>(args.get_int("--samples", 1));
  SY_CHECK(samples >= 1 && samples <= trainer->world_size(),
           "--samples " << samples << ": each of the " << trainer->world_size()
                        << " ranks makes one sample; ask for 1 to " << trainer->world_size()
                        << ", or launch more ranks");
  const bool printer = process_rank() == 0;
  // The text streams out as it is generated (rank 0), then the rate.
  if (printer) std::printf("%s", prompt.c_str());
  auto show = [printer](char c) {
    if (!printer) return;
    std::putchar(c);
    std::fflush(stdout);
  };
  const double t0 = now_s();
  const uint64_t seed = static_cast<uint64_t>(args.get_int("--seed", 1));
  const std::string mine = trainer->sample(
      prompt, tokens, static_cast<float>(args.get_double("--temperature", 0.8)), seed, show);
  const double seconds = now_s() - t0;
  const std::vector<std::string> all = trainer->gather_samples(mine);
  if (!printer) return 0;
  std::printf(
      "\n# %d tokens in %.1f s (%.1f tokens/s per sample, one forward of %d tokens each, "
      "%d samples computed)\n",
      tokens, seconds, tokens / std::max(seconds, 1e-9), config.model().seq_len(),
      static_cast<int>(all.size()));
  for (int k = 1; k < samples; ++k)
    std::printf("# sample %d (seed %llu)\n%s%s\n", k + 1, static_cast<unsigned long long>(seed + k),
                prompt.c_str(), all[k].c_str());
  return 0;
}

}  // namespace sy
