#include "runtime/train/expert_usage.h"

namespace sy {

void ExpertUsage::add(const pb::MoeLayerStats& s) {
  auto [it, fresh] = sums_.try_emplace(s.layer());
  if (fresh) order_.push_back(s.layer());
  Sums& sum = it->second;
  sum.selected.resize(static_cast<size_t>(s.selected_size()), 0);
  for (int e = 0; e < s.selected_size(); ++e) sum.selected[static_cast<size_t>(e)] += s.selected(e);
  sum.items += s.items_world();
}

std::vector<pb::ExpertUsage> ExpertUsage::records() const {
  std::vector<pb::ExpertUsage> out;
  for (const std::string& name : order_) {
    const Sums& sum = sums_.at(name);
    pb::ExpertUsage u;
    u.set_layer(name);
    u.set_threshold(threshold_);
    u.set_items(sum.items);
    int activated = 0;
    for (int64_t n : sum.selected) {
      const double f = sum.items > 0 ? static_cast<double>(n) / static_cast<double>(sum.items) : 0;
      u.add_frequency(f);
      activated += f > threshold_;
    }
    u.set_activation_ratio(sum.selected.empty() ? 0.0 : double(activated) / sum.selected.size());
    out.push_back(u);
  }
  return out;
}

}  // namespace sy
