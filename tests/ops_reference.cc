#include "tests/ops_reference.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace sy {
namespace ref {

void gemm(std::vector<float>& c, const std::vector<float>& a, const std::vector<float>& b,
          int64_t m, int64_t n, int64_t k, bool ta, bool tb, float alpha, float beta) {
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      double s = 0;
      for (int64_t p = 0; p < k; ++p) {
        double av = ta ? a[p * m + i] : a[i * k + p];
        double bv = tb ? b[j * k + p] : b[p * n + j];
        s += av * bv;
      }
      double prev = beta == 0.0f ? 0.0 : double(beta) * c[i * n + j];
      c[i * n + j] = static_cast<float>(alpha * s + prev);
    }
}

std::vector<float> softmax(const std::vector<float>& x, int64_t rows, int64_t cols) {
  std::vector<float> y(x.size());
  for (int64_t r = 0; r < rows; ++r) {
    double m = -INFINITY, s = 0;
    for (int64_t j = 0; j < cols; ++j) m = std::max<double>(m, x[r * cols + j]);
    for (int64_t j = 0; j < cols; ++j) s += std::exp(x[r * cols + j] - m);
    for (int64_t j = 0; j < cols; ++j)
      y[r * cols + j] = static_cast<float>(std::exp(x[r * cols + j] - m) / s);
  }
  return y;
}

void topk(std::vector<float>& vals, std::vector<int32_t>& idx, const std::vector<float>& x,
          int64_t rows, int64_t cols, int k) {
  vals.assign(rows * k, 0);
  idx.assign(rows * k, 0);
  for (int64_t r = 0; r < rows; ++r) {
    std::vector<int32_t> order(cols);
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(),
                     [&](int32_t p, int32_t q) { return x[r * cols + p] > x[r * cols + q]; });
    for (int i = 0; i < k; ++i) {
      idx[r * k + i] = order[i];
      vals[r * k + i] = x[r * cols + order[i]];
    }
  }
}

double gelu_erf(double x) {
  return 0.5 * x * (1.0 + std::erf(x / std::sqrt(2.0)));
}

double gelu(double x) {
  return 0.5 * x * (1.0 + std::tanh(std::sqrt(2.0 / M_PI) * (x + 0.044715 * x * x * x)));
}

double silu(double x) {
  return x / (1.0 + std::exp(-x));
}

void counting_sort(std::vector<int32_t>& order, std::vector<int32_t>& counts,
                   const std::vector<int32_t>& keys, int num_keys) {
  std::vector<int32_t> items;
  counts.assign(num_keys, 0);
  for (size_t i = 0; i < keys.size(); ++i)
    if (keys[i] >= 0 && keys[i] < num_keys) {
      items.push_back(static_cast<int32_t>(i));
      ++counts[keys[i]];
    }
  std::stable_sort(items.begin(), items.end(),
                   [&](int32_t p, int32_t q) { return keys[p] < keys[q]; });
  order.assign(keys.size(), -1);
  std::copy(items.begin(), items.end(), order.begin());
}

std::vector<float> random_floats(size_t n, uint32_t seed, float lo, float hi) {
  std::mt19937 g(seed);
  std::uniform_real_distribution<float> d(lo, hi);
  std::vector<float> v(n);
  for (auto& x : v) x = d(g);
  return v;
}

std::vector<int32_t> random_ints(size_t n, uint32_t seed, int32_t lo, int32_t hi) {
  std::mt19937 g(seed);
  std::uniform_int_distribution<int32_t> d(lo, hi);
  std::vector<int32_t> v(n);
  for (auto& x : v) x = d(g);
  return v;
}

}  // namespace ref
}  // namespace sy
