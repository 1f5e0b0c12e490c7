// CPU implementations (the oracle). Same signatures as ops.h; arguments are already checked.
#pragma once

#include "runtime/ops/ops.h"

namespace sy {
namespace cpu {

void gemm(const Tensor& c, const Tensor& a, const Tensor& b, bool trans_a, bool trans_b,
          float alpha, float beta);
void grouped_gemm(const Tensor& c, const Tensor& a, const Tensor& b,
                  const std::vector<int64_t>& offsets, bool trans_b, float alpha, float beta);
void grouped_gemm_weight_grad(const Tensor& c, const Tensor& a, const Tensor& b,
                              const std::vector<int64_t>& offsets, float alpha, float beta);
void gather_rows(const Tensor& out, const Tensor& in, const Tensor& index);
void scatter_rows(const Tensor& out, const Tensor& in, const Tensor& index);
void softmax_forward(const Tensor& out, const Tensor& in);
void softmax_backward(const Tensor& din, const Tensor& out, const Tensor& dout);
void topk(const Tensor& values, const Tensor& indices, const Tensor& in, int k);
void activation_forward(const Tensor& out, const Tensor& in, Activation act);
void activation_backward(const Tensor& din, const Tensor& in, const Tensor& dout, Activation act);
void reduce_rows(const Tensor& out, const Tensor& in, ReduceOp op);
void reduce_cols(const Tensor& out, const Tensor& in, ReduceOp op);
// num_chunks only changes how the work is cut, never the result; exposed so tests can check that.
void counting_sort(const Tensor& order, const Tensor& counts, const Tensor& keys, int num_keys,
                   int64_t num_chunks = 1);
void cast(const Tensor& out, const Tensor& in);

}  // namespace cpu
}  // namespace sy
