// Hash routing (Roller et al.): the expert is a fixed hash of the token id; no parameters, no loss.
// MH-MoE sub-tokens hash their own id (token · h + head), given by the layer.
#include "experts/router_factories.h"
#include "runtime/ops/ops.h"

namespace sy {

namespace {

class HashRouter final : public Router {
 public:
  explicit HashRouter(const MoeOptions& o) : e_(o.num_experts), seed_(o.seed) {
    SY_CHECK(o.top_k == 1,
             "hash routing sends each item to one expert; set top_k: 1 (got " << o.top_k << ")");
  }

  void forward(Routing& out, const Tensor& x, const int32_t* token_ids, bool,
               Communicator&) override {
    const int64_t s = x.dim(0);
    SY_CHECK(token_ids != nullptr || s == 0,
             "hash routing needs the token ids of the items; pass them to the MoE layer");
    std::vector<int32_t> ids(token_ids, token_ids + s);
    out.items = s;
    out.k = 1;
    out.expert = Tensor::empty({s, 1}, DType::kI32, x.device());
    hash_route(out.expert, Tensor::from_vector(ids, {s}, x.device()), seed_, e_);
    out.weight = Tensor::full({s, 1}, DType::kF32, 1.0, x.device());
    out.world_sums = Tensor();
  }

  void backward(const Tensor&, const Tensor&, const Tensor&) override {}
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
