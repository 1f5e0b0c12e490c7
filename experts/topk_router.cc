// Top-k softmax gating (k = 1 Switch, k = 2 GShard, any k): logits = x · W_g, then SoftmaxGate.
#include "experts/router_factories.h"
#include "experts/router_projection.h"
#include "experts/softmax_gate.h"
#include "runtime/core/random.h"

namespace sy {

namespace {

class TopKRouter final : public Router {
 public:
  TopKRouter(const MoeOptions& o, int width, Device device)
      : w_(o.name + ".router.w", {width, o.num_experts}, device),
        gate_(o.num_experts, o.top_k, o.renormalize, o.balance_coef, o.z_coef) {
    fill_normal(w_.value, o.seed, stream_id(w_.name.c_str()), 1.0f / std::sqrt(float(width)));
  }

  void forward(Routing& out, const Tensor& x, const int32_t*, bool, Communicator& world) override {
    gate_.forward(out, project_to_host(x, w_.value, false), x.dim(0), world);
  }

  void backward(const Tensor& dx, const std::vector<float>& dweight, const Tensor& x) override {
    std::vector<float> dlogits;
    gate_.backward(dlogits, dweight);
    project_backward(dx, w_, x, dlogits, false);
  }

  std::vector<Param*> params() override { return {&w_}; }

 private:
  Param w_;  // (w, E)
  SoftmaxGate gate_;
};

}  // namespace

std::unique_ptr<Router> make_topk_router(const MoeOptions& o, int width, Device device) {
  return std::make_unique<TopKRouter>(o, width, device);
}

}  // namespace sy
