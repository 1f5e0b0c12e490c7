// An emulated network link for `bench moe-layer --emulate-link GBPS`: a communicator that runs
// every all-to-all-v through the real one, then holds the caller until the payload would have
// crossed a link of the given bandwidth (plus a per-exchange latency). The hold is a sleep: like a
// NIC's DMA it takes no CPU, which is what lets the overlap scheduler be measured on a machine
// whose only transport (shared-memory copies) needs the same cores as the GEMMs. Everything else
// passes straight through. A benchmark tool, never used in training.
#pragma once

#include <memory>

#include "comm/communicator.h"

namespace sy {

class EmulatedLinkCommunicator final : public Communicator {
 public:
  // gbps: link bandwidth in GB/s per rank (bytes this rank sends or receives from other ranks,
  // whichever is larger); latency_s: added to every exchange.
  EmulatedLinkCommunicator(std::shared_ptr<Communicator> inner, double gbps, double latency_s);

  int rank() const override { return inner_->rank(); }
  int size() const override { return inner_->size(); }
  const char* backend_name() const override { return inner_->backend_name(); }
  void all_to_all_v(const void* send, void* recv, const AllToAllLayout& layout) override;
  void all_to_all(const void* send, void* recv, size_t block_bytes) override {
    inner_->all_to_all(send, recv, block_bytes);
  }
  void all_reduce(void* buf, size_t count, DType dtype, CommOp op) override {
    inner_->all_reduce(buf, count, dtype, op);
  }
  void all_gather(const void* send, void* recv, size_t bytes) override {
    inner_->all_gather(send, recv, bytes);
  }
  void broadcast(void* buf, size_t bytes, int root) override {
    inner_->broadcast(buf, bytes, root);
  }
  void barrier() override { inner_->barrier(); }
  std::unique_ptr<Communicator> split(int color, int key, const std::string& name) override;

 private:
  std::shared_ptr<Communicator> inner_;
  double bytes_per_s_, latency_s_;
};

}  // namespace sy
