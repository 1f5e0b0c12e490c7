// Page-locked host buffers for passing device rows through a host communicator (MPI here is not
// assumed CUDA-aware), grown as needed and reused across exchanges — one set per user, used by one
// thread at a time.
#pragma once

#include <cstddef>

#include "comm/communicator.h"
#include "runtime/core/backend.h"

namespace sy {

// The one rule for staging: device buffers over a communicator that moves host memory.
bool needs_host_staging(Device device, const Communicator& comm);

class HostStaging {
 public:
  HostStaging() = default;
  ~HostStaging();
  HostStaging(const HostStaging&) = delete;
  HostStaging& operator=(const HostStaging&) = delete;
  // Makes room for send_bytes and recv_bytes. Growing first waits for `stream`, whose queued copies
  // may still use the old buffers.
  void reserve(size_t send_bytes, size_t recv_bytes, Stream stream);
  char* send() const { return send_; }
  char* recv() const { return recv_; }

 private:
  char *send_ = nullptr, *recv_ = nullptr;
  size_t send_cap_ = 0, recv_cap_ = 0;
};

}  // namespace sy
