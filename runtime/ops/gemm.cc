// GEMMs: plain, grouped over row segments (the experts), its weight gradient, batched: argument
// checks (f32, or bf16 inputs with fp32 accumulation), then the CPU or CUDA implementation.
#include "runtime/ops/op_checks.h"

namespace sy {

using namespace op_checks;

void gemm(const Tensor& c, const Tensor& a, const Tensor& b, bool trans_a, bool trans_b,
          float alpha, float beta, Stream stream) {
  check_2d("gemm", "c", c);
  check_2d("gemm", "a", a);
  check_2d("gemm", "b", b);
  check_gemm_dtypes("gemm", c, a, b);
  check_same_device("gemm", {&c, &a, &b});
  int64_t m = trans_a ? a.dim(1) : a.dim(0), k = trans_a ? a.dim(0) : a.dim(1);
  int64_t kb = trans_b ? b.dim(1) : b.dim(0), n = trans_b ? b.dim(0) : b.dim(1);
  SY_CHECK(k == kb && c.dim(0) == m && c.dim(1) == n,
           "gemm: op(a) is " << m << "x" << k << ", op(b) is " << kb << "x" << n << ", c is "
                             << shape_str(c.shape()));
  SY_DISPATCH("gemm", c, cpu::gemm(c, a, b, trans_a, trans_b, alpha, beta),
              cuda::gemm(c, a, b, trans_a, trans_b, alpha, beta, stream));
}

void grouped_gemm(const Tensor& c, const Tensor& a, const Tensor& b,
                  const std::vector<int64_t>& offsets, bool trans_b, float alpha, float beta,
                  Stream stream) {
  const char* op = "grouped_gemm";
  check_2d(op, "c", c);
  check_2d(op, "a", a);
  check_gemm_dtypes(op, c, a, b);
  SY_CHECK(b.ndim() == 3, op << ": b must be (G,K,N) or (G,N,K), got " << shape_str(b.shape()));
  check_same_device(op, {&c, &a, &b});
  int64_t k = trans_b ? b.dim(2) : b.dim(1), n = trans_b ? b.dim(1) : b.dim(2);
  SY_CHECK(a.dim(1) == k && c.dim(1) == n && c.dim(0) == a.dim(0),
           op << ": a " << shape_str(a.shape()) << ", b " << shape_str(b.shape()) << ", c "
              << shape_str(c.shape()) << " do not fit");
  check_offsets(op, offsets, b.dim(0), a.dim(0));
  SY_DISPATCH(op, c, cpu::grouped_gemm(c, a, b, offsets, trans_b, alpha, beta),
              cuda::grouped_gemm(c, a, b, offsets, trans_b, alpha, beta, stream));
}

void grouped_gemm_weight_grad(const Tensor& c, const Tensor& a, const Tensor& b,
                              const std::vector<int64_t>& offsets, float alpha, float beta,
                              Stream stream) {
  const char* op = "grouped_gemm_weight_grad";
  check_2d(op, "a", a);
  check_2d(op, "b", b);
  check_gemm_dtypes(op, c, a, b);
  SY_CHECK(c.ndim() == 3, op << ": c must be (G,K,N), got " << shape_str(c.shape()));
  check_same_device(op, {&c, &a, &b});
  SY_CHECK(a.dim(0) == b.dim(0) && c.dim(1) == a.dim(1) && c.dim(2) == b.dim(1),
           op << ": a " << shape_str(a.shape()) << ", b " << shape_str(b.shape()) << ", c "
              << shape_str(c.shape()) << " do not fit");
  check_offsets(op, offsets, c.dim(0), a.dim(0));
  SY_DISPATCH(op, c, cpu::grouped_gemm_weight_grad(c, a, b, offsets, alpha, beta),
              cuda::grouped_gemm_weight_grad(c, a, b, offsets, alpha, beta, stream));
}

void batched_gemm(const Tensor& c, const Tensor& a, const Tensor& b, bool trans_a, bool trans_b,
                  float alpha, float beta, Stream stream) {
  const char* op = "batched_gemm";
  for (const Tensor* t : {&c, &a, &b})
    SY_CHECK(t->ndim() == 3, op << ": tensors must be 3-D (batch, rows, cols)");
  check_gemm_dtypes(op, c, a, b);
  check_same_device(op, {&c, &a, &b});
  int64_t m = trans_a ? a.dim(2) : a.dim(1), k = trans_a ? a.dim(1) : a.dim(2);
  int64_t kb = trans_b ? b.dim(2) : b.dim(1), n = trans_b ? b.dim(1) : b.dim(2);
  SY_CHECK(k == kb && c.dim(1) == m && c.dim(2) == n && (a.dim(0) == c.dim(0) || a.dim(0) == 1) &&
               (b.dim(0) == c.dim(0) || b.dim(0) == 1),
           op << ": a " << shape_str(a.shape()) << ", b " << shape_str(b.shape()) << ", c "
              << shape_str(c.shape()) << " do not fit");
  SY_DISPATCH(op, c, cpu::batched_gemm(c, a, b, trans_a, trans_b, alpha, beta),
              cuda::batched_gemm(c, a, b, trans_a, trans_b, alpha, beta, stream));
}

}  // namespace sy
