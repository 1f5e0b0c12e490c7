// The MH-MoE paper's expert activation ratio (Fig. 1 caption): over a corpus — here one
// validation pass — each expert's selection frequency in a layer is its router selections divided
// by the layer's items (sub-tokens for MH-MoE); an expert is activated when that frequency exceeds
// a threshold (logging.activation_threshold); the layer's ratio is the share of activated experts.
// Not MoeLayerStats.activation_ratio, which counts experts with at least one item in one step.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "switchyard/metrics.pb.h"

namespace sy {

class ExpertUsage {
 public:
  explicit ExpertUsage(double threshold) : threshold_(threshold) {}
  // Adds one layer call's record (its selections and items, over the world).
  void add(const pb::MoeLayerStats& stats);
  // One record per layer, in the order first seen.
  std::vector<pb::ExpertUsage> records() const;

 private:
  struct Sums {
    std::vector<int64_t> selected;
    int64_t items = 0;
  };
  double threshold_;
  std::vector<std::string> order_;
  std::map<std::string, Sums> sums_;
};

}  // namespace sy
