// The data-parallel gradient reduction: sums each gradient over the ranks that hold a copy of its
// parameter (DESIGN.md contract 2) — the dense group over the world, the expert group over the
// edp_group — one flat bucket at a time (flat_params.h), as PyTorch DDP and Megatron do.
//
//   bucketed, overlap   backward reports each block's parameters as done (ready()); a bucket whose
//                       parameters are all done is posted at once to its group's exchange pipeline
//                       (runtime/scheduler/exchange_pipeline.h): on the communication thread with
//                       MPI, on the communication stream with NCCL — while backward goes on.
//                       Buckets are posted in layout order on every rank, so the all-reduces
//                       match across ranks. finish() posts what is left and waits for all.
//   bucketed, no overlap  finish() reduces the buckets one after the other, after backward.
//   per parameter       finish() runs one blocking all-reduce per parameter (the baseline).
//
// The sum of a bucket is elementwise, as per parameter; whether it is bitwise the same depends on
// the MPI library's reduction order for the message size: with two ranks (a + b) it always is,
// with more ranks a different algorithm may add in a different order (last-bit differences).
//
// The all-reduces run on communicators of their own (split from the run's groups, see
// split_grad_comms), so that the pipelines' threads never share a communicator with the main
// thread's MoE exchanges.
#pragma once

#include <memory>
#include <vector>

#include "comm/host_staging.h"
#include "comm/process_groups.h"
#include "runtime/scheduler/exchange_pipeline.h"
#include "runtime/train/flat_params.h"

namespace sy {

struct GradReduceOptions {
  bool bucketed = true;
  bool overlap = true;
};

// The communicators the reducer uses: dense gradients over a copy of the world, expert gradients
// over a copy of the edp group. Collective over the world.
struct GradComms {
  std::shared_ptr<Communicator> dense, expert;
};
GradComms split_grad_comms(const ProcessGroups& groups);

class GradReducer {
 public:
  GradReducer(FlatParams& flat, GradComms comms, GradReduceOptions options);
  ~GradReducer();
  GradReducer(const GradReducer&) = delete;
  GradReducer& operator=(const GradReducer&) = delete;

  // Before backward: no gradient is done.
  void begin_step();
  // Backward has written the final gradients of `params` (on the compute stream): posts every
  // bucket that is now complete, in layout order (bucketed with overlap; otherwise only counts).
  void ready(const std::vector<Param*>& params);
  // Reduces whatever is not yet reduced and waits: compute queued afterwards sees the sums.
  void finish();

  // Buckets posted since begin_step() (the overlap test's observation).
  int buckets_posted() const { return posted_; }
  const GradReduceOptions& options() const { return options_; }

 private:
  struct GroupState;
  void post_ready_buckets(GroupState& g);
  void post_bucket(GroupState& g, int bucket);
  void reduce_per_parameter(GroupState& g);

  FlatParams& flat_;
  GradComms comms_;
  GradReduceOptions options_;
  std::vector<std::unique_ptr<GroupState>> groups_;  // as flat_.groups()
  int posted_ = 0;
};

}  // namespace sy
