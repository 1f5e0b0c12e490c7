#include "runtime/scheduler/comm_thread.h"

namespace sy {

CommThread::CommThread(std::function<void()> on_start)
    : thread_([this, on_start = std::move(on_start)] {
        if (on_start) {
          try {
            on_start();
          } catch (...) {
            std::lock_guard<std::mutex> lock(mu_);
            error_ = std::current_exception();  // every job is then skipped and wait() rethrows
          }
        }
        run();
      }) {}

CommThread::~CommThread() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

CommThread::Ticket CommThread::post(std::function<void()> job) {
  std::lock_guard<std::mutex> lock(mu_);
  Ticket t = next_++;
  queue_.emplace_back(t, std::move(job));
  cv_.notify_all();
  return t;
}

void CommThread::wait(Ticket ticket) {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [&] { return done_ >= ticket; });
  if (error_) std::rethrow_exception(error_);
}

void CommThread::drain() {
  Ticket last;
  {
    std::lock_guard<std::mutex> lock(mu_);
    last = next_ - 1;
  }
  wait(last);
}

void CommThread::run() {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    cv_.wait(lock, [&] { return stop_ || !queue_.empty(); });
    if (queue_.empty()) return;  // stop_ and nothing left
    auto [ticket, job] = std::move(queue_.front());
    queue_.pop_front();
    bool skip = error_ != nullptr;
    lock.unlock();
    std::exception_ptr failure;
    if (!skip) {
      try {
        job();
      } catch (...) {
        failure = std::current_exception();
      }
    }
    lock.lock();
    if (failure && !error_) error_ = failure;
    done_ = ticket;
    cv_.notify_all();
  }
}

}  // namespace sy
