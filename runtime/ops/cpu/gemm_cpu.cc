// GEMMs on the CPU through OpenBLAS's CBLAS interface (row-major).
#include <cblas.h>

#include "runtime/ops/cpu/ops_cpu.h"

namespace sy {
namespace cpu {

namespace {

// c (m,n) = alpha · op(a) · op(b) + beta · c with leading dimensions given; handles k = 0.
void sgemm(int64_t m, int64_t n, int64_t k, bool ta, bool tb, float alpha, const float* a,
           int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  if (m == 0 || n == 0) return;
  if (k == 0) {
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) c[i * ldc + j] = beta == 0.0f ? 0.0f : beta * c[i * ldc + j];
    return;
  }
  cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
              static_cast<blasint>(m), static_cast<blasint>(n), static_cast<blasint>(k), alpha, a,
              static_cast<blasint>(lda), b, static_cast<blasint>(ldb), beta, c,
              static_cast<blasint>(ldc));
}

}  // namespace

void gemm(const Tensor& c, const Tensor& a, const Tensor& b, bool trans_a, bool trans_b,
          float alpha, float beta) {
  int64_t m = c.dim(0), n = c.dim(1);
  int64_t k = trans_a ? a.dim(0) : a.dim(1);
  sgemm(m, n, k, trans_a, trans_b, alpha, a.data<float>(), a.dim(1), b.data<float>(), b.dim(1),
        beta, c.data<float>(), n);
}

// A loop of GEMMs, one per non-empty group: on the CPU this already runs at the dense rate for
// the sizes experts have, and it is the reference the CUDA grouped GEMM is checked against.
void grouped_gemm(const Tensor& c, const Tensor& a, const Tensor& b,
                  const std::vector<int64_t>& offsets, bool trans_b, float alpha, float beta) {
  int64_t groups = static_cast<int64_t>(offsets.size()) - 1;
  int64_t kdim = a.dim(1), n = c.dim(1);
  const float* ap = a.data<float>();
  const float* bp = b.data<float>();
  float* cp = c.data<float>();
  for (int64_t g = 0; g < groups; ++g) {
    int64_t rows = offsets[g + 1] - offsets[g];
    if (rows == 0) continue;
    sgemm(rows, n, kdim, false, trans_b, alpha, ap + offsets[g] * kdim, kdim, bp + g * kdim * n,
          trans_b ? kdim : n, beta, cp + offsets[g] * n, n);
  }
}

void grouped_gemm_weight_grad(const Tensor& c, const Tensor& a, const Tensor& b,
                              const std::vector<int64_t>& offsets, float alpha, float beta) {
  int64_t groups = static_cast<int64_t>(offsets.size()) - 1;
  int64_t kdim = a.dim(1), n = b.dim(1);
  const float* ap = a.data<float>();
  const float* bp = b.data<float>();
  float* cp = c.data<float>();
  for (int64_t g = 0; g < groups; ++g) {
    int64_t rows = offsets[g + 1] - offsets[g];
    // (K,rows)·(rows,N): rows is the reduction dimension; rows = 0 scales c[g] by beta.
    sgemm(kdim, n, rows, true, false, alpha, ap + offsets[g] * kdim, kdim, bp + offsets[g] * n, n,
          beta, cp + g * kdim * n, n);
  }
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

}  // namespace cpu
}  // namespace sy
