#include "launch/emulated_link.h"

#include <algorithm>
#include <chrono>
#include <thread>

namespace sy {

EmulatedLinkCommunicator::EmulatedLinkCommunicator(std::shared_ptr<Communicator> inner, double gbps,
                                                   double latency_s)
    : ForwardingCommunicator(std::move(inner)), bytes_per_s_(gbps * 1e9), latency_s_(latency_s) {
  SY_CHECK(gbps > 0 && latency_s >= 0,
           "--emulate-link needs a bandwidth > 0 GB/s and a latency ≥ 0, got " << gbps << " GB/s");
}

std::shared_ptr<Communicator> EmulatedLinkCommunicator::from_spec(
    std::shared_ptr<Communicator> inner, const std::string& spec) {
  SY_CHECK(std::string(inner->backend_name()) == "mpi",
           "--emulate-link wraps the MPI backend; drop it or use parallel.comm_backend=MPI");
  const size_t comma = spec.find(',');
  const double gbps = std::stod(spec.substr(0, comma));
  const double latency_us = comma == std::string::npos ? 0.0 : std::stod(spec.substr(comma + 1));
  return std::make_shared<EmulatedLinkCommunicator>(std::move(inner), gbps, latency_us * 1e-6);
}

template <typename F>
void EmulatedLinkCommunicator::hold(size_t bytes, F&& call) {
  const double link_s = latency_s_ + static_cast<double>(bytes) / bytes_per_s_;
  const auto until = std::chrono::steady_clock::now() +
                     std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                         std::chrono::duration<double>(link_s));
  call();
  std::this_thread::sleep_until(until);
}

void EmulatedLinkCommunicator::all_to_all_v(const void* send, void* recv,
                                            const AllToAllLayout& layout) {
  size_t out = 0, in = 0;
  for (int p = 0; p < size(); ++p) {
    if (p == rank()) continue;
    out += layout.send_counts[p];
    in += layout.recv_counts[p];
  }
  hold(std::max(out, in), [&] { inner().all_to_all_v(send, recv, layout); });
}

void EmulatedLinkCommunicator::all_reduce(void* buf, size_t count, DType dtype, CommOp op) {
  const int n = size();
  const size_t bytes = 2 * (n - 1) * count * dtype_size(dtype) / std::max(n, 1);
  hold(bytes, [&] { inner().all_reduce(buf, count, dtype, op); });
}

std::unique_ptr<Communicator> EmulatedLinkCommunicator::split(int color, int key,
                                                              const std::string& name) {
  return std::make_unique<EmulatedLinkCommunicator>(
      std::shared_ptr<Communicator>(inner().split(color, key, name)), bytes_per_s_ / 1e9,
      latency_s_);
}

}  // namespace sy
