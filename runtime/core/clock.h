// Host wall-clock timing: seconds on the steady clock, and a scope timer that adds its duration to
// a counter (the step splits of the MoE layer, the pipeline's waits, the benchmarks).
#pragma once

#include <chrono>

#include "runtime/core/backend.h"

namespace sy {

// Seconds on the steady clock (only differences mean anything).
inline double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// Seconds since the Unix epoch on the system clock (timestamps in logs).
inline double wall_clock_s() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// Adds the host time of its scope to *into; does nothing when into is null. sync_gpu: first and
// last waits for the GPU's default stream, so that the time is the scope's own device work (a
// benchmark's step split; it defeats overlap, so not in training).
class ScopedTimer {
 public:
  explicit ScopedTimer(double* into, bool sync_gpu = false) : into_(into), sync_(sync_gpu && into) {
    if (sync_) sync_gpu_for_timing();
    t0_ = into ? now_s() : 0.0;
  }
  ~ScopedTimer() {
    if (!into_) return;
    if (sync_) {
      try {
        sync_gpu_for_timing();
      } catch (...) {  // a failed kernel: the next checked call reports it
      }
    }
    *into_ += now_s() - t0_;
  }
  ScopedTimer(const ScopedTimer&) = delete;
  ScopedTimer& operator=(const ScopedTimer&) = delete;

 private:
  double* into_;
  bool sync_;
  double t0_ = 0;
};

}  // namespace sy
