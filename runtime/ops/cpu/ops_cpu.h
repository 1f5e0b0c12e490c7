// CPU implementations (the oracle). Same signatures as ops.h; arguments are already checked.
#pragma once

#include "runtime/ops/ops.h"
#include "runtime/ops/shared/index_math.h"

namespace sy {
namespace cpu {

// ---- GEMMs -------------------------------------------------------------------------------------
void gemm(const Tensor& c, const Tensor& a, const Tensor& b, bool trans_a, bool trans_b,
          float alpha, float beta);
void grouped_gemm(const Tensor& c, const Tensor& a, const Tensor& b,
                  const std::vector<int64_t>& offsets, bool trans_b, float alpha, float beta);
void grouped_gemm_weight_grad(const Tensor& c, const Tensor& a, const Tensor& b,
                              const std::vector<int64_t>& offsets, float alpha, float beta);
void batched_gemm(const Tensor& c, const Tensor& a, const Tensor& b, bool trans_a, bool trans_b,
                  float alpha, float beta);

// ---- index ops ---------------------------------------------------------------------------------
void gather_rows(const Tensor& out, const Tensor& in, const Tensor& index);
void scatter_rows(const Tensor& out, const Tensor& in, const Tensor& index);
// num_chunks only changes how the work is cut, never the result; exposed so tests can check that.
void counting_sort(const Tensor& order, const Tensor& counts, const Tensor& keys, int num_keys,
                   int64_t num_chunks = 1);
void permute(const Tensor& out, const Tensor& in, const kernels::PermuteIndex& index);
void embedding_backward(const Tensor& dtable, const Tensor& dout, const Tensor& ids);

// ---- row ops -----------------------------------------------------------------------------------
void softmax_forward(const Tensor& out, const Tensor& in);
void softmax_backward(const Tensor& din, const Tensor& out, const Tensor& dout);
void causal_softmax_forward(const Tensor& out, const Tensor& in);
void topk(const Tensor& values, const Tensor& indices, const Tensor& in, int k);
void reduce_rows(const Tensor& out, const Tensor& in, ReduceOp op);
void reduce_cols(const Tensor& out, const Tensor& in, ReduceOp op);
void row_dot(const Tensor& out, const Tensor& a, const Tensor& b);
void l2_normalize_rows(const Tensor& out, const Tensor& norms, const Tensor& in);
void l2_normalize_rows_backward(const Tensor& din, const Tensor& dout, const Tensor& out,
                                const Tensor& norms);

// ---- elementwise ops ---------------------------------------------------------------------------
void activation_forward(const Tensor& out, const Tensor& in, Activation act);
void activation_backward(const Tensor& din, const Tensor& in, const Tensor& dout, Activation act);
void bias_activation_forward(const Tensor& out, const Tensor& h, const Tensor& bias,
                             Activation act);
void swiglu_forward(const Tensor& out, const Tensor& in);
void swiglu_backward(const Tensor& din, const Tensor& in, const Tensor& dout);
void cast(const Tensor& out, const Tensor& in);
void add_bias(const Tensor& out, const Tensor& bias);
void add_scaled(const Tensor& out, const Tensor& in, float alpha);
void add_row_scaled(const Tensor& out, const Tensor& x, const Tensor& scale);
void add_row_bias(const Tensor& out, const Tensor& bias);
void mul(const Tensor& out, const Tensor& a, const Tensor& b);
void scale_inplace(const Tensor& x, float alpha);
void causal_mask(const Tensor& out, const Tensor& in);
void rope(const Tensor& y, const Tensor& x, const Tensor& table, bool inverse);
void sine_forward(const Tensor& y, const Tensor& x, const Tensor& freq);
void sine_backward(const Tensor& dx, const Tensor& dfx, const Tensor& x, const Tensor& dy,
                   const Tensor& freq);
void scale_by_inverse(const Tensor& out, const Tensor& in, const Tensor& s);
void scale_by_inverse_backward(const Tensor& din, const Tensor& ds, const Tensor& dout,
                               const Tensor& in, const Tensor& s);

// ---- the MoE combine ---------------------------------------------------------------------------
void combine_rows(const Tensor& out, const Tensor& y, const Tensor& pos, const Tensor& w);
void combine_rows_backward(const Tensor& dy, const Tensor& dw, const Tensor& dout, const Tensor& y,
                           const Tensor& pos, const Tensor& w);

// ---- routing ----------------------------------------------------------------------------------
void topk_gate_forward(const Tensor& probs, const Tensor& lse, const Tensor& weight,
                       const Tensor& expert, const Tensor& logits, int k, bool renormalize);
void topk_gate_sums(const Tensor& sums, const Tensor& probs, const Tensor& lse,
                    const Tensor& expert);
void topk_gate_backward(const Tensor& dlogits, const Tensor& dweight, const Tensor& probs,
                        const Tensor& lse, const Tensor& expert, const Tensor& balance, double z2,
                        double items_world, bool renormalize);
void choice_keys(const Tensor& keys, const Tensor& expert);
void dispatch_rows(const Tensor& pos, const Tensor& send_item, const Tensor& order,
                   const Tensor& table, int64_t sorted);
void expert_major_permutation(const Tensor& perm, const Tensor& recv_counts);
void hash_route(const Tensor& expert, const Tensor& ids, uint64_t seed, int num_experts);

// ---- normalisations ----------------------------------------------------------------------------
void layernorm_forward(const Tensor& out, const Tensor& mean, const Tensor& rstd, const Tensor& in,
                       const Tensor& gamma, const Tensor& beta, float eps);
void layernorm_backward(const Tensor& din, const Tensor& dgamma, const Tensor& dbeta,
                        const Tensor& dout, const Tensor& in, const Tensor& mean,
                        const Tensor& rstd, const Tensor& gamma);
void rmsnorm_forward(const Tensor& out, const Tensor& rstd, const Tensor& in, const Tensor& gamma,
                     float eps);
void rmsnorm_backward(const Tensor& din, const Tensor& dgamma, const Tensor& dout, const Tensor& in,
                      const Tensor& rstd, const Tensor& gamma);

// ---- the loss ----------------------------------------------------------------------------------
void cross_entropy_forward(const Tensor& losses, const Tensor& logits, const Tensor& targets);
void cross_entropy_backward(const Tensor& dlogits, const Tensor& logits, const Tensor& targets,
                            const Tensor& dloss);

// ---- the optimizer -----------------------------------------------------------------------------
void adamw_step(const Tensor& p, const Tensor& m, const Tensor& v, const Tensor& grad,
                const Tensor& decay, const Tensor& grad_sq, const AdamWHyper& h);
void sum_squares(const Tensor& out, const Tensor& x);

// ---- the M2 mixer's convolutions ---------------------------------------------------------------
void depthwise_causal_conv_forward(const Tensor& y, const Tensor& x, const Tensor& k);
void depthwise_causal_conv_backward(const Tensor& dx, const Tensor& dk, const Tensor& dy,
                                    const Tensor& x, const Tensor& k);
void complex_mul_rows(const Tensor& out_re, const Tensor& out_im, const Tensor& a_re,
                      const Tensor& a_im, const Tensor& b_re, const Tensor& b_im, bool conj_b);

}  // namespace cpu
}  // namespace sy
