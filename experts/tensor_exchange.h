// Tensor-level communication for the MoE layer: moves rows between the ranks of a group, and sums
// gradients. With the MPI backend and tensors on a GPU, the data is staged through host buffers
// (MPI here is not assumed CUDA-aware); with NCCL the device buffers go directly.
#pragma once

#include <vector>

#include "comm/communicator.h"
#include "experts/dispatch_plan.h"
#include "runtime/core/tensor.h"

namespace sy {

// send (Σ send_rows, C) → recv (Σ recv_rows, C): rows [Σ_{q<p} send_rows[q], +send_rows[p]) go to
// peer p; recv holds the peers' blocks in rank order. Collective over comm.
class HostStaging;

// Device tensors over host MPI pass through `staging` (pinned buffers kept between calls); null:
// buffers for this call only.
void exchange_rows(const Tensor& recv, const Tensor& send, const std::vector<size_t>& send_rows,
                   const std::vector<size_t>& recv_rows, Communicator& comm,
                   HostStaging* staging = nullptr);

// The general form: layout gives rows and row offsets per peer in send and recv; only those rows
// of recv are written (other chunks' rows may be in use by the main thread meanwhile). Returns
// when recv holds the data (synchronous on every backend).
void exchange_rows(const Tensor& recv, const Tensor& send, const RowLayout& layout,
                   Communicator& comm, HostStaging* staging = nullptr);

// Page-locked host buffers for passing device rows through host MPI, grown as needed and reused
// across exchanges (one set per user, used by one thread at a time).
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

// The stream-ordered form, the overlap pipeline's job (runtime/scheduler/exchange_pipeline.h).
// Host tensors: exchanges at once. Device tensors and a stream-ordered communicator (NCCL): the
// exchange is enqueued on `stream` and this returns at once. Device tensors and host MPI: copies
// the rows to `staging` on `stream`, waits for those copies, exchanges, and enqueues the copies
// back to recv on `stream` (they complete in stream order).
void exchange_rows_on(const Tensor& recv, const Tensor& send, const RowLayout& layout,
                      Communicator& comm, Stream stream, HostStaging& staging);

// In place: t becomes the elementwise sum of t over comm.
void all_reduce_sum(const Tensor& t, Communicator& comm);

}  // namespace sy
