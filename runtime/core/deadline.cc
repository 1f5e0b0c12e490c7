#include "runtime/core/deadline.h"

#include <cstdlib>
#include <thread>

namespace sy {

double default_comm_timeout_s() {
  if (const char* env = std::getenv("SY_COMM_TIMEOUT_S")) {
    double v = std::atof(env);
    if (v > 0) return v;
  }
  return 120.0;
}

Deadline::Deadline(double seconds)
    : start_(std::chrono::steady_clock::now()),
      end_(start_ + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                        std::chrono::duration<double>(seconds))),
      seconds_(seconds) {}

double Deadline::elapsed_s() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

void PollBackoff::pause() {
  // MPI's shared-memory transport moves large messages in fragments that need both sides to keep
  // polling, so stay hot (spinning, then yielding the core to oversubscribed peers) for the first
  // 100 ms; only a wait that long is a straggler, and then sleeping costs nothing that matters.
  if (iter_++ == 0) start_ = std::chrono::steady_clock::now();
  if (iter_ < 64) return;
  double waited = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  if (waited < 0.1) {
    std::this_thread::yield();
  } else {
    std::this_thread::sleep_for(std::chrono::microseconds(waited < 1.0 ? 100 : 1000));
  }
}

}  // namespace sy
