// The expert-parallel MoE layer: items (S, w) → (S, w) through route → plan → dispatch → experts →
// return → combine, forward and backward, with the experts sharded over the ep group (E/ep per
// rank). The router chooses; the token dispatcher (experts/token_dispatcher.h) moves the rows and
// owns the plan, the chunks and the overlap pipeline; the experts compute. MH-MoE
// (experts/mh_moe_layer.h) and sMLP's feature MoE (experts/feature_moe_layer.h) wrap this layer.
//
// The host synchronises inside a pass only where the plan needs host numbers: the router's gate
// values and the dispatch counts (forward), and the gate-weight gradients (backward), all before
// the pipeline starts. Gradients follow contract 1: parameter gradients accumulate, dx is
// assigned. reduce_gradients() sums expert gradients over the edp group and all others over the
// world.
#pragma once

#include <functional>
#include <memory>
#include <vector>

#include "comm/process_groups.h"
#include "experts/experts.h"
#include "experts/router.h"
#include "experts/token_dispatcher.h"
#include "experts/token_moe.h"
#include "switchyard/metrics.pb.h"

namespace sy {

class MoeLayer final : public TokenMoe {
 public:
  // Router and experts as the options say (items of options.item_width()).
  MoeLayer(const MoeOptions& options, const ProcessGroups& groups, Device device);
  // With a router and experts of the caller's (sMLP's feature MoE): items are rows of width
  // options.d_model.
  MoeLayer(const MoeOptions& options, const ProcessGroups& groups, Device device,
           std::unique_ptr<Router> router, std::unique_ptr<Experts> experts);

  // x (S, w) this rank's items → y (S, w). item_ids (S) on the host, needed by hash routing.
  void forward(const Tensor& y, const Tensor& x, const int32_t* item_ids, bool training) override;
  // dy (S, w) → dx (S, w) (assigned); parameter gradients accumulate. Includes the gradient of
  // the router's auxiliary losses (aux_loss() is part of the training loss).
  void backward(const Tensor& dx, const Tensor& dy) override;
  std::vector<Param*> params() override;
  const MoeLayer& core() const override { return *this; }
  // Per item: the gate's projection (w × E) and k experts.
  double forward_flops_per_token() const override;

  double aux_loss() const { return routing_.aux_loss; }
  void drop_activations() override {
    release(x_);
    saved_.clear();
    expert_inputs_.clear();
    dispatcher_.drop_activations();
  }
  // The last call's statistics: counts once planned, the forward's times after forward, all of it
  // after backward.
  const pb::MoeLayerStats& stats() const { return stats_; }
  const Routing& routing() const { return routing_; }
  const CapacityPlan& capacity_plan() const { return dispatcher_.capacity_plan(); }
  const ExchangePlan& exchange_plan() const { return dispatcher_.exchange_plan(); }
  const MoeOptions& options() const { return options_; }
  // Whether the experts normalise their rows themselves (BASE in fairseq's form): the block then
  // feeds the layer its un-normalised input and adds it back, y = x + layer(x).
  bool normalizes_input() const { return options_.base_fairseq; }
  const ProcessGroups& groups() const { return groups_; }
  int first_expert() const { return range_.first; }
  // Called at the start and end of every chunk's expert compute ("experts_forward",
  // "experts_backward"): the overlap test's instrumentation.
  using Observer = std::function<void(const char* step, int chunk, bool begin)>;
  void set_observer(Observer observer) { observer_ = std::move(observer); }

 private:
  void route(const Tensor& x, const int32_t* item_ids, bool training);
  void plan();
  void experts_forward(int chunk);
  void combine(const Tensor& y, const Tensor& x);
  Tensor combine_backward(const Tensor& dx, const Tensor& dy);
  void experts_backward(int chunk);
  void recompute_experts(int chunk);
  void route_backward(const Tensor& dx, const Tensor& dweight);
  void record_plan();
  void record_times();
  bool sync_timers() const { return options_.sync_step_timers && device_.is_cuda(); }
  void notify(const char* step, int chunk, bool begin) {
    if (observer_) observer_(step, chunk, begin);
  }

  MoeOptions options_;
  ProcessGroups groups_;
  Device device_;
  ExpertRange range_;
  std::unique_ptr<Router> router_;
  std::unique_ptr<Experts> experts_;
  TokenDispatcher dispatcher_;

  // Saved by forward for backward.
  Tensor x_;
  Routing routing_;
  std::vector<std::unique_ptr<ExpertState>> saved_;  // per chunk
  std::vector<ExpertRows> expert_inputs_;  // per chunk, with recompute_experts: forward's input

  MoePassTimes forward_times_, backward_times_;
  Observer observer_;
  pb::MoeLayerStats stats_;
};

}  // namespace sy
