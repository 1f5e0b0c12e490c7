// Deadlines for every blocking wait (contract 7). A Deadline is a point in time; wait loops poll
// their condition, and when the deadline passes they throw sy::TimeoutError naming the rank, the
// operation and the group instead of hanging.
#pragma once

#include <chrono>
#include <string>

namespace sy {

// The default for communicators and the test watchdog: SY_COMM_TIMEOUT_S from the environment if
// set, else 120 s (well under CI's limit, far above any healthy collective here).
double default_comm_timeout_s();

class Deadline {
 public:
  explicit Deadline(double seconds);
  bool expired() const { return std::chrono::steady_clock::now() >= end_; }
  double seconds() const { return seconds_; }
  double elapsed_s() const;

 private:
  std::chrono::steady_clock::time_point start_, end_;
  double seconds_;
};

// Backs off while polling: spins briefly, then yields, then (after 100 ms) sleeps up to 1 ms, so
// that many ranks oversubscribed on few cores still make progress.
class PollBackoff {
 public:
  void pause();
  void reset() { iter_ = 0; }

 private:
  unsigned iter_ = 0;
  std::chrono::steady_clock::time_point start_;
};

}  // namespace sy
