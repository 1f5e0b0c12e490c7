// BASE layers (Lewis et al. 2021): affinities A = x · W_cᵀ against expert centroids; in training a
// balanced assignment over all items of the world gives every expert exactly S/E items (min-cost
// flow, experts/balanced_assignment.h); at evaluation each item takes its best expert. The layer's
// output is α·f_e(x) + (1−α)·x with α = sigmoid(A[s,e]) — the router reports α as the gate weight
// and adds the (1−α)·x bypass. No auxiliary loss, no drops.
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
        centroids_(o.name + ".router.centroids", {o.num_experts, width}, device) {
    SY_CHECK(o.top_k == 1, "BASE routing assigns one expert per item; set top_k: 1");
    fill_normal(centroids_.value, o.seed, stream_id(centroids_.name.c_str()),
                1.0f / std::sqrt(float(width)));
  }

  void forward(Routing& out, const Tensor& x, const int32_t*, bool training,
               Communicator& world) override {
    int64_t s_count = x.dim(0);
    aff_ = project_to_host(x, centroids_.value, true);  // (S, E)
    choice_.assign(static_cast<size_t>(s_count), 0);
    if (training) {
      // Every rank gathers all affinities and runs the same deterministic assignment.
      std::vector<size_t> counts;
      std::vector<char> bytes =
          all_gather_v(world, aff_.data(), aff_.size() * sizeof(float), &counts);
      std::vector<float> all(bytes.size() / sizeof(float));
      std::memcpy(all.data(), bytes.data(), bytes.size());
      int64_t offset = 0;  // items of the ranks before this one
      for (int p = 0; p < world.rank(); ++p) offset += counts[p] / (sizeof(float) * e_);
      const int64_t total = static_cast<int64_t>(all.size()) / e_;
      std::vector<int32_t> assign = balanced_assignment(all.data(), total, e_);
      std::copy(assign.begin() + offset, assign.begin() + offset + s_count, choice_.begin());
    } else {
      for (int64_t s = 0; s < s_count; ++s) {
        int best = 0;
        for (int e = 1; e < e_; ++e)
          if (aff_[s * e_ + e] > aff_[s * e_ + best]) best = e;
        choice_[s] = best;
      }
    }
    out.items = s_count;
    out.k = 1;
    out.expert = choice_;
    out.weight.resize(static_cast<size_t>(s_count));
    for (int64_t s = 0; s < s_count; ++s)
      out.weight[s] = 1.0f / (1.0f + std::exp(-aff_[s * e_ + choice_[s]]));
    alpha_ = out.weight;
    out.balance_loss = out.z_loss = out.aux_loss = 0;
    one_minus_alpha_ = Tensor();
  }

  // out = α·f(x) + (1 − α)·x: the combine gave α·f(x).
  void add_bypass(const Tensor& out, const Tensor& x) override {
    std::vector<float> v(alpha_.size());
    for (size_t i = 0; i < v.size(); ++i) v[i] = 1.0f - alpha_[i];
    one_minus_alpha_ = Tensor::from_vector(v, {static_cast<int64_t>(v.size())}).to(x.device());
    add_row_scaled(out, x, one_minus_alpha_);
  }

  // dα −= ⟨dout, x⟩ and dx += (1 − α)·dout.
  void bypass_backward(const Tensor& dx, std::vector<float>& dweight, const Tensor& dout,
                       const Tensor& x) override {
    Tensor xdot = Tensor::empty({x.dim(0)}, DType::kF32, x.device());
    row_dot(xdot, dout, x);
    std::vector<float> xd = xdot.to_vector<float>();
    for (size_t i = 0; i < xd.size(); ++i) dweight[i] -= xd[i];
    add_row_scaled(dx, dout, one_minus_alpha_);
  }

  void backward(const Tensor& dx, const std::vector<float>& dweight, const Tensor& x) override {
    int64_t s_count = x.dim(0);
    std::vector<float> daff(static_cast<size_t>(s_count * e_), 0.0f);
    for (int64_t s = 0; s < s_count; ++s)
      daff[s * e_ + choice_[s]] = dweight[s] * alpha_[s] * (1.0f - alpha_[s]);
    project_backward(dx, centroids_, x, daff, true);
  }

  std::vector<Param*> params() override { return {&centroids_}; }

 private:
  int e_;
  Param centroids_;  // (E, w)
  std::vector<float> aff_, alpha_;
  std::vector<int32_t> choice_;
  Tensor one_minus_alpha_;  // (S) on the device, for the bypass's backward
};

}  // namespace

std::unique_ptr<Router> make_base_router(const MoeOptions& o, int width, Device device) {
  return std::make_unique<BaseRouter>(o, width, device);
}

}  // namespace sy
