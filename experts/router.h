// Routers: which experts each item goes to, with which gate weight, and the router's own losses.
//
// A router runs on the items' device: a projection (a GEMM) and a gate made of ops, so on a GPU
// the routing never waits for the host (BASE excepted: its balanced assignment runs on the host,
// one read of the affinities forward and one of the gate weights' gradient backward). What the
// losses need summed over the world (routing.world_sums) is read by the dispatch plan in the
// pass's one host read, summed there, and handed back to reduce(). Losses and the balanced
// assignment are computed over all items of the world, so routing does not depend on how the
// batch is split across ranks or on ep.
#pragma once

#include <memory>
#include <vector>

#include "comm/communicator.h"
#include "experts/moe_options.h"
#include "runtime/core/param.h"

namespace sy {

struct Routing {
  int64_t items = 0;  // S, this rank's items
  int k = 1;
  Tensor expert;  // (S,k) i32 on the items' device: global expert ids, −1 = no expert
  Tensor weight;  // (S,k) f32: the gate weights combine uses
  // What the router's losses need summed over the world: f64 on the device, or undefined.
  Tensor world_sums;
  // No capacity for this pass whatever the options say: BASE's greedy evaluation (its training
  // assignment is balanced by construction; greedy choices must not be dropped).
  bool dropless = false;
  // Set by Router::reduce: the same value on every rank. aux_loss is what the layer adds to the
  // training loss: balance_coef · balance_loss + z_coef · z_loss.
  double balance_loss = 0, z_loss = 0, aux_loss = 0;
};

class Router {
 public:
  virtual ~Router() = default;
  // x (S, w) on the layer's device; item_ids (S) on the host for hash routing (else may be null).
  // Sets out.items, k, expert, weight and world_sums. Collective over `world` only for BASE.
  virtual void forward(Routing& out, const Tensor& x, const int32_t* item_ids, bool training,
                       Communicator& world) = 0;
  // sums: out.world_sums summed over the world, on the host; items_world: the world's items. Sets
  // the losses (nothing to do for routers without any).
  virtual void reduce(Routing& /*out*/, const std::vector<double>& /*sums*/,
                      int64_t /*items_world*/) {}
  // dweight (S,k) on the device: dL/d(weight). Adds dL/dx into dx (same shape as x) and
  // accumulates parameter gradients, the gradients of the router's own losses included. Uses what
  // forward and reduce saved.
  virtual void backward(const Tensor& dx, const Tensor& dweight, const Tensor& x) = 0;
  virtual std::vector<Param*> params() = 0;

  // The part of the layer's output that bypasses the experts, added after the combine: out (S,w)
  // += g(x). Nothing for most routers; BASE's sigmoid-gated residual adds (1 − α)·x, α being the
  // gate weight. Uses what forward saved.
  virtual void add_bypass(const Tensor& /*out*/, const Tensor& /*x*/) {}
  // Its backward, before backward(): dx += ∂(bypass)/∂x · dout, and dweight (S,k) += the bypass's
  // gradient with respect to the gate weights.
  virtual void bypass_backward(const Tensor& /*dx*/, const Tensor& /*dweight*/,
                               const Tensor& /*dout*/, const Tensor& /*x*/) {}
};

// The router the options ask for; parameters initialised from options.seed and name.
std::unique_ptr<Router> make_router(const MoeOptions& options, int item_width, Device device);

}  // namespace sy
