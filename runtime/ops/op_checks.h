// What every op's front end shares (runtime/ops/<family>.cc): argument checks and the dispatch on
// the tensors' device to the CPU oracle (ops/cpu) or the CUDA twin (ops/cuda). Internal to
// runtime/ops.
#pragma once

#include <vector>

#include "runtime/ops/cpu/ops_cpu.h"
#include "runtime/ops/ops.h"
#if defined(SY_WITH_CUDA)
#include "runtime/ops/cuda/ops_cuda.h"
#endif

namespace sy {
namespace op_checks {

inline bool on_cuda(const Tensor& t) {
  return t.device().is_cuda();
}

#if !defined(SY_WITH_CUDA)
[[noreturn]] inline void no_cuda(const char* op) {
  SY_THROW(op << ": CUDA tensors given, but this build has no CUDA backend; reconfigure with "
                 "-DSY_CUDA=ON or keep the tensors on the CPU");
}
#endif

#if defined(SY_WITH_CUDA)
#define SY_DISPATCH(op, t, cpu_call, cuda_call) \
  do {                                          \
    if (::sy::op_checks::on_cuda(t)) {          \
      cuda_call;                                \
    } else {                                    \
      cpu_call;                                 \
    }                                           \
  } while (0)
#else
#define SY_DISPATCH(op, t, cpu_call, cuda_call)                    \
  do {                                                             \
    if (::sy::op_checks::on_cuda(t)) ::sy::op_checks::no_cuda(op); \
    cpu_call;                                                      \
  } while (0)
#endif

inline void check_matrix(const char* op, const char* what, const Tensor& t) {
  SY_CHECK(t.ndim() == 2, op << ": " << what << " must be 2-D, got shape " << shape_str(t.shape()));
  check_dtype(op, what, t, DType::kF32);
}

// A GEMM's operand types: a and b both f32, or both bf16 (fp32 accumulation); c f32, or bf16 when
// the inputs are (rounded once, from the fp32 result).
inline void check_gemm_dtypes(const char* op, const Tensor& c, const Tensor& a, const Tensor& b) {
  const DType in = a.dtype();
  SY_CHECK((in == DType::kF32 || in == DType::kBF16) && b.dtype() == in,
           op << ": a and b must both be f32 or both bf16, got " << dtype_name(a.dtype()) << " and "
              << dtype_name(b.dtype()));
  SY_CHECK(c.dtype() == DType::kF32 || (c.dtype() == DType::kBF16 && in == DType::kBF16),
           op << ": c is " << dtype_name(c.dtype()) << " with " << dtype_name(in)
              << " inputs; c must be f32, or bf16 with bf16 inputs");
}

// Tensors of an op that runs on either storage type: all f32, or all bf16 (fp32 math inside).
inline void check_float_storage(const char* op, std::initializer_list<const Tensor*> ts) {
  const DType t = (*ts.begin())->dtype();
  SY_CHECK(t == DType::kF32 || t == DType::kBF16,
           op << ": tensors must be f32 or bf16, got " << dtype_name(t));
  for (const Tensor* x : ts)
    SY_CHECK(x->dtype() == t, op << ": tensors must share one dtype, got " << dtype_name(t)
                                 << " and " << dtype_name(x->dtype()));
}

inline void check_2d(const char* op, const char* what, const Tensor& t) {
  SY_CHECK(t.ndim() == 2, op << ": " << what << " must be 2-D, got shape " << shape_str(t.shape()));
}

inline void check_same_shape(const char* op, const Tensor& a, const Tensor& b) {
  SY_CHECK(a.shape() == b.shape(),
           op << ": shapes differ: " << shape_str(a.shape()) << " vs " << shape_str(b.shape()));
}

inline void check_offsets(const char* op, const std::vector<int64_t>& offsets, int64_t groups,
                          int64_t rows) {
  SY_CHECK(
      static_cast<int64_t>(offsets.size()) == groups + 1,
      op << ": " << groups << " groups need " << groups + 1 << " offsets, got " << offsets.size());
  SY_CHECK(offsets.front() == 0 && offsets.back() == rows,
           op << ": offsets must run from 0 to " << rows << " rows, got " << offsets.front() << ".."
              << offsets.back());
  for (int64_t g = 0; g < groups; ++g)
    SY_CHECK(offsets[g] <= offsets[g + 1], op << ": offsets decrease at group " << g);
}

// Index bounds can be checked cheaply on the host; on the GPU they are the caller's contract.
inline void check_index_host(const char* op, const Tensor& index, int64_t limit) {
  if (!index.device().is_cpu()) return;
  const int32_t* p = index.data<int32_t>();
  for (int64_t i = 0; i < index.numel(); ++i)
    SY_CHECK(p[i] < limit, op << ": index[" << i << "] = " << p[i] << " is out of range for "
                              << limit << " rows");
}

}  // namespace op_checks
}  // namespace sy
