// Row-wise and elementwise kernels. Each thread runs the shared per-row or per-element function of
// ops/shared/rowwise_math.h, the same code the CPU oracle runs; reductions keep the CPU's order,
// so their results are bitwise equal to the CPU's.
#include "runtime/core/cuda_check.h"
#include "runtime/ops/cuda/ops_cuda.h"
#include "runtime/ops/shared/rowwise_math.h"

namespace sy {
namespace cuda {

namespace {

constexpr unsigned kBlock = 256;

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

__global__ void act_forward_kernel(float* y, const float* x, int64_t n, int gelu) {
  SY_GRID_STRIDE(i, n) y[i] = gelu ? kernels::gelu(x[i]) : kernels::silu(x[i]);
}

__global__ void act_backward_kernel(float* dx, const float* x, const float* dy, int64_t n,
                                    int gelu) {
  SY_GRID_STRIDE(i, n) dx[i] = (gelu ? kernels::gelu_grad(x[i]) : kernels::silu_grad(x[i])) * dy[i];
}

__global__ void reduce_kernel(float* y, const float* x, int64_t outer, int64_t n,
                              int64_t outer_stride, int64_t inner_stride, int is_max) {
  SY_GRID_STRIDE(i, outer) {
    const float* p = x + i * outer_stride;
    y[i] = is_max ? kernels::reduce_max_strided(p, n, inner_stride)
                  : kernels::reduce_sum_strided(p, n, inner_stride);
  }
}

__global__ void f32_to_bf16_kernel(bf16* y, const float* x, int64_t n) {
  SY_GRID_STRIDE(i, n) y[i] = float_to_bf16(x[i]);
}

__global__ void bf16_to_f32_kernel(float* y, const bf16* x, int64_t n) {
  SY_GRID_STRIDE(i, n) y[i] = bf16_to_float(x[i]);
}

}  // namespace

void softmax_forward(const Tensor& out, const Tensor& in, Stream stream) {
  int64_t rows = in.rows();
  if (rows == 0 || in.cols() == 0) return;
  softmax_kernel<<<grid_for(rows, kBlock), kBlock, 0, to_cuda(stream)>>>(
      out.data<float>(), in.data<float>(), rows, in.cols());
  SY_CUDA_LAUNCH_CHECK();
}

void softmax_backward(const Tensor& din, const Tensor& out, const Tensor& dout, Stream stream) {
  int64_t rows = out.rows();
  if (rows == 0 || out.cols() == 0) return;
  softmax_backward_kernel<<<grid_for(rows, kBlock), kBlock, 0, to_cuda(stream)>>>(
      din.data<float>(), out.data<float>(), dout.data<float>(), rows, out.cols());
  SY_CUDA_LAUNCH_CHECK();
}

void topk(const Tensor& values, const Tensor& indices, const Tensor& in, int k, Stream stream) {
  int64_t rows = in.rows();
  if (rows == 0) return;
  topk_kernel<<<grid_for(rows, kBlock), kBlock, 0, to_cuda(stream)>>>(
      values.data<float>(), indices.data<int32_t>(), in.data<float>(), rows, in.cols(), k);
  SY_CUDA_LAUNCH_CHECK();
}

void activation_forward(const Tensor& out, const Tensor& in, Activation act, Stream stream) {
  int64_t n = in.numel();
  if (n == 0) return;
  act_forward_kernel<<<grid_for(n, kBlock), kBlock, 0, to_cuda(stream)>>>(
      out.data<float>(), in.data<float>(), n, act == Activation::kGelu);
  SY_CUDA_LAUNCH_CHECK();
}

void activation_backward(const Tensor& din, const Tensor& in, const Tensor& dout, Activation act,
                         Stream stream) {
  int64_t n = in.numel();
  if (n == 0) return;
  act_backward_kernel<<<grid_for(n, kBlock), kBlock, 0, to_cuda(stream)>>>(
      din.data<float>(), in.data<float>(), dout.data<float>(), n, act == Activation::kGelu);
  SY_CUDA_LAUNCH_CHECK();
}

void reduce_rows(const Tensor& out, const Tensor& in, ReduceOp op, Stream stream) {
  int64_t rows = in.rows(), n = in.cols();
  if (rows == 0) return;
  reduce_kernel<<<grid_for(rows, kBlock), kBlock, 0, to_cuda(stream)>>>(
      out.data<float>(), in.data<float>(), rows, n, n, 1, op == ReduceOp::kMax);
  SY_CUDA_LAUNCH_CHECK();
}

void reduce_cols(const Tensor& out, const Tensor& in, ReduceOp op, Stream stream) {
  int64_t rows = in.rows(), n = in.cols();
  if (n == 0) return;
  reduce_kernel<<<grid_for(n, kBlock), kBlock, 0, to_cuda(stream)>>>(
      out.data<float>(), in.data<float>(), n, rows, 1, n, op == ReduceOp::kMax);
  SY_CUDA_LAUNCH_CHECK();
}

void cast(const Tensor& out, const Tensor& in, Stream stream) {
  int64_t n = in.numel();
  if (n == 0) return;
  if (in.dtype() == out.dtype()) {
    backend(DeviceType::kCUDA).copy(out.raw(), in.raw(), in.nbytes(), stream);
  } else if (in.dtype() == DType::kF32) {
    f32_to_bf16_kernel<<<grid_for(n, kBlock), kBlock, 0, to_cuda(stream)>>>(out.data<bf16>(),
                                                                            in.data<float>(), n);
  } else {
    bf16_to_f32_kernel<<<grid_for(n, kBlock), kBlock, 0, to_cuda(stream)>>>(out.data<float>(),
                                                                            in.data<bf16>(), n);
  }
  SY_CUDA_LAUNCH_CHECK();
}

}  // namespace cuda
}  // namespace sy
