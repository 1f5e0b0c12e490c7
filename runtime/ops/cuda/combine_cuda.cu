// The MoE combine: the weighted sum of each item's k returned rows, and its backward, on the GPU.
// One thread per output element or row (grid-stride), each running the shared function of
// ops/shared/combine_math.h that the CPU oracle runs too.
#include "runtime/core/cuda_check.h"
#include "runtime/ops/cuda/ops_cuda.h"
#include "runtime/ops/shared/combine_math.h"
#include "runtime/ops/shared/rowwise_math.h"

namespace sy {
namespace cuda {

namespace {

template <typename T>
__global__ void combine_kernel(float* out, const T* y, const int32_t* pos, const float* w,
                               int64_t rows, int k, int64_t cols) {
  SY_GRID_STRIDE(t, rows * cols) {
    out[t] = kernels::combine_element(y, pos, w, t / cols, k, t % cols, cols);
  }
}

// dy rows are written once each (positions are distinct), so no atomics.
template <typename T>
__global__ void combine_dy_kernel(T* dy, const float* dout, const int32_t* pos, const float* w,
                                  int64_t rows, int k, int64_t cols) {
  SY_GRID_STRIDE(t, rows * k * cols) {
    int64_t c = t % cols, sj = t / cols;
    int32_t p = pos[sj];
    if (p >= 0) dy[p * cols + c] = store_as<T>(w[sj] * dout[(sj / k) * cols + c]);
  }
}

template <typename T>
__global__ void combine_dw_kernel(float* dw, const float* dout, const T* y, const int32_t* pos,
                                  int64_t rows, int k, int64_t cols) {
  SY_GRID_STRIDE(sj, rows * k) {
    int32_t p = pos[sj];
    dw[sj] = p < 0 ? 0.0f : kernels::dot_row(dout + (sj / k) * cols, y + p * cols, cols);
  }
}

template <typename T>
void combine_typed(const Tensor& out, const Tensor& y, const Tensor& pos, const Tensor& w,
                   Stream stream) {
  int64_t rows = out.rows(), cols = out.cols();
  int k = static_cast<int>(pos.cols());
  launch(combine_kernel<T>, rows * cols, stream, out.data<float>(), y.data<T>(),
         pos.data<int32_t>(), w.data<float>(), rows, k, cols);
}

template <typename T>
void combine_backward_typed(const Tensor& dy, const Tensor& dw, const Tensor& dout, const Tensor& y,
                            const Tensor& pos, const Tensor& w, Stream stream) {
  int64_t rows = dout.rows(), cols = dout.cols();
  int k = static_cast<int>(pos.cols());
  dy.fill(0.0, stream);
  launch(combine_dy_kernel<T>, rows * k * cols, stream, dy.data<T>(), dout.data<float>(),
         pos.data<int32_t>(), w.data<float>(), rows, k, cols);
  if (dw.defined() && dw.numel())
    launch(combine_dw_kernel<T>, rows * k, stream, dw.data<float>(), dout.data<float>(),
           y.data<T>(), pos.data<int32_t>(), rows, k, cols);
}

}  // namespace

void combine_rows(const Tensor& out, const Tensor& y, const Tensor& pos, const Tensor& w,
                  Stream stream) {
  with_float_type(y.dtype(),
                  [&](auto tag) { combine_typed<decltype(tag)>(out, y, pos, w, stream); });
}

void combine_rows_backward(const Tensor& dy, const Tensor& dw, const Tensor& dout, const Tensor& y,
                           const Tensor& pos, const Tensor& w, Stream stream) {
  with_float_type(y.dtype(), [&](auto tag) {
    combine_backward_typed<decltype(tag)>(dy, dw, dout, y, pos, w, stream);
  });
}

}  // namespace cuda
}  // namespace sy
