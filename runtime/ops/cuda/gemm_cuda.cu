// GEMMs on the GPU through cuBLAS. Tensors are row-major; cuBLAS is column-major, so every call
// computes the transposed product: C (M,N) row-major is Cᵀ (N,M) column-major = op(B)ᵀ · op(A)ᵀ,
// which is cuBLAS(opB, opA, N, M, K, B, A).
#include <vector>

#include "runtime/core/cuda_check.h"
#include "runtime/ops/cuda/ops_cuda.h"

namespace sy {
namespace cuda {

namespace {

__global__ void scale_kernel(float* p, size_t n, float beta) {
  for (size_t i = blockIdx.x * size_t(blockDim.x) + threadIdx.x; i < n;
       i += size_t(gridDim.x) * blockDim.x)
    p[i] = beta == 0.0f ? 0.0f : beta * p[i];
}

void scale(float* p, size_t n, float beta, Stream stream) {
  if (n == 0 || beta == 1.0f) return;
  launch(scale_kernel, n, stream, p, n, beta);
}

cublasOperation_t op(bool t) {
  return t ? CUBLAS_OP_T : CUBLAS_OP_N;
}

// One GEMM problem in cuBLAS's column-major terms.
struct Problem {
  cublasOperation_t ta, tb;
  int m, n, k;
  const float* a;
  int lda;
  const float* b;
  int ldb;
  float* c;
  int ldc;
};

// Runs all problems as one cublasGemmGroupedBatchedEx call (one group per problem, so no expert is
// serialised behind another); falls back to a loop of cublasSgemm only where the library reports
// the grouped call unsupported.
void run_grouped(const std::vector<Problem>& ps, float alpha, float beta, Stream stream) {
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
    host_ptrs[i] = const_cast<float*>(p.a);
    host_ptrs[g + i] = const_cast<float*>(p.b);
    host_ptrs[2 * g + i] = p.c;
  }
  // The pointer tables must live in device memory; the sizes stay on the host.
  size_t table_bytes = host_ptrs.size() * sizeof(void*);
  auto** dev = static_cast<void**>(cuda_workspace(table_bytes, stream));
  SY_CUDA_CHECK(
      cudaMemcpyAsync(dev, host_ptrs.data(), table_bytes, cudaMemcpyHostToDevice, to_cuda(stream)));
  cublasStatus_t rc = cublasGemmGroupedBatchedEx(
      h, ta.data(), tb.data(), m.data(), n.data(), k.data(), alphas.data(), dev, CUDA_R_32F,
      lda.data(), dev + g, CUDA_R_32F, ldb.data(), betas.data(), dev + 2 * g, CUDA_R_32F,
      ldc.data(), g, size.data(), CUBLAS_COMPUTE_32F);
  if (rc == CUBLAS_STATUS_NOT_SUPPORTED) {
    for (const Problem& p : ps)
      SY_CUBLAS_CHECK(cublasSgemm(h, p.ta, p.tb, p.m, p.n, p.k, &alpha, p.a, p.lda, p.b, p.ldb,
                                  &beta, p.c, p.ldc));
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
    scale(c.data<float>(), c.numel(), beta, stream);
    return;
  }
  SY_CUBLAS_CHECK(cublasSgemm(cublas_handle(stream), op(trans_b), op(trans_a), n, m, k, &alpha,
                              b.data<float>(), static_cast<int>(b.dim(1)), a.data<float>(),
                              static_cast<int>(a.dim(1)), &beta, c.data<float>(), n));
}

void grouped_gemm(const Tensor& c, const Tensor& a, const Tensor& b,
                  const std::vector<int64_t>& offsets, bool trans_b, float alpha, float beta,
                  Stream stream) {
  int kd = static_cast<int>(a.dim(1)), n = static_cast<int>(c.dim(1));
  std::vector<Problem> ps;
  for (size_t g = 0; g + 1 < offsets.size(); ++g) {
    int rows = static_cast<int>(offsets[g + 1] - offsets[g]);
    if (rows == 0 || n == 0) continue;
    if (kd == 0) {
      scale(c.data<float>() + offsets[g] * n, static_cast<size_t>(rows) * n, beta, stream);
      continue;
    }
    ps.push_back(Problem{op(trans_b), CUBLAS_OP_N, n, rows, kd,
                         b.data<float>() + g * size_t(kd) * n, trans_b ? kd : n,
                         a.data<float>() + offsets[g] * kd, kd, c.data<float>() + offsets[g] * n,
                         n});
  }
  run_grouped(ps, alpha, beta, stream);
}

void grouped_gemm_weight_grad(const Tensor& c, const Tensor& a, const Tensor& b,
                              const std::vector<int64_t>& offsets, float alpha, float beta,
                              Stream stream) {
  int kd = static_cast<int>(a.dim(1)), n = static_cast<int>(b.dim(1));
  size_t per_group = static_cast<size_t>(kd) * n;
  std::vector<Problem> ps;
  for (size_t g = 0; g + 1 < offsets.size(); ++g) {
    int rows = static_cast<int>(offsets[g + 1] - offsets[g]);
    if (per_group == 0) continue;
    float* cg = c.data<float>() + g * per_group;
    if (rows == 0) {
      scale(cg, per_group, beta, stream);  // an expert with no tokens: c[g] = beta · c[g]
      continue;
    }
    // c[g] (K,N) row-major = a_gᵀ · b_g  →  column-major (N,K) = b_gᵀ(N,rows) · a_g(rows,K).
    ps.push_back(Problem{CUBLAS_OP_N, CUBLAS_OP_T, n, kd, rows, b.data<float>() + offsets[g] * n, n,
                         a.data<float>() + offsets[g] * kd, kd, cg, n});
  }
  run_grouped(ps, alpha, beta, stream);
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

}  // namespace cuda
}  // namespace sy
