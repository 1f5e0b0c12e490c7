// CUDA implementations. Same signatures as ops.h; arguments are already checked by the family's
// front end (runtime/ops/<family>.cc).
#pragma once

#include "runtime/ops/ops.h"
#include "runtime/ops/shared/index_math.h"

namespace sy {
namespace cuda {

// ---- GEMMs -------------------------------------------------------------------------------------
void gemm(const Tensor& c, const Tensor& a, const Tensor& b, bool trans_a, bool trans_b,
          float alpha, float beta, Stream stream);
void grouped_gemm(const Tensor& c, const Tensor& a, const Tensor& b,
                  const std::vector<int64_t>& offsets, bool trans_b, float alpha, float beta,
                  Stream stream);
void grouped_gemm_weight_grad(const Tensor& c, const Tensor& a, const Tensor& b,
                              const std::vector<int64_t>& offsets, float alpha, float beta,
                              Stream stream);
void batched_gemm(const Tensor& c, const Tensor& a, const Tensor& b, bool trans_a, bool trans_b,
                  float alpha, float beta, Stream stream);

// ---- index ops ---------------------------------------------------------------------------------
void gather_rows(const Tensor& out, const Tensor& in, const Tensor& index, Stream stream);
void scatter_rows(const Tensor& out, const Tensor& in, const Tensor& index, Stream stream);
void counting_sort(const Tensor& order, const Tensor& counts, const Tensor& keys, int num_keys,
                   Stream stream);
void permute(const Tensor& out, const Tensor& in, const kernels::PermuteIndex& index,
             Stream stream);
void embedding_backward(const Tensor& dtable, const Tensor& dout, const Tensor& ids, Stream stream);

// ---- row ops -----------------------------------------------------------------------------------
void softmax_forward(const Tensor& out, const Tensor& in, Stream stream);
void softmax_backward(const Tensor& din, const Tensor& out, const Tensor& dout, Stream stream);
void causal_softmax_forward(const Tensor& out, const Tensor& in, Stream stream);
void topk(const Tensor& values, const Tensor& indices, const Tensor& in, int k, Stream stream);
void reduce_rows(const Tensor& out, const Tensor& in, ReduceOp op, Stream stream);
void reduce_cols(const Tensor& out, const Tensor& in, ReduceOp op, Stream stream);
void row_dot(const Tensor& out, const Tensor& a, const Tensor& b, Stream stream);
void l2_normalize_rows(const Tensor& out, const Tensor& norms, const Tensor& in, Stream stream);
void l2_normalize_rows_backward(const Tensor& din, const Tensor& dout, const Tensor& out,
                                const Tensor& norms, Stream stream);

// ---- elementwise ops ---------------------------------------------------------------------------
void activation_forward(const Tensor& out, const Tensor& in, Activation act, Stream stream);
void bias_activation_forward(const Tensor& out, const Tensor& h, const Tensor& bias,
                             Activation act, Stream stream);
void activation_backward(const Tensor& din, const Tensor& in, const Tensor& dout, Activation act,
                         Stream stream);
void swiglu_forward(const Tensor& out, const Tensor& in, Stream stream);
void swiglu_backward(const Tensor& din, const Tensor& in, const Tensor& dout, Stream stream);
void cast(const Tensor& out, const Tensor& in, Stream stream);
void add_bias(const Tensor& out, const Tensor& bias, Stream stream);
void add_scaled(const Tensor& out, const Tensor& in, float alpha, Stream stream);
void add_row_scaled(const Tensor& out, const Tensor& x, const Tensor& scale, Stream stream);
void add_row_bias(const Tensor& out, const Tensor& bias, Stream stream);
void mul(const Tensor& out, const Tensor& a, const Tensor& b, Stream stream);
void scale_inplace(const Tensor& x, float alpha, Stream stream);
void causal_mask(const Tensor& out, const Tensor& in, Stream stream);
void rope(const Tensor& y, const Tensor& x, const Tensor& table, bool inverse, Stream stream);
void sine_forward(const Tensor& y, const Tensor& x, const Tensor& freq, Stream stream);
void sine_backward(const Tensor& dx, const Tensor& dfx, const Tensor& x, const Tensor& dy,
                   const Tensor& freq, Stream stream);
void scale_by_inverse(const Tensor& out, const Tensor& in, const Tensor& s, Stream stream);
void scale_by_inverse_backward(const Tensor& din, const Tensor& ds, const Tensor& dout,
                               const Tensor& in, const Tensor& s, Stream stream);

// ---- the MoE combine ---------------------------------------------------------------------------
void combine_rows(const Tensor& out, const Tensor& y, const Tensor& pos, const Tensor& w,
                  Stream stream);
void combine_rows_backward(const Tensor& dy, const Tensor& dw, const Tensor& dout, const Tensor& y,
                           const Tensor& pos, const Tensor& w, Stream stream);

// ---- routing ----------------------------------------------------------------------------------
void topk_gate_forward(const Tensor& probs, const Tensor& lse, const Tensor& weight,
                       const Tensor& expert, const Tensor& logits, int k, bool renormalize,
                       Stream stream);
void topk_gate_sums(const Tensor& sums, const Tensor& probs, const Tensor& lse,
                    const Tensor& expert, Stream stream);
void topk_gate_backward(const Tensor& dlogits, const Tensor& dweight, const Tensor& probs,
                        const Tensor& lse, const Tensor& expert, const Tensor& balance, double z2,
                        double items_world, bool renormalize, Stream stream);
void choice_keys(const Tensor& keys, const Tensor& expert, Stream stream);
void dispatch_rows(const Tensor& pos, const Tensor& send_item, const Tensor& order,
                   const Tensor& table, int64_t sorted, Stream stream);
void expert_major_permutation(const Tensor& perm, const Tensor& recv_counts, Stream stream);
void hash_route(const Tensor& expert, const Tensor& ids, uint64_t seed, int num_experts,
                Stream stream);

// ---- normalisations ----------------------------------------------------------------------------
void layernorm_forward(const Tensor& out, const Tensor& mean, const Tensor& rstd, const Tensor& in,
                       const Tensor& gamma, const Tensor& beta, float eps, Stream stream);
void layernorm_backward(const Tensor& din, const Tensor& dgamma, const Tensor& dbeta,
                        const Tensor& dout, const Tensor& in, const Tensor& mean,
                        const Tensor& rstd, const Tensor& gamma, Stream stream);
void rmsnorm_forward(const Tensor& out, const Tensor& rstd, const Tensor& in, const Tensor& gamma,
                     float eps, Stream stream);
void rmsnorm_backward(const Tensor& din, const Tensor& dgamma, const Tensor& dout, const Tensor& in,
                      const Tensor& rstd, const Tensor& gamma, Stream stream);

// ---- the loss ----------------------------------------------------------------------------------
void cross_entropy_forward(const Tensor& losses, const Tensor& logits, const Tensor& targets,
                           Stream stream);
void cross_entropy_backward(const Tensor& dlogits, const Tensor& logits, const Tensor& targets,
                            const Tensor& dloss, Stream stream);

// ---- the optimizer -----------------------------------------------------------------------------
void adamw_step(const Tensor& p, const Tensor& m, const Tensor& v, const Tensor& grad,
                const Tensor& decay, const Tensor& grad_sq, const AdamWHyper& h, Stream stream);
void sum_squares(const Tensor& out, const Tensor& x, Stream stream);

// ---- the M2 mixer's convolutions ---------------------------------------------------------------
void depthwise_causal_conv_forward(const Tensor& y, const Tensor& x, const Tensor& k,
                                   Stream stream);
void depthwise_causal_conv_backward(const Tensor& dx, const Tensor& dk, const Tensor& dy,
                                    const Tensor& x, const Tensor& k, Stream stream);
void complex_mul_rows(const Tensor& out_re, const Tensor& out_im, const Tensor& a_re,
                      const Tensor& a_im, const Tensor& b_re, const Tensor& b_im, bool conj_b,
                      Stream stream);

}  // namespace cuda
}  // namespace sy
