// `bench moe-layer --torch-peer SCRIPT`: the same MoE layer in PyTorch eager
// (launch/torch_moe_peer.py) timed on this CPU in each round, for the layer's ratio against it
// (issue 17). The peer models one layer: a top-k softmax gate, FFN experts with tanh GELU, no
// biases, capacity with first choices first.
#pragma once

#include <string>

#include "experts/moe_options.h"

namespace sy {

struct TorchPeerRun {
  std::string python = "python3";  // SY_PYTHON, else python3
  std::string script;
  int threads = 1;     // the cores the benchmark's ranks use in all
  int64_t tokens = 0;  // over all ranks
  int iters = 3;
  bool bf16 = false;
};

// Why the peer cannot model this layer ("" when it can).
std::string torch_peer_mismatch(const MoeOptions& o);

// Runs the peer once and returns its forward + backward milliseconds; throws with the reason
// (no Python with torch, the script failed, no record).
double run_torch_peer(const TorchPeerRun& run, const MoeOptions& o);

}  // namespace sy
