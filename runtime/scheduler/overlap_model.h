// The cost model behind `overlap_auto`: how many chunks to pipeline a MoE layer's exchange and
// expert compute in. With compute C and communication M of one pass, a pipeline of n chunks takes
//
//   T(n) ≈ max(C, M) + min(C, M) / n + n · (o + x · α)
//
// — the longer of the two, plus the shorter one's first (or last) chunk that nothing overlaps, plus
// the per-chunk costs: o of scheduling a stage (thread hand-off, kernel launches) and α per
// exchange (x exchanges per chunk). The quantities are measured once, when a layer is built, and
// logged; the inputs (FLOPs, bytes) are those of the step at hand.
#pragma once

#include <functional>
#include <string>

#include "comm/communicator.h"
#include "runtime/core/dtype.h"

namespace sy {

struct OverlapCosts {
  double latency_s = 20e-6;         // α: one small all-to-all-v over the group
  double bytes_per_s = 1e9;         // β: all-to-all-v bandwidth (bytes this rank sends per second)
  double flops_per_s = 1e10;        // the device's GEMM rate
  double chunk_overhead_s = 20e-6;  // o: scheduling one pipeline stage
  std::string describe() const;
};

double predict_pipeline_s(const OverlapCosts& c, double flops, double bytes, int exchanges, int n);

// The n in [1, max_chunks] with the smallest predicted time (the smallest n on ties).
int choose_chunks(const OverlapCosts& c, double flops, double bytes, int exchanges, int max_chunks);

// Seconds per all-to-all of `per_peer` bytes to every peer of the layer's group, as the layer moves
// them (device buffers, staging), averaged over `reps`; collective.
using ExchangeTimer = std::function<double(size_t per_peer, int reps)>;

// Measures the costs (collective over `group`, an MPI group of the same ranks as the layer's; every
// rank gets the same values: the maximum of the times over the group, so every rank later picks
// the same n). The GEMM rate is measured on `device`.
OverlapCosts measure_overlap_costs(Communicator& group, Device device,
                                   const ExchangeTimer& exchange_s);

}  // namespace sy
