// Host wall-clock timing: seconds on the steady clock, and a scope timer that adds its duration to
// a counter (the step splits of the MoE layer, the pipeline's waits, the benchmarks).
#pragma once

#include <chrono>

namespace sy {

// Seconds on the steady clock (only differences mean anything).
inline double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// Adds the host time of its scope to *into; does nothing when into is null.
class ScopedTimer {
 public:
  explicit ScopedTimer(double* into) : into_(into), t0_(into ? now_s() : 0.0) {}
  ~ScopedTimer() {
    if (into_) *into_ += now_s() - t0_;
  }
  ScopedTimer(const ScopedTimer&) = delete;
  ScopedTimer& operator=(const ScopedTimer&) = delete;

 private:
  double* into_;
  double t0_;
};

}  // namespace sy
