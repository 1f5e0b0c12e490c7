// Mixed precision (runtime/layers/mixed_precision.h) on the CPU, where bf16 is stored and fp32 is
// the math, as on a GPU: the compute copies follow their masters, once per optimizer step; every
// layer with GEMMs (linear, attention, spatial gating, M2's block-diagonal MLP, every MoE layer of
// the catalogue, sMLP's feature MoE) in bf16 tracks its fp32 self within a stated tolerance (same
// weights and data, same routing); the all-to-all payload halves. (EP invariance in bf16:
// moe_ep_invariance_test; a bf16 training run tracking fp32: trainer_test.)
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>

#include "experts/feature_moe_layer.h"
#include "models/layers/causal_attention.h"
#include "models/layers/m2_mixers.h"
#include "models/layers/spatial_gating.h"
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

// Routing stays fp32 (Switch Transformer's selective precision): router weights get no copy,
// while the experts' weights do.
TEST(MixedPrecision, RoutersKeepFp32WeightsAndExpertsGetBf16Copies) {
  MoeOptions o;
  o.d_model = 16;
  o.num_experts = 4;
  o.d_expert = 8;
  for (pb::RouterKind r : {pb::TOPK_SOFTMAX, pb::XMOE_COSINE, pb::BASE}) {
    o.router = r;
    std::unique_ptr<TokenMoe> layer =
        make_token_moe(o, make_process_groups(testing::world(), 1), Device::cpu());
    use_compute_type(layer->params(), DType::kBF16);
    int routers = 0, experts = 0;
    for (Param* p : layer->params()) {
      if (p->is_expert) {
        experts += p->compute().dtype() == DType::kBF16;
      } else {
        ++routers;
        EXPECT_FALSE(p->compute_copy.defined()) << p->name;
      }
    }
    EXPECT_GT(routers, 0);
    EXPECT_GT(experts, 0);
  }
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

// The sequence mixers: attention (q, k, v and the probabilities into bf16 GEMMs) and the spatial
// gating unit (its T×T mixing GEMM), through a generic forward/backward pair.
template <typename Layer, typename Forward>
void expect_tracks_fp32(const char* what, Layer&& make, Forward&& forward, int64_t rows,
                        int64_t in_cols, int64_t out_cols) {
  SCOPED_TRACE(what);
  Tensor x = testing::global_rows(3, 0, rows, in_cols),
         dy = testing::global_rows(4, 0, rows, out_cols);
  Tensor y[2], dx[2];
  std::vector<Tensor> grads[2];
  for (int i = 0; i < 2; ++i) {
    auto layer = make();
    use_compute_type(layer->params(), i == 0 ? DType::kF32 : DType::kBF16);
    y[i] = Tensor::empty({rows, out_cols}, DType::kF32);
    dx[i] = Tensor::empty({rows, in_cols}, DType::kF32);
    forward(*layer, y[i], x);
    layer->backward(dx[i], dy);
    for (Param* p : layer->params()) grads[i].push_back(p->grad);
  }
  EXPECT_LE(relative_error(y[1], y[0]), kTolerance);
  EXPECT_GT(relative_error(y[1], y[0]), 0.0) << "the bf16 path must really round something";
  EXPECT_LE(relative_error(dx[1], dx[0]), kTolerance);
  for (size_t i = 0; i < grads[0].size(); ++i)
    EXPECT_LE(relative_error(grads[1][i], grads[0][i]), kTolerance) << "gradient " << i;
}

TEST(MixedPrecision, AttentionSpatialGatingAndM2MlpTrackFp32) {
  const int64_t batch = 3, t = 8, d = 16;
  expect_tracks_fp32(
      "attention",
      [&] { return std::make_unique<CausalSelfAttention>("attn", d, 2, 5, Device::cpu()); },
      [&](CausalSelfAttention& a, const Tensor& y, const Tensor& x) { a.forward(y, x, batch, t); },
      batch * t, d, d);
  expect_tracks_fp32(
      "spatial gating",
      [&] { return std::make_unique<SpatialGatingUnit>("sgu", d, t, 2, 5, Device::cpu()); },
      [&](SpatialGatingUnit& g, const Tensor& y, const Tensor& x) { g.forward(y, x, batch); },
      batch * t, 2 * d, d);
  expect_tracks_fp32(
      "M2 block-diagonal GLU MLP",
      [&] { return std::make_unique<BlockDiagGluMlp>("mlp", d, 2 * d, 4, 5, Device::cpu()); },
      [&](BlockDiagGluMlp& m, const Tensor& y, const Tensor& x) { m.forward(y, x); }, batch * t, d,
      d);
  M2MixerOptions bert;  // M2-BERT's release: implicit filters, residual long convolution
  bert.bidirectional = bert.residual_long_conv = true;
  expect_tracks_fp32(
      "M2 sequence mixer",
      [&] { return std::make_unique<M2SequenceMixer>("m2", d, t, bert, 5, Device::cpu()); },
      [&](M2SequenceMixer& m, const Tensor& y, const Tensor& x) { m.forward(y, x, batch); },
      batch * t, d, d);
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
  const testing::PassResult pass = testing::forward_backward(*layer, t0, t0 + per);
  LayerRun r{pass.y, pass.dx, {}, 0};
  for (Param* p : layer->params()) r.grads.push_back(p->grad);
  r.dispatched_mib = layer->core().stats().dispatched_mib();
  return r;
}

TEST(MixedPrecision, EveryMoeLayerTracksFp32AndHalvesThePayload) {
  for (const testing::MoeCase& c : testing::moe_cases(testing::small_moe_options(11))) {
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
    ASSERT_GT(f.dispatched_mib, 0);
    EXPECT_DOUBLE_EQ(h.dispatched_mib / f.dispatched_mib, 0.5) << "every expert kind takes bf16";
    EXPECT_GT(worst, 0.0) << "the bf16 path must really round something";
  }
}

// sMLP's feature MoE: SGU experts take a bf16 payload and mix along T with bf16 operands.
TEST(MixedPrecision, FeatureMoeTracksFp32AndHalvesThePayload) {
  auto world = testing::world();
  FeatureMoeOptions o;
  o.num_experts = 4;
  o.channels = 16;
  o.seq_len = 8;
  const int64_t batch = 4, per = batch / world->size() * o.seq_len;
  const int64_t t0 = world->rank() * per;
  Tensor z = testing::global_rows(5, t0, t0 + per, o.channels),
         dg = testing::global_rows(6, t0, t0 + per, o.channels);
  Tensor g[2], dz[2];
  double mib[2];
  for (int i = 0; i < 2; ++i) {
    FeatureMoeLayer layer(o, make_process_groups(world, world->size()), Device::cpu());
    use_compute_type(layer.params(), i == 0 ? DType::kF32 : DType::kBF16);
    g[i] = Tensor::empty(z.shape(), DType::kF32);
    dz[i] = Tensor::empty(z.shape(), DType::kF32);
    layer.forward(g[i], z, batch / world->size(), true);
    layer.backward(dz[i], dg);
    mib[i] = layer.core().stats().dispatched_mib();
  }
  EXPECT_LE(relative_error(g[1], g[0]), kTolerance);
  EXPECT_GT(relative_error(g[1], g[0]), 0.0);
  EXPECT_LE(relative_error(dz[1], dz[0]), kTolerance);
  EXPECT_DOUBLE_EQ(mib[1] / mib[0], 0.5);
}

}  // namespace
}  // namespace sy
