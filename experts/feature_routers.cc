// The routers of sMLP's feature MoE (PAPERS.md). Items are (sequence, channel chunk) pairs, rows
// of T·c values, ordered sequence-major (item = b·E + chunk).
//  - Deterministic: chunk e always goes to expert e, weight 1. Balanced and causal by construction.
//  - Partial prediction: a top-1 softmax gate over a learned projection of the item's first Tp
//    positions (the prefix) only; the expert's output is scaled by the gate probability, and the
//    model counts the loss on the remaining positions only. With Tp = T the gate reads the whole
//    chunk, future included — the tests' non-causal negative control.
#include "experts/router_factories.h"
#include "runtime/ops/ops.h"

namespace sy {

namespace {

class DeterministicFeatureRouter final : public Router {
 public:
  explicit DeterministicFeatureRouter(int num_experts) : e_(num_experts) {}
  // Item i (chunk i mod E of its sequence) to expert i mod E; the choices are built once per batch
  // size and stay on the device.
  void forward(Routing& out, const Tensor& x, const int32_t*, bool, Communicator&) override {
    const int64_t s = x.dim(0);
    if (expert_.numel() != s || expert_.device() != x.device()) {
      std::vector<int32_t> e(static_cast<size_t>(s));
      for (int64_t i = 0; i < s; ++i) e[i] = static_cast<int32_t>(i % e_);
      expert_ = Tensor::from_vector(e, {s, 1}, x.device());
      weight_ = Tensor::full({s, 1}, DType::kF32, 1.0, x.device());
    }
    out.items = s;
    out.k = 1;
    out.expert = expert_;
    out.weight = weight_;
    out.world_sums = Tensor();
  }
  void backward(const Tensor&, const Tensor&, const Tensor&) override {}
  std::vector<Param*> params() override { return {}; }

 private:
  int e_;
  Tensor expert_, weight_;
};

class PrefixFeatureRouter final : public Router {
 public:
  PrefixFeatureRouter(const MoeOptions& o, int64_t seq_len, int64_t channels, int64_t prefix,
                      Device device)
      : t_(seq_len), c_(channels), p_(prefix) {
    SY_CHECK(prefix >= 1 && prefix <= seq_len, "the routed prefix must hold 1 … T positions");
    MoeOptions g = o;
    g.top_k = 1;
    g.router = pb::TOPK_SOFTMAX;
    inner_ = make_topk_router(g, static_cast<int>(prefix * channels), device);
  }
  void forward(Routing& out, const Tensor& x, const int32_t* ids, bool training,
               Communicator& world) override {
    const int64_t s = x.dim(0);
    std::vector<int32_t> rows;
    rows.reserve(static_cast<size_t>(s * p_));
    for (int64_t i = 0; i < s; ++i)
      for (int64_t t = 0; t < p_; ++t) rows.push_back(static_cast<int32_t>(i * t_ + t));
    index_ = Tensor::from_vector(rows, {s * p_}, x.device());
    prefix_ = Tensor::empty({s * p_, c_}, DType::kF32, x.device());
    gather_rows(prefix_, x.reshape({s * t_, c_}), index_);
    prefix_ = prefix_.reshape({s, p_ * c_});
    inner_->forward(out, prefix_, ids, training, world);
  }
  void reduce(Routing& out, const std::vector<double>& sums, int64_t items_world) override {
    inner_->reduce(out, sums, items_world);
  }
  void backward(const Tensor& dx, const Tensor& dweight, const Tensor& x) override {
    const int64_t s = x.dim(0);
    Tensor dprefix = Tensor::zeros({s, p_ * c_}, DType::kF32, x.device());
    inner_->backward(dprefix, dweight, prefix_);
    Tensor spread = Tensor::zeros({s * t_, c_}, DType::kF32, x.device());
    scatter_rows(spread, dprefix.reshape({s * p_, c_}), index_);
    add_scaled(dx, spread.reshape(dx.shape()), 1.0f);
  }
  std::vector<Param*> params() override { return inner_->params(); }

 private:
  int64_t t_, c_, p_;
  std::unique_ptr<Router> inner_;
  Tensor index_, prefix_;
};

}  // namespace

std::unique_ptr<Router> make_deterministic_feature_router(int num_experts) {
  return std::make_unique<DeterministicFeatureRouter>(num_experts);
}

std::unique_ptr<Router> make_prefix_feature_router(const MoeOptions& o, int64_t seq_len,
                                                   int64_t channels, int64_t prefix,
                                                   Device device) {
  return std::make_unique<PrefixFeatureRouter>(o, seq_len, channels, prefix, device);
}

}  // namespace sy
