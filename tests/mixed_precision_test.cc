// Mixed precision (runtime/layers/mixed_precision.h) on the CPU, where bf16 is stored and fp32 is
// the math, as on a GPU: the compute copies follow their masters, once per optimizer step; the
// MoE layer and the linear layer in bf16 track their fp32 selves within a stated tolerance (on
// the same weights and data, with the same routing); the all-to-all payload of FFN experts
// halves. (EP invariance in bf16: moe_ep_invariance_test; a bf16 training run tracking fp32:
// trainer_test.)
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>

#include "runtime/layers/linear.h"
#include "runtime/layers/mixed_precision.h"
#include "runtime/ops/ops.h"
#include "runtime/train/optimizer.h"
#include "tests/moe_test_util.h"
#include "tests/test_world.h"

namespace sy {
namespace {

// bf16 keeps 8 significant bits (a rounding is ≤ 2^-9 relative); a layer rounds its operands a
// few times before fp32 accumulation, so its outputs and gradients differ from fp32 by about 1%.
// Norm-wise: ‖got − want‖ ≤ kTolerance · ‖want‖.
constexpr double kTolerance = 2e-2;

double relative_error(const Tensor& got, const Tensor& want) {
  std::vector<float> g = got.to_vector<float>(), w = want.to_vector<float>();
  EXPECT_EQ(g.size(), w.size());
  double num = 0, den = 0;
  for (size_t i = 0; i < g.size(); ++i) {
    num += (double(g[i]) - w[i]) * (double(g[i]) - w[i]);
    den += double(w[i]) * w[i];
  }
  return std::sqrt(num / std::max(den, 1e-30));
}

std::vector<float> bf16_of(const Tensor& value) {
  Tensor h = Tensor::empty(value.shape(), DType::kBF16),
         f = Tensor::empty(value.shape(), DType::kF32);
  cast(h, value);
  cast(f, h);
  return f.to_vector<float>();
}

std::vector<float> floats(const Tensor& t) {
  Tensor f = Tensor::empty(t.shape(), DType::kF32);
  cast(f, t);
  return f.to_vector<float>();
}

TEST(MixedPrecision, ComputeCopiesFollowTheirMastersOncePerStep) {
  auto world = testing::world();
  auto self = std::shared_ptr<Communicator>(world->split(world->rank(), 0, "self"));
  Linear lin("lin", 6, 5, true, 3, Device::cpu());
  std::vector<Param*> ps = lin.params();
  use_compute_type(ps, DType::kBF16);
  Param& w = *ps[0];
  Param& b = *ps[1];
  ASSERT_EQ(w.compute().dtype(), DType::kBF16);
  EXPECT_FALSE(b.compute_copy.defined()) << "vectors (biases, gains) keep no copy";
  EXPECT_EQ(b.compute().raw(), b.value.raw());
  EXPECT_EQ(floats(w.compute()), bf16_of(w.value));
  const std::vector<float> before = floats(w.compute());
  w.grad.fill(0.5);
  b.grad.fill(0.5);
  pb::OptimizerConfig c;
  AdamW opt(ps, c);
  opt.step(0.1f, make_process_groups(self, 1));
  EXPECT_NE(floats(w.compute()), before) << "the step moved the master; the copy must follow";
  EXPECT_EQ(floats(w.compute()), bf16_of(w.value));
  use_compute_type(ps, DType::kF32);
  EXPECT_FALSE(w.compute_copy.defined());
  EXPECT_EQ(w.compute().raw(), w.value.raw()) << "fp32 runs read the masters themselves";
}

TEST(MixedPrecision, LinearTracksFp32) {
  const int64_t n = 40, in = 24, out = 16;
  Tensor x = testing::global_rows(1, 0, n, in), dy = testing::global_rows(2, 0, n, out);
  Tensor y[2], dx[2], dw[2];
  for (int i = 0; i < 2; ++i) {
    Linear lin("lin", in, out, true, 7, Device::cpu());
    use_compute_type(lin.params(), i == 0 ? DType::kF32 : DType::kBF16);
    y[i] = Tensor::empty({n, out}, DType::kF32);
    dx[i] = Tensor::empty({n, in}, DType::kF32);
    lin.forward(y[i], x);
    lin.backward(dx[i], dy);
    dw[i] = lin.weight().grad;
  }
  EXPECT_LE(relative_error(y[1], y[0]), kTolerance);
  EXPECT_LE(relative_error(dx[1], dx[0]), kTolerance);
  EXPECT_LE(relative_error(dw[1], dw[0]), kTolerance);
  EXPECT_GT(relative_error(y[1], y[0]), 0.0) << "the bf16 path must really round something";
}

struct LayerRun {
  Tensor y, dx;
  std::vector<Tensor> grads;
  double dispatched_mib = 0;
};

LayerRun run_layer(const MoeOptions& o, DType compute) {
  auto world = testing::world();
  std::unique_ptr<TokenMoe> layer =
      make_token_moe(o, make_process_groups(world, world->size()), Device::cpu());
  use_compute_type(layer->params(), compute);
  const int64_t per = 24 / world->size(), t0 = world->rank() * per;
  Tensor x = testing::global_rows(1, t0, t0 + per, o.d_model),
         dy = testing::global_rows(2, t0, t0 + per, o.d_model);
  const std::vector<int32_t> ids = testing::global_token_ids(t0, t0 + per);
  LayerRun r{Tensor::empty(x.shape(), DType::kF32), Tensor::empty(x.shape(), DType::kF32), {}, 0};
  layer->zero_grad();
  layer->forward(r.y, x, ids.data(), true);
  layer->backward(r.dx, dy);
  for (Param* p : layer->params()) r.grads.push_back(p->grad);
  r.dispatched_mib = layer->core().stats().dispatched_mib();
  return r;
}

TEST(MixedPrecision, EveryMoeLayerTracksFp32AndFfnExpertsHalveThePayload) {
  MoeOptions b;
  b.d_model = 16;
  b.num_experts = 8;
  b.d_expert = 12;
  b.seed = 11;
  for (const testing::MoeCase& c : testing::moe_cases(b)) {
    SCOPED_TRACE(c.name);
    const LayerRun f = run_layer(c.o, DType::kF32), h = run_layer(c.o, DType::kBF16);
    double worst = 0;
    auto check = [&](const Tensor& got, const Tensor& want, const std::string& what) {
      const double err = relative_error(got, want);
      worst = std::max(worst, err);
      EXPECT_LE(err, kTolerance) << what;
    };
    check(h.y, f.y, "y");
    check(h.dx, f.dx, "dx");
    for (size_t i = 0; i < f.grads.size(); ++i)
      check(h.grads[i], f.grads[i], "gradient " + std::to_string(i));
    if (testing::world()->rank() == 0)
      std::printf("%s: bf16 vs fp32, worst norm-wise relative difference %.3g\n", c.name, worst);
    const bool ffn = c.o.expert == pb::FFN_GELU || c.o.expert == pb::SWIGLU;
    ASSERT_GT(f.dispatched_mib, 0);
    EXPECT_DOUBLE_EQ(h.dispatched_mib / f.dispatched_mib, ffn ? 0.5 : 1.0)
        << "FFN experts take a bf16 payload; the structured kinds still compute in fp32";
  }
}

}  // namespace
}  // namespace sy
