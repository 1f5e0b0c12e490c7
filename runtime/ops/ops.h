// The core ops. Each has this one signature and two implementations, ops/cpu (the oracle) and
// ops/cuda; the family's front end, runtime/ops/<family>.cc, checks the arguments once and
// dispatches on the tensors' device. A family is four files of one name: <family>.cc,
// cpu/<family>_cpu.cc, cuda/<family>_cuda.cu and the per-element logic both backends run,
// shared/<family>_math.h. The families, in the order of this header: gemm, index, rowwise,
// elementwise, combine, routing, norm, loss, optimizer, conv. (Monarch products and the long
// convolution, built from these ops, are in monarch.h and long_conv.h.)
//
// Conventions (DESIGN.md contract 1):
// - Argument order: outputs, saved-for-backward, inputs and weights, sizes, stream last.
// - Outputs are tensor handles passed as const Tensor&: the handle is const, the memory it names is
//   written. Outputs must be allocated by the caller with the stated shape.
// - Everything is row-major and contiguous. Matrices are f32 unless stated; index tensors are i32.
// - "Rows" of a tensor are all dimensions but the last, flattened; "cols" is the last dimension.
#pragma once

#include <cstdint>
#include <vector>

#include "runtime/core/tensor.h"
#include "runtime/ops/shared/elementwise_math.h"

