// Straightforward references for the core ops, written independently of runtime/ops (plain loops
// in double precision, std::stable_sort), so the CPU oracle itself is checked against something.
#pragma once

#include <cstdint>
#include <random>
#include <vector>

namespace sy {
namespace ref {

// c (m,n) = alpha · op(a) · op(b) + beta · c; a is (m,k) or (k,m) if ta; b is (k,n) or (n,k) if tb.
void gemm(std::vector<float>& c, const std::vector<float>& a, const std::vector<float>& b,
          int64_t m, int64_t n, int64_t k, bool ta, bool tb, float alpha, float beta);
std::vector<float> softmax(const std::vector<float>& x, int64_t rows, int64_t cols);
// Indices of the k largest per row, descending, ties to the lower index; values alongside.
void topk(std::vector<float>& vals, std::vector<int32_t>& idx, const std::vector<float>& x,
          int64_t rows, int64_t cols, int k);
double gelu(double x);      // tanh approximation
double gelu_erf(double x);  // exact: 0.5·x·(1 + erf(x/√2))
double silu(double x);
// Stable sort of item indices by key, keys outside [0, num_keys) left out (then -1 padding).
void counting_sort(std::vector<int32_t>& order, std::vector<int32_t>& counts,
                   const std::vector<int32_t>& keys, int num_keys);

std::vector<float> random_floats(size_t n, uint32_t seed, float lo = -1.0f, float hi = 1.0f);
std::vector<int32_t> random_ints(size_t n, uint32_t seed, int32_t lo, int32_t hi);

}  // namespace ref
}  // namespace sy
