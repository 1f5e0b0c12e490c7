// `switchyard plan --calibrate`: a hardware profile of the machine the ranks run on, measured the
// way a run loads it — every rank at once, the slowest rank's figures kept: the GEMM rate of one
// rank (fp32 on the CPU, bf16 on a GPU, with the rank's threads), the memory bandwidth of the ops'
// streaming loops, and the all-to-all's α and β among the ranks. With an emulated link (the
// benchmarks' --emulate-link GBPS,US) every rank is its own node behind that link, so the
// planner's projection can be checked against `bench moe-layer --emulate-link` too.
#pragma once

#include "comm/communicator.h"
#include "runtime/core/tensor.h"
#include "switchyard/hardware.pb.h"

namespace sy {

struct CalibrateOptions {
  Device device = Device::cpu();
  // What is not measured (a GPU's memory size, the network across real nodes) comes from `base`
  // when set; required on a GPU. On the CPU: the host's memory split over the ranks.
  const pb::HardwareProfile* base = nullptr;
  // A link every rank sits behind as a node of its own (a benchmark's --emulate-link): its
  // bandwidth per rank, GB/s (0: none), and latency.
  double link_gbs = 0, link_latency_us = 0;
};

// Collective over `world`; every rank returns the same profile.
pb::HardwareProfile calibrate_hardware(Communicator& world, const CalibrateOptions& options);

}  // namespace sy
