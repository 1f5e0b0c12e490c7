// Permute, batched GEMM and the causal softmax on the CPU.
#include <cblas.h>

#include <cstring>

#include "runtime/ops/cpu/ops_cpu.h"
#include "runtime/ops/shared/layout_math.h"

namespace sy {
namespace cpu {

void permute(const Tensor& out, const Tensor& in, const kernels::PermuteIndex& index) {
  size_t es = dtype_size(in.dtype());
  const char* src = static_cast<const char*>(in.raw());
  char* dst = static_cast<char*>(out.raw());
  int64_t n = out.numel();
  if (es == 4) {
    const float* s = reinterpret_cast<const float*>(src);
    float* d = reinterpret_cast<float*>(dst);
    for (int64_t o = 0; o < n; ++o) d[o] = s[kernels::permute_source(index, o)];
    return;
  }
  for (int64_t o = 0; o < n; ++o)
    std::memcpy(dst + o * es, src + kernels::permute_source(index, o) * es, es);
}

void batched_gemm(const Tensor& c, const Tensor& a, const Tensor& b, bool trans_a, bool trans_b,
                  float alpha, float beta) {
  int64_t batch = c.dim(0), m = c.dim(1), n = c.dim(2);
  int64_t sa = a.dim(0) == 1 ? 0 : a.dim(1) * a.dim(2),
          sb = b.dim(0) == 1 ? 0 : b.dim(1) * b.dim(2);
  for (int64_t i = 0; i < batch; ++i) {
    Tensor ci = c.slice_rows(i, i + 1).reshape({m, n});
    Tensor ai = Tensor::wrap(a.data<float>() + i * sa, {a.dim(1), a.dim(2)}, DType::kF32);
    Tensor bi = Tensor::wrap(b.data<float>() + i * sb, {b.dim(1), b.dim(2)}, DType::kF32);
    cpu::gemm(ci, ai, bi, trans_a, trans_b, alpha, beta);
  }
}

void causal_softmax_forward(const Tensor& out, const Tensor& in) {
  int64_t rows = in.rows(), t = in.cols();
  for (int64_t r = 0; r < rows; ++r)
    kernels::causal_softmax_row(out.data<float>() + r * t, in.data<float>() + r * t, r % t, t);
}

}  // namespace cpu
}  // namespace sy
