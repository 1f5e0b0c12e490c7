// The expert-parallel MoE layer: route → plan → exchange → experts → exchange back → combine,
// forward and backward, with the experts sharded over the ep group (E/ep per rank).
//
// Token MoE moves rows of width d; in MH-MoE mode each token is first projected (d→d), split into
// h sub-tokens of width d/h that are routed independently, merged back and projected again
// (d→d); h = 1 without projections is plain MoE.
//
// The work after routing runs chunk by chunk over the items (options.chunks slices; each chunk has
// its own exchange plan), which is where the overlap scheduler pipelines; the result does not
// depend on the number of chunks. Gradients follow contract 1: parameter gradients accumulate,
// dx is assigned. reduce_gradients() sums expert gradients over the edp group and all others over
// the world.
#pragma once

#include <memory>
#include <vector>

#include "comm/process_groups.h"
#include "experts/dispatch_plan.h"
#include "experts/expert_ffn.h"
#include "experts/router.h"

namespace sy {

// Seconds spent in each step of the last forward and backward (host wall clock; on CUDA, steps
// are synchronised only where the plan needs host numbers, so use the benchmark for GPU timing).
struct MoeStepTimes {
  double route = 0, plan = 0, dispatch = 0, experts = 0, undispatch = 0, combine = 0;
  double total() const { return route + plan + dispatch + experts + undispatch + combine; }
};

struct MoeStats {
  MoeStepTimes forward, backward;
  int64_t items_world = 0, routed_world = 0, dropped_world = 0, capacity = -1;
  std::vector<int64_t> load_world;  // items per expert over the world
  double activation_ratio = 0;      // share of experts that received work
  int64_t bytes_dispatched = 0;     // payload bytes this rank sent in the forward dispatch
  double balance_loss = 0, z_loss = 0, aux_loss = 0;
};

class MoeLayer {
 public:
  MoeLayer(const MoeOptions& options, const ProcessGroups& groups, Device device);

  // x (N, d) this rank's tokens → y (N, d). token_ids (N) on the host, needed by hash routing.
  void forward(const Tensor& y, const Tensor& x, const int32_t* token_ids, bool training);
  // dy (N, d) → dx (N, d) (assigned); parameter gradients accumulate. Includes the gradient of
  // the router's auxiliary losses (aux_loss() is part of the training loss).
  void backward(const Tensor& dx, const Tensor& dy);

  double aux_loss() const { return routing_.aux_loss; }
  const MoeStats& stats() const { return stats_; }
  const Routing& routing() const { return routing_; }
  const CapacityPlan& capacity_plan() const { return capacity_; }
  std::vector<Param*> params();
  void zero_grad();
  void reduce_gradients();
  const MoeOptions& options() const { return options_; }
  int first_expert() const { return first_expert_; }
  ExpertFFN& experts() { return *experts_; }

 private:
  struct Chunk {
    ExchangePlan plan;
    ExpertActivations acts;
    Tensor returned;  // (send rows, w): the experts' outputs, back in send order
    Tensor pos, weight, ones;
  };

  MoeOptions options_;
  ProcessGroups groups_;
  Device device_;
  int width_ = 0, first_expert_ = 0;
  std::unique_ptr<Router> router_;
  std::unique_ptr<ExpertFFN> experts_;
  std::unique_ptr<Param> w_head_, b_head_, w_merge_, b_merge_;  // MH-MoE only

  // Saved by forward for backward.
  Tensor x_, items_, merged_;
  Routing routing_;
  CapacityPlan capacity_;
  std::vector<Chunk> chunks_;
  MoeStats stats_;
};

}  // namespace sy
