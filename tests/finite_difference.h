// The finite-difference checker every gradient test uses (ops, layers, Monarch products, MoE
// layers, whole models): central differences of a scalar loss accumulated in double, compared
// with the analytic gradient entry by entry.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "runtime/core/param.h"

namespace sy {
namespace testing {

// (L(v + h) − L(v − h)) / 2h for one float of a buffer; v is restored.
inline double central_difference(float* v, const std::function<double()>& loss, double h) {
  const float saved = *v;
  *v = saved + static_cast<float>(h);
  const double plus = loss();
  *v = saved - static_cast<float>(h);
  const double minus = loss();
  *v = saved;
  return (plus - minus) / (2 * h);
}

// The same for a function of a double.
inline double central_difference(const std::function<double(double)>& f, double x, double h) {
  return (f(x + h) - f(x - h)) / (2 * h);
}

// L = Σ y ⊙ dy in double: the scalar most checks differentiate.
inline double weighted_sum(const Tensor& y, const Tensor& dy) {
  auto a = y.to_vector<float>(), b = dy.to_vector<float>();
  double sum = 0;
  for (size_t i = 0; i < a.size(); ++i) sum += double(a[i]) * b[i];
  return sum;
}

// Compares analytic gradients with central differences of `loss`:
// |analytic − fd| ≤ abs_tol + rel_tol·|fd|. Where the computation makes discrete choices (MoE
// routing and drops), `discrete` returns them after each evaluation of the loss; a probe that
// changes them is skipped and counted, since a difference across a switch is not a derivative.
// Construct it after the loss has been evaluated at the point being checked.
class GradientCheck {
 public:
  GradientCheck(std::function<double()> loss, double h, double abs_tol, double rel_tol,
                std::function<std::vector<int32_t>()> discrete = {})
      : loss_(std::move(loss)),
        h_(h),
        abs_tol_(abs_tol),
        rel_tol_(rel_tol),
        discrete_(std::move(discrete)),
        base_(discrete_ ? discrete_() : std::vector<int32_t>{}) {}

  // analytic[i] against the difference in values[i], for i = 0, stride, 2·stride, … < n.
  void check(const std::string& what, float* values, const std::vector<float>& analytic,
             int64_t stride = 1) {
    for (size_t i = 0; i < analytic.size(); i += static_cast<size_t>(stride)) {
      bool same = true;
      const double fd = central_difference(
          values + i,
          [&] {
            const double l = loss_();
            same = same && (!discrete_ || discrete_() == base_);
            return l;
          },
          h_);
      if (!same) {
        ++skipped_;
        continue;
      }
      ++checked_;
      EXPECT_NEAR(analytic[i], fd, abs_tol_ + rel_tol_ * std::fabs(fd)) << what << "[" << i << "]";
    }
  }
  // A parameter's gradient, on about `samples` evenly spaced entries (every entry for small ones).
  void check_param(Param& p, int64_t samples) {
    check(p.name, p.value.data<float>(), p.grad.to_vector<float>(),
          std::max<int64_t>(1, p.value.numel() / samples));
  }
  int checked() const { return checked_; }
  int skipped() const { return skipped_; }

 private:
  std::function<double()> loss_;
  double h_, abs_tol_, rel_tol_;
  std::function<std::vector<int32_t>()> discrete_;
  std::vector<int32_t> base_;
  int checked_ = 0, skipped_ = 0;
};

}  // namespace testing
}  // namespace sy