namespace sy {

enum class ReduceOp { kSum, kMax };

// ---- GEMMs -------------------------------------------------------------------------------------
// Every GEMM takes a and b both f32, or both bf16; it accumulates in fp32 either way. c is f32, or
// bf16 with bf16 inputs (the fp32 result rounded once; beta · c read from the bf16 c). The CPU
// widens bf16 to f32 and runs the f32 GEMM: the oracle of the bf16 path (fp32 math on bf16 data).
// c (M,N) = alpha · op(a) · op(b) + beta · c, with op(a) (M,K), op(b) (K,N).
// a is (M,K), or (K,M) when trans_a; b is (K,N), or (N,K) when trans_b. K = 0 gives c = beta · c.
void gemm(const Tensor& c, const Tensor& a, const Tensor& b, bool trans_a, bool trans_b,
          float alpha, float beta, Stream stream = {});
// Grouped GEMM over row segments (the expert-major buffer of a MoE layer):
// for every group g with rows [offsets[g], offsets[g+1]) of a and c,
//   c[rows_g] (m_g,N) = alpha · a[rows_g] (m_g,K) · op(b[g]) + beta · c[rows_g].
// b is (G,K,N), or (G,N,K) when trans_b. offsets is on the host, G+1 entries, non-decreasing,
// offsets[0] = 0 and offsets[G] = M. Empty groups are allowed. Rows outside all groups: none.
void grouped_gemm(const Tensor& c, const Tensor& a, const Tensor& b,
                  const std::vector<int64_t>& offsets, bool trans_b, float alpha, float beta,
                  Stream stream = {});
// The weight gradient of grouped_gemm: for every group g,
//   c[g] (K,N) = alpha · a[rows_g]ᵀ (K,m_g) · b[rows_g] (m_g,N) + beta · c[g].
// a is (M,K), b is (M,N), c is (G,K,N). An empty group gives c[g] = beta · c[g].
void grouped_gemm_weight_grad(const Tensor& c, const Tensor& a, const Tensor& b,
                              const std::vector<int64_t>& offsets, float alpha, float beta,
                              Stream stream = {});
// c[i] (M,N) = alpha · op(a[i]) · op(b[i]) + beta · c[i] for every batch i. a is (Ba, M, K) (or
// (Ba, K, M) when trans_a) and b is (Bb, K, N) (or (Bb, N, K)); a batch size of 1 is broadcast.
// cublasSgemmStridedBatched on CUDA, a loop of GEMMs on the CPU.
void batched_gemm(const Tensor& c, const Tensor& a, const Tensor& b, bool trans_a, bool trans_b,
                  float alpha, float beta, Stream stream = {});

// ---- index ops ---------------------------------------------------------------------------------
// out[i,:] = in[index[i],:]; index[i] < 0 gives a zero row. out (n,C), in (R,C), index (n) i32.
// Any dtype. This is the permute of dispatch.
void gather_rows(const Tensor& out, const Tensor& in, const Tensor& index, Stream stream = {});
// out[index[i],:] = in[i,:]; index[i] < 0 skips row i; other rows of out are left as they are.
// The indices ≥ 0 must be distinct (a permutation into out). out (R,C), in (n,C), index (n) i32.
void scatter_rows(const Tensor& out, const Tensor& in, const Tensor& index, Stream stream = {});
// Stable counting sort of n items by key: order lists the item indices grouped by key in
// increasing key order, items of equal key in their original order; counts[k] is the number of
// items with key k. Items whose key is outside [0, num_keys) (e.g. -1 for a dropped token) are left
// out: the first Σcounts entries of order are valid and the rest are -1. No atomics on any backend,
// so the permutation is identical on CPU and GPU and from run to run.
// order (n) i32, counts (num_keys) i32, keys (n) i32.
void counting_sort(const Tensor& order, const Tensor& counts, const Tensor& keys, int num_keys,
                   Stream stream = {});
// out = in with its dimensions reordered: out.shape[i] = in.shape[perm[i]] (up to 6 dimensions).
// The inverse permutation undoes it (the backward).
void permute(const Tensor& out, const Tensor& in, const std::vector<int>& perm, Stream stream = {});
// The embedding's weight gradient: dtable[ids[i],:] += dout[i,:], the rows of one id summed in
// the order they occur (a stable sort by id first, no atomics: deterministic on both backends).
// dtable (V,C), dout (N,C), ids (N) i32 in [0, V).
void embedding_backward(const Tensor& dtable, const Tensor& dout, const Tensor& ids,
                        Stream stream = {});

// ---- row ops -----------------------------------------------------------------------------------
// Softmax over the last dimension. out and in have the same shape (in-place allowed).
void softmax_forward(const Tensor& out, const Tensor& in, Stream stream = {});
// din = out ⊙ (dout − Σ_j out_j·dout_j), row by row.
void softmax_backward(const Tensor& din, const Tensor& out, const Tensor& dout, Stream stream = {});
// Causal softmax over rows of T×T score blocks: row r is query position i = r mod T; the softmax
// runs over columns j ≤ i and columns j > i become 0. in and out (…, T, T). The backward is
// softmax_backward (a zero probability passes no gradient).
void causal_softmax_forward(const Tensor& out, const Tensor& in, Stream stream = {});
// The k largest entries of each row, in descending order; ties go to the lower column index, so the
// choice is the same on every backend. NaN ranks below every number but is still chosen, so every
// index is in range on any input. values (R,k) f32, indices (R,k) i32, in (R,C), k ≤ C.
void topk(const Tensor& values, const Tensor& indices, const Tensor& in, int k, Stream stream = {});
// Reductions, summed in index order (the same order on every backend, hence bitwise equal sums).
// reduce_rows: in (R,C) → out (R), over the last dimension.
// reduce_cols: in (R,C) → out (C), over the rows (bias gradients, per-expert counts).
// The max of an empty set is -inf; the sum is 0.
void reduce_rows(const Tensor& out, const Tensor& in, ReduceOp op, Stream stream = {});
void reduce_cols(const Tensor& out, const Tensor& in, ReduceOp op, Stream stream = {});
// out[r] = ⟨a[r,:], b[r,:]⟩, summed in index order. out (R), a and b (R,C).
void row_dot(const Tensor& out, const Tensor& a, const Tensor& b, Stream stream = {});
// Each row divided by its L2 norm (summed in double, floored at 1e-6): out (R,C), norms (R).
void l2_normalize_rows(const Tensor& out, const Tensor& norms, const Tensor& in,
                       Stream stream = {});
// Its backward, row by row: din = (dout − out·⟨out, dout⟩) / norm.
void l2_normalize_rows_backward(const Tensor& din, const Tensor& dout, const Tensor& out,
                                const Tensor& norms, Stream stream = {});

// ---- elementwise ops ---------------------------------------------------------------------------
// Elementwise activations. kGelu is the tanh approximation (as in GPT-2 and llm.c), kGeluErf the
// exact 0.5·x·(1 + erf(x/√2)) (PyTorch's default, Tutel's and M2's). The
// activations and SwiGLU take all-f32 or all-bf16 tensors (fp32 math, each result rounded once).
void activation_forward(const Tensor& out, const Tensor& in, Activation act, Stream stream = {});
// h (R,C) += bias (C) on every row, then out = act(h): add_bias and activation_forward in one pass
// over h, with bitwise their numbers (h keeps the biased pre-activation for the backward). out
// and h f32 or bf16 alike, bias f32.
void bias_activation_forward(const Tensor& out, const Tensor& h, const Tensor& bias, Activation act,
                             Stream stream = {});
// din = act'(in) ⊙ dout; din may be dout (in place).
void activation_backward(const Tensor& din, const Tensor& in, const Tensor& dout, Activation act,
                         Stream stream = {});
// SwiGLU on a fused input: in (M,2F) holds [gate | up]; out (M,F) = SiLU(gate) ⊙ up.
void swiglu_forward(const Tensor& out, const Tensor& in, Stream stream = {});
// din (M,2F) = [dout ⊙ up ⊙ SiLU'(gate) | dout ⊙ SiLU(gate)].
void swiglu_backward(const Tensor& din, const Tensor& in, const Tensor& dout, Stream stream = {});
// Converts between f32 and bf16 (round to nearest even), or i32 to f64 (exact); other dtype pairs
// must match (a copy).
void cast(const Tensor& out, const Tensor& in, Stream stream = {});
// out (R,C) += bias (C) on every row.
void add_bias(const Tensor& out, const Tensor& bias, Stream stream = {});  // out f32 or bf16
// out += alpha · in, elementwise (same element count).
void add_scaled(const Tensor& out, const Tensor& in, float alpha, Stream stream = {});
// out[r,:] += scale[r] · x[r,:]. out, x (R,C), scale (R).
void add_row_scaled(const Tensor& out, const Tensor& x, const Tensor& scale, Stream stream = {});
// out[r, :] += bias[r] — a scalar per row. out (R, C), bias (R).
void add_row_bias(const Tensor& out, const Tensor& bias, Stream stream = {});
// out = a ⊙ b, elementwise (out may alias a or b).
void mul(const Tensor& out, const Tensor& a, const Tensor& b, Stream stream = {});
// x *= alpha, elementwise.
void scale_inplace(const Tensor& x, float alpha, Stream stream = {});
// out[…, i, j] = in[…, i, j] for j ≤ i, else 0: the lower triangle of each square block (f32 or
// bf16; out may alias in).
void causal_mask(const Tensor& out, const Tensor& in, Stream stream = {});
// out = in / s[0]: a tensor divided by a scalar that lives on the device (a learnable
// temperature, read without a host round trip). in, out f32 of one element count (out may alias
// in); s f32 (1).
void scale_by_inverse(const Tensor& out, const Tensor& in, const Tensor& s, Stream stream = {});
// Its backward: din = dout / s (assigned; may alias dout) and ds[0] += −Σ dout·in / s², the sum
// in double in a fixed order (deterministic).
void scale_by_inverse_backward(const Tensor& din, const Tensor& ds, const Tensor& dout,
                               const Tensor& in, const Tensor& s, Stream stream = {});
// Rotary position embedding (RoPE, the rotate-half convention of GPT-NeoX and LLaMA): x, y
// (R, T, dh) f32, dh even, row r a sequence of T positions; table (T, dh/2, 2) f32 holds
// (cos, sin) of t·θ_j (rope_table). For j < dh/2, with a = x[j], b = x[j + dh/2]:
//   y[j] = a·cos − b·sin,   y[j + dh/2] = b·cos + a·sin
// inverse: the rotation by −t·θ_j (the backward: dx = rope(dy, inverse)). y may alias x.
void rope(const Tensor& y, const Tensor& x, const Tensor& table, bool inverse, Stream stream = {});
// The (cos, sin) table of rope for T positions, head width dh and frequency base (θ_j =
// base^(−2j/dh)), computed in double on the host and uploaded: one table for every backend.
Tensor rope_table(int64_t seq_len, int64_t head_dim, double base, Device device);
// Periodic activation of Hyena's implicit filters: y[r,c] = sin(freq[c] · x[r,c]). x, y (R, C)
// f32 (y must not alias x: the backward reads x); freq (C) f32, one frequency per column.
void sine_forward(const Tensor& y, const Tensor& x, const Tensor& freq, Stream stream = {});
// Its backward, both assigned: dx = freq·cos(freq·x)·dy, and dfx (R, C) = x·cos(freq·x)·dy, the
// frequency gradient per element (the caller sums the columns: reduce_cols). dx may alias dy.
void sine_backward(const Tensor& dx, const Tensor& dfx, const Tensor& x, const Tensor& dy,
                   const Tensor& freq, Stream stream = {});

// ---- the MoE combine ---------------------------------------------------------------------------
// The weighted combine of dispatch: out[s,:] = Σ_j w[s,j] · y[pos[s,j],:], summed in j order in
// fp32; pos[s,j] < 0 (a dropped item) contributes nothing. out (S,C) f32 is assigned, y (R,C) the
// payload (f32 or bf16), pos and w (S,k) (i32 and f32).
void combine_rows(const Tensor& out, const Tensor& y, const Tensor& pos, const Tensor& w,
                  Stream stream = {});
// Its backward: dy[pos[s,j],:] = w[s,j] · dout[s,:] (every other row of dy is set to zero; the
// positions ≥ 0 must be distinct), and, when dw is defined, dw[s,j] = ⟨dout[s,:], y[pos[s,j],:]⟩
// (0 where pos < 0). dy (R,C) in y's dtype (f32 or bf16, rounded once), dw (S,k) f32.
void combine_rows_backward(const Tensor& dy, const Tensor& dw, const Tensor& dout, const Tensor& y,
                           const Tensor& pos, const Tensor& w, Stream stream = {});

// ---- routing ----------------------------------------------------------------------------------
// The top-k softmax gate over logits (S,E): probs (S,E), lse (S) their logsumexp (in double), the
// k choices expert (S,k) i32 (descending probability, ties to the lower expert) and their combine
// weights weight (S,k): the raw probabilities or, with renormalize, divided by their sum.
void topk_gate_forward(const Tensor& probs, const Tensor& lse, const Tensor& weight,
                       const Tensor& expert, const Tensor& logits, int k, bool renormalize,
                       Stream stream = {});
// This rank's sums for the gate's losses, in item order, in double: sums (2E+1) f64 =
// [items whose first choice is e (E) | Σ probability of e (E) | Σ lse²].
void topk_gate_sums(const Tensor& sums, const Tensor& probs, const Tensor& lse,
                    const Tensor& expert, Stream stream = {});
// The gate's backward: dlogits (S,E) (assigned) from dweight (S,k), the balance loss's gradient
// term per expert balance (E) f32 (undefined: no balance loss) and the z-loss's (z2 = 2·z_coef,
// over items_world items of the world).
void topk_gate_backward(const Tensor& dlogits, const Tensor& dweight, const Tensor& probs,
                        const Tensor& lse, const Tensor& expert, const Tensor& balance, double z2,
                        double items_world, bool renormalize, Stream stream = {});
// The sort keys of the choices, enumerated choice-major: keys[j·S + i] = expert[i,j]·k + j, or −1
// where expert[i,j] < 0. keys (k·S) i32, expert (S,k) i32.
void choice_keys(const Tensor& keys, const Tensor& expert, Stream stream = {});
// The dispatch rows of a capacity plan, from the choices sorted by key = expert·k + choice (order,
// the first `sorted` entries valid: counting_sort over the choices enumerated choice-major) and
// table (3, K) i32: per key where its sorted group starts, where its kept send rows start, how
// many it keeps (the first ones, in item order). pos (S,k) i32: the send row of each kept choice,
// −1 otherwise (so pos ≥ 0 marks the kept choices); send_item (R) i32: the item of each send row.
void dispatch_rows(const Tensor& pos, const Tensor& send_item, const Tensor& order,
                   const Tensor& table, int64_t sorted, Stream stream = {});
// perm (R) i32: for each expert-major row (local expert, then source rank, then arrival order) the
// arrival-order row it comes from; recv_counts (ep, E_local) i32 the rows each rank sends for each
// local expert.
void expert_major_permutation(const Tensor& perm, const Tensor& recv_counts, Stream stream = {});
// Hash routing: expert[i] = mix64(ids[i] ^ seed) mod num_experts. expert and ids (n) i32.
void hash_route(const Tensor& expert, const Tensor& ids, uint64_t seed, int num_experts,
                Stream stream = {});

// ---- normalisations ----------------------------------------------------------------------------
// LayerNorm over the last dimension: out = (x − mean)·rstd ⊙ gamma + beta; saves mean and rstd
// (R) for the backward. eps inside the square root.
void layernorm_forward(const Tensor& out, const Tensor& mean, const Tensor& rstd, const Tensor& in,
                       const Tensor& gamma, const Tensor& beta, float eps, Stream stream = {});
// din is assigned; dgamma and dbeta accumulate (+=), summed over rows in order.
void layernorm_backward(const Tensor& din, const Tensor& dgamma, const Tensor& dbeta,
                        const Tensor& dout, const Tensor& in, const Tensor& mean,
                        const Tensor& rstd, const Tensor& gamma, Stream stream = {});
// RMSNorm: out = x · rstd ⊙ gamma, rstd = 1/√(mean(x²) + eps).
void rmsnorm_forward(const Tensor& out, const Tensor& rstd, const Tensor& in, const Tensor& gamma,
                     float eps, Stream stream = {});
void rmsnorm_backward(const Tensor& din, const Tensor& dgamma, const Tensor& dout, const Tensor& in,
                      const Tensor& rstd, const Tensor& gamma, Stream stream = {});

// ---- the loss ----------------------------------------------------------------------------------
// Cross-entropy of each row of logits (N,V) against targets (N) i32: loss = logsumexp − logit[t];
// a target < 0 is ignored (loss 0). losses (N) f32.
void cross_entropy_forward(const Tensor& losses, const Tensor& logits, const Tensor& targets,
                           Stream stream = {});
// dlogits (N,V) = (softmax(logits) − onehot(target)) · dloss[row]; 0 for ignored rows.
void cross_entropy_backward(const Tensor& dlogits, const Tensor& logits, const Tensor& targets,
                            const Tensor& dloss, Stream stream = {});

// ---- the optimizer -----------------------------------------------------------------------------
// The hyper-parameters of one AdamW step (t ≥ 1 is the step number).
struct AdamWHyper {
  float lr = 0, beta1 = 0.9f, beta2 = 0.95f, eps = 1e-8f, weight_decay = 0, grad_clip = 0;
  int64_t t = 1;
};
// One fused AdamW step over a flat buffer of parameters, elementwise (Loshchilov & Hutter:
// decoupled decay), with clipping by the global gradient norm read on the device:
//   norm = √(Σ grad_sq);  s = grad_clip / (norm + 1e-6) if 0 < grad_clip < norm, else 1;  g =
//   s·grad m = b1·m + (1−b1)·g;  v = b2·v + (1−b2)·g²;  m̂ = m/(1−b1^t);  v̂ = v/(1−b2^t) p = p −
//   lr·(m̂/(√v̂ + eps) + wd·p),  wd = weight_decay inside `decay`'s ranges, else 0
// p, m, v, grad: f32 of one element count (m, v, p updated in place); decay: i64 (R, 2), ascending
// disjoint [begin, end) element ranges; grad_sq: f64 (k) squared norms on the device. When
// Σ grad_sq is not finite (NaN or inf gradients) nothing changes: the step is skipped on the
// device, with no read back to the host.
void adamw_step(const Tensor& p, const Tensor& m, const Tensor& v, const Tensor& grad,
                const Tensor& decay, const Tensor& grad_sq, const AdamWHyper& h,
                Stream stream = {});
// out[0] (f64, one element, on x's device) = Σ x² over all elements, accumulated in double in a
// fixed order (deterministic), without a host read.
void sum_squares(const Tensor& out, const Tensor& x, Stream stream = {});

// ---- the M2 mixer's convolutions ---------------------------------------------------------------
// Short causal depthwise convolution along rows: y[r, t] = Σ_{j<K, j≤t} k[r mod C, j] · x[r, t−j].
// x, y (R, T); k (C, K), C divides R. Direct O(T·K) per row (M2's 3-tap convolution).
void depthwise_causal_conv_forward(const Tensor& y, const Tensor& x, const Tensor& k,
                                   Stream stream = {});
// dx assigned; dk accumulates (summed over the rows of each channel, in order).
void depthwise_causal_conv_backward(const Tensor& dx, const Tensor& dk, const Tensor& dy,
                                    const Tensor& x, const Tensor& k, Stream stream = {});
// Complex multiply of (re, im) planes with b broadcast over rows: out[r, :] = a[r, :] · b[r mod P,
// :] (or · conj(b[…])), P = b's row count. out may alias a. All f32, a and out (R, N), b (P, N).
void complex_mul_rows(const Tensor& out_re, const Tensor& out_im, const Tensor& a_re,
                      const Tensor& a_im, const Tensor& b_re, const Tensor& b_im, bool conj_b,
                      Stream stream = {});

}  // namespace sy
