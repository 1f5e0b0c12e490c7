// The MPI backend. Works on host buffers. Every operation is posted non-blocking and then polled
// with a deadline, so a missing peer produces a TimeoutError, never a hang. The communicator
// duplicates the MPI_Comm it is given, so its traffic never matches anyone else's messages.
#pragma once

#include <mpi.h>

#include "comm/communicator.h"

namespace sy {

// Initialises MPI (MPI_THREAD_MULTIPLE requested, so a communication thread may drive transfers
// while the main thread computes) and records this process's rank for errors and logs. Idempotent.
// Returns the thread level MPI provided.
int mpi_init(int* argc, char*** argv);
// Finalizes MPI if this process initialised it and it is still up.
void mpi_finalize();
// Aborts every rank of the job with `code` after printing `message` on this rank (only main and
// the test main call this).
[[noreturn]] void mpi_abort_job(const std::string& message, int code);

class MpiCommunicator final : public Communicator {
 public:
  // Duplicates `comm`. name appears in errors; timeout_s bounds every blocking call.
  MpiCommunicator(MPI_Comm comm, std::string name, double timeout_s);
  ~MpiCommunicator() override;
  MpiCommunicator(const MpiCommunicator&) = delete;
  MpiCommunicator& operator=(const MpiCommunicator&) = delete;

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  const char* backend_name() const override { return "mpi"; }
  MPI_Comm comm() const { return comm_; }

  void all_to_all_v(const void* send, void* recv, const AllToAllLayout& layout) override;
  void all_to_all(const void* send, void* recv, size_t block_bytes) override;
  void all_reduce(void* buf, size_t count, DType dtype, CommOp op) override;
  void all_gather(const void* send, void* recv, size_t bytes) override;
  void all_gather_v(const void* send, size_t send_bytes, void* recv,
                    const std::vector<size_t>& recv_bytes) override;
  void broadcast(void* buf, size_t bytes, int root) override;
  void barrier() override;
  std::unique_ptr<Communicator> split(int color, int key, const std::string& name) override;

 private:
  // Polls the requests until all complete or the deadline passes (then throws TimeoutError).
  // recv_from, when given, holds for each request the group rank it receives from (−1: not a
  // receive), so the error can name the peers whose data never came.
  void wait_all(std::vector<MPI_Request>& reqs, const char* op,
                const std::vector<int>* recv_from = nullptr);
  std::string missing_peers(std::vector<MPI_Request>& reqs, const std::vector<int>& recv_from);

  MPI_Comm comm_ = MPI_COMM_NULL;
  int rank_ = 0;
  int size_ = 1;
};

// This process's rank among the ranks on the same node (MPI_COMM_TYPE_SHARED): the GPU to use.
int mpi_local_rank();
// How many ranks run on this node.
int mpi_local_size();
// The node this process runs on, as the lowest world rank on it (equal on all of its ranks).
int mpi_node_id();

// MPI_COMM_WORLD as a communicator named "world".
std::unique_ptr<MpiCommunicator> mpi_world(double timeout_s);

}  // namespace sy
