// The routing ops — the top-k softmax gate, its losses' sums and backward, the dispatch rows of a
// capacity plan, the expert-major permutation, hash routing — on the CPU.
#include <algorithm>

#include "runtime/ops/cpu/ops_cpu.h"
#include "runtime/ops/shared/routing_math.h"

namespace sy {
namespace cpu {

void topk_gate_forward(const Tensor& probs, const Tensor& lse, const Tensor& weight,
                       const Tensor& expert, const Tensor& logits, int k, bool renormalize) {
  const int64_t s = logits.rows(), e = logits.cols();
  for (int64_t i = 0; i < s; ++i)
    kernels::topk_gate_row(probs.data<float>() + i * e, lse.data<float>() + i,
                           weight.data<float>() + i * k, expert.data<int32_t>() + i * k,
                           logits.data<float>() + i * e, e, k, renormalize);
}

void topk_gate_sums(const Tensor& sums, const Tensor& probs, const Tensor& lse,
                    const Tensor& expert) {
  const int64_t e = probs.cols();
  const int k = static_cast<int>(expert.cols());
  for (int64_t c = 0; c < 2 * e + 1; ++c)
    sums.data<double>()[c] = kernels::topk_gate_sum(probs.data<float>(), lse.data<float>(),
                                                    expert.data<int32_t>(), probs.rows(), e, k, c);
}

void topk_gate_backward(const Tensor& dlogits, const Tensor& dweight, const Tensor& probs,
                        const Tensor& lse, const Tensor& expert, const Tensor& balance, double z2,
                        double items_world, bool renormalize) {
  const int64_t s = probs.rows(), e = probs.cols();
  const int k = static_cast<int>(expert.cols());
  const float* bal = balance.defined() ? balance.data<float>() : nullptr;
  for (int64_t i = 0; i < s; ++i)
    kernels::topk_gate_backward_row(dlogits.data<float>() + i * e, probs.data<float>() + i * e,
                                    lse.data<float>()[i], expert.data<int32_t>() + i * k,
                                    dweight.data<float>() + i * k, bal, z2, items_world, e, k,
                                    renormalize);
}

void choice_keys(const Tensor& keys, const Tensor& expert) {
  const int64_t items = expert.rows();
  const int k = static_cast<int>(expert.cols());
  int32_t* out = keys.data<int32_t>();
  const int32_t* ex = expert.data<int32_t>();
  for (int64_t c = 0; c < keys.numel(); ++c) out[c] = kernels::choice_key(ex, items, k, c);
}

void dispatch_rows(const Tensor& pos, const Tensor& send_item, const Tensor& order,
                   const Tensor& table, int64_t sorted) {
  const int64_t items = pos.rows();
  const int k = static_cast<int>(pos.cols()), num_keys = static_cast<int>(table.cols());
  int32_t* p_out = pos.data<int32_t>();
  int32_t* item_out = send_item.data<int32_t>();
  const int32_t* ord = order.data<int32_t>();
  const int32_t* tab = table.data<int32_t>();
  std::fill(p_out, p_out + pos.numel(), -1);
  for (int64_t p = 0; p < sorted; ++p)
    kernels::dispatch_position(p_out, item_out, ord, tab, num_keys, items, k, p);
}

void expert_major_permutation(const Tensor& perm, const Tensor& recv_counts) {
  const int ep = static_cast<int>(recv_counts.rows()),
            e_local = static_cast<int>(recv_counts.cols());
  int32_t* out = perm.data<int32_t>();
  const int32_t* rc = recv_counts.data<int32_t>();
  for (int64_t m = 0; m < perm.numel(); ++m)
    out[m] = kernels::expert_major_source(rc, ep, e_local, m);
}

void hash_route(const Tensor& expert, const Tensor& ids, uint64_t seed, int num_experts) {
  int32_t* out = expert.data<int32_t>();
  const int32_t* id = ids.data<int32_t>();
  for (int64_t i = 0; i < ids.numel(); ++i) out[i] = kernels::hash_expert(id[i], seed, num_experts);
}

}  // namespace cpu
}  // namespace sy
