// The threads behind parallel_for (runtime/core/cpu_threads.h) — the CPU ops' and the GEMMs' —
// workers that sleep on a condition variable between jobs. They never spin: a pool that
// busy-waits between jobs takes the cores of whatever runs there (the communication threads,
// other ranks, or OpenBLAS's own pool when it threads the GEMMs) — measured with OpenMP's active
// wait policy beside OpenBLAS's threads, the MoE layer ran 1.6× slower (launch/results/README.md).
#pragma once

#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace sy {

class CpuPool {
 public:
  static CpuPool& instance();
  ~CpuPool();

  // Runs f over `parts` consecutive ranges of [0, n), the caller taking its share; returns after
  // all are done, rethrowing the first exception. Returns false (having run nothing) when the pool
  // is busy with another caller's job — a nested call, or a second thread's — so that the caller
  // runs the work itself instead of waiting.
  bool run(int64_t n, int64_t parts, const std::function<void(int64_t, int64_t)>& f);

 private:
  CpuPool() = default;
  void work();
  // Takes and runs parts until none is left (caller and workers alike).
  void run_parts(std::unique_lock<std::mutex>& lock);

  std::mutex mu_;
  std::condition_variable wake_, done_;
  std::vector<std::thread> workers_;
  const std::function<void(int64_t, int64_t)>* job_ = nullptr;
  int64_t n_ = 0, parts_ = 0, next_ = 0, unfinished_ = 0;
  uint64_t generation_ = 0;
  std::exception_ptr error_;
  bool busy_ = false, stop_ = false;
};

}  // namespace sy
