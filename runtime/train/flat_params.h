// Flat parameter storage (the data-parallel gradient path, docs/ARCHITECTURE.md): the parameters of
// one reduction group — dense ones, summed over the world, and expert ones, summed over the
// edp_group (DESIGN.md contract 2) — live in one contiguous fp32 buffer of values and one of
// gradients; each Param's value and grad become views into them. The layout is the reverse of the
// model's parameter order, which is about the order backward finishes them, and each parameter
// starts on a kAlign-element boundary (the padding stays zero). The gradient buffer is split into
// buckets of about bucket_bytes, never splitting a parameter: the unit the gradient reducer
// (grad_reducer.h) sums over the ranks, and the fused AdamW's (optimizer.h) buffers.
#pragma once

#include <cstdint>
#include <unordered_map>
#include <vector>

#include "runtime/core/param.h"

namespace sy {

struct FlatSlot {
  Param* param = nullptr;
  int64_t offset = 0;  // first element in the group's buffers
};

struct GradBucket {
  int64_t begin = 0, end = 0;  // elements [begin, end) of the group's gradient buffer
  int first_slot = 0, slots = 0;
};

struct FlatGroup {
  bool expert = false;
  Tensor values, grads;         // (numel) fp32
  std::vector<FlatSlot> slots;  // in layout order
  std::vector<GradBucket> buckets;
  int64_t numel() const { return values.numel(); }
};

class FlatParams {
 public:
  static constexpr int64_t kAlign = 64;  // elements: 256-byte aligned views

  // Moves `params` (the model's order) into flat storage on their device. bucket_bytes ≤ 0 puts
  // each group in one bucket.
  FlatParams(std::vector<Param*> params, int64_t bucket_bytes);
  FlatParams(const FlatParams&) = delete;
  FlatParams& operator=(const FlatParams&) = delete;

  // The dense group first, then the expert group; a group with no parameters is left out.
  std::vector<FlatGroup>& groups() { return groups_; }
  const std::vector<FlatGroup>& groups() const { return groups_; }
  // The parameters in the model's order.
  const std::vector<Param*>& params() const { return params_; }
  Device device() const { return device_; }
  // Gradient bytes (padding included) and buckets over the groups.
  size_t grad_bytes() const;
  int bucket_count() const;
  // One fill per group (the padding included).
  void zero_grad();
  // Where a parameter lives: its group and slot indices; throws for a parameter not held here.
  std::pair<int, int> locate(const Param* p) const;

 private:
  void build_group(bool expert, int64_t bucket_bytes);

  std::vector<Param*> params_;
  std::vector<FlatGroup> groups_;
  std::unordered_map<const Param*, std::pair<int, int>> where_;
  Device device_;
};

}  // namespace sy
