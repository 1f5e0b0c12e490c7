// EP and world-size invariance: the same global batch, seed and weights give the same layer
// outputs, input gradients, parameter gradients (after reduce_gradients) and losses whatever the
// world size (np 1, 2, 4) and ep (every divisor of the world size), and whatever the number of
// chunks, for every layer of the shared catalogue (tests/moe_test_util.h). The reference is the
// whole batch on one rank (a self communicator), computed inside the same job, so every rank
// compares its slice against it.
//
// Both precisions: fp32, and mixed bf16 (bf16 weight copies, activations and payload; fp32
// routing, so the routing stays exactly the same).
//
// Tolerance: 2e-5 · (1 + |value|) in both precisions. Routing, drop decisions and the dispatch
// plan are identical (checked exactly); what may differ is the float summation order of
// reductions that cross ranks (gradients summed over ranks, the gate's world sums), a few ulps.
// In bf16 the forward is as exact as in fp32 here: each row's GEMM result does not depend on the
// rows beside it, so every bf16 intermediate rounds the same way at any ep.
#include <gtest/gtest.h>

#include <cmath>

#include "runtime/layers/mixed_precision.h"
#include "tests/moe_test_util.h"
#include "tests/test_world.h"

namespace sy {
namespace {

std::vector<testing::MoeCase> cases() {
  return testing::moe_cases(testing::small_moe_options(11));
}

constexpr int64_t kGlobalTokens = 24;  // divisible by 1, 2, 4 ranks; 24·h items divisible by E

void expect_close(const std::vector<float>& got, const std::vector<float>& want,
                  const std::string& what, double tol, double* worst) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (size_t i = 0; i < got.size(); ++i) {
    double err = std::fabs(double(got[i]) - want[i]) / (1 + std::fabs(want[i]));
    *worst = std::max(*worst, err);
    ASSERT_LE(err, tol) << what << "[" << i << "]: " << got[i] << " vs " << want[i];
  }
}

// The layer in the given precision (mixed precision: bf16 compute copies of its weights).
std::unique_ptr<TokenMoe> make_layer(const MoeOptions& o, const ProcessGroups& groups,
                                     DType compute) {
  std::unique_ptr<TokenMoe> layer = make_token_moe(o, groups, Device::cpu());
  use_compute_type(layer->params(), compute);
  return layer;
}

struct Result {
  std::vector<float> y, dx;
  double aux = 0;
  int64_t dropped = 0;
  std::vector<int32_t> experts;
};

// Runs forward + backward + gradient reduction on this rank's slice [t0, t1) of the batch.
Result run(TokenMoe& layer, int64_t t0, int64_t t1) {
  const testing::PassResult pass = testing::forward_backward(layer, t0, t1);
  layer.reduce_gradients();
  return {pass.y.to_vector<float>(), pass.dx.to_vector<float>(), layer.core().aux_loss(),
          layer.core().stats().dropped_world(), layer.core().routing().expert.to_vector<int32_t>()};
}

class MoeEpInvariance : public ::testing::TestWithParam<std::tuple<testing::MoeCase, DType>> {};

TEST_P(MoeEpInvariance, SameNumbersForEveryWorldSizeAndEp) {
  const testing::MoeCase& c = std::get<0>(GetParam());
  const DType compute = std::get<1>(GetParam());
  const double tol = 2e-5;
  auto world = testing::world();
  const int w = world->size(), me = world->rank();
  const int64_t per = kGlobalTokens / w, t0 = me * per, t1 = t0 + per;
  const int h = c.o.num_heads, k = c.o.top_k;

  auto self = std::shared_ptr<Communicator>(world->split(me, 0, "self"));
  std::unique_ptr<TokenMoe> ref_owner = make_layer(c.o, make_process_groups(self, 1), compute);
  TokenMoe& ref_layer = *ref_owner;
  Result ref = run(ref_layer, 0, kGlobalTokens);

  double worst = 0;
  for (int ep = 1; ep <= w; ++ep) {
    if (w % ep) continue;
    SCOPED_TRACE("world " + std::to_string(w) + ", ep " + std::to_string(ep));
    std::unique_ptr<TokenMoe> owner = make_layer(c.o, make_process_groups(world, ep), compute);
    TokenMoe& layer = *owner;
    Result got = run(layer, t0, t1);
    const int64_t d = c.o.d_model;
    // Routing and drops: exactly the same.
    std::vector<int32_t> ref_experts(ref.experts.begin() + t0 * h * k,
                                     ref.experts.begin() + t1 * h * k);
    EXPECT_EQ(got.experts, ref_experts);
    EXPECT_EQ(got.dropped, ref.dropped);
    EXPECT_NEAR(got.aux, ref.aux, 1e-6 * (1 + std::fabs(ref.aux)));
    expect_close(got.y, std::vector<float>(ref.y.begin() + t0 * d, ref.y.begin() + t1 * d), "y",
                 tol, &worst);
    expect_close(got.dx, std::vector<float>(ref.dx.begin() + t0 * d, ref.dx.begin() + t1 * d), "dx",
                 tol, &worst);
    // Parameters: dense ones whole; expert ones are the slice of the reference's experts.
    auto ref_params = ref_layer.params();
    auto params = layer.params();
    ASSERT_EQ(params.size(), ref_params.size());
    for (size_t i = 0; i < params.size(); ++i) {
      ASSERT_EQ(params[i]->name, ref_params[i]->name);
      Tensor want = ref_params[i]->grad, want_v = ref_params[i]->value;
      if (params[i]->is_expert) {
        int64_t e_local = params[i]->value.dim(0);
        want = want.slice_rows(layer.core().first_expert(), layer.core().first_expert() + e_local);
        want_v =
            want_v.slice_rows(layer.core().first_expert(), layer.core().first_expert() + e_local);
      }
      EXPECT_EQ(params[i]->value.to_vector<float>(), want_v.to_vector<float>())
          << params[i]->name << ": weights differ before any step";
      expect_close(params[i]->grad.to_vector<float>(), want.to_vector<float>(),
                   params[i]->name + ".grad", tol, &worst);
    }
  }
  // The capacity cases must really drop, or they would not test the drop decisions.
  if (std::string(c.name).find("capacity") != std::string::npos) {
    EXPECT_GT(ref.dropped, 0);
  }
  if (me == 0)
    std::printf("%s %s: world %d, worst relative difference %.3g\n", c.name, dtype_name(compute), w,
                worst);
}

std::string param_name(const ::testing::TestParamInfo<std::tuple<testing::MoeCase, DType>>& i) {
  return std::string(std::get<0>(i.param).name) + "_" + dtype_name(std::get<1>(i.param));
}

INSTANTIATE_TEST_SUITE_P(Layers, MoeEpInvariance,
                         ::testing::Combine(::testing::ValuesIn(cases()),
                                            ::testing::Values(DType::kF32, DType::kBF16)),
                         param_name);

}  // namespace
}  // namespace sy
