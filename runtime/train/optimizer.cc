#include "runtime/train/optimizer.h"

#include <cmath>

#include "comm/tensor_exchange.h"
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

namespace {

// Whether the expert norm's all-reduce is queued on the compute stream (NCCL on a GPU) rather than
// done before it returns.
bool reduced_on_stream(const Communicator& ep, const Tensor& t) {
  return ep.size() > 1 && t.device().is_cuda() && ep.stream_ordered();
}

}  // namespace

Tensor grad_norm_squares(const FlatParams& flat, const ProcessGroups& groups) {
  Tensor sq = Tensor::zeros({2}, DType::kF64, flat.device());
  for (const FlatGroup& g : flat.groups()) {
    const int64_t i = g.expert ? 1 : 0;
    sum_squares(sq.slice_rows(i, i + 1), g.grads);
  }
  Communicator& ep = *groups.ep_group;
  const Tensor expert = sq.slice_rows(1, 2);
  if (reduced_on_stream(ep, expert))
    ep.all_reduce_on(expert.raw(), 1, DType::kF64, CommOp::kSum, Stream{});  // no host wait
  else
    all_reduce_sum(expert, ep);
  return sq;
}

namespace {

// Whether two parameters share their optimizer settings.
bool same_settings(const Param& a, const Param& b) {
  return a.lr == b.lr && a.weight_decay == b.weight_decay;
}

// Whether a parameter decays: its own setting, else matrices that are not marked otherwise.
bool decays(const Param& p) {
  if (p.weight_decay >= 0) return p.weight_decay > 0;
  return p.value.ndim() >= 2 && !p.no_weight_decay;
}

// The ranges of slots [first, last) that decay, relative to `base`, adjacent ones merged.
std::vector<int64_t> decay_ranges(const FlatGroup& g, size_t first, size_t last, int64_t base) {
  std::vector<int64_t> r;
  for (size_t i = first; i < last; ++i) {
    const FlatSlot& s = g.slots[i];
    if (!decays(*s.param)) continue;
    const int64_t begin = s.offset - base, end = begin + s.param->value.numel();
    if (!r.empty() && r.back() == begin)
      r.back() = end;
    else
      r.insert(r.end(), {begin, end});
  }
  return r;
}

}  // namespace

AdamW::AdamW(FlatParams& flat, const pb::OptimizerConfig& config) : flat_(flat), config_(config) {
  build_state();
}

AdamW::AdamW(std::vector<Param*> params, const pb::OptimizerConfig& config)
    : own_flat_(std::make_unique<FlatParams>(std::move(params), 0)),
      flat_(*own_flat_),
      config_(config) {
  build_state();
}

// The group cut where the optimizer settings change; the first segment starts at element 0 and
// each one ends where the next begins (padding between slots goes along: its gradients are 0).
std::vector<AdamW::Segment> AdamW::segments(const FlatGroup& g) const {
  std::vector<Segment> out;
  const Device d = flat_.device();
  size_t first = 0;
  for (size_t i = 1; i <= g.slots.size(); ++i) {
    if (i < g.slots.size() && same_settings(*g.slots[i].param, *g.slots[first].param)) continue;
    const Param& p = *g.slots[first].param;
    Segment s;
    s.begin = out.empty() ? 0 : g.slots[first].offset;
    s.end = i < g.slots.size() ? g.slots[i].offset : g.numel();
    s.lr_scale = p.lr > 0 ? p.lr / config_.lr() : 1.0f;
    s.weight_decay = p.weight_decay >= 0 ? p.weight_decay : config_.weight_decay();
    std::vector<int64_t> r = decay_ranges(g, first, i, s.begin);
    s.decay = Tensor::from_vector(r, {static_cast<int64_t>(r.size()) / 2, 2}, d);
    out.push_back(std::move(s));
    first = i;
  }
  return out;
}

void AdamW::build_state() {
  const Device d = flat_.device();
  for (const FlatGroup& g : flat_.groups())
    state_.push_back(GroupState{Tensor::zeros({g.numel()}, DType::kF32, d),
                                Tensor::zeros({g.numel()}, DType::kF32, d), segments(g)});
  for (const Param* p : flat_.params()) {
    auto [gi, si] = flat_.locate(p);
    const int64_t offset = flat_.groups()[gi].slots[si].offset, n = p->value.numel();
    m_.push_back(state_[gi].m.slice_rows(offset, offset + n).reshape(p->value.shape()));
    v_.push_back(state_[gi].v.slice_rows(offset, offset + n).reshape(p->value.shape()));
  }
}

double AdamW::step(float lr, const ProcessGroups& groups) {
  Tensor sq = grad_norm_squares(flat_, groups);
  ++t_;
  AdamWHyper h;
  h.lr = lr;
  h.beta1 = config_.beta1();
  h.beta2 = config_.beta2();
  h.eps = config_.eps();
  h.weight_decay = config_.weight_decay();
  h.grad_clip = config_.grad_clip();
  h.t = t_;
  for (size_t i = 0; i < state_.size(); ++i) {
    const FlatGroup& g = flat_.groups()[i];
    const GroupState& st = state_[i];
    for (const Segment& s : st.segments) {
      AdamWHyper hs = h;
      hs.lr = lr * s.lr_scale;
      hs.weight_decay = s.weight_decay;
      auto part = [&](const Tensor& t) { return t.slice_rows(s.begin, s.end); };
      adamw_step(part(g.values), part(st.m), part(st.v), part(g.grads), s.decay, sq, hs);
    }
  }
  refresh_compute_copies(flat_.params());  // mixed precision: the one cast per step
  // The one read of the step, after the update is queued; over NCCL the norm's all-reduce is on
  // the compute stream, so wait for it within the deadline first (no hang on a stuck peer).
  Communicator& ep = *groups.ep_group;
  if (reduced_on_stream(ep, sq)) ep.wait_stream(Stream{}, "all_reduce (gradient norm)");
  const std::vector<double> s = sq.to_vector<double>();
  last_sq_ = {s[0], s[1]};
  if (!std::isfinite(s[0] + s[1])) --t_;  // adamw_step changed nothing: not a step taken
  return std::sqrt(s[0] + s[1]);
}

}  // namespace sy
