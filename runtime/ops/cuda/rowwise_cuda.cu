// Row ops: softmax (plain and causal) and its backward, top-k, row and column reductions,
// row dots, on the GPU.
// One thread per output element or row (grid-stride), each running the shared function of
// ops/shared/rowwise_math.h that the CPU oracle runs too.
#include "runtime/core/cuda_check.h"
#include "runtime/ops/cuda/ops_cuda.h"
#include "runtime/ops/shared/rowwise_math.h"

namespace sy {
namespace cuda {

namespace {

__global__ void row_dot_kernel(float* out, const float* a, const float* b, int64_t rows,
                               int64_t cols) {
  SY_GRID_STRIDE(r, rows) out[r] = kernels::dot_row(a + r * cols, b + r * cols, cols);
}

__global__ void softmax_kernel(float* y, const float* x, int64_t rows, int64_t n) {
  SY_GRID_STRIDE(r, rows) kernels::softmax_row(y + r * n, x + r * n, n);
}

__global__ void softmax_backward_kernel(float* dx, const float* y, const float* dy, int64_t rows,
                                        int64_t n) {
  SY_GRID_STRIDE(r, rows) kernels::softmax_backward_row(dx + r * n, y + r * n, dy + r * n, n);
}

__global__ void topk_kernel(float* v, int32_t* idx, const float* x, int64_t rows, int64_t n,
                            int k) {
  SY_GRID_STRIDE(r, rows) kernels::topk_row(v + r * k, idx + r * k, x + r * n, n, k);
}

__global__ void reduce_kernel(float* y, const float* x, int64_t outer, int64_t n,
                              int64_t outer_stride, int64_t inner_stride, int is_max) {
  SY_GRID_STRIDE(i, outer) {
    const float* p = x + i * outer_stride;
    y[i] = is_max ? kernels::reduce_max_strided(p, n, inner_stride)
                  : kernels::reduce_sum_strided(p, n, inner_stride);
  }
}

__global__ void causal_softmax_kernel(float* out, const float* in, int64_t rows, int64_t t) {
  SY_GRID_STRIDE(r, rows) kernels::causal_softmax_row(out + r * t, in + r * t, r % t, t);
}

__global__ void l2_normalize_kernel(float* out, float* norms, const float* in, int64_t rows,
                                    int64_t n) {
  SY_GRID_STRIDE(r, rows) kernels::l2_normalize_row(out + r * n, norms + r, in + r * n, n);
}

__global__ void l2_normalize_backward_kernel(float* din, const float* dout, const float* out,
                                             const float* norms, int64_t rows, int64_t n) {
  SY_GRID_STRIDE(r, rows)
  kernels::l2_normalize_backward_row(din + r * n, dout + r * n, out + r * n, norms[r], n);
}

}  // namespace

void softmax_forward(const Tensor& out, const Tensor& in, Stream stream) {
  int64_t rows = in.rows();
  if (rows == 0 || in.cols() == 0) return;
  launch(softmax_kernel, rows, stream, out.data<float>(), in.data<float>(), rows, in.cols());
}

void softmax_backward(const Tensor& din, const Tensor& out, const Tensor& dout, Stream stream) {
  int64_t rows = out.rows();
  if (rows == 0 || out.cols() == 0) return;
  launch(softmax_backward_kernel, rows, stream, din.data<float>(), out.data<float>(),
         dout.data<float>(), rows, out.cols());
}

void causal_softmax_forward(const Tensor& out, const Tensor& in, Stream stream) {
  int64_t rows = in.rows(), t = in.cols();
  if (rows == 0) return;
  launch(causal_softmax_kernel, rows, stream, out.data<float>(), in.data<float>(), rows, t);
}

void topk(const Tensor& values, const Tensor& indices, const Tensor& in, int k, Stream stream) {
  int64_t rows = in.rows();
  if (rows == 0) return;
  launch(topk_kernel, rows, stream, values.data<float>(), indices.data<int32_t>(), in.data<float>(),
         rows, in.cols(), k);
}

void reduce_rows(const Tensor& out, const Tensor& in, ReduceOp op, Stream stream) {
  int64_t rows = in.rows(), n = in.cols();
  if (rows == 0) return;
  launch(reduce_kernel, rows, stream, out.data<float>(), in.data<float>(), rows, n, n, 1,
         op == ReduceOp::kMax);
}

void reduce_cols(const Tensor& out, const Tensor& in, ReduceOp op, Stream stream) {
  int64_t rows = in.rows(), n = in.cols();
  if (n == 0) return;
  launch(reduce_kernel, n, stream, out.data<float>(), in.data<float>(), n, rows, 1, n,
         op == ReduceOp::kMax);
}

void row_dot(const Tensor& out, const Tensor& a, const Tensor& b, Stream stream) {
  launch(row_dot_kernel, a.rows(), stream, out.data<float>(), a.data<float>(), b.data<float>(),
         a.rows(), a.cols());
}

void l2_normalize_rows(const Tensor& out, const Tensor& norms, const Tensor& in, Stream stream) {
  launch(l2_normalize_kernel, in.rows(), stream, out.data<float>(), norms.data<float>(),
         in.data<float>(), in.rows(), in.cols());
}

void l2_normalize_rows_backward(const Tensor& din, const Tensor& dout, const Tensor& out,
                                const Tensor& norms, Stream stream) {
  launch(l2_normalize_backward_kernel, out.rows(), stream, din.data<float>(), dout.data<float>(),
         out.data<float>(), norms.data<float>(), out.rows(), out.cols());
}

}  // namespace cuda
}  // namespace sy
