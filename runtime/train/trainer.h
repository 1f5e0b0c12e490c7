// The trainer: data → model → loss → backward → gradient reduction → AdamW, step after step, with
// periodic validation, checkpoints and a text sample at the end. Each step makes one
// pb::StepRecord (loss, rates, and every MoE layer's statistics record) that rank 0 hands to its
// writers (runtime/train/step_writers.h): the console line, the JSON-lines log and TensorBoard
// event files (logging.tensorboard).
//
// TFLOP/s counts 3 × the model's forward FLOPs per token (forward + backward) over all ranks; MFU
// divides by logging.peak_tflops × ranks when it is set. The MoE exchange times are rank 0's host
// time — the exchanges themselves with overlap off, the part the pipeline left exposed with it on
// — and how long the exchanges ran, hidden or not. The overlap efficiency against a serial layer
// is measured by `switchyard bench moe-layer --overlap`.
//
// Every rank runs the same loop in lockstep (the MoE exchanges and reductions are collective).
// Data parallelism spans all ranks (each reads its own sequences of every global batch); experts
// are sharded over the ep group.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "comm/process_groups.h"
#include "models/language_model.h"
#include "runtime/train/expert_usage.h"
#include "runtime/train/flat_params.h"
#include "runtime/train/grad_reducer.h"
#include "runtime/train/optimizer.h"
#include "runtime/train/run_folder.h"
#include "runtime/train/step_guard.h"
#include "runtime/train/step_writers.h"
#include "runtime/train/token_data.h"
#include "switchyard/config.pb.h"

namespace sy {

class Trainer {
 public:
  // Called on the run's process groups before the model is built (a benchmark wraps the ep group
  // in an emulated link, launch/emulated_link.h).
  using GroupsHook = std::function<void(ProcessGroups&)>;
  Trainer(const pb::RunConfig& config, std::shared_ptr<Communicator> world,
          const GroupsHook& arrange_groups = {});

  pb::StepRecord train_step();
  // Mean validation cross-entropy over schedule.eval_batches batches (0 when there is no val data);
  // the MoE layers' expert usage over the pass goes to last_usage().
  double evaluate();
  const std::vector<pb::ExpertUsage>& last_usage() const { return val_usage_; }
  // Generates `tokens` bytes after `prompt` (byte-level vocabulary): greedy when temperature is 0,
  // else sampling with that temperature from the seeded counter RNG; on_char sees each byte as it
  // comes (progress). Every rank continues the prompt on its own (rank r draws with seed + r), so
  // one forward per token — over the last seq_len tokens — gives a sample per rank. Returns this
  // rank's. (Under capacity limits a rank's text also depends on the others': capacity is
  // counted over the world.) Collective.
  std::string sample(const std::string& prompt, int tokens, float temperature, uint64_t seed,
                     const std::function<void(char)>& on_char = {});
  // Every rank's text of sample() (equal lengths), in rank order, on every rank. Collective.
  std::vector<std::string> gather_samples(const std::string& mine);
  // The whole run: schedule.steps steps with logging, evaluation and checkpoints (every
  // schedule.ckpt_every steps and at the end, under <logging.dir>/<name>/checkpoints), then a
  // sample. The run folder is locked for the job (runtime/train/run_folder.h); a non-finite step
  // is skipped (runtime/train/step_guard.h); SIGTERM, SIGINT or SIGUSR1 on any rank end the run
  // after the current step with a checkpoint (runtime/train/stop_signals.h): kStopped.
  enum class RunEnd { kFinished, kStopped };
  RunEnd run();
  // Writes a checkpoint of the current step; returns its folder. Refuses (throws) when a parameter
  // is not finite. Collective.
  std::string save();
  // Continues from a checkpoint (parameters, optimizer state, data position): the loss curve goes
  // on exactly as if the run had not stopped. Collective.
  void resume(const std::string& folder);
  // Loads only the parameters (for sampling or evaluation). Collective.
  void load_weights(const std::string& folder);

  // How gradients are summed from the next step on (the benchmark switches between the modes;
  // the buckets stay those of parallel.grad_bucket_mb).
  void set_grad_reduction(GradReduceOptions options);
  // The communicators the gradient reducer uses, and replacing them (the benchmark's emulated
  // link wraps them); the reduction mode stays.
  const GradComms& grad_comms() const { return grad_comms_; }
  void set_grad_comms(GradComms comms);

  LanguageModel& model() { return *model_; }
  const FlatParams& flat_params() const { return *flat_; }
  Device device() const { return device_; }
  int world_size() const { return world_->size(); }
  int world_rank() const { return world_->rank(); }
  int64_t step() const { return step_; }
  const std::string& run_dir() const { return run_dir_; }

 private:
  std::unique_ptr<BatchSampler> open_data(const std::string& path, uint64_t seed) const;
  std::unique_ptr<RunFolder> start_job();
  void make_writers();
  struct PhaseTimes {
    double forward = 0, backward = 0, grad_comm = 0, optimizer = 0;
  };
  double update(float lr, StepHealth& health);
  pb::StepRecord step_record(const LossReport& r, float lr, double norm, double seconds,
                             const PhaseTimes& t);
  void add_progress(pb::StepRecord& r, double job_start, int64_t first_step) const;
  bool parameters_finite();
  uint64_t checkpoint_bytes() const;
  RunEnd stop_with_checkpoint();
  bool due(int every) const;
  void finish_run();

  pb::RunConfig config_;
  std::shared_ptr<Communicator> world_;
  ProcessGroups groups_;
  Device device_;
  std::unique_ptr<LanguageModel> model_;
  std::unique_ptr<FlatParams> flat_;
  GradComms grad_comms_;
  std::unique_ptr<GradReducer> reducer_;
  std::unique_ptr<AdamW> optimizer_;
  std::unique_ptr<BatchSampler> train_, val_;
  int64_t step_ = 0;
  std::string run_dir_;
  std::vector<std::unique_ptr<StepWriter>> writers_;  // rank 0, made by run()
  std::vector<pb::ExpertUsage> val_usage_;            // of the last evaluate()
  StepGuard guard_;
  int stop_signal_ = 0;  // a stop signal any rank received, agreed in the last step_record()
};

}  // namespace sy
