// GEMMs on the GPU through cuBLAS. Tensors are row-major; cuBLAS is column-major, so every call
// computes the transposed product: C (M,N) row-major is Cᵀ (N,M) column-major = op(B)ᵀ · op(A)ᵀ,
// which is cuBLAS(opB, opA, N, M, K, B, A).
#include <vector>

#include "runtime/core/cuda_check.h"
#include "runtime/ops/cuda/ops_cuda.h"

namespace sy {
namespace cuda {

namespace {

template <typename T>
__global__ void scale_kernel(T* p, int64_t n, float beta) {
  SY_GRID_STRIDE(i, n) p[i] = store_as<T>(beta == 0.0f ? 0.0f : beta * load_float(p[i]));
}

// c = beta · c over n elements of a GEMM output (the k = 0 case, and experts with no rows).
void scale(void* p, DType dtype, int64_t n, float beta, Stream stream) {
  if (n == 0 || beta == 1.0f) return;
  if (dtype == DType::kBF16)
    launch(scale_kernel<bf16>, n, stream, static_cast<bf16*>(p), n, beta);
  else
    launch(scale_kernel<float>, n, stream, static_cast<float*>(p), n, beta);
}

cublasOperation_t op(bool t) {
  return t ? CUBLAS_OP_T : CUBLAS_OP_N;
}

cudaDataType_t cuda_type(DType t) {
  return t == DType::kBF16 ? CUDA_R_16BF : CUDA_R_32F;
}

// A GEMM's element types and pointers, row-major, with byte-free element offsets.
struct Operand {
  char* base;
  size_t elem;  // bytes per element
  cudaDataType_t type;
  explicit Operand(const Tensor& t)
      : base(static_cast<char*>(t.raw())),
        elem(dtype_size(t.dtype())),
        type(cuda_type(t.dtype())) {}
  void* at(int64_t offset) const { return base + offset * elem; }
};

// One GEMM problem in cuBLAS's column-major terms.
struct Problem {
  cublasOperation_t ta, tb;
  int m, n, k;
  const void* a;
  int lda;
  const void* b;
  int ldb;
  void* c;
  int ldc;
};

// The element types of a GEMM call: inputs (both alike) and output; fp32 compute for all.
struct GemmTypes {
  cudaDataType_t in, out;
};

void gemm_ex(cublasHandle_t h, const Problem& p, float alpha, float beta, GemmTypes t) {
  SY_CUBLAS_CHECK(cublasGemmEx(h, p.ta, p.tb, p.m, p.n, p.k, &alpha, p.a, t.in, p.lda, p.b, t.in,
                               p.ldb, &beta, p.c, t.out, p.ldc, CUBLAS_COMPUTE_32F,
                               CUBLAS_GEMM_DEFAULT));
}

// Runs all problems as one cublasGemmGroupedBatchedEx call (one group per problem, so no expert is
// serialised behind another); falls back to a loop of cublasGemmEx only where the library reports
// the grouped call unsupported (a type combination it lacks).
void run_grouped(const std::vector<Problem>& ps, float alpha, float beta, GemmTypes t,
                 Stream stream) {
  if (ps.empty()) return;
  int g = static_cast<int>(ps.size());
  cublasHandle_t h = cublas_handle(stream);
  std::vector<cublasOperation_t> ta(g), tb(g);
  std::vector<int> m(g), n(g), k(g), lda(g), ldb(g), ldc(g), size(g, 1);
  std::vector<float> alphas(g, alpha), betas(g, beta);
  std::vector<void*> host_ptrs(3 * static_cast<size_t>(g));
  for (int i = 0; i < g; ++i) {
    const Problem& p = ps[i];
    ta[i] = p.ta;
    tb[i] = p.tb;
    m[i] = p.m;
    n[i] = p.n;
    k[i] = p.k;
    lda[i] = p.lda;
    ldb[i] = p.ldb;
    ldc[i] = p.ldc;
    host_ptrs[i] = const_cast<void*>(p.a);
    host_ptrs[g + i] = const_cast<void*>(p.b);
    host_ptrs[2 * g + i] = p.c;
  }
  // The pointer tables must live in device memory; the sizes stay on the host.
  size_t table_bytes = host_ptrs.size() * sizeof(void*);
  auto** dev = static_cast<void**>(cuda_workspace(table_bytes, stream));
  SY_CUDA_CHECK(
      cudaMemcpyAsync(dev, host_ptrs.data(), table_bytes, cudaMemcpyHostToDevice, to_cuda(stream)));
  cublasStatus_t rc = cublasGemmGroupedBatchedEx(
      h, ta.data(), tb.data(), m.data(), n.data(), k.data(), alphas.data(), dev, t.in, lda.data(),
      dev + g, t.in, ldb.data(), betas.data(), dev + 2 * g, t.out, ldc.data(), g, size.data(),
      CUBLAS_COMPUTE_32F);
  if (rc == CUBLAS_STATUS_NOT_SUPPORTED) {
    for (const Problem& p : ps) gemm_ex(h, p, alpha, beta, t);
    return;
  }
  SY_CUBLAS_CHECK(rc);
  // The host-side arrays above must outlive the call's use of them: cuBLAS reads them during the
  // call (host pointer mode), so returning afterwards is safe.
}

}  // namespace

void gemm(const Tensor& c, const Tensor& a, const Tensor& b, bool trans_a, bool trans_b,
          float alpha, float beta, Stream stream) {
  int m = static_cast<int>(c.dim(0)), n = static_cast<int>(c.dim(1));
  int k = static_cast<int>(trans_a ? a.dim(0) : a.dim(1));
  if (m == 0 || n == 0) return;
  if (k == 0) {
    scale(c.raw(), c.dtype(), c.numel(), beta, stream);
    return;
  }
  gemm_ex(cublas_handle(stream),
          Problem{op(trans_b), op(trans_a), n, m, k, b.raw(), static_cast<int>(b.dim(1)), a.raw(),
                  static_cast<int>(a.dim(1)), c.raw(), n},
          alpha, beta, GemmTypes{cuda_type(a.dtype()), cuda_type(c.dtype())});
}

void grouped_gemm(const Tensor& c, const Tensor& a, const Tensor& b,
                  const std::vector<int64_t>& offsets, bool trans_b, float alpha, float beta,
                  Stream stream) {
  int kd = static_cast<int>(a.dim(1)), n = static_cast<int>(c.dim(1));
  const Operand ao(a), bo(b), co(c);
  std::vector<Problem> ps;
  for (size_t g = 0; g + 1 < offsets.size(); ++g) {
    int rows = static_cast<int>(offsets[g + 1] - offsets[g]);
    if (rows == 0 || n == 0) continue;
    if (kd == 0) {
      scale(co.at(offsets[g] * n), c.dtype(), int64_t(rows) * n, beta, stream);
      continue;
    }
    ps.push_back(Problem{op(trans_b), CUBLAS_OP_N, n, rows, kd, bo.at(int64_t(g) * kd * n),
                         trans_b ? kd : n, ao.at(offsets[g] * kd), kd, co.at(offsets[g] * n), n});
  }
  run_grouped(ps, alpha, beta, GemmTypes{ao.type, co.type}, stream);
}

void grouped_gemm_weight_grad(const Tensor& c, const Tensor& a, const Tensor& b,
                              const std::vector<int64_t>& offsets, float alpha, float beta,
                              Stream stream) {
  int kd = static_cast<int>(a.dim(1)), n = static_cast<int>(b.dim(1));
  int64_t per_group = int64_t(kd) * n;
  const Operand ao(a), bo(b), co(c);
  std::vector<Problem> ps;
  for (size_t g = 0; g + 1 < offsets.size(); ++g) {
    int rows = static_cast<int>(offsets[g + 1] - offsets[g]);
    if (per_group == 0) continue;
    void* cg = co.at(int64_t(g) * per_group);
    if (rows == 0) {
      scale(cg, c.dtype(), per_group, beta, stream);  // an expert with no tokens: c[g] = beta·c[g]
      continue;
    }
    // c[g] (K,N) row-major = a_gᵀ · b_g  →  column-major (N,K) = b_gᵀ(N,rows) · a_g(rows,K).
    ps.push_back(Problem{CUBLAS_OP_N, CUBLAS_OP_T, n, kd, rows, bo.at(offsets[g] * n), n,
                         ao.at(offsets[g] * kd), kd, cg, n});
  }
  run_grouped(ps, alpha, beta, GemmTypes{ao.type, co.type}, stream);
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
  const cudaDataType_t in = cuda_type(a.dtype()), out = cuda_type(c.dtype());
  // Row-major C = op(A)·op(B) is column-major Cᵀ = op(B)ᵀ·op(A)ᵀ (see the top of this file).
  SY_CUBLAS_CHECK(cublasGemmStridedBatchedEx(
      cublas_handle(stream), op(trans_b), op(trans_a), n, m, k, &alpha, b.raw(), in,
      static_cast<int>(b.dim(2)), sb, a.raw(), in, static_cast<int>(a.dim(2)), sa, &beta, c.raw(),
      out, n, sc, batch, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
}

}  // namespace cuda
}  // namespace sy
