#include "experts/topk_gate.h"

#include "runtime/ops/ops.h"

namespace sy {

void TopKGate::forward(Routing& out, const Tensor& logits) {
  const int64_t s = logits.rows();
  const Device d = logits.device();
  probs_ = Tensor::empty({s, e_}, DType::kF32, d);
  lse_ = Tensor::empty({s}, DType::kF32, d);
  expert_ = Tensor::empty({s, k_}, DType::kI32, d);
  out.items = s;
  out.k = k_;
  out.expert = expert_;
  out.weight = Tensor::empty({s, k_}, DType::kF32, d);
  topk_gate_forward(probs_, lse_, out.weight, expert_, logits, k_, renorm_);
  out.world_sums = Tensor::empty({2 * static_cast<int64_t>(e_) + 1}, DType::kF64, d);
  topk_gate_sums(out.world_sums, probs_, lse_, expert_);
}

void TopKGate::reduce(Routing& out, const std::vector<double>& sums, int64_t items_world) {
  items_world_ = static_cast<double>(items_world);
  // Balance loss: L = E Σ_e f_e P_e with f_e the share of first choices and P_e the mean
  // probability over the world; f_e is not differentiable, so its gradient is a constant per e.
  std::vector<float> balance(e_, 0.0f);
  double loss = 0;
  if (items_world_ > 0) {
    for (int e = 0; e < e_; ++e) {
      const double frac = sums[e] / items_world_;
      loss += frac * (sums[e_ + e] / items_world_);
      balance[e] = static_cast<float>(bal_coef_ * e_ * frac / items_world_);
    }
    loss *= e_;
  }
  balance_ = items_world_ > 0
                 ? Tensor::from_vector(balance, {static_cast<int64_t>(e_)}, probs_.device())
                 : Tensor();
  out.balance_loss = loss;
  out.z_loss = items_world_ > 0 ? sums[2 * e_] / items_world_ : 0.0;
  out.aux_loss = bal_coef_ * out.balance_loss + z_coef_ * out.z_loss;
}

void TopKGate::backward(const Tensor& dlogits, const Tensor& dweight) const {
  topk_gate_backward(dlogits, dweight, probs_, lse_, expert_, balance_, 2.0 * z_coef_, items_world_,
                     renorm_);
}

}  // namespace sy
