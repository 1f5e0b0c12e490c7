// An emulated network link for `bench moe-layer --emulate-link GBPS`: a communicator that runs
// every all-to-all-v through the real one, then holds the caller until the payload would have
// crossed a link of the given bandwidth (plus a per-exchange latency). The hold is a sleep: like a
// NIC's DMA it takes no CPU, which is what lets the overlap scheduler be measured on a machine
// whose only transport (shared-memory copies) needs the same cores as the GEMMs. Everything else
// passes straight through. A benchmark tool, never used in training.
#pragma once

#include <memory>

#include "comm/forwarding_communicator.h"

namespace sy {

class EmulatedLinkCommunicator final : public ForwardingCommunicator {
 public:
  // gbps: link bandwidth in GB/s per rank (bytes this rank sends or receives from other ranks,
  // whichever is larger); latency_s: added to every exchange.
  EmulatedLinkCommunicator(std::shared_ptr<Communicator> inner, double gbps, double latency_s);

  void all_to_all_v(const void* send, void* recv, const AllToAllLayout& layout) override;
  std::unique_ptr<Communicator> split(int color, int key, const std::string& name) override;

 private:
  double bytes_per_s_, latency_s_;
};

}  // namespace sy
