// Hash routing (Roller et al.): the expert is a fixed hash of the token id; no parameters, no loss.
// MH-MoE sub-tokens hash their own id (token · h + head), given by the layer.
#include "experts/router_factories.h"
#include "runtime/core/random.h"

namespace sy {

namespace {

class HashRouter final : public Router {
 public:
  HashRouter(const MoeOptions& o) : e_(o.num_experts), seed_(o.seed) {
    SY_CHECK(o.top_k == 1,
             "hash routing sends each item to one expert; set top_k: 1 (got " << o.top_k << ")");
  }

  void forward(Routing& out, const Tensor& x, const int32_t* token_ids, bool,
               Communicator&) override {
    int64_t s_count = x.dim(0);
    SY_CHECK(token_ids != nullptr || s_count == 0,
             "hash routing needs the token ids of the items; pass them to the MoE layer");
    out.items = s_count;
    out.k = 1;
    out.expert.resize(s_count);
    out.weight.assign(s_count, 1.0f);
    for (int64_t s = 0; s < s_count; ++s)
      out.expert[s] = static_cast<int32_t>(mix64(static_cast<uint64_t>(token_ids[s]) ^ seed_) % e_);
    out.balance_loss = out.z_loss = out.aux_loss = 0;
  }

  void backward(const Tensor&, const std::vector<float>&, const Tensor&) override {}
  std::vector<Param*> params() override { return {}; }

 private:
  int e_;
  uint64_t seed_;
};

}  // namespace

std::unique_ptr<Router> make_hash_router(const MoeOptions& o, int, Device) {
  return std::make_unique<HashRouter>(o);
}

}  // namespace sy
