// The planner against published runs: each row projects a published measurement with the
// planner's own functions and a shipped hardware profile, and keeps the inputs it assumed and, for
// a row outside ±15%, why. `switchyard plan --validate` prints the table that
// launch/results/README.md holds; planner_validation (ctest) keeps the two equal and every row
// within ±15% or explained.
#pragma once

#include <string>
#include <vector>

namespace sy {

struct ValidationRow {
  std::string what;    // the published figure, e.g. "DeepEP dispatch, EP16 (2 nodes)"
  std::string source;  // where it was published
  std::string unit;    // "GB/s", "TFLOP/s per GPU"
  double published = 0;
  double projected = 0;
  std::string assumed;   // the inputs the projection assumed
  std::string by_input;  // non-empty: the profile was set from this very figure (agrees by
                         // construction; listed to show the plumbing, not as evidence)
  std::string why_off;   // for a row outside ±15%: why
  double error() const { return projected / published - 1; }
  bool within() const { return error() >= -0.15 && error() <= 0.15; }
};

std::vector<ValidationRow> validation_rows();
// The rows as a Markdown table (the README's copy).
std::string validation_table(const std::vector<ValidationRow>& rows);

}  // namespace sy
