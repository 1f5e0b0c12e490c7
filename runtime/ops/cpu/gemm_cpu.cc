// GEMMs on the CPU through OpenBLAS's CBLAS interface (row-major). bf16 operands are widened to
// f32 first and a bf16 c is rounded once from the f32 result: fp32 math on bf16 data, the oracle
// the GPU's bf16 GEMMs (fp32 accumulation) are checked against. With several CPU threads the
// GEMMs split their rows (or columns) over them, each part a single-threaded OpenBLAS call
// (runtime/core/cpu_threads.h says why).
#include <cblas.h>

#include <algorithm>

#include "runtime/ops/cpu/ops_cpu.h"
#include "runtime/ops/cpu/row_pieces.h"

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

// A GEMM operand as f32: the tensor's own memory, or a widened copy of its bf16 values from the
// caching allocator (no allocation from the system, no page faults once warm). For c, finish()
// rounds the f32 result back into the bf16 tensor.
class F32Operand {
 public:
  explicit F32Operand(const Tensor& t) : t_(t) {
    if (t.dtype() == DType::kF32) {
      f32_ = t;
      return;
    }
    f32_ = Tensor::empty(t.shape(), DType::kF32, t.device());
    cpu::cast(f32_, t);
  }
  float* data() const { return f32_.data<float>(); }
  void finish() const {
    if (t_.dtype() == DType::kBF16) cpu::cast(t_, f32_);
  }

 private:
  Tensor t_, f32_;
};

}  // namespace

void gemm(const Tensor& c, const Tensor& a, const Tensor& b, bool trans_a, bool trans_b,
          float alpha, float beta) {
  int64_t m = c.dim(0), n = c.dim(1);
  int64_t k = trans_a ? a.dim(0) : a.dim(1);
  const F32Operand a32(a), b32(b), c32(c);
  const float *ap = a32.data(), *bp = b32.data();
  float* cp = c32.data();
  const int64_t lda = a.dim(1), ldb = b.dim(1);
  if (m >= n) {  // pieces of c's rows: op(a)'s rows
    for_row_pieces({0, m}, n * k, [&](int64_t, int64_t r0, int64_t r1) {
      sgemm(r1 - r0, n, k, trans_a, trans_b, alpha, ap + (trans_a ? r0 : r0 * lda), lda, bp, ldb,
            beta, cp + r0 * n, n);
    });
  } else {  // pieces of c's columns: op(b)'s columns
    for_row_pieces({0, n}, m * k, [&](int64_t, int64_t c0, int64_t c1) {
      sgemm(m, c1 - c0, k, trans_a, trans_b, alpha, ap, lda, bp + (trans_b ? c0 * ldb : c0), ldb,
            beta, cp + c0, n);
    });
  }
  c32.finish();
}

// A GEMM per non-empty group (per part of one, when the CPU threads split the rows): on the CPU
// this runs at about the dense rate for the sizes experts have, and it is the reference the CUDA
// grouped GEMM is checked against.
void grouped_gemm(const Tensor& c, const Tensor& a, const Tensor& b,
                  const std::vector<int64_t>& offsets, bool trans_b, float alpha, float beta) {
  int64_t kdim = a.dim(1), n = c.dim(1);
  const F32Operand a32(a), b32(b), c32(c);
  const float* ap = a32.data();
  const float* bp = b32.data();
  float* cp = c32.data();
  for_row_pieces(offsets, n * kdim, [&](int64_t g, int64_t r0, int64_t r1) {
    const int64_t row = offsets[g] + r0;
    sgemm(r1 - r0, n, kdim, false, trans_b, alpha, ap + row * kdim, kdim, bp + g * kdim * n,
          trans_b ? kdim : n, beta, cp + row * n, n);
  });
  c32.finish();
}

void grouped_gemm_weight_grad(const Tensor& c, const Tensor& a, const Tensor& b,
                              const std::vector<int64_t>& offsets, float alpha, float beta) {
  int64_t groups = static_cast<int64_t>(offsets.size()) - 1;
  int64_t kdim = a.dim(1), n = b.dim(1);
  const F32Operand a32(a), b32(b), c32(c);
  const float* ap = a32.data();
  const float* bp = b32.data();
  float* cp = c32.data();
  // Pieces of c's rows (a's columns), each piece in every group.
  for_row_pieces({0, kdim}, n * offsets[groups], [&](int64_t, int64_t k0, int64_t k1) {
    for (int64_t g = 0; g < groups; ++g) {
      int64_t rows = offsets[g + 1] - offsets[g];
      // (K,rows)·(rows,N): rows is the reduction dimension; rows = 0 scales c[g] by beta.
      sgemm(k1 - k0, n, rows, true, false, alpha, ap + offsets[g] * kdim + k0, kdim,
            bp + offsets[g] * n, n, beta, cp + (g * kdim + k0) * n, n);
    }
  });
  c32.finish();
}

void batched_gemm(const Tensor& c, const Tensor& a, const Tensor& b, bool trans_a, bool trans_b,
                  float alpha, float beta) {
  int64_t batch = c.dim(0), m = c.dim(1), n = c.dim(2);
  int64_t sa = a.dim(0) == 1 ? 0 : a.dim(1) * a.dim(2),
          sb = b.dim(0) == 1 ? 0 : b.dim(1) * b.dim(2);
  int64_t k = trans_a ? a.dim(1) : a.dim(2);
  const F32Operand a32(a), b32(b), c32(c);
  const float *ap = a32.data(), *bp = b32.data();
  float* cp = c32.data();
  std::vector<int64_t> starts(static_cast<size_t>(batch) + 1);
  for (int64_t i = 0; i <= batch; ++i) starts[i] = i * m;
  for_row_pieces(starts, n * k, [&](int64_t i, int64_t r0, int64_t r1) {
    sgemm(r1 - r0, n, k, trans_a, trans_b, alpha, ap + i * sa + (trans_a ? r0 : r0 * a.dim(2)),
          a.dim(2), bp + i * sb, b.dim(2), beta, cp + (i * m + r0) * n, n);
  });
  c32.finish();
}

}  // namespace cpu
}  // namespace sy
