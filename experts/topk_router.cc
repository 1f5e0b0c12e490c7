// Top-k softmax gating (k = 1 Switch, k = 2 GShard, any k): logits = x · W_g, then the top-k gate.
#include "experts/router_factories.h"
#include "experts/router_projection.h"
#include "experts/topk_gate.h"
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

  void forward(Routing& out, const Tensor& x, const int32_t*, bool, Communicator&) override {
    gate_.forward(out, project(x, w_.value, false));
  }

  void reduce(Routing& out, const std::vector<double>& sums, int64_t items_world) override {
    gate_.reduce(out, sums, items_world);
  }

  void backward(const Tensor& dx, const Tensor& dweight, const Tensor& x) override {
    Tensor dlogits = Tensor::empty({x.dim(0), w_.value.dim(1)}, DType::kF32, x.device());
    gate_.backward(dlogits, dweight);
    project_backward(dx, w_, x, dlogits, false);
  }

  std::vector<Param*> params() override { return {&w_}; }

 private:
  Param w_;  // (w, E)
  TopKGate gate_;
};

}  // namespace

std::unique_ptr<Router> make_topk_router(const MoeOptions& o, int width, Device device) {
  return std::make_unique<TopKRouter>(o, width, device);
}

}  // namespace sy
