// Row ops: softmax (plain and causal) and its backward, top-k, row and column reductions,
// row dots, on the CPU: rows (columns for reduce_cols) split over threads, each whole on one.
#include "runtime/ops/cpu/ops_cpu.h"
#include "runtime/ops/cpu/vectorized.h"
#include "runtime/ops/shared/rowwise_math.h"

namespace sy {
namespace cpu {

void softmax_forward(const Tensor& out, const Tensor& in) {
  const int64_t n = in.cols();
  const float* x = in.data<float>();
  float* y = out.data<float>();
  for_row_chunks(in.rows(), n, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) kernels::softmax_row(y + i * n, x + i * n, n);
  });
}

void softmax_backward(const Tensor& din, const Tensor& out, const Tensor& dout) {
  const int64_t n = out.cols();
  for_row_chunks(out.rows(), n, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i)
      kernels::softmax_backward_row(din.data<float>() + i * n, out.data<float>() + i * n,
                                    dout.data<float>() + i * n, n);
  });
}

void causal_softmax_forward(const Tensor& out, const Tensor& in) {
  const int64_t t = in.cols();
  for_row_chunks(in.rows(), t, [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r)
      kernels::causal_softmax_row(out.data<float>() + r * t, in.data<float>() + r * t, r % t, t);
  });
}

void topk(const Tensor& values, const Tensor& indices, const Tensor& in, int k) {
  int64_t r = in.rows(), n = in.cols();
  for (int64_t i = 0; i < r; ++i)
    kernels::topk_row(values.data<float>() + i * k, indices.data<int32_t>() + i * k,
                      in.data<float>() + i * n, n, k);
}

void reduce_rows(const Tensor& out, const Tensor& in, ReduceOp op) {
  const int64_t n = in.cols();
  const float* x = in.data<float>();
  float* y = out.data<float>();
  for_row_chunks(in.rows(), n, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i)
      y[i] = op == ReduceOp::kSum ? kernels::reduce_sum_strided(x + i * n, n, 1)
                                  : kernels::reduce_max_strided(x + i * n, n, 1);
  });
}

void reduce_cols(const Tensor& out, const Tensor& in, ReduceOp op) {
  const int64_t r = in.rows(), n = in.cols();
  const float* x = in.data<float>();
  float* y = out.data<float>();
  for_row_chunks(n, r, [&](int64_t b, int64_t e) {
    for (int64_t j = b; j < e; ++j)
      y[j] = op == ReduceOp::kSum ? kernels::reduce_sum_strided(x + j, r, n)
                                  : kernels::reduce_max_strided(x + j, r, n);
  });
}

void row_dot(const Tensor& out, const Tensor& a, const Tensor& b) {
  int64_t rows = a.rows(), cols = a.cols();
  for (int64_t r = 0; r < rows; ++r)
    out.data<float>()[r] =
        kernels::dot_row(a.data<float>() + r * cols, b.data<float>() + r * cols, cols);
}

void l2_normalize_rows(const Tensor& out, const Tensor& norms, const Tensor& in) {
  const int64_t rows = in.rows(), n = in.cols();
  for (int64_t r = 0; r < rows; ++r)
    kernels::l2_normalize_row(out.data<float>() + r * n, norms.data<float>() + r,
                              in.data<float>() + r * n, n);
}

void l2_normalize_rows_backward(const Tensor& din, const Tensor& dout, const Tensor& out,
                                const Tensor& norms) {
  const int64_t rows = out.rows(), n = out.cols();
  for (int64_t r = 0; r < rows; ++r)
    kernels::l2_normalize_backward_row(din.data<float>() + r * n, dout.data<float>() + r * n,
                                       out.data<float>() + r * n, norms.data<float>()[r], n);
}

}  // namespace cpu
}  // namespace sy
