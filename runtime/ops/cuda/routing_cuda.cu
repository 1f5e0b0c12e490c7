// The routing ops — the top-k softmax gate, its losses' sums and backward, the dispatch rows of a
// capacity plan, the expert-major permutation, hash routing — on the GPU.
// One thread per row, column or element, each running the shared function of
// ops/shared/routing_math.h that the CPU oracle runs too: the routing is the CPU's.
#include "runtime/core/cuda_check.h"
#include "runtime/ops/cuda/ops_cuda.h"
#include "runtime/ops/shared/routing_math.h"

namespace sy {
namespace cuda {

namespace {

__global__ void topk_gate_kernel(float* probs, float* lse, float* weight, int32_t* expert,
                                 const float* logits, int64_t s, int64_t e, int k,
                                 bool renormalize) {
  SY_GRID_STRIDE(i, s)
  kernels::topk_gate_row(probs + i * e, lse + i, weight + i * k, expert + i * k, logits + i * e, e,
                         k, renormalize);
}

__global__ void topk_gate_sums_kernel(double* sums, const float* probs, const float* lse,
                                      const int32_t* expert, int64_t s, int64_t e, int k) {
  SY_GRID_STRIDE(c, 2 * e + 1) sums[c] = kernels::topk_gate_sum(probs, lse, expert, s, e, k, c);
}

__global__ void topk_gate_backward_kernel(float* dlogits, const float* probs, const float* lse,
                                          const int32_t* expert, const float* dweight,
                                          const float* balance, double z2, double items_world,
                                          int64_t s, int64_t e, int k, bool renormalize) {
  SY_GRID_STRIDE(i, s)
  kernels::topk_gate_backward_row(dlogits + i * e, probs + i * e, lse[i], expert + i * k,
                                  dweight + i * k, balance, z2, items_world, e, k, renormalize);
}

__global__ void choice_keys_kernel(int32_t* keys, const int32_t* expert, int64_t items, int k,
                                   int64_t n) {
  SY_GRID_STRIDE(c, n) keys[c] = kernels::choice_key(expert, items, k, c);
}

__global__ void dispatch_rows_kernel(int32_t* pos, int32_t* send_item, const int32_t* order,
                                     const int32_t* table, int num_keys, int64_t items, int k,
                                     int64_t sorted) {
  SY_GRID_STRIDE(p, sorted)
  kernels::dispatch_position(pos, send_item, order, table, num_keys, items, k, p);
}

__global__ void expert_major_kernel(int32_t* perm, const int32_t* recv_counts, int ep, int e_local,
                                    int64_t rows) {
  SY_GRID_STRIDE(m, rows) perm[m] = kernels::expert_major_source(recv_counts, ep, e_local, m);
}

__global__ void hash_route_kernel(int32_t* expert, const int32_t* ids, uint64_t seed, int e,
                                  int64_t n) {
  SY_GRID_STRIDE(i, n) expert[i] = kernels::hash_expert(ids[i], seed, e);
}

}  // namespace

void topk_gate_forward(const Tensor& probs, const Tensor& lse, const Tensor& weight,
                       const Tensor& expert, const Tensor& logits, int k, bool renormalize,
                       Stream stream) {
  launch(topk_gate_kernel, logits.rows(), stream, probs.data<float>(), lse.data<float>(),
         weight.data<float>(), expert.data<int32_t>(), logits.data<float>(), logits.rows(),
         logits.cols(), k, renormalize);
}

void topk_gate_sums(const Tensor& sums, const Tensor& probs, const Tensor& lse,
                    const Tensor& expert, Stream stream) {
  launch(topk_gate_sums_kernel, 2 * probs.cols() + 1, stream, sums.data<double>(),
         probs.data<float>(), lse.data<float>(), expert.data<int32_t>(), probs.rows(), probs.cols(),
         static_cast<int>(expert.cols()));
}

void topk_gate_backward(const Tensor& dlogits, const Tensor& dweight, const Tensor& probs,
                        const Tensor& lse, const Tensor& expert, const Tensor& balance, double z2,
                        double items_world, bool renormalize, Stream stream) {
  const float* bal = balance.defined() ? balance.data<float>() : nullptr;
  launch(topk_gate_backward_kernel, probs.rows(), stream, dlogits.data<float>(),
         probs.data<float>(), lse.data<float>(), expert.data<int32_t>(), dweight.data<float>(), bal,
         z2, items_world, probs.rows(), probs.cols(), static_cast<int>(expert.cols()), renormalize);
}

void choice_keys(const Tensor& keys, const Tensor& expert, Stream stream) {
  launch(choice_keys_kernel, keys.numel(), stream, keys.data<int32_t>(), expert.data<int32_t>(),
         expert.rows(), static_cast<int>(expert.cols()), keys.numel());
}

void dispatch_rows(const Tensor& pos, const Tensor& send_item, const Tensor& order,
                   const Tensor& table, int64_t sorted, Stream stream) {
  pos.fill(-1.0, stream);
  launch(dispatch_rows_kernel, sorted, stream, pos.data<int32_t>(), send_item.data<int32_t>(),
         order.data<int32_t>(), table.data<int32_t>(), static_cast<int>(table.cols()), pos.rows(),
         static_cast<int>(pos.cols()), sorted);
}

void expert_major_permutation(const Tensor& perm, const Tensor& recv_counts, Stream stream) {
  launch(expert_major_kernel, perm.numel(), stream, perm.data<int32_t>(),
         recv_counts.data<int32_t>(), static_cast<int>(recv_counts.rows()),
         static_cast<int>(recv_counts.cols()), perm.numel());
}

void hash_route(const Tensor& expert, const Tensor& ids, uint64_t seed, int num_experts,
                Stream stream) {
  launch(hash_route_kernel, ids.numel(), stream, expert.data<int32_t>(), ids.data<int32_t>(), seed,
         num_experts, ids.numel());
}

}  // namespace cuda
}  // namespace sy
