// A communicator that passes every call to another one: the base of wrappers that change one
// thing and forward the rest — the benchmark's emulated link (launch/emulated_link.h), the tests'
// instrumented communicators.
#pragma once

#include <memory>
#include <string>

#include "comm/communicator.h"

namespace sy {

class ForwardingCommunicator : public Communicator {
 public:
  explicit ForwardingCommunicator(std::shared_ptr<Communicator> inner)
      : Communicator(inner->name(), inner->timeout_s()), inner_(std::move(inner)) {}

  int rank() const override { return inner_->rank(); }
  int size() const override { return inner_->size(); }
  const char* backend_name() const override { return inner_->backend_name(); }
  void all_to_all_v(const void* send, void* recv, const AllToAllLayout& layout) override {
    inner_->all_to_all_v(send, recv, layout);
  }
  void all_to_all(const void* send, void* recv, size_t block_bytes) override {
    inner_->all_to_all(send, recv, block_bytes);
  }
  void all_reduce(void* buf, size_t count, DType dtype, CommOp op) override {
    inner_->all_reduce(buf, count, dtype, op);
  }
  void all_gather(const void* send, void* recv, size_t bytes) override {
    inner_->all_gather(send, recv, bytes);
  }
  void all_gather_v(const void* send, size_t send_bytes, void* recv,
                    const std::vector<size_t>& recv_bytes) override {
    inner_->all_gather_v(send, send_bytes, recv, recv_bytes);
  }
  void broadcast(void* buf, size_t bytes, int root) override {
    inner_->broadcast(buf, bytes, root);
  }
  void barrier() override { inner_->barrier(); }
  std::unique_ptr<Communicator> split(int color, int key, const std::string& name) override {
    return inner_->split(color, key, name);
  }
  bool stream_ordered() const override { return inner_->stream_ordered(); }
  void all_to_all_v_on(const void* send, void* recv, const AllToAllLayout& layout,
                       Stream stream) override {
    inner_->all_to_all_v_on(send, recv, layout, stream);
  }
  void wait_stream(Stream stream, const char* op) override { inner_->wait_stream(stream, op); }
  void all_reduce_on(void* buf, size_t count, DType dtype, CommOp op, Stream stream) override {
    inner_->all_reduce_on(buf, count, dtype, op, stream);
  }

 protected:
  Communicator& inner() const { return *inner_; }

 private:
  std::shared_ptr<Communicator> inner_;
};

}  // namespace sy
