#include "runtime/train/flat_params.h"

#include <unordered_set>

namespace sy {

namespace {

int64_t aligned(int64_t n) {
  return (n + FlatParams::kAlign - 1) / FlatParams::kAlign * FlatParams::kAlign;
}

// Consecutive slots grouped into buckets of at least bucket_bytes (the last may be smaller).
std::vector<GradBucket> make_buckets(const std::vector<FlatSlot>& slots, int64_t total,
                                     int64_t bucket_bytes) {
  std::vector<GradBucket> out;
  const int64_t limit = bucket_bytes > 0 ? bucket_bytes / static_cast<int64_t>(sizeof(float)) : 0;
  for (size_t i = 0; i < slots.size(); ++i) {
    if (out.empty() || (limit > 0 && out.back().end - out.back().begin >= limit))
      out.push_back(GradBucket{slots[i].offset, slots[i].offset, static_cast<int>(i), 0});
    GradBucket& b = out.back();
    b.end = i + 1 < slots.size() ? slots[i + 1].offset : total;
    ++b.slots;
  }
  return out;
}

}  // namespace

FlatParams::FlatParams(std::vector<Param*> params, int64_t bucket_bytes)
    : params_(std::move(params)) {
  SY_CHECK(!params_.empty(), "FlatParams: no parameters to hold");
  device_ = params_.front()->value.device();
  std::unordered_set<const Param*> seen;
  for (const Param* p : params_) {
    SY_CHECK(seen.insert(p).second, "FlatParams: parameter '" << p->name << "' is listed twice");
    SY_CHECK(p->value.dtype() == DType::kF32 && p->grad.dtype() == DType::kF32 &&
                 p->value.device() == device_,
             "FlatParams: parameter '" << p->name << "' is not fp32 on " << device_name(device_));
  }
  build_group(false, bucket_bytes);
  build_group(true, bucket_bytes);
}

void FlatParams::build_group(bool expert, int64_t bucket_bytes) {
  FlatGroup g;
  g.expert = expert;
  int64_t total = 0;
  for (size_t i = params_.size(); i-- > 0;) {
    if (params_[i]->is_expert != expert) continue;
    g.slots.push_back(FlatSlot{params_[i], total});
    total += aligned(params_[i]->value.numel());
  }
  if (g.slots.empty()) return;
  g.values = Tensor::zeros({total}, DType::kF32, device_);
  g.grads = Tensor::zeros({total}, DType::kF32, device_);
  for (const FlatSlot& s : g.slots) {
    Param* p = s.param;
    const Shape shape = p->value.shape();
    Tensor value = g.values.slice_rows(s.offset, s.offset + p->value.numel()).reshape(shape);
    Tensor grad = g.grads.slice_rows(s.offset, s.offset + p->value.numel()).reshape(shape);
    value.copy_from(p->value);
    grad.copy_from(p->grad);
    p->value = value;
    p->grad = grad;
  }
  g.buckets = make_buckets(g.slots, total, bucket_bytes);
  for (size_t si = 0; si < g.slots.size(); ++si)
    where_[g.slots[si].param] = {static_cast<int>(groups_.size()), static_cast<int>(si)};
  groups_.push_back(std::move(g));
}

size_t FlatParams::grad_bytes() const {
  size_t n = 0;
  for (const FlatGroup& g : groups_) n += g.grads.nbytes();
  return n;
}

int FlatParams::bucket_count() const {
  int n = 0;
  for (const FlatGroup& g : groups_) n += static_cast<int>(g.buckets.size());
  return n;
}

void FlatParams::zero_grad() {
  for (FlatGroup& g : groups_) g.grads.fill(0.0);
}

std::pair<int, int> FlatParams::locate(const Param* p) const {
  auto it = where_.find(p);
  SY_CHECK(it != where_.end(), "FlatParams: parameter '" << p->name << "' is not in flat storage");
  return it->second;
}

}  // namespace sy
