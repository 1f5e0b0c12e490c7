// The MoE combine: the weighted sum of each item's k returned rows, and its backward, on the CPU.
#include <cstring>

#include "runtime/ops/cpu/ops_cpu.h"
#include "runtime/ops/cpu/vectorized.h"
#include "runtime/ops/shared/combine_math.h"
#include "runtime/ops/shared/rowwise_math.h"

namespace sy {
namespace cpu {

namespace {

template <typename T>
void combine_typed(const Tensor& out, const Tensor& y, const Tensor& pos, const Tensor& w) {
  // Row by row, adding the k weighted rows in j order: the same sum as combine_element, in a
  // form the compiler vectorises.
  int64_t s_rows = out.rows(), cols = out.cols();
  int k = static_cast<int>(pos.cols());
  float* o = out.data<float>();
  const T* yv = y.data<T>();
  const int32_t* p = pos.data<int32_t>();
  const float* wv = w.data<float>();
  for_row_chunks(s_rows, cols * k, [&](int64_t begin, int64_t end) {
    for (int64_t s = begin; s < end; ++s) {
      float* orow = o + s * cols;
      for (int64_t c = 0; c < cols; ++c) orow[c] = 0.0f;
      for (int j = 0; j < k; ++j) {
        int32_t r = p[s * k + j];
        if (r < 0) continue;
        const T* yrow = yv + r * cols;
        const float wj = wv[s * k + j];
        for (int64_t c = 0; c < cols; ++c) orow[c] += wj * load_float(yrow[c]);
      }
    }
  });
}

template <typename T>
void combine_backward_typed(const Tensor& dy, const Tensor& dw, const Tensor& dout, const Tensor& y,
                            const Tensor& pos, const Tensor& w) {
  int64_t s_rows = dout.rows(), cols = dout.cols();
  int k = static_cast<int>(pos.cols());
  const int32_t* p = pos.data<int32_t>();
  const float* wv = w.data<float>();
  const float* g = dout.data<float>();
  T* d = dy.data<T>();
  const T* yv = y.data<T>();
  float* dwv = dw.defined() && dw.numel() > 0 ? dw.data<float>() : nullptr;
  // Rows no choice points at are zero; when the kept choices cover every row (the MoE layer's send
  // rows are exactly its kept choices) there are none, and the pass over dy is saved.
  int64_t kept = 0;
  for (int64_t i = 0; i < s_rows * k; ++i) kept += p[i] >= 0;
  if (kept < dy.rows() && dy.numel()) std::memset(static_cast<void*>(d), 0, dy.nbytes());
  // Row s writes the rows pos[s,:] of dy (distinct) and its own dw[s,:]: rows split over threads.
  for_row_chunks(s_rows, cols * k, [&](int64_t begin, int64_t end) {
    for (int64_t s = begin; s < end; ++s)
      for (int j = 0; j < k; ++j) {
        int32_t r = p[s * k + j];
        if (r >= 0)
          for (int64_t c = 0; c < cols; ++c)
            d[r * cols + c] = store_as<T>(wv[s * k + j] * g[s * cols + c]);
        if (dwv)
          dwv[s * k + j] = r < 0 ? 0.0f : kernels::dot_row(g + s * cols, yv + r * cols, cols);
      }
  });
}

}  // namespace

void combine_rows(const Tensor& out, const Tensor& y, const Tensor& pos, const Tensor& w) {
  with_float_type(y.dtype(), [&](auto tag) { combine_typed<decltype(tag)>(out, y, pos, w); });
}

void combine_rows_backward(const Tensor& dy, const Tensor& dw, const Tensor& dout, const Tensor& y,
                           const Tensor& pos, const Tensor& w) {
  with_float_type(
      y.dtype(), [&](auto tag) { combine_backward_typed<decltype(tag)>(dy, dw, dout, y, pos, w); });
}

}  // namespace cpu
}  // namespace sy
