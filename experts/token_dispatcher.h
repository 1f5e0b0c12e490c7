// The token dispatcher: the dispatch protocol of a MoE layer (DESIGN.md contract 3) as named
// steps, and everything that lives between them — the plan, its tensors on the device, the
// chunks, the exchange pipeline and its host staging. A forward pass is
//
//   plan(routing, experts)   the choices sorted on the device, the pass's one host read (counts
//                            and the router's sums), capacity over the world, the exchange plan
//                            over the ep group (the counts exchange), the chunks
//   dispatch(items)          gather the items into send order; post every chunk's exchange toward
//                            the experts (they need only the send buffer)
//   for each chunk c:
//     receive(c)             wait for chunk c's rows; gather them expert-major (or, exchanged
//                            expert by expert straight into expert-major places, take them as
//                            they are: MoeOptions::expert_exchange)
//     ... the experts ...
//     send_back(c, rows)     scatter the experts' rows back to arrival order; post their return
//                            (or post it from the rows themselves, expert by expert)
//
// (an ep group of one rank moves nothing: the send buffer is expert-major already, so receive
// hands the experts a view of it and send_back keeps their rows as the returned ones)
//   combine(out)             wait for every return; out = Σ_j w_j · (returned row of choice j)
//
// and the backward pass runs the same exchanges with the gradients:
//
//   combine_backward(dout)   the returned rows' gradients (the backward's send buffer) and the
//                            gate weights' gradients (for the router, on the device)
//   dispatch_gradients()     post them toward the experts
//   receive(c) / send_back(c, rows) per chunk, as forward
//   uncombine(ditems)        wait for every return; ditems += Σ of each item's k rows
//
// Chunks are slices of each rank's local experts (contract 5): the exchanges of chunk i+1 and
// i−1 run while chunk i computes, and each expert's GEMMs see the same rows whatever the number of
// chunks, so the numbers do not depend on it. The pipeline (runtime/scheduler/exchange_pipeline.h)
// runs the exchanges and accounts their exposed and total time.
#pragma once

#include <memory>
#include <vector>

#include "comm/host_staging.h"
#include "comm/process_groups.h"
#include "experts/dispatch_plan.h"
#include "experts/experts.h"
#include "experts/moe_options.h"
#include "experts/router.h"
#include "runtime/scheduler/exchange_pipeline.h"
#include "runtime/scheduler/overlap_model.h"

namespace sy {

// Host seconds per step of one pass of a MoE layer (see pb::MoeStepTimes).
struct MoePassTimes {
  double route = 0, plan = 0, dispatch = 0, experts = 0, undispatch = 0, combine = 0;
};

// One chunk's rows, gathered expert-major for its experts.
struct ExpertRows {
  Tensor rows;              // (M, w)
  ExpertSegments segments;  // which local experts own which of the rows
};

class TokenDispatcher {
 public:
  // Items of `width` values; experts of options.num_experts sharded over groups.ep_group. With
  // overlap_auto, measures the cost model's exchange and compute rates (collective over the ep
  // group).
  TokenDispatcher(const MoeOptions& options, const ProcessGroups& groups, Device device, int width);
  TokenDispatcher(const TokenDispatcher&) = delete;
  TokenDispatcher& operator=(const TokenDispatcher&) = delete;

  // Forward.
  void plan(const Routing& routing, Experts& experts, MoePassTimes& times);
  void dispatch(const Tensor& items, MoePassTimes& times);
  ExpertRows receive(int chunk);
  void send_back(int chunk, const Tensor& rows);
  void combine(const Tensor& out, MoePassTimes& times);

  // Backward (of the last forward's plan).
  Tensor combine_backward(const Tensor& dout, MoePassTimes& times);
  void dispatch_gradients(MoePassTimes& times);
  void uncombine(const Tensor& ditems, MoePassTimes& times);

  // End of a pass, after its remaining compute is queued: the deadline-bounded wait for the
  // exchanges still on the device (GPU + NCCL), and their failures.
  void confirm() { pipeline_->confirm(); }
  // Drops the experts' returned rows that combine's backward reads (recompute).
  void drop_activations() { release(returned_); }

  int chunks() const { return static_cast<int>(chunks_.size()); }
  bool overlapped() const { return pipeline_ && pipeline_->overlap(); }
  // Host seconds the exchanges ran since the last plan(), hidden or not.
  double busy_seconds() const { return pipeline_ ? pipeline_->busy_seconds() : 0.0; }
  const CapacityPlan& capacity_plan() const { return capacity_; }
  const ExchangePlan& exchange_plan() const { return plan_; }
  // The router's sums of the last plan (Routing::world_sums), summed over the world.
  const std::vector<double>& router_sums() const { return router_sums_; }
  int64_t dispatched_bytes() const {
    return plan_.send_total() * width_ * static_cast<int64_t>(dtype_size(payload_));
  }

 private:
  struct Chunk {
    ExpertSegments segments;             // its local experts, rows relative to row_begin
    int64_t row_begin = 0, row_end = 0;  // its rows of the expert-major buffer
    AllToAllLayout rows;                 // its exchange toward the experts, in rows
    // Direct exchange: per local expert, toward its expert-major places and back from the chunk's
    // own rows (ExchangePlan::expert_major_layout).
    std::vector<AllToAllLayout> to_experts, from_experts;
  };
  // The rows one pass moves: send (send order) → recv (arrival order, per chunk) → back (send
  // order again), with the pass's step times.
  struct Pass {
    Tensor send, recv, back;
    MoePassTimes* times = nullptr;
    std::vector<ExchangePipeline::Handle> arrived;
  };

  int choose_chunk_count(const Experts& experts);
  void make_chunks(int n);
  void start_pass(const Tensor& send, MoePassTimes& times);
  Tensor finish_pass();
  ExchangePipeline::Handle post_exchange(const Tensor& recv, const Tensor& send,
                                         const AllToAllLayout& rows, double* exposed);
  bool sync_timers() const { return options_.sync_step_timers && device_.is_cuda(); }
  // An ep group of one rank: its experts see every choice of its own items, nothing moves.
  bool local_experts_only() const { return groups_.ep_group->size() == 1; }

  MoeOptions options_;
  ProcessGroups groups_;
  Device device_;
  int width_;
  bool direct_ = false;  // MoeOptions::expert_exchange resolved for this device
  DType payload_ =
      DType::kF32;      // the rows' dtype on the wire: the experts' (bf16 in mixed precision)
  OverlapCosts costs_;  // overlap_auto's cost model

  CapacityPlan capacity_;
  ExchangePlan plan_;
  std::vector<double> router_sums_;
  Tensor weight_, ones_;  // (S,k): the gate weights, and ones (each item's k gradients summed)
  std::vector<Chunk> chunks_;
  Pass pass_;
  Tensor returned_;      // forward: the experts' outputs in send order (for combine's backward)
  HostStaging staging_;  // GPU + host MPI: the pinned buffers the exchanges pass through
  std::unique_ptr<ExchangePipeline> pipeline_;  // after staging_: its jobs use staging_
};

}  // namespace sy
