// BASE layers (Lewis et al. 2021): affinities A = x · W_cᵀ against expert centroids; in training a
// balanced assignment over all items of the world gives every expert exactly S/E items (min-cost
// flow, experts/balanced_assignment.h); at evaluation each item takes its best expert. The router
// reports α = sigmoid(A[s,e]) as the gate weight. fairseq's form (MoeOptions::base_fairseq): the
// layer's output is α·f_e(x), the block adds x. Switchyard's first form: α·f_e(x) + (1−α)·x, the
// router adding the (1−α)·x bypass. No auxiliary loss, no drops.
//
// The assignment runs on the host: the affinities are read once per forward, and the gate
// weights' gradient once per backward — BASE's two host synchronisations per layer call, beside
// the dispatch plan's one.
#include <cmath>
#include <cstring>

#include "comm/tensor_exchange.h"
#include "experts/balanced_assignment.h"
#include "experts/router_factories.h"
#include "experts/router_projection.h"
#include "runtime/core/random.h"
#include "runtime/ops/ops.h"

namespace sy {

namespace {

class BaseRouter final : public Router {
 public:
  BaseRouter(const MoeOptions& o, int width, Device device)
      : e_(o.num_experts),
        bypass_(!o.base_fairseq),
        centroids_(o.name + ".router.centroids", {o.num_experts, width}, device) {
    SY_CHECK(o.top_k == 1, "BASE routing assigns one expert per item; set top_k: 1");
    fill_normal(centroids_.value, o.seed, stream_id(centroids_.name.c_str()),
                1.0f / std::sqrt(float(width)));
  }

  void forward(Routing& out, const Tensor& x, const int32_t*, bool training,
               Communicator& world) override {
    const int64_t s_count = x.dim(0);
    aff_ = project(x, centroids_.value, true).to_vector<float>();  // (S, E) on the host
    choice_ = training ? assign_balanced(s_count, world) : assign_greedy(s_count);
    alpha_.resize(static_cast<size_t>(s_count));
    std::vector<float> one_minus(alpha_.size());
    for (int64_t s = 0; s < s_count; ++s) {
      alpha_[s] = 1.0f / (1.0f + std::exp(-aff_[s * e_ + choice_[s]]));
      one_minus[s] = 1.0f - alpha_[s];
    }
    out.items = s_count;
    out.k = 1;
    out.expert = Tensor::from_vector(choice_, {s_count, 1}, x.device());
    out.weight = Tensor::from_vector(alpha_, {s_count, 1}, x.device());
    out.world_sums = Tensor();
    out.dropless = !training;
    one_minus_alpha_ = Tensor::from_vector(one_minus, {s_count}, x.device());
  }

  // out = α·f(x) + (1 − α)·x: the combine gave α·f(x).
  void add_bypass(const Tensor& out, const Tensor& x) override {
    if (bypass_) add_row_scaled(out, x, one_minus_alpha_);
  }

  // dα −= ⟨dout, x⟩ and dx += (1 − α)·dout.
  void bypass_backward(const Tensor& dx, const Tensor& dweight, const Tensor& dout,
                       const Tensor& x) override {
    if (!bypass_) return;
    Tensor xdot = Tensor::empty({x.dim(0)}, DType::kF32, x.device());
    row_dot(xdot, dout, x);
    add_scaled(dweight, xdot, -1.0f);
    add_row_scaled(dx, dout, one_minus_alpha_);
  }

  void backward(const Tensor& dx, const Tensor& dweight, const Tensor& x) override {
    const int64_t s_count = x.dim(0);
    const std::vector<float> dw = dweight.to_vector<float>();
    std::vector<float> daff(static_cast<size_t>(s_count * e_), 0.0f);
    for (int64_t s = 0; s < s_count; ++s)
      daff[s * e_ + choice_[s]] = dw[s] * alpha_[s] * (1.0f - alpha_[s]);
    project_backward(dx, centroids_, x, Tensor::from_vector(daff, {s_count, e_}, x.device()), true);
  }

  std::vector<Param*> params() override { return {&centroids_}; }

 private:
  // Every rank gathers all affinities and runs the same deterministic assignment.
  std::vector<int32_t> assign_balanced(int64_t s_count, Communicator& world) const {
    std::vector<size_t> counts;
    std::vector<char> bytes =
        all_gather_v(world, aff_.data(), aff_.size() * sizeof(float), &counts);
    std::vector<float> all(bytes.size() / sizeof(float));
    std::memcpy(all.data(), bytes.data(), bytes.size());
    int64_t offset = 0;  // items of the ranks before this one
    for (int p = 0; p < world.rank(); ++p) offset += counts[p] / (sizeof(float) * e_);
    const int64_t total = static_cast<int64_t>(all.size()) / e_;
    std::vector<int32_t> assign = balanced_assignment(all.data(), total, e_);
    return std::vector<int32_t>(assign.begin() + offset, assign.begin() + offset + s_count);
  }

  // Each item to its best expert (evaluation).
  std::vector<int32_t> assign_greedy(int64_t s_count) const {
    std::vector<int32_t> choice(static_cast<size_t>(s_count), 0);
    for (int64_t s = 0; s < s_count; ++s)
      for (int e = 1; e < e_; ++e)
        if (aff_[s * e_ + e] > aff_[s * e_ + choice[s]]) choice[s] = e;
    return choice;
  }

  int e_;
  bool bypass_;      // the (1 − α)·x term (not in fairseq's form)
  Param centroids_;  // (E, w)
  std::vector<float> aff_, alpha_;
  std::vector<int32_t> choice_;
  Tensor one_minus_alpha_;  // (S) on the device, for the bypass and its backward
};

}  // namespace

std::unique_ptr<Router> make_base_router(const MoeOptions& o, int width, Device device) {
  return std::make_unique<BaseRouter>(o, width, device);
}

}  // namespace sy
