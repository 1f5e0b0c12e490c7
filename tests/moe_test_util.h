// Helpers for the MoE layer tests: deterministic global data, a layer's scalar loss
// L = Σ dout ⊙ y + aux (accumulated in double), and parameter lookup by name.
#pragma once

#include <gtest/gtest.h>

#include <ostream>
#include <string>
#include <vector>

#include "experts/moe_layer.h"
#include "runtime/core/random.h"

namespace sy {
namespace testing {

// Rows [row_begin, row_end) of a deterministic (rows, cols) matrix of N(0, scale²) values.
inline Tensor global_rows(uint64_t stream, int64_t row_begin, int64_t row_end, int64_t cols,
                          float scale = 1.0f) {
  Tensor t = Tensor::empty({row_end - row_begin, cols}, DType::kF32);
  fill_normal(t, 99, stream, scale, static_cast<uint64_t>(row_begin * cols));
  return t;
}

inline std::vector<int32_t> global_token_ids(int64_t begin, int64_t end, int vocab = 1000) {
  std::vector<int32_t> ids;
  for (int64_t t = begin; t < end; ++t)
    ids.push_back(static_cast<int32_t>((t * 7919 + 13) % vocab));
  return ids;
}

// A named MoE layer configuration for the parameterised tests.
struct MoeCase {
  const char* name;
  MoeOptions o;
};
inline void PrintTo(const MoeCase& c, std::ostream* os) {
  *os << c.name;
}
inline std::string case_name(const ::testing::TestParamInfo<MoeCase>& i) {
  return i.param.name;
}
// A copy of base changed by tweak(MoeOptions&).
template <typename Tweak>
MoeCase make_case(const char* name, MoeOptions base, Tweak tweak) {
  tweak(base);
  return {name, base};
}

inline double dot(const Tensor& a, const Tensor& b) {
  auto av = a.to_vector<float>(), bv = b.to_vector<float>();
  double s = 0;
  for (size_t i = 0; i < av.size(); ++i) s += double(av[i]) * bv[i];
  return s;
}

inline Param* find_param(TokenMoe& layer, const std::string& suffix) {
  for (Param* p : layer.params())
    if (p->name.size() >= suffix.size() &&
        p->name.compare(p->name.size() - suffix.size(), suffix.size(), suffix) == 0)
      return p;
  return nullptr;
}

}  // namespace testing
}  // namespace sy
