#include "comm/host_staging.h"

namespace sy {

bool needs_host_staging(Device device, const Communicator& comm) {
  return device.is_cuda() && !comm.stream_ordered();
}

HostStaging::~HostStaging() {
  if (!send_ && !recv_) return;
  Backend& b = backend(DeviceType::kCUDA);
  b.deallocate_pinned(send_);
  b.deallocate_pinned(recv_);
}

void HostStaging::reserve(size_t send_bytes, size_t recv_bytes, Stream stream) {
  if (send_bytes <= send_cap_ && recv_bytes <= recv_cap_) return;
  Backend& b = backend(DeviceType::kCUDA);
  b.synchronize(stream);
  auto grow = [&](char*& buf, size_t& cap, size_t want) {
    if (want <= cap) return;
    b.deallocate_pinned(buf);
    buf = nullptr;
    cap = want + want / 4;  // headroom: chunk sizes vary from step to step
    buf = static_cast<char*>(b.allocate_pinned(cap));
  };
  grow(send_, send_cap_, send_bytes);
  grow(recv_, recv_cap_, recv_bytes);
}

}  // namespace sy
