// The planner's projection of one training step on one GPU of a cluster: the compute at the
// profile's GEMM rate, the memory-bound passes at its memory bandwidth, the MoE all-to-alls
// (collective_cost.h) less what the overlap scheduler hides behind the expert GEMMs (the same
// pipeline model the scheduler picks its chunks by, runtime/scheduler/overlap_model.h), the
// gradient all-reduce less what backward hides, and the optimizer step; and the GPU's memory.
//
// Assumptions (printed by `switchyard plan`): tokens spread evenly over the experts (no drops, no
// imbalance); every FLOP of a GEMM at gemm_efficiency × peak (attention's T×T products too);
// activations written once forward and read, with their gradients, three more times backward;
// data parallelism over the whole world (Switchyard has no tensor or pipeline parallelism):
// every rank holds the dense weights and 1/ep of the experts, with fp32 master weights,
// gradients and AdamW moments (+ bf16 copies under BF16).
#pragma once

#include <string>

#include "models/model_cost.h"
#include "planner/collective_cost.h"
#include "switchyard/config.pb.h"
#include "switchyard/hardware.pb.h"

namespace sy {

struct Cluster {
  int nodes = 1, gpus_per_node = 8;
  int world() const { return nodes * gpus_per_node; }
};

// What the planner chooses among.
struct PlanChoice {
  int ep = 1;
  pb::AllToAllAlgorithm a2a = pb::FLAT;
  bool overlap = false;  // the overlap scheduler with its chunks picked by the cost model
};

struct StepTimes {  // seconds of one step on one GPU
  double dense_gemm = 0, expert_gemm = 0, memory_bound = 0, optimizer = 0;
  double a2a = 0, a2a_intra = 0, a2a_inter = 0;  // all exchanges of the step, and their hops
  double a2a_exposed = 0;                        // what compute does not hide
  double grad_reduce = 0, grad_reduce_exposed = 0;
  double step = 0;
};

struct StepMemory {  // bytes on one GPU
  double weights = 0, gradients = 0, optimizer = 0, activations = 0, exchange = 0;
  double total() const { return weights + gradients + optimizer + activations + exchange; }
};

struct StepProjection {
  PlanChoice choice;
  std::string invalid;  // why this choice cannot run; empty when it can
  double tokens_per_gpu = 0;
  CollectiveCost exchange;  // one exchange of the MoE layer that moves the most
  int chunks = 1;           // the overlap pipeline's chunks
  StepTimes time;
  StepMemory memory;
  bool fits = false;
  double tokens_per_s = 0, model_tflops_per_gpu = 0, mfu = 0;
};

// The peak rate of the config's precision (bf16 or fp32), FLOP/s: MFU's denominator.
double peak_flops(const pb::RunConfig& config, const pb::HardwareProfile& hw);

StepProjection project_step(const ModelCost& model, const pb::RunConfig& config,
                            const Cluster& cluster, const pb::HardwareProfile& hw,
                            const PlanChoice& choice);

// One MoE layer's forward + backward on one rank of `cluster` over `tokens_per_rank` tokens (what
// `bench moe-layer` measures): router and projection GEMMs, expert GEMMs, the memory-bound
// passes over what it keeps, and the exchanges the overlap pipeline leaves exposed; time.step is
// their sum (the other fields of a step stay unset). Precision and recompute from `config`.
StepProjection project_moe_layer(const MoeOptions& options, double tokens_per_rank,
                                 const pb::RunConfig& config, const Cluster& cluster,
                                 const pb::HardwareProfile& hw, const PlanChoice& choice);

// Why `choice` cannot run `config` on `cluster`; empty when it can.
std::string why_invalid(const ModelCost& model, const pb::RunConfig& config, const Cluster& cluster,
                        const PlanChoice& choice);

}  // namespace sy
