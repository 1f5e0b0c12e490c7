// AdamW with fp32 state, the learning-rate schedule (linear warmup, cosine decay to a floor) and
// gradient clipping by the global norm over all ranks.
//
// The step runs over flat storage (flat_params.h): per group (dense, expert) one sum of squares
// on the device, the expert one summed over the ep group, then one fused AdamW op that reads the
// clip factor on the device — so a step reads one pair of numbers to the host (the norm, for the
// log), after the update is queued. The moments m and v are flat like the gradients; each
// parameter's moments are views (the checkpoint reads and writes them per parameter).
//
// Weight-decay groups: matrices (parameters of two or more dimensions — projections, expert
// weights, embeddings) decay; vectors (biases, norm gains) do not, as in GPT-2 / nanoGPT.
// Parameters with settings of their own (Param::lr, Param::weight_decay: M2's implicit filters)
// form segments of the flat buffers, each updated with its own learning rate and decay.
#pragma once

#include <array>
#include <memory>
#include <vector>

#include "comm/process_groups.h"
#include "runtime/core/param.h"
#include "runtime/train/flat_params.h"
#include "switchyard/config.pb.h"

namespace sy {

// The learning rate at `step` (0-based): linear warmup over warmup_steps to lr, then cosine decay
// to min_lr_ratio · lr at `steps`.
float learning_rate(const pb::OptimizerConfig& opt, const pb::ScheduleConfig& schedule,
                    int64_t step);

// The squared L2 norms of all gradients of the model over all ranks, on the device: f64 (2) =
// [dense, expert]. Dense gradients are the same on every rank after reduction, so they count
// once; expert gradients differ across the ep group (each rank holds its own experts) and are
// summed over it (collective over the ep group; over NCCL enqueued on the default stream, so the
// caller waits for that stream — wait_stream — before reading the result on the host).
Tensor grad_norm_squares(const FlatParams& flat, const ProcessGroups& groups);

class AdamW {
 public:
  // Over the flat storage the trainer built (which must outlive the optimizer).
  AdamW(FlatParams& flat, const pb::OptimizerConfig& config);
  // Moves `params` into flat storage of its own (one bucket per group).
  AdamW(std::vector<Param*> params, const pb::OptimizerConfig& config);
  // One update with learning rate lr (clipped to grad_clip when > 0); returns the global gradient
  // norm before clipping. A non-finite norm changes nothing and is not counted as a step taken.
  // Collective (the norm).
  double step(float lr, const ProcessGroups& groups);
  // The global squared gradient norms of the last step(): dense and expert parameters.
  std::array<double, 2> last_grad_squares() const { return last_sq_; }
  int64_t steps_taken() const { return t_; }
  // The state, for checkpoints: m and v per parameter (views of the flat moments), in the order
  // of flat.params().
  std::vector<Tensor>& first_moments() { return m_; }
  std::vector<Tensor>& second_moments() { return v_; }
  void set_steps_taken(int64_t t) { t_ = t; }

 private:
  // Consecutive slots of one flat group that share their optimizer settings.
  struct Segment {
    int64_t begin = 0, end = 0;  // elements of the group's buffers
    float lr_scale = 1.0f;       // of the scheduled learning rate
    float weight_decay = 0.0f;
    Tensor decay;  // i64 (R, 2): the element ranges that decay, relative to begin
  };
  struct GroupState {
    Tensor m, v;  // flat, as the group's values
    std::vector<Segment> segments;
  };
  std::vector<Segment> segments(const FlatGroup& g) const;
  void build_state();

  std::unique_ptr<FlatParams> own_flat_;
  FlatParams& flat_;
  pb::OptimizerConfig config_;
  std::vector<GroupState> state_;  // as flat_.groups()
  std::vector<Tensor> m_, v_;
  int64_t t_ = 0;
  std::array<double, 2> last_sq_{};
};

}  // namespace sy
