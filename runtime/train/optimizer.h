// AdamW with fp32 state, the learning-rate schedule (linear warmup, cosine decay to a floor) and
// gradient clipping by the global norm over all ranks.
//
// Weight-decay groups: matrices (parameters of two or more dimensions — projections, expert
// weights, embeddings) decay; vectors (biases, norm gains) do not, as in GPT-2 / nanoGPT.
#pragma once

#include <vector>

#include "comm/process_groups.h"
#include "runtime/core/param.h"
#include "switchyard/config.pb.h"

namespace sy {

// The learning rate at `step` (0-based): linear warmup over warmup_steps to lr, then cosine decay
// to min_lr_ratio · lr at `steps`.
float learning_rate(const pb::OptimizerConfig& opt, const pb::ScheduleConfig& schedule,
                    int64_t step);

// The L2 norm of all gradients of the model over all ranks (collective over the world and the ep
// group). Dense gradients are the same on every rank after reduction, so they count once; expert
// gradients differ across the ep group (each rank holds its own experts) and are summed over it.
double global_grad_norm(const std::vector<Param*>& params, const ProcessGroups& groups);

class AdamW {
 public:
  AdamW(std::vector<Param*> params, const pb::OptimizerConfig& config);
  // One update with learning rate lr; returns the gradient norm before clipping. Clips to
  // grad_clip (when > 0) first. Collective (the norm).
  double step(float lr, const ProcessGroups& groups);
  int64_t steps_taken() const { return t_; }
  // The state, for checkpoints: m and v per parameter.
  std::vector<Tensor>& first_moments() { return m_; }
  std::vector<Tensor>& second_moments() { return v_; }
  void set_steps_taken(int64_t t) { t_ = t; }

 private:
  std::vector<Param*> params_;
  pb::OptimizerConfig config_;
  std::vector<Tensor> m_, v_;
  int64_t t_ = 0;
};

}  // namespace sy
