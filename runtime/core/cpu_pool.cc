#include "runtime/core/cpu_pool.h"

namespace sy {

CpuPool& CpuPool::instance() {
  static CpuPool pool;
  return pool;
}

CpuPool::~CpuPool() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  wake_.notify_all();
  for (std::thread& t : workers_) t.join();
}

bool CpuPool::run(int64_t n, int64_t parts, const std::function<void(int64_t, int64_t)>& f) {
  std::unique_lock<std::mutex> lock(mu_);
  if (busy_) return false;
  busy_ = true;
  while (static_cast<int64_t>(workers_.size()) < parts - 1)
    workers_.emplace_back([this] { work(); });
  job_ = &f;
  n_ = n;
  parts_ = unfinished_ = parts;
  next_ = 0;
  error_ = nullptr;
  ++generation_;
  wake_.notify_all();
  run_parts(lock);
  done_.wait(lock, [this] { return unfinished_ == 0; });
  busy_ = false;
  job_ = nullptr;
  if (error_) std::rethrow_exception(error_);
  return true;
}

void CpuPool::run_parts(std::unique_lock<std::mutex>& lock) {
  while (next_ < parts_) {
    const int64_t p = next_++;
    const int64_t begin = n_ * p / parts_, end = n_ * (p + 1) / parts_;
    const auto* job = job_;
    lock.unlock();
    std::exception_ptr error;
    try {
      (*job)(begin, end);
    } catch (...) {
      error = std::current_exception();
    }
    lock.lock();
    if (error && !error_) error_ = error;
    if (--unfinished_ == 0) done_.notify_all();
  }
}

void CpuPool::work() {
  std::unique_lock<std::mutex> lock(mu_);
  uint64_t seen = generation_;
  for (;;) {
    wake_.wait(lock, [&] { return stop_ || generation_ != seen; });
    if (stop_) return;
    seen = generation_;
    run_parts(lock);
  }
}

}  // namespace sy
