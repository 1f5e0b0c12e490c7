// The NCCL backend: device buffers, one GPU per rank. All-to-all-v is a grouped ncclSend/ncclRecv
// (one pair per peer with a non-zero count); the unique id is bootstrapped over MPI. The NCCL
// communicator is created non-blocking, so every wait — initialisation, each collective — polls
// with a deadline and aborts the communicator (ncclCommAbort) instead of hanging when a peer is
// missing.
//
// The blocking operations start after the work already queued on the default stream (the compute
// stream that produced their buffers), run on stream(), and return when it has finished. The
// stream-ordered form (all_to_all_v_on) enqueues on the caller's stream and returns at once; the
// overlap pipeline (runtime/scheduler/exchange_pipeline.h) uses it. Built only with CUDA; runs only
// where GPUs exist.
#pragma once

#include <nccl.h>

#include "comm/communicator.h"
#include "comm/mpi_communicator.h"
#include "runtime/core/deadline.h"

namespace sy {

class NcclCommunicator final : public Communicator {
 public:
  // Collective over `bootstrap` (an MPI communicator of the same ranks): rank 0 creates the NCCL
  // unique id and broadcasts it. The caller must have selected this rank's GPU (cuda_set_device).
  NcclCommunicator(std::shared_ptr<Communicator> bootstrap, std::string name, double timeout_s);
  ~NcclCommunicator() override;

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  const char* backend_name() const override { return "nccl"; }
  Stream stream() const { return stream_; }
  ncclComm_t comm() const { return comm_; }

  void all_to_all_v(const void* send, void* recv, const AllToAllLayout& layout) override;
  bool stream_ordered() const override { return true; }
  void all_to_all_v_on(const void* send, void* recv, const AllToAllLayout& layout,
                       Stream stream) override;
  void wait_stream(Stream stream, const char* op) override;
  void all_to_all(const void* send, void* recv, size_t block_bytes) override;
  void all_reduce(void* buf, size_t count, DType dtype, CommOp op) override;
  void all_reduce_on(void* buf, size_t count, DType dtype, CommOp op, Stream stream) override;
  void all_gather(const void* send, void* recv, size_t bytes) override;
  void broadcast(void* buf, size_t bytes, int root) override;
  void barrier() override;
  std::unique_ptr<Communicator> split(int color, int key, const std::string& name) override;

  // The native all-to-all the benchmark compares against: one ncclSend/ncclRecv per peer of equal
  // blocks (NCCL's own AlltoAll pattern), without our layout handling.
  void native_all_to_all(const void* send, void* recv, size_t block_bytes);

 private:
  NcclCommunicator(std::shared_ptr<Communicator> bootstrap, ncclComm_t comm, std::string name,
                   double timeout_s);
  // Finalizes and destroys the communicator (aborts it if that fails or times out).
  void close_comm() noexcept;
  // Waits until the communicator's last call has been accepted (non-blocking mode may return
  // ncclInProgress) — deadline-bounded.
  void wait_comm_ready(const char* op, const Deadline& deadline);
  // NCCL's asynchronous state: true while the last call is in progress; on an error, aborts the
  // communicator and throws with NCCL's last error message.
  bool in_progress(const char* op);
  // Past the deadline: aborts the communicator (no rank hangs on a stuck peer) and throws
  // TimeoutError.
  void abort_if_expired(const char* op, const Deadline& deadline);
  // Makes stream() wait for the work queued so far on the default stream (no host wait).
  void after_default_stream();
  // Enqueues the grouped sends and receives of an all-to-all-v on s.
  void enqueue_all_to_all_v(const void* send, void* recv, const AllToAllLayout& l, Stream s);
  // Waits for stream(), checking NCCL's async error; on expiry aborts the communicator and throws
  // TimeoutError.
  void wait_own_stream(const char* op) { wait_stream(stream_, op); }

  std::shared_ptr<Communicator> bootstrap_;
  ncclComm_t comm_ = nullptr;
  Stream stream_;
  Event default_done_;       // recorded on the default stream by after_default_stream()
  void* scratch_ = nullptr;  // 4 device bytes for barrier()
  int rank_ = 0;
  int size_ = 1;
};

}  // namespace sy
