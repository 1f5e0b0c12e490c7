#include "runtime/train/step_guard.h"

#include <cmath>

#include "runtime/core/error.h"

namespace sy {

bool StepHealth::loss_finite() const {
  return std::isfinite(loss) && std::isfinite(aux);
}

bool StepHealth::grads_finite() const {
  return std::isfinite(dense_sq + expert_sq);
}

std::string StepHealth::describe() const {
  std::string s;
  auto add = [&s](const std::string& what, double v) {
    if (std::isfinite(v)) return;
    s += (s.empty() ? "" : ", ") + what + " " + (std::isnan(v) ? "nan" : v > 0 ? "inf" : "-inf");
  };
  add("loss", loss);
  add("auxiliary loss", aux);
  add("gradients of the dense parameters (squared norm)", dense_sq);
  add("gradients of the expert parameters (squared norm)", expert_sq);
  return s.empty() ? "nothing non-finite" : s;
}

bool StepGuard::record(int64_t step, const StepHealth& h) {
  if (h.finite()) {
    in_a_row_ = 0;
    return false;
  }
  ++total_;
  if (in_a_row_++ == 0) {
    first_step_ = step;
    first_what_ = h.describe();
  }
  if (in_a_row_ > max_in_a_row_)
    SY_THROW("stopping at step " << step << ": " << in_a_row_
                                 << " steps in a row were non-finite and skipped (schedule."
                                    "max_skipped_steps is "
                                 << max_in_a_row_ << "); the first, step " << first_step_
                                 << ", had " << first_what_
                                 << ". Lower optimizer.lr, set optimizer.grad_clip, or resume "
                                    "from the last checkpoint (every saved one is finite)");
  return true;
}

}  // namespace sy
