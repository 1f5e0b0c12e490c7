// An emulated network link for `bench moe-layer|step --emulate-link GBPS`: a communicator that
// runs every all-to-all-v and all-reduce through the real one, then holds the caller until the
// payload would have crossed a link of the given bandwidth (plus a per-call latency); an
// all-reduce counts as a ring's 2·(n−1)/n of the buffer. The hold is a sleep: like a
// NIC's DMA it takes no CPU, which is what lets the overlap scheduler be measured on a machine
// whose only transport (shared-memory copies) needs the same cores as the GEMMs. Everything else
// passes straight through. A benchmark tool, never used in training.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "comm/forwarding_communicator.h"

namespace sy {

// A command's --emulate-link "GBPS[,US]": bandwidth in GB/s per rank, latency in microseconds.
struct LinkSpec {
  double gbps = 0, latency_us = 0;
};
LinkSpec parse_link_spec(const std::string& spec);

class EmulatedLinkCommunicator final : public ForwardingCommunicator {
 public:
  // gbps: link bandwidth in GB/s per rank (bytes this rank sends or receives from other ranks,
  // whichever is larger); latency_s: added to every exchange.
  EmulatedLinkCommunicator(std::shared_ptr<Communicator> inner, double gbps, double latency_s);

  // "GBPS[,US]" (latency in microseconds) around `inner`, for a command's --emulate-link.
  static std::shared_ptr<Communicator> from_spec(std::shared_ptr<Communicator> inner,
                                                 const std::string& spec);

  void all_to_all_v(const void* send, void* recv, const AllToAllLayout& layout) override;
  void all_reduce(void* buf, size_t count, DType dtype, CommOp op) override;
  std::unique_ptr<Communicator> split(int color, int key, const std::string& name) override;

 private:
  // Runs `call`, then sleeps until `bytes` would have crossed the link.
  template <typename F>
  void hold(size_t bytes, F&& call);

  double bytes_per_s_, latency_s_;
};

// Emulated nodes for `bench alltoall --ranks-per-node L --emulate-link GBPS[,US]`: the group's
// ranks sit on nodes of L consecutive world ranks, and only what crosses between nodes pays the
// link — the bytes this rank sends to or receives from other nodes (whichever is more) at GBPS,
// plus the latency once per message to another node (the α-β model). Exchanges inside a node run
// at the machine's own speed. Its splits are emulated the same way, so the hierarchical
// all-to-all's inter-node hop pays the link and its intra-node hop does not.
class EmulatedNodesCommunicator final : public ForwardingCommunicator {
 public:
  // Collective over inner: node is this rank's node.
  EmulatedNodesCommunicator(std::shared_ptr<Communicator> inner, int node, double gbps,
                            double latency_s);
  static std::shared_ptr<Communicator> from_spec(std::shared_ptr<Communicator> inner, int node,
                                                 const std::string& spec);

  void all_to_all_v(const void* send, void* recv, const AllToAllLayout& layout) override;
  std::unique_ptr<Communicator> split(int color, int key, const std::string& name) override;

 private:
  int node_;
  std::vector<int> node_of_;  // group rank → node
  double bytes_per_s_, latency_s_;
};

}  // namespace sy
