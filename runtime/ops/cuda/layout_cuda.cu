// Permute, batched GEMM (cublasSgemmStridedBatched) and the causal softmax on the GPU.
#include "runtime/core/cuda_check.h"
#include "runtime/ops/cuda/ops_cuda.h"
#include "runtime/ops/shared/layout_math.h"

namespace sy {
namespace cuda {

namespace {

constexpr unsigned kBlock = 256;

template <typename T>
__global__ void permute_kernel(T* out, const T* in, kernels::PermuteIndex index, int64_t n) {
  SY_GRID_STRIDE(o, n) out[o] = in[kernels::permute_source(index, o)];
}

__global__ void causal_softmax_kernel(float* out, const float* in, int64_t rows, int64_t t) {
  SY_GRID_STRIDE(r, rows) kernels::causal_softmax_row(out + r * t, in + r * t, r % t, t);
}

}  // namespace

void permute(const Tensor& out, const Tensor& in, const kernels::PermuteIndex& index,
             Stream stream) {
  int64_t n = out.numel();
  if (n == 0) return;
  unsigned grid = grid_for(n, kBlock);
  cudaStream_t s = to_cuda(stream);
  switch (dtype_size(in.dtype())) {
    case 1:
      permute_kernel<uint8_t><<<grid, kBlock, 0, s>>>(
          static_cast<uint8_t*>(out.raw()), static_cast<const uint8_t*>(in.raw()), index, n);
      break;
    case 2:
      permute_kernel<uint16_t><<<grid, kBlock, 0, s>>>(
          static_cast<uint16_t*>(out.raw()), static_cast<const uint16_t*>(in.raw()), index, n);
      break;
    case 4:
      permute_kernel<uint32_t><<<grid, kBlock, 0, s>>>(
          static_cast<uint32_t*>(out.raw()), static_cast<const uint32_t*>(in.raw()), index, n);
      break;
    default:
      permute_kernel<uint64_t><<<grid, kBlock, 0, s>>>(
          static_cast<uint64_t*>(out.raw()), static_cast<const uint64_t*>(in.raw()), index, n);
      break;
  }
  SY_CUDA_LAUNCH_CHECK();
}

void batched_gemm(const Tensor& c, const Tensor& a, const Tensor& b, bool trans_a, bool trans_b,
                  float alpha, float beta, Stream stream) {
  int batch = static_cast<int>(c.dim(0)), m = static_cast<int>(c.dim(1)),
      n = static_cast<int>(c.dim(2));
  int k = static_cast<int>(trans_a ? a.dim(1) : a.dim(2));
  if (batch == 0 || m == 0 || n == 0) return;
  long long sa = a.dim(0) == 1 ? 0 : a.dim(1) * a.dim(2),
            sb = b.dim(0) == 1 ? 0 : b.dim(1) * b.dim(2);
  long long sc = static_cast<long long>(m) * n;
  // Row-major C = op(A)·op(B) is column-major Cᵀ = op(B)ᵀ·op(A)ᵀ (see gemm_cuda.cu).
  SY_CUBLAS_CHECK(cublasSgemmStridedBatched(
      cublas_handle(stream), trans_b ? CUBLAS_OP_T : CUBLAS_OP_N,
      trans_a ? CUBLAS_OP_T : CUBLAS_OP_N, n, m, k, &alpha, b.data<float>(),
      static_cast<int>(b.dim(2)), sb, a.data<float>(), static_cast<int>(a.dim(2)), sa, &beta,
      c.data<float>(), n, sc, batch));
}

void causal_softmax_forward(const Tensor& out, const Tensor& in, Stream stream) {
  int64_t rows = in.rows(), t = in.cols();
  if (rows == 0) return;
  causal_softmax_kernel<<<grid_for(rows, kBlock), kBlock, 0, to_cuda(stream)>>>(
      out.data<float>(), in.data<float>(), rows, t);
  SY_CUDA_LAUNCH_CHECK();
}

}  // namespace cuda
}  // namespace sy
