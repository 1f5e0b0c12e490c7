#include "runtime/train/optimizer.h"

#include <cmath>

#include "runtime/layers/mixed_precision.h"
#include "runtime/ops/ops.h"

namespace sy {

float learning_rate(const pb::OptimizerConfig& opt, const pb::ScheduleConfig& schedule,
                    int64_t step) {
  const double peak = opt.lr(), floor = opt.lr() * opt.min_lr_ratio();
  const int64_t warmup = schedule.warmup_steps(), total = schedule.steps();
  if (warmup > 0 && step < warmup) return static_cast<float>(peak * (step + 1) / warmup);
  if (total <= warmup) return static_cast<float>(peak);
  double progress = std::min(1.0, static_cast<double>(step - warmup) / (total - warmup));
  return static_cast<float>(floor + 0.5 * (peak - floor) * (1.0 + std::cos(M_PI * progress)));
}

double global_grad_norm(const std::vector<Param*>& params, const ProcessGroups& groups) {
  double dense = 0, expert = 0;
  for (const Param* p : params) (p->is_expert ? expert : dense) += sum_squares(p->grad);
  groups.ep_group_host->all_reduce(&expert, 1, DType::kF64, CommOp::kSum);
  return std::sqrt(dense + expert);
}

AdamW::AdamW(std::vector<Param*> params, const pb::OptimizerConfig& config)
    : params_(std::move(params)), config_(config) {
  for (const Param* p : params_) {
    m_.push_back(Tensor::zeros(p->value.shape(), DType::kF32, p->value.device()));
    v_.push_back(Tensor::zeros(p->value.shape(), DType::kF32, p->value.device()));
  }
}

double AdamW::step(float lr, const ProcessGroups& groups) {
  double norm = global_grad_norm(params_, groups);
  if (config_.grad_clip() > 0 && norm > config_.grad_clip()) {
    float scale = static_cast<float>(config_.grad_clip() / (norm + 1e-6));
    for (Param* p : params_) scale_inplace(p->grad, scale);
  }
  ++t_;
  for (size_t i = 0; i < params_.size(); ++i) {
    Param* p = params_[i];
    float wd = p->value.ndim() >= 2 ? config_.weight_decay() : 0.0f;
    adamw_update(p->value, m_[i], v_[i], p->grad, lr, config_.beta1(), config_.beta2(),
                 config_.eps(), wd, t_);
  }
  refresh_compute_copies(params_);  // mixed precision: the one cast per step
  return norm;
}

}  // namespace sy
