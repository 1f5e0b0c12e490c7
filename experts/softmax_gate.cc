#include "experts/softmax_gate.h"

#include <cmath>

#include "runtime/ops/shared/rowwise_math.h"

namespace sy {

void SoftmaxGate::forward(Routing& out, const std::vector<float>& logits, int64_t items,
                          Communicator& world) {
  items_ = items;
  probs_.assign(static_cast<size_t>(items * e_), 0.0f);
  lse_.assign(static_cast<size_t>(items), 0.0f);
  choice_.assign(static_cast<size_t>(items * k_), -1);
  topv_.assign(static_cast<size_t>(items * k_), 0.0f);
  for (int64_t s = 0; s < items; ++s) {
    const float* l = logits.data() + s * e_;
    kernels::softmax_row(probs_.data() + s * e_, l, e_);
    kernels::topk_row(topv_.data() + s * k_, choice_.data() + s * k_, probs_.data() + s * e_, e_,
                      k_);
    float m = kernels::reduce_max_strided(l, e_, 1);
    double z = 0;
    for (int e = 0; e < e_; ++e) z += std::exp(static_cast<double>(l[e]) - m);
    lse_[s] = static_cast<float>(m + std::log(z));
  }
  // World sums: [top-1 counts (E) | probability sums (E) | Σ lse² | items].
  std::vector<double> sums(2 * e_ + 2, 0.0);
  for (int64_t s = 0; s < items; ++s) {
    sums[choice_[s * k_]] += 1.0;
    for (int e = 0; e < e_; ++e) sums[e_ + e] += probs_[s * e_ + e];
    sums[2 * e_] += static_cast<double>(lse_[s]) * lse_[s];
  }
  sums[2 * e_ + 1] = static_cast<double>(items);
  world.all_reduce(sums.data(), sums.size(), DType::kF64, CommOp::kSum);
  const std::vector<double>& sums_f = sums;
  items_world_ = sums_f[2 * e_ + 1];
  frac_.assign(e_, 0.0);
  double balance = 0;
  if (items_world_ > 0) {
    for (int e = 0; e < e_; ++e) {
      frac_[e] = sums_f[e] / items_world_;
      balance += frac_[e] * (sums_f[e_ + e] / items_world_);
    }
    balance *= e_;
  }
  out.items = items;
  out.k = k_;
  out.expert = choice_;
  out.weight = topv_;
  if (renorm_) {
    for (int64_t s = 0; s < items; ++s) {
      float z = 0;
      for (int j = 0; j < k_; ++j) z += topv_[s * k_ + j];
      for (int j = 0; j < k_; ++j) out.weight[s * k_ + j] = topv_[s * k_ + j] / z;
    }
  }
  out.balance_loss = balance;
  out.z_loss = items_world_ > 0 ? sums_f[2 * e_] / items_world_ : 0.0;
  out.aux_loss = bal_coef_ * out.balance_loss + z_coef_ * out.z_loss;
}

void SoftmaxGate::backward(std::vector<float>& dlogits, const std::vector<float>& dweight) const {
  dlogits.assign(static_cast<size_t>(items_ * e_), 0.0f);
  std::vector<float> dprob(e_), drow(e_);
  for (int64_t s = 0; s < items_; ++s) {
    const float* p = probs_.data() + s * e_;
    std::fill(dprob.begin(), dprob.end(), 0.0f);
    // Gate weights: w_j = p_j (raw) or p_j / Z with Z = Σ_chosen p (renormalised).
    const float* dw = dweight.data() + s * k_;
    const int32_t* c = choice_.data() + s * k_;
    if (!renorm_) {
      for (int j = 0; j < k_; ++j)
        if (c[j] >= 0) dprob[c[j]] += dw[j];
    } else {
      float z = 0, dot = 0;
      for (int j = 0; j < k_; ++j) z += topv_[s * k_ + j];
      for (int j = 0; j < k_; ++j) dot += dw[j] * topv_[s * k_ + j] / z;
      for (int j = 0; j < k_; ++j)
        if (c[j] >= 0) dprob[c[j]] += (dw[j] - dot) / z;
    }
    // Balance loss: L = E Σ_e f_e P_e, P_e = (1/S_world) Σ_s p_se; f_e is not differentiable.
    if (items_world_ > 0)
      for (int e = 0; e < e_; ++e)
        dprob[e] += static_cast<float>(bal_coef_ * e_ * frac_[e] / items_world_);
    kernels::softmax_backward_row(drow.data(), p, dprob.data(), e_);
    // z-loss: L = (1/S_world) Σ_s lse_s²; d/dlogit = 2 lse_s p_se / S_world.
    float zscale =
        items_world_ > 0 ? static_cast<float>(2.0 * z_coef_ * lse_[s] / items_world_) : 0;
    for (int e = 0; e < e_; ++e) dlogits[s * e_ + e] = drow[e] + zscale * p[e];
  }
}

}  // namespace sy
