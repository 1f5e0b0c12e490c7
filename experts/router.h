// Routers: which experts each item goes to, with which gate weight, and the router's own losses.
//
// A router is a small projection on the items' device (a GEMM) followed by a host-side gate: the
// gate's choices feed the dispatch plan, which is built on the host anyway (dispatch sizes are host
// numbers; on CUDA this is the one documented device→host synchronisation of a MoE layer).
// Losses and the balanced assignment are computed over all items of the world, so routing does
// not depend on how the batch is split across ranks or on ep.
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
  std::vector<int32_t> expert;  // (S,k) global expert ids; -1 = no expert
  std::vector<float> weight;    // (S,k) gate weight used by combine
  // Losses over all items of the world, the same value on every rank. aux_loss is what the layer
  // adds to the training loss: balance_coef · balance_loss + z_coef · z_loss.
  double balance_loss = 0, z_loss = 0, aux_loss = 0;
};

class Router {
 public:
  virtual ~Router() = default;
  // x (S, w) on the layer's device; token_ids (S) on the host for hash routing (else may be null).
  // Collective over `world` (an MPI communicator: host buffers).
  virtual void forward(Routing& out, const Tensor& x, const int32_t* token_ids, bool training,
                       Communicator& world) = 0;
  // dweight (S,k): dL/d(weight). Adds dL/dx into dx (same shape as x) and accumulates parameter
  // gradients; includes the gradients of the router's own losses. Uses what forward saved.
  virtual void backward(const Tensor& dx, const std::vector<float>& dweight, const Tensor& x) = 0;
  virtual std::vector<Param*> params() = 0;

  // The part of the layer's output that bypasses the experts, added after the combine: out (S,w)
  // += g(x). Nothing for most routers; BASE's sigmoid-gated residual adds (1 − α)·x, α being the
  // gate weight. Uses what forward saved.
  virtual void add_bypass(const Tensor& /*out*/, const Tensor& /*x*/) {}
  // Its backward, before backward(): dx += ∂(bypass)/∂x · dout, and dweight (S,k) += the bypass's
  // gradient with respect to the gate weights.
  virtual void bypass_backward(const Tensor& /*dx*/, std::vector<float>& /*dweight*/,
                               const Tensor& /*dout*/, const Tensor& /*x*/) {}
};

// The router the options ask for; parameters initialised from options.seed and name.
std::unique_ptr<Router> make_router(const MoeOptions& options, int item_width, Device device);

}  // namespace sy
