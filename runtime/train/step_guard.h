// The non-finite step guard (issue 14). A diverging run produces NaN or inf in its loss or its
// gradients; the guard decides, from numbers every rank already agrees on (the global loss and the
// global squared gradient norms, dense and expert), whether the step's update was skipped. The
// update itself is skipped where the numbers live: the trainer does not call the optimizer for a
// non-finite loss, and adamw_step changes nothing for a non-finite norm (on the device, without a
// read back). After schedule.max_skipped_steps skipped steps in a row the guard stops the run with
// a message that names the first of them and where its non-finite value appeared.
#pragma once

#include <cstdint>
#include <string>

namespace sy {

// What one step measured: the global loss (with the auxiliary losses) and the global squared
// gradient norms of the dense and the expert parameters.
struct StepHealth {
  double loss = 0, aux = 0;
  double dense_sq = 0, expert_sq = 0;
  bool loss_finite() const;
  bool grads_finite() const;
  bool finite() const { return loss_finite() && grads_finite(); }
  // Where the non-finite values are: "loss nan", "gradients of the expert parameters inf", ….
  std::string describe() const;
};

class StepGuard {
 public:
  explicit StepGuard(int max_skipped_in_a_row = 5) : max_in_a_row_(max_skipped_in_a_row) {}
  // Records step `step` (1-based); returns whether it was skipped. Throws sy::Error when it makes
  // more than max_skipped_in_a_row skipped steps in a row.
  bool record(int64_t step, const StepHealth& h);
  int64_t skipped_total() const { return total_; }

 private:
  int max_in_a_row_;
  int64_t total_ = 0, in_a_row_ = 0;
  int64_t first_step_ = 0;  // the first of the current run of skipped steps
  std::string first_what_;
};

}  // namespace sy
