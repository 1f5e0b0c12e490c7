// Finite-difference checks of the MoE layer's backward on the CPU, for every layer of the shared
// catalogue (tests/moe_test_util.h: every router and expert kind, MH-MoE split/merge, capacity and
// dropless modes, chunking), including the routers' losses. The loss is L = Σ dout ⊙ y + aux,
// accumulated in double; central differences with step 2e-3. A coordinate whose perturbation
// changes the routing (a choice or a drop flips) is not differentiable there and is skipped; at
// most a tenth of the checked coordinates may be.
#include <gtest/gtest.h>

#include <cmath>

#include "tests/finite_difference.h"
#include "tests/moe_test_util.h"
#include "tests/test_world.h"

namespace sy {
namespace {

MoeOptions base_options() {
  MoeOptions o;
  o.d_model = 8;
  o.num_experts = 4;
  o.d_expert = 6;
  o.top_k = 1;
  o.balance_coef = 0.1f;
  o.z_coef = 0.01f;
  o.seed = 7;
  return o;
}

std::vector<testing::MoeCase> cases() {
  return testing::moe_cases(base_options());
}

class MoeGradCheck : public ::testing::TestWithParam<testing::MoeCase> {};

TEST_P(MoeGradCheck, BackwardMatchesFiniteDifferences) {
  const testing::MoeCase& c = GetParam();
  auto world = testing::world();
  auto self = std::shared_ptr<Communicator>(world->split(world->rank(), 0, "self"));
  ProcessGroups groups = make_process_groups(self, 1);
  std::unique_ptr<TokenMoe> owner = make_token_moe(c.o, groups, Device::cpu());
  TokenMoe& layer = *owner;
  const int64_t n = 12, d = c.o.d_model;  // tokens
  Tensor x = testing::global_rows(1, 0, n, d);
  Tensor dout = testing::global_rows(2, 0, n, d);
  std::vector<int32_t> ids = testing::global_token_ids(0, n);
  Tensor y = Tensor::empty({n, d}, DType::kF32);

  auto loss = [&] {
    layer.forward(y, x, ids.data(), true);
    return testing::dot(dout, y) + layer.core().aux_loss();
  };
  // The routing and the drops of the last forward.
  auto routing = [&] {
    std::vector<int32_t> sig = layer.core().routing().expert.to_vector<int32_t>();
    for (int32_t p : layer.core().exchange_plan().pos.to_vector<int32_t>()) sig.push_back(p >= 0);
    return sig;
  };
  loss();
  layer.zero_grad();
  Tensor dx = Tensor::empty({n, d}, DType::kF32);
  layer.backward(dx, dout);

  testing::GradientCheck check(loss, 2e-3, 2e-3, 2e-2, routing);
  // Inputs: every coordinate. Parameters: every coordinate of the small ones, an even sample of
  // the larger.
  check.check(std::string(c.name) + ": dx", x.data<float>(), dx.to_vector<float>());
  for (Param* p : layer.params()) check.check_param(*p, 40);
  const int checked = check.checked(), skipped = check.skipped();
  std::printf("%s: %d coordinates checked, %d skipped\n", c.name, checked, skipped);
  EXPECT_GT(checked, 0);
  EXPECT_LE(skipped * 10, checked + skipped) << c.name << ": too many routing flips";
}

INSTANTIATE_TEST_SUITE_P(Layers, MoeGradCheck, ::testing::ValuesIn(cases()), testing::case_name);

}  // namespace
}  // namespace sy
