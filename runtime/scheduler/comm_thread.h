// The communication thread of the overlap scheduler (DESIGN.md contract 5, CPU side): a worker
// that runs communication jobs in the order they are posted while the main thread computes. Only
// this thread calls MPI while a pipeline is in flight, so MPI needs MPI_THREAD_SERIALIZED or
// better (mpi_init asks for MPI_THREAD_MULTIPLE). Jobs run strictly in posting order, which every
// rank keeps identical, so the collectives inside them match across ranks.
//
// An exception thrown by a job (a TimeoutError from a collective's deadline, say) is kept and
// rethrown by wait() on the main thread; jobs posted after a failed one are skipped.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>

namespace sy {

class CommThread {
 public:
  using Ticket = uint64_t;

  // on_start runs first on the new thread (e.g. selecting the caller's GPU).
  explicit CommThread(std::function<void()> on_start = {});
  ~CommThread();
  CommThread(const CommThread&) = delete;
  CommThread& operator=(const CommThread&) = delete;

  // Queues a job; returns its ticket.
  Ticket post(std::function<void()> job);
  // Blocks until the job with this ticket (and all before it) has run; rethrows its exception, or
  // that of any earlier job that failed.
  void wait(Ticket ticket);
  // Waits for everything posted so far.
  void drain();

 private:
  void run();

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::pair<Ticket, std::function<void()>>> queue_;
  Ticket next_ = 1;
  Ticket done_ = 0;  // every ticket ≤ done_ has finished (or been skipped after a failure)
  std::exception_ptr error_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace sy
