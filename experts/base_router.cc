// BASE layers (Lewis et al. 2021): affinities A = x · W_cᵀ against expert centroids; in training a
// balanced assignment over all items of the world gives every expert exactly S/E items (min-cost
// flow, experts/balanced_assignment.h); at evaluation each item takes its best expert. The layer's
// output is α·f_e(x) + (1−α)·x with α = sigmoid(A[s,e]) — the router reports α as the gate weight
// and sets residual_gate. No auxiliary loss, no drops.
#include <cmath>

#include "experts/balanced_assignment.h"
#include "experts/router_factories.h"
#include "experts/router_projection.h"
#include "runtime/core/random.h"

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
      int n = world.size(), me = world.rank();
      std::vector<int64_t> counts(n);
      int64_t mine = s_count;
      world.all_gather(&mine, counts.data(), sizeof(int64_t));
      std::vector<size_t> send(n, aff_.size() * sizeof(float)), recv(n);
      int64_t total = 0, offset = 0;
      for (int p = 0; p < n; ++p) {
        recv[p] = static_cast<size_t>(counts[p] * e_) * sizeof(float);
        if (p < me) offset += counts[p];
        total += counts[p];
      }
      std::vector<float> all(static_cast<size_t>(total * e_));
      AllToAllLayout l = AllToAllLayout::packed(send, recv);
      for (auto& o : l.send_offsets) o = 0;  // the same block goes to every peer
      world.all_to_all_v(aff_.data(), all.data(), l);
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
    out.residual_gate = true;
    out.expert = choice_;
    out.weight.resize(static_cast<size_t>(s_count));
    for (int64_t s = 0; s < s_count; ++s)
      out.weight[s] = 1.0f / (1.0f + std::exp(-aff_[s * e_ + choice_[s]]));
    alpha_ = out.weight;
    out.balance_loss = out.z_loss = out.aux_loss = 0;
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
};

}  // namespace

std::unique_ptr<Router> make_base_router(const MoeOptions& o, int width, Device device) {
  return std::make_unique<BaseRouter>(o, width, device);
}

}  // namespace sy
