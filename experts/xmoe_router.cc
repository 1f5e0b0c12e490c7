// The X-MoE cosine gate (Chi et al. 2022): project the item to a low dimension (w → r), normalise,
// and score it against normalised expert embeddings: logits = cos(x·W_p, emb_e) / τ; then the same
// top-k gate and losses as the top-k router. τ is fixed, or a parameter (xmoe_learn_temperature)
// read on the device (scale_by_inverse). All on the items' device.
#include <cmath>

#include "experts/router_factories.h"
#include "experts/router_projection.h"
#include "experts/topk_gate.h"
#include "runtime/core/random.h"
#include "runtime/ops/ops.h"

namespace sy {

namespace {

// Rows of a matrix scaled to unit norm, with what the backward needs.
struct UnitRows {
  Tensor rows, norms;
  explicit UnitRows(const Tensor& v)
      : rows(Tensor::empty(v.shape(), DType::kF32, v.device())),
        norms(Tensor::empty({v.dim(0)}, DType::kF32, v.device())) {
    l2_normalize_rows(rows, norms, v);
  }
  // dL/dv given dL/d(rows).
  Tensor backward(const Tensor& d) const {
    Tensor dv = Tensor::empty(rows.shape(), DType::kF32, rows.device());
    l2_normalize_rows_backward(dv, d, rows, norms);
    return dv;
  }
};

class XMoeRouter final : public Router {
 public:
  XMoeRouter(const MoeOptions& o, int width, Device device)
      : e_(o.num_experts),
        tau_(o.xmoe_temperature),
        proj_(o.name + ".router.proj", {width, o.xmoe_dim}, device),
        emb_(o.name + ".router.emb", {o.num_experts, o.xmoe_dim}, device),
        gate_(o.num_experts, o.top_k, o.renormalize, o.balance_coef, o.z_coef),
        learn_tau_(o.xmoe_learn_temperature),
        tau_param_(o.name + ".router.temperature", {1}, device) {
    fill_normal(proj_.value, o.seed, stream_id(proj_.name.c_str()), 1.0f / std::sqrt(float(width)));
    fill_normal(emb_.value, o.seed, stream_id(emb_.name.c_str()), 1.0f);
    tau_param_.value.fill(o.xmoe_temperature);
  }

  void forward(Routing& out, const Tensor& x, const int32_t*, bool, Communicator&) override {
    z_ = std::make_unique<UnitRows>(project(x, proj_.value, false));  // (S, r)
    en_ = std::make_unique<UnitRows>(emb_.value);                     // (E, r)
    Tensor logits = Tensor::empty({x.dim(0), e_}, DType::kF32, x.device());
    if (learn_tau_) {
      cos_ = Tensor::empty(logits.shape(), DType::kF32, x.device());
      gemm(cos_, z_->rows, en_->rows, false, true, 1.0f, 0.0f);  // zn · enᵀ
      scale_by_inverse(logits, cos_, tau_param_.value);          // / τ, τ on the device
    } else {
      gemm(logits, z_->rows, en_->rows, false, true, 1.0f / tau_, 0.0f);  // zn · enᵀ / τ
    }
    gate_.forward(out, logits);
  }

  void reduce(Routing& out, const std::vector<double>& sums, int64_t items_world) override {
    gate_.reduce(out, sums, items_world);
  }

  void backward(const Tensor& dx, const Tensor& dweight, const Tensor& x) override {
    const int64_t s = x.dim(0), r = proj_.value.dim(1);
    Tensor dlogits = Tensor::empty({s, e_}, DType::kF32, x.device());
    gate_.backward(dlogits, dweight);
    float alpha = 1.0f / tau_;
    if (learn_tau_) {  // dlogits becomes dcos = dlogits / τ; τ's gradient accumulates
      scale_by_inverse_backward(dlogits, tau_param_.grad, dlogits, cos_, tau_param_.value);
      alpha = 1.0f;
    }
    Tensor dzn = Tensor::empty({s, r}, DType::kF32, x.device());
    Tensor den = Tensor::empty({e_, r}, DType::kF32, x.device());
    gemm(dzn, dlogits, en_->rows, false, false, alpha, 0.0f);  // (S,E)·(E,r)
    gemm(den, dlogits, z_->rows, true, false, alpha, 0.0f);    // (E,S)·(S,r)
    project_backward(dx, proj_, x, z_->backward(dzn), false);
    add_scaled(emb_.grad, en_->backward(den), 1.0f);
  }

  std::vector<Param*> params() override {
    if (learn_tau_) return {&proj_, &emb_, &tau_param_};
    return {&proj_, &emb_};
  }

 private:
  int64_t e_;
  float tau_;
  Param proj_;  // (w, r)
  Param emb_;   // (E, r)
  TopKGate gate_;
  bool learn_tau_;
  Param tau_param_;                   // (1): the learnable temperature
  std::unique_ptr<UnitRows> z_, en_;  // saved by forward
  Tensor cos_;                        // saved by forward with a learnable τ: the cosines
};

}  // namespace

std::unique_ptr<Router> make_xmoe_router(const MoeOptions& o, int width, Device device) {
  return std::make_unique<XMoeRouter>(o, width, device);
}

}  // namespace sy
