#include "launch/emulated_link.h"

#include <algorithm>
#include <chrono>
#include <thread>

namespace sy {

namespace {

// Runs `call`, then sleeps until `link_s` seconds have passed since it began.
template <typename F>
void hold_for(double link_s, F&& call) {
  const auto until = std::chrono::steady_clock::now() +
                     std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                         std::chrono::duration<double>(link_s));
  call();
  std::this_thread::sleep_until(until);
}

}  // namespace

LinkSpec parse_link_spec(const std::string& spec) {
  const size_t comma = spec.find(',');
  LinkSpec l;
  l.gbps = std::stod(spec.substr(0, comma));
  l.latency_us = comma == std::string::npos ? 0.0 : std::stod(spec.substr(comma + 1));
  SY_CHECK(l.gbps > 0 && l.latency_us >= 0,
           "--emulate-link needs a bandwidth > 0 GB/s and a latency ≥ 0 µs, got '" << spec << "'");
  return l;
}

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
  const LinkSpec l = parse_link_spec(spec);
  return std::make_shared<EmulatedLinkCommunicator>(std::move(inner), l.gbps, l.latency_us * 1e-6);
}

template <typename F>
void EmulatedLinkCommunicator::hold(size_t bytes, F&& call) {
  hold_for(latency_s_ + static_cast<double>(bytes) / bytes_per_s_, call);
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

// ---- emulated nodes ---------------------------------------------------------------------------

EmulatedNodesCommunicator::EmulatedNodesCommunicator(std::shared_ptr<Communicator> inner, int node,
                                                     double gbps, double latency_s)
    : ForwardingCommunicator(inner),
      node_(node),
      node_of_(static_cast<size_t>(inner->size())),
      bytes_per_s_(gbps * 1e9),
      latency_s_(latency_s) {
  inner->all_gather(&node_, node_of_.data(), sizeof(int));
}

std::shared_ptr<Communicator> EmulatedNodesCommunicator::from_spec(
    std::shared_ptr<Communicator> inner, int node, const std::string& spec) {
  SY_CHECK(std::string(inner->backend_name()) == "mpi",
           "--emulate-link wraps the MPI backend; drop it or use --backend mpi");
  const LinkSpec l = parse_link_spec(spec);
  return std::make_shared<EmulatedNodesCommunicator>(std::move(inner), node, l.gbps,
                                                     l.latency_us * 1e-6);
}

void EmulatedNodesCommunicator::all_to_all_v(const void* send, void* recv,
                                             const AllToAllLayout& layout) {
  size_t out = 0, in = 0, sends = 0, receives = 0;
  for (int p = 0; p < size(); ++p) {
    if (node_of_[p] == node_) continue;
    out += layout.send_counts[p];
    in += layout.recv_counts[p];
    sends += layout.send_counts[p] > 0;
    receives += layout.recv_counts[p] > 0;
  }
  const double link_s = static_cast<double>(std::max(sends, receives)) * latency_s_ +
                        static_cast<double>(std::max(out, in)) / bytes_per_s_;
  hold_for(link_s, [&] { inner().all_to_all_v(send, recv, layout); });
}

std::unique_ptr<Communicator> EmulatedNodesCommunicator::split(int color, int key,
                                                               const std::string& name) {
  return std::make_unique<EmulatedNodesCommunicator>(
      std::shared_ptr<Communicator>(inner().split(color, key, name)), node_, bytes_per_s_ / 1e9,
      latency_s_);
}

}  // namespace sy
