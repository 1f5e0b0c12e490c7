// The trainer: data → model → loss → backward → gradient reduction → AdamW, step after step, with
// the rank-0 console line, a JSON-lines log, TensorBoard event files (logging.tensorboard),
// periodic validation and a text sample at the end.
//
//   step   12/200 | loss 2.3456 | aux 0.0123 | lr 3.00e-03 | norm 0.812 | 41.2 ms | 99.1k tok/s
//     | 0.41 TFLOP/s (MFU 0.3%) | moe drop 1.2% act 1.00 a2a 3.1 ms (of 8.2 ms run)
//
// TFLOP/s counts 3 × the model's forward FLOPs per token (forward + backward) over all ranks; MFU
// divides by logging.peak_tflops × ranks when it is set. Per MoE layer (JSON lines and
// TensorBoard): drop rate, activation ratio, expert load, chunks, the host time rank 0 spent on
// the layer's exchanges — the exchanges themselves with overlap off, the part the pipeline left
// exposed with it on — and how long the exchanges ran, hidden or not (the console shows the mean
// drop rate and activation ratio and the summed times). The overlap efficiency against a serial
// layer is measured by `switchyard bench moe-layer --overlap`.
//
// Every rank runs the same loop in lockstep (the MoE exchanges and reductions are collective).
// Data parallelism spans all ranks (each reads its own sequences of every global batch); experts
// are sharded over the ep group.
#pragma once

#include <fstream>
#include <memory>
#include <string>

#include "comm/process_groups.h"
#include "models/language_model.h"
#include "runtime/train/event_writer.h"
#include "runtime/train/optimizer.h"
#include "runtime/train/token_data.h"
#include "switchyard/config.pb.h"

namespace sy {

struct MoeLayerReport {
  std::string name;
  double drop_rate = 0, activation_ratio = 0;
  double a2a_ms = 0, experts_ms = 0;  // rank 0's host time, forward + backward
  double exchange_ms = 0;             // how long the exchanges ran, hidden or not (host MPI)
  bool overlapped = false;            // the pipeline ran with overlap this step
  int chunks = 1;
  std::vector<int64_t> load;  // items per expert over the world
};

struct StepReport {
  int64_t step = 0;  // 1-based, as printed
  double loss = 0, aux = 0, lr = 0, grad_norm = 0, ms = 0, tokens_per_s = 0;
  double tflops = 0, mfu = 0;  // mfu 0: unknown (logging.peak_tflops not set)
  std::vector<MoeLayerReport> moe;
};

class Trainer {
 public:
  Trainer(const pb::RunConfig& config, std::shared_ptr<Communicator> world);

  StepReport train_step();
  // Mean validation cross-entropy over schedule.eval_batches batches (0 when there is no val data).
  double evaluate();
  // Generates `tokens` bytes after `prompt` (byte-level vocabulary): greedy when temperature is 0,
  // else sampling with that temperature from the seeded counter RNG. Collective.
  std::string sample(const std::string& prompt, int tokens, float temperature, uint64_t seed);
  // The whole run: schedule.steps steps with logging, evaluation and checkpoints (every
  // schedule.ckpt_every steps and at the end, under <logging.dir>/<name>/checkpoints), then a
  // sample.
  void run();
  // Writes a checkpoint of the current step; returns its folder. Collective.
  std::string save();
  // Continues from a checkpoint (parameters, optimizer state, data position): the loss curve goes
  // on exactly as if the run had not stopped. Collective.
  void resume(const std::string& folder);
  // Loads only the parameters (for sampling or evaluation). Collective.
  void load_weights(const std::string& folder);

  LanguageModel& model() { return *model_; }
  int64_t step() const { return step_; }
  const std::string& run_dir() const { return run_dir_; }

 private:
  void log(const StepReport& r, double val_loss);

  pb::RunConfig config_;
  std::shared_ptr<Communicator> world_;
  ProcessGroups groups_;
  Device device_;
  std::unique_ptr<LanguageModel> model_;
  std::unique_ptr<AdamW> optimizer_;
  std::unique_ptr<BatchSampler> train_, val_;
  int64_t step_ = 0;
  std::string run_dir_;
  std::unique_ptr<std::ofstream> jsonl_;
  std::unique_ptr<EventWriter> events_;
};

}  // namespace sy
