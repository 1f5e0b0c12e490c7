// A token-MoE FFN as a model block sees it: tokens x (N, d) → y (N, d), with a core MoE layer
// (experts/moe_layer.h) inside that holds the routing and the statistics. Plain MoE (Switch,
// GShard, hash, BASE, X-MoE) is the core layer itself; MH-MoE wraps it (experts/mh_moe_layer.h).
#pragma once

#include <memory>
#include <vector>

#include "comm/process_groups.h"
#include "experts/moe_options.h"
#include "runtime/core/param.h"

namespace sy {

class MoeLayer;

class TokenMoe {
 public:
  virtual ~TokenMoe() = default;
  // x (N, d) → y (N, d). token_ids (N) on the host, needed by hash routing.
  virtual void forward(const Tensor& y, const Tensor& x, const int32_t* token_ids,
                       bool training) = 0;
  // dy (N, d) → dx (N, d) (assigned); parameter gradients accumulate, the auxiliary losses'
  // included.
  virtual void backward(const Tensor& dx, const Tensor& dy) = 0;
  virtual std::vector<Param*> params() = 0;
  // Drops the activations forward kept for backward (recompute: forward runs again first); the
  // routing decisions and the auxiliary loss stay.
  virtual void drop_activations() = 0;
  // The core layer: routing, plans, statistics, auxiliary loss.
  virtual const MoeLayer& core() const = 0;
  // Forward FLOPs (2 × multiply-adds) per token: the router's projection and each token's k routed
  // experts (the napkin math of the step line's TFLOP/s).
  virtual double forward_flops_per_token() const = 0;

  void zero_grad();
  // Expert gradients over the edp group, the others over the world.
  void reduce_gradients();
};

// The layer the options ask for: MH-MoE when options.num_heads > 1 or mh_projections, else the
// core layer.
std::unique_ptr<TokenMoe> make_token_moe(const MoeOptions& options, const ProcessGroups& groups,
                                         Device device);

}  // namespace sy
