// Timing one MoE layer for `switchyard bench moe-layer`: forward + backward per step, split by
// step, the maximum over ranks; the experts' grouped GEMMs against plain GEMMs of the same FLOPs;
// and the overlap study (`--overlap LIST`), which compares pipelined settings against overlap off
// in the same run.
#pragma once

#include <string>
#include <vector>

#include "comm/process_groups.h"
#include "experts/moe_layer.h"
#include "planner/step_projection.h"
#include "switchyard/bench.pb.h"

namespace sy {

struct Timing {
  double layer_s = 0;
  MoePassTimes steps;  // forward + backward per step, seconds
  int chunks = 1;
  // Per step after warm-up: blocks taken from the system by the caching allocator, and minor
  // page faults of the process (a warm hot path has neither).
  double system_allocs = 0, page_faults = 0;
  double comm_s() const { return steps.dispatch + steps.undispatch; }
  double compute_s() const { return steps.experts; }
};

// Times forward + backward of `layer`: the mean per step over `iters` steps after `warmup`, each
// figure the maximum over ranks (the slowest rank sets the pace).
Timing time_layer(TokenMoe& layer, const Tensor& x, const Tensor& dy,
                  const std::vector<int32_t>& ids, int iters, int warmup, Communicator& world);

// The experts' six GEMMs of one forward + backward on the expert-major buffer, as grouped GEMMs
// (what the layer runs) and as plain GEMMs over all rows with one weight (the dense baseline).
// Same shapes, same FLOPs; seconds per pass. The operands are made once; each time() is one
// round (grouped, then dense), so that a benchmark can interleave rounds with the layer's.
struct GemmRates {
  double grouped_s = 0, dense_s = 0, flops = 0;
  void keep_best(const GemmRates& r);
};
class ExpertGemmTimer {
 public:
  ExpertGemmTimer(const std::vector<int64_t>& offsets, int64_t width, int64_t up, int64_t hidden,
                  Device device);
  GemmRates time(int iters);

 private:
  void grouped();
  void dense();
  void sync();
  std::vector<int64_t> offsets_;
  Device device_;
  double flops_ = 0;
  Tensor x_, h_, a_, y_, dy_, da_, dh_, dx_, w1_, w2_, dw1_, dw2_, v1_, v2_, dv1_, dv2_;
};

// For each item of `list` ("2", "4", "auto", …) the layer time against overlap off, and the overlap
// efficiency (off − layer) / min(comm, compute), comm and compute measured with overlap off (device
// synchronised at each step on a GPU). Every setting is timed in `rounds` interleaved rounds and
// keeps its best, so that a slow spell of a shared machine does not land on one setting only;
// the spread of the overlap-off rounds is printed as the noise to read the figures against.
// Fills the overlap fields of `record`, then prints them.
// A layer for timing, its weights in `compute` (kBF16: mixed precision's bf16 copies).
std::unique_ptr<TokenMoe> make_timed_layer(const MoeOptions& o, DType compute,
                                           const ProcessGroups& groups, Device device);

// The planner's projection (planner/step_projection.h) of the layer call this benchmark times, on
// `world_size` ranks of `hw`: nodes of hw.gpus_per_node ranks, the config's ep, all-to-all
// algorithm (AUTO: the faster of the two projections, as the run keeps the faster measured one)
// and overlap setting.
StepProjection project_bench_layer(const MoeOptions& o, const pb::RunConfig& config, int64_t tokens,
                                   int world_size, const pb::HardwareProfile& hw);

void overlap_study(const MoeOptions& o, DType compute, const ProcessGroups& groups, const Tensor& x,
                   const Tensor& dy, const std::vector<int32_t>& ids, const std::string& list,
                   int iters, int warmup, int rounds, Communicator& world,
                   pb::MoeLayerBenchRecord* record);

}  // namespace sy
