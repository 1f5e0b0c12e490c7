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

void EmulatedLinkCommunicator::all_to_all_v(const void* send, void* recv,
                                            const AllToAllLayout& layout) {
  auto until = std::chrono::steady_clock::now();
  size_t out = 0, in = 0;
  for (int p = 0; p < size(); ++p) {
    if (p == rank()) continue;
    out += layout.send_counts[p];
    in += layout.recv_counts[p];
  }
  double link_s = latency_s_ + static_cast<double>(std::max(out, in)) / bytes_per_s_;
  until += std::chrono::duration_cast<std::chrono::steady_clock::duration>(
      std::chrono::duration<double>(link_s));
  inner().all_to_all_v(send, recv, layout);
  std::this_thread::sleep_until(until);
}

std::unique_ptr<Communicator> EmulatedLinkCommunicator::split(int color, int key,
                                                              const std::string& name) {
  return std::make_unique<EmulatedLinkCommunicator>(
      std::shared_ptr<Communicator>(inner().split(color, key, name)), bytes_per_s_ / 1e9,
      latency_s_);
}

}  // namespace sy
