// The routing ops — the top-k softmax gate, its losses' sums and backward, the dispatch rows of a
// capacity plan, the expert-major permutation, hash routing: argument checks, then the CPU or CUDA
// implementation.
#include "runtime/ops/op_checks.h"

namespace sy {

using namespace op_checks;

namespace {

void check_gate(const char* op, const Tensor& probs, const Tensor& lse, const Tensor& expert) {
  check_matrix(op, "probs", probs);
  check_dtype(op, "lse", lse, DType::kF32);
  check_dtype(op, "expert", expert, DType::kI32);
  SY_CHECK(lse.numel() == probs.rows() && expert.rows() == probs.rows() && expert.cols() >= 1 &&
               expert.cols() <= probs.cols(),
           op << ": probs (S,E), lse (S) and expert (S,k) with k ≤ E, got "
              << shape_str(probs.shape()) << ", " << shape_str(lse.shape()) << ", "
              << shape_str(expert.shape()));
}

}  // namespace

void topk_gate_forward(const Tensor& probs, const Tensor& lse, const Tensor& weight,
                       const Tensor& expert, const Tensor& logits, int k, bool renormalize,
                       Stream stream) {
  const char* op = "topk_gate_forward";
  check_matrix(op, "logits", logits);
  check_same_shape(op, probs, logits);
  check_gate(op, probs, lse, expert);
  check_dtype(op, "weight", weight, DType::kF32);
  SY_CHECK(expert.cols() == k && weight.shape() == expert.shape(),
           op << ": weight and expert must be (S, k = " << k << ")");
  check_same_device(op, {&probs, &lse, &weight, &expert, &logits});
  SY_DISPATCH(op, logits,
              cpu::topk_gate_forward(probs, lse, weight, expert, logits, k, renormalize),
              cuda::topk_gate_forward(probs, lse, weight, expert, logits, k, renormalize, stream));
}

void topk_gate_sums(const Tensor& sums, const Tensor& probs, const Tensor& lse,
                    const Tensor& expert, Stream stream) {
  const char* op = "topk_gate_sums";
  check_gate(op, probs, lse, expert);
  check_dtype(op, "sums", sums, DType::kF64);
  SY_CHECK(sums.numel() == 2 * probs.cols() + 1,
           op << ": sums must hold 2E + 1 = " << 2 * probs.cols() + 1 << " values");
  check_same_device(op, {&sums, &probs, &lse, &expert});
  SY_DISPATCH(op, probs, cpu::topk_gate_sums(sums, probs, lse, expert),
              cuda::topk_gate_sums(sums, probs, lse, expert, stream));
}

void topk_gate_backward(const Tensor& dlogits, const Tensor& dweight, const Tensor& probs,
                        const Tensor& lse, const Tensor& expert, const Tensor& balance, double z2,
                        double items_world, bool renormalize, Stream stream) {
  const char* op = "topk_gate_backward";
  check_gate(op, probs, lse, expert);
  check_same_shape(op, dlogits, probs);
  check_dtype(op, "dweight", dweight, DType::kF32);
  SY_CHECK(dweight.shape() == expert.shape(), op << ": dweight must be shaped like expert (S,k)");
  check_same_device(op, {&dlogits, &dweight, &probs, &lse, &expert});
  if (balance.defined()) {
    check_dtype(op, "balance", balance, DType::kF32);
    SY_CHECK(balance.numel() == probs.cols(), op << ": balance must hold E values");
    check_same_device(op, {&balance, &probs});
  }
  SY_DISPATCH(op, probs,
              cpu::topk_gate_backward(dlogits, dweight, probs, lse, expert, balance, z2,
                                      items_world, renormalize),
              cuda::topk_gate_backward(dlogits, dweight, probs, lse, expert, balance, z2,
                                       items_world, renormalize, stream));
}

void choice_keys(const Tensor& keys, const Tensor& expert, Stream stream) {
  const char* op = "choice_keys";
  check_dtype(op, "keys", keys, DType::kI32);
  check_dtype(op, "expert", expert, DType::kI32);
  SY_CHECK(expert.ndim() == 2 && keys.numel() == expert.numel(),
           op << ": expert (S,k) and keys (k·S), got " << shape_str(expert.shape()) << " and "
              << shape_str(keys.shape()));
  check_same_device(op, {&keys, &expert});
  SY_DISPATCH(op, expert, cpu::choice_keys(keys, expert), cuda::choice_keys(keys, expert, stream));
}

void dispatch_rows(const Tensor& pos, const Tensor& send_item, const Tensor& order,
                   const Tensor& table, int64_t sorted, Stream stream) {
  const char* op = "dispatch_rows";
  for (const Tensor* t : {&pos, &send_item, &order, &table})
    check_dtype(op, "index", *t, DType::kI32);
  SY_CHECK(pos.ndim() == 2 && order.numel() == pos.numel() && table.ndim() == 2 &&
               table.rows() == 3 && sorted >= 0 && sorted <= order.numel(),
           op << ": pos (S,k), order (S·k), table (3, keys), 0 ≤ sorted ≤ S·k");
  check_same_device(op, {&pos, &send_item, &order, &table});
  SY_DISPATCH(op, pos, cpu::dispatch_rows(pos, send_item, order, table, sorted),
              cuda::dispatch_rows(pos, send_item, order, table, sorted, stream));
}

void expert_major_permutation(const Tensor& perm, const Tensor& recv_counts, Stream stream) {
  const char* op = "expert_major_permutation";
  check_dtype(op, "perm", perm, DType::kI32);
  check_dtype(op, "recv_counts", recv_counts, DType::kI32);
  SY_CHECK(recv_counts.ndim() == 2, op << ": recv_counts must be (ep, E_local)");
  check_same_device(op, {&perm, &recv_counts});
  SY_DISPATCH(op, perm, cpu::expert_major_permutation(perm, recv_counts),
              cuda::expert_major_permutation(perm, recv_counts, stream));
}

void hash_route(const Tensor& expert, const Tensor& ids, uint64_t seed, int num_experts,
                Stream stream) {
  const char* op = "hash_route";
  check_dtype(op, "expert", expert, DType::kI32);
  check_dtype(op, "ids", ids, DType::kI32);
  SY_CHECK(expert.numel() == ids.numel() && num_experts >= 1,
           op << ": one expert per id, at least one expert");
  check_same_device(op, {&expert, &ids});
  SY_DISPATCH(op, ids, cpu::hash_route(expert, ids, seed, num_experts),
              cuda::hash_route(expert, ids, seed, num_experts, stream));
}

}  // namespace sy
