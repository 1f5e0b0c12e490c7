// The expert-parallel MoE layer: route → plan → exchange → experts → exchange back → combine,
// forward and backward, with the experts sharded over the ep group (E/ep per rank).
//
// Token MoE moves rows of width d; in MH-MoE mode each token is first projected (d→d), split into
// h sub-tokens of width d/h that are routed independently, merged back and projected again
// (d→d); h = 1 without projections is plain MoE.
//
// After routing and planning (once, over all items), the exchange and the experts run in chunks,
// each a slice of every rank's local experts: with overlap on, chunk i+1 moves toward the experts
// and chunk i−1 back while chunk i computes (and, in the backward pass, the weight gradients of
// chunk i after its dx is on its way) — on a communication thread with host MPI, on a
// communication stream ordered by events with NCCL (runtime/scheduler/exchange_pipeline.h, which
// also lists the host waits of each form). The host synchronises inside a pass only where the
// plan needs host numbers: the router's gate values and the dispatch counts (forward), and the
// gate-weight gradients (backward), all before the pipeline starts. Chunking by
// experts rather than by tokens keeps every expert's GEMMs on exactly the same rows whatever n is,
// so the numbers are bitwise the same with overlap off and for any n (a GEMM over fewer rows may
// sum in another order on either BLAS). Combine runs once, after the last chunk is back (an item's
// k rows may come from different chunks). Gradients follow contract 1: parameter gradients
// accumulate, dx is assigned. reduce_gradients() sums expert gradients over the edp group and all
// others over the world.
#pragma once

#include <functional>
#include <memory>
#include <vector>

#include "comm/process_groups.h"
#include "experts/dispatch_plan.h"
#include "experts/expert_ffn.h"
#include "experts/router.h"
#include "experts/tensor_exchange.h"
#include "runtime/scheduler/exchange_pipeline.h"
#include "runtime/scheduler/overlap_model.h"

namespace sy {

// Seconds spent in each step of the last forward and backward (host wall clock; on CUDA, steps
// are synchronised only where the plan needs host numbers, so use the benchmark for GPU timing).
struct MoeStepTimes {
  double route = 0, plan = 0, dispatch = 0, experts = 0, undispatch = 0, combine = 0;
  double total() const { return route + plan + dispatch + experts + undispatch + combine; }
};

struct MoeStats {
  MoeStepTimes forward, backward;
  int chunks = 1;  // chunks the last forward used
  // Host seconds the exchanges of the pipelined section ran, forward + backward, hidden or not (0
  // on GPU + NCCL, where they run on the device). With overlap off every second of it is exposed;
  // with overlap on, exposed_exchange() is what compute did not hide. On a machine whose
  // communication thread has no core of its own the run time stretches while it waits for one,
  // so read "hidden" there with the benchmark's paired measurement beside it.
  double exchange_busy = 0;
  // Host seconds the main thread spent on the exchanges (waiting for them with overlap; including
  // the gather into the send buffer).
  double exposed_exchange() const {
    return forward.dispatch + forward.undispatch + backward.dispatch + backward.undispatch;
  }
  int64_t items_world = 0, routed_world = 0, dropped_world = 0, capacity = -1;
  std::vector<int64_t> load_world;  // items per expert over the world
  double activation_ratio = 0;      // share of experts that received work
  int64_t bytes_dispatched = 0;     // payload bytes this rank sent in the forward dispatch
  double balance_loss = 0, z_loss = 0, aux_loss = 0;
};

class MoeLayer {
 public:
  MoeLayer(const MoeOptions& options, const ProcessGroups& groups, Device device);
  // With a router and experts of the caller's (sMLP's feature MoE): items are rows of width
  // options.d_model; num_heads must be 1 and there are no MH projections.
  MoeLayer(const MoeOptions& options, const ProcessGroups& groups, Device device,
           std::unique_ptr<Router> router, std::unique_ptr<Experts> experts);

  // x (N, d) this rank's tokens → y (N, d). token_ids (N) on the host, needed by hash routing.
  void forward(const Tensor& y, const Tensor& x, const int32_t* token_ids, bool training);
  // dy (N, d) → dx (N, d) (assigned); parameter gradients accumulate. Includes the gradient of
  // the router's auxiliary losses (aux_loss() is part of the training loss).
  void backward(const Tensor& dx, const Tensor& dy);

  double aux_loss() const { return routing_.aux_loss; }
  const MoeStats& stats() const { return stats_; }
  const Routing& routing() const { return routing_; }
  const CapacityPlan& capacity_plan() const { return capacity_; }
  const ExchangePlan& exchange_plan() const { return plan_; }
  std::vector<Param*> params();
  void zero_grad();
  void reduce_gradients();
  const MoeOptions& options() const { return options_; }
  // Called at the start and end of every chunk's expert compute ("experts_forward",
  // "experts_backward"): the overlap test's instrumentation.
  using Observer = std::function<void(const char* step, int chunk, bool begin)>;
  void set_observer(Observer observer) { observer_ = std::move(observer); }
  const OverlapCosts& overlap_costs() const { return costs_; }
  int first_expert() const { return first_expert_; }
  Experts& experts() { return *experts_; }

 private:
  struct Chunk {
    int lb = 0, le = 0;                  // local experts
    int64_t row_begin = 0, row_end = 0;  // their expert-major rows
    std::vector<int64_t> offsets;        // le − lb + 1, relative to row_begin
    RowLayout layout;                    // toward the experts
    ExpertActivations acts;
  };
  void make_chunks(int n);
  Tensor one_minus_alpha() const;  // BASE: 1 − α per item, on the device
  void start_pipeline(bool overlap);
  ExchangePipeline::Handle post_exchange(const Tensor& recv, const Tensor& send,
                                         const RowLayout& layout, ExchangePipeline::Mark after,
                                         double* seconds);
  std::vector<ExchangePipeline::Handle> post_dispatches(const Tensor& recv, const Tensor& send,
                                                        double* seconds);
  bool sync_timers() const { return options_.sync_step_timers && device_.is_cuda(); }
  void notify(const char* step, int chunk, bool begin) {
    if (observer_) observer_(step, chunk, begin);
  }

  MoeOptions options_;
  ProcessGroups groups_;
  Device device_;
  int width_ = 0, first_expert_ = 0;
  std::unique_ptr<Router> router_;
  std::unique_ptr<Experts> experts_;
  std::unique_ptr<Param> w_head_, b_head_, w_merge_, b_merge_;  // MH-MoE only

  // Saved by forward for backward.
  Tensor x_, items_, merged_;
  Routing routing_;
  CapacityPlan capacity_;
  ExchangePlan plan_;
  Tensor pos_, weight_, ones_, perm_;  // the plan on the device
  Tensor one_minus_alpha_;             // BASE: saved by forward for backward
  Tensor returned_;                    // (send rows, w): the experts' outputs in send order
  std::vector<Chunk> chunks_;
  HostStaging staging_;  // GPU + host MPI: the pinned buffers the exchanges pass through
  std::unique_ptr<ExchangePipeline> pipeline_;  // after staging_: its jobs use staging_
  OverlapCosts costs_;
  Observer observer_;
  MoeStats stats_;
};

}  // namespace sy
