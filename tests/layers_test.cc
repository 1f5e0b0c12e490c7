// The model layers on the CPU: every layer's backward (input and parameter gradients) against
// finite differences of L = Σ dout ⊙ y in double, and the causal mixers' perturbation test:
// changing the input after position t leaves the outputs at positions ≤ t bitwise unchanged.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>

#include "models/layers/causal_attention.h"
#include "models/layers/embedding.h"
#include "models/layers/implicit_filter.h"
#include "models/layers/m2_mixers.h"
#include "models/layers/norms.h"
#include "models/layers/spatial_gating.h"
#include "runtime/core/random.h"
#include "runtime/layers/linear.h"
#include "runtime/ops/ops.h"
#include "tests/finite_difference.h"

namespace sy {
namespace {

Tensor randn(const Shape& s, uint64_t stream, float scale = 1.0f) {
  Tensor t = Tensor::empty(s, DType::kF32);
  fill_normal(t, 3, stream, scale);
  return t;
}

// Checks dx (when x is given) and every parameter's gradient by central differences.
void gradcheck(const std::string& what, const Tensor* x, const std::vector<Param*>& params,
               const Shape& y_shape, const std::function<void(const Tensor&)>& forward,
               const std::function<void(const Tensor&, const Tensor&)>& backward, double h = 1e-2,
               double tol = 2e-3) {
  Tensor dy = randn(y_shape, 77);
  Tensor y = Tensor::empty(y_shape, DType::kF32);
  auto loss = [&] {
    forward(y);
    return testing::weighted_sum(y, dy);
  };
  loss();
  for (Param* p : params) p->zero_grad();
  Tensor dx = x ? Tensor::empty(x->shape(), DType::kF32) : Tensor();
  backward(dx, dy);
  testing::GradientCheck check(loss, h, tol, 2e-2);
  if (x) check.check(what + ": dx", x->data<float>(), dx.to_vector<float>());
  for (Param* p : params)
    check.check(what + ": " + p->name, p->value.data<float>(), p->grad.to_vector<float>(),
                std::max<int64_t>(1, p->value.numel() / 30));
}

TEST(Layers, LinearWithBias) {
  Linear lin("lin", 5, 4, true, 1, Device::cpu());
  Tensor x = randn({3, 5}, 1);
  gradcheck(
      "linear", &x, lin.params(), {3, 4}, [&](const Tensor& y) { lin.forward(y, x); },
      [&](const Tensor& dx, const Tensor& dy) { lin.backward(dx, dy); });
}

TEST(Layers, NormModules) {
  LayerNorm ln("ln", 6, Device::cpu());
  RMSNorm rms("rms", 6, Device::cpu());
  Tensor x = randn({4, 6}, 2);
  gradcheck(
      "layernorm", &x, ln.params(), {4, 6}, [&](const Tensor& y) { ln.forward(y, x); },
      [&](const Tensor& dx, const Tensor& dy) { ln.backward(dx, dy); });
  gradcheck(
      "rmsnorm", &x, rms.params(), {4, 6}, [&](const Tensor& y) { rms.forward(y, x); },
      [&](const Tensor& dx, const Tensor& dy) { rms.backward(dx, dy); });
}

TEST(Layers, EmbeddingAndTiedHead) {
  Embedding emb("emb", 9, 4, 1, Device::cpu());
  fill_normal(emb.table().value, 3, 9, 1.0f);  // larger than GPT-2's 0.02, for the differences
  Tensor ids = Tensor::from_vector<int32_t>({3, 1, 3, 8, 0}, {5});
  Tensor h = randn({5, 4}, 3);
  // Embedding then tied head on a separate input: y = [emb(ids) | h·tableᵀ].
  gradcheck(
      "embedding", &h, emb.params(), {5, 4 + 9},
      [&](const Tensor& y) {
        Tensor e = Tensor::empty({5, 4}, DType::kF32), l = Tensor::empty({5, 9}, DType::kF32);
        emb.forward(e, ids);
        emb.head_forward(l, h);
        auto ev = e.to_vector<float>(), lv = l.to_vector<float>();
        float* yp = y.data<float>();
        for (int r = 0; r < 5; ++r) {
          for (int c = 0; c < 4; ++c) yp[r * 13 + c] = ev[r * 4 + c];
          for (int c = 0; c < 9; ++c) yp[r * 13 + 4 + c] = lv[r * 9 + c];
        }
      },
      [&](const Tensor& dx, const Tensor& dy) {
        auto dv = dy.to_vector<float>();
        std::vector<float> de(20), dl(45);
        for (int r = 0; r < 5; ++r) {
          for (int c = 0; c < 4; ++c) de[r * 4 + c] = dv[r * 13 + c];
          for (int c = 0; c < 9; ++c) dl[r * 9 + c] = dv[r * 13 + 4 + c];
        }
        emb.backward(Tensor::from_vector(de, {5, 4}));
        emb.head_backward(dx, Tensor::from_vector(dl, {5, 9}));
      });
}

TEST(Layers, CausalSelfAttention) {
  const int64_t b = 2, t = 5, d = 8;
  CausalSelfAttention att("att", d, 2, 4, Device::cpu());
  Tensor x = randn({b * t, d}, 4);
  gradcheck(
      "attention", &x, att.params(), {b * t, d}, [&](const Tensor& y) { att.forward(y, x, b, t); },
      [&](const Tensor& dx, const Tensor& dy) { att.backward(dx, dy); });
}

TEST(Layers, CausalSelfAttentionWithRotaryPositions) {
  const int64_t b = 2, t = 5, d = 8;
  CausalSelfAttention att("att", d, 2, 4, Device::cpu(), 10000.0);
  Tensor x = randn({b * t, d}, 4);
  gradcheck(
      "attention+rope", &x, att.params(), {b * t, d},
      [&](const Tensor& y) { att.forward(y, x, b, t); },
      [&](const Tensor& dx, const Tensor& dy) { att.backward(dx, dy); });
}

// Without positions, causal attention is blind to the order of what a token attends to: swapping
// tokens 0 and 1 leaves position 2's output unchanged. Rotary positions make it see the order.
TEST(Layers, RotaryPositionsMakeAttentionSeeTheOrder) {
  const int64_t d = 8, t = 3;
  std::vector<float> v = randn({t, d}, 9).to_vector<float>();
  std::vector<float> swapped(v.begin() + d, v.begin() + 2 * d);
  swapped.insert(swapped.end(), v.begin(), v.begin() + d);
  swapped.insert(swapped.end(), v.begin() + 2 * d, v.end());
  for (double base : {0.0, 10000.0}) {
    CausalSelfAttention att("att", d, 2, 4, Device::cpu(), base);
    auto last_row = [&](const std::vector<float>& in) {
      Tensor y = Tensor::empty({t, d}, DType::kF32);
      att.forward(y, Tensor::from_vector(in, {t, d}), 1, t);
      auto out = y.to_vector<float>();
      return std::vector<float>(out.begin() + 2 * d, out.end());
    };
    const std::vector<float> a = last_row(v), b = last_row(swapped);
    float diff = 0;
    for (int64_t j = 0; j < d; ++j) diff = std::max(diff, std::fabs(a[j] - b[j]));
    if (base > 0)
      EXPECT_GT(diff, 1e-4f) << "with rotary positions the order of earlier tokens matters";
    else
      EXPECT_LT(diff, 1e-6f) << "without positions attention is order-blind";
  }
}

TEST(Layers, SpatialGatingUnit) {
  const int64_t b = 2, t = 6, f = 4;
  SpatialGatingUnit sgu("sgu", f, t, 2, 5, Device::cpu());
  // Larger spatial weights than the near-zero init, so the mixing shows in the differences.
  Param* w = sgu.params()[2];
  fill_normal(w->value, 3, 11, 0.5f);
  Tensor z = randn({b * t, 2 * f}, 5);
  gradcheck(
      "sgu", &z, sgu.params(), {b * t, f}, [&](const Tensor& y) { sgu.forward(y, z, b); },
      [&](const Tensor& dz, const Tensor& dy) { sgu.backward(dz, dy); });
  // The masked upper triangle of W_s gets no gradient.
  auto g = w->grad.to_vector<float>();
  for (int hh = 0; hh < 2; ++hh)
    for (int i = 0; i < t; ++i)
      for (int j = i + 1; j < t; ++j) EXPECT_EQ(g[(hh * t + i) * t + j], 0.0f);
}

// Perturbs positions > p of every sequence and reports the first output at a position ≤ p that
// changed (empty: the mixer is causal).
std::string first_leak(int64_t b, int64_t t, int64_t width, int64_t out_width,
                       const std::function<void(const Tensor&, const Tensor&)>& run) {
  Tensor x = randn({b * t, width}, 6);
  Tensor y0 = Tensor::empty({b * t, out_width}, DType::kF32);
  run(y0, x);
  auto base = y0.to_vector<float>();
  for (int64_t p = 0; p + 1 < t; ++p) {
    Tensor xp = x.to(Device::cpu());
    for (int64_t s = 0; s < b; ++s)
      for (int64_t q = p + 1; q < t; ++q)
        for (int64_t c = 0; c < width; ++c) xp.data<float>()[(s * t + q) * width + c] += 1.0f;
    Tensor y = Tensor::empty({b * t, out_width}, DType::kF32);
    run(y, xp);
    auto yv = y.to_vector<float>();
    for (int64_t s = 0; s < b; ++s)
      for (int64_t q = 0; q <= p; ++q)
        for (int64_t c = 0; c < out_width; ++c) {
          size_t i = (s * t + q) * out_width + c;
          if (yv[i] != base[i])
            return "output at position " + std::to_string(q) + " moved when positions > " +
                   std::to_string(p) + " changed";
        }
  }
  return "";
}

TEST(Causality, AttentionAndSguDoNotSeeTheFuture) {
  CausalSelfAttention att("att", 8, 2, 4, Device::cpu());
  EXPECT_EQ(
      first_leak(2, 7, 8, 8, [&](const Tensor& y, const Tensor& x) { att.forward(y, x, 2, 7); }),
      "");
  SpatialGatingUnit sgu("sgu", 4, 7, 2, 5, Device::cpu());
  fill_normal(sgu.params()[2]->value, 3, 11, 0.5f);
  EXPECT_EQ(first_leak(2, 7, 8, 4, [&](const Tensor& y, const Tensor& x) { sgu.forward(y, x, 2); }),
            "");
}

TEST(Causality, TheTestCatchesAMixerThatLooksAhead) {
  // Negative control: a mixer that reads the next position must be caught.
  const int64_t t = 5, w = 3;
  auto lookahead = [&](const Tensor& y, const Tensor& x) {
    auto xv = x.to_vector<float>();
    float* yp = y.data<float>();
    for (int64_t q = 0; q < t; ++q)
      for (int64_t c = 0; c < w; ++c) yp[q * w + c] = xv[((q + 1) % t) * w + c];
  };
  EXPECT_NE(first_leak(1, t, w, w, lookahead), "");
}

// The mixer variants: the explicit kernel (Switchyard's first M2), the paper's M2-GPT reading
// (implicit filter shared by 2 heads) and M2-BERT's release (bidirectional implicit filter and
// the residual long convolution). Frequency 2 keeps the sines smooth enough for differences.
M2MixerOptions mixer_variant(int which) {
  M2MixerOptions o;
  o.kernel.filter.width = 6;
  o.kernel.filter.inner_layers = 1;
  o.kernel.filter.frequency = 2.0f;
  if (which == 0) o.kernel.implicit = false;
  if (which == 1) o.kernel.heads = 2;
  if (which == 2) o.bidirectional = o.residual_long_conv = true;
  return o;
}

TEST(Layers, ImplicitFilterBothDirections) {
  for (bool bidirectional : {false, true}) {
    ImplicitFilterOptions o;
    o.width = 5;
    o.inner_layers = 1;
    o.frequency = 2.0f;
    o.bidirectional = bidirectional;
    ImplicitFilter f("filter", 3, 7, o, 4, Device::cpu());
    const Shape ks{f.taps(), 3};
    gradcheck(
        bidirectional ? "implicit filter (bidirectional)" : "implicit filter", nullptr, f.params(),
        ks, [&](const Tensor& k) { f.forward(k); },
        [&](const Tensor&, const Tensor& dk) { f.backward(dk); }, 1e-3, 3e-3);
  }
}

TEST(Layers, M2SequenceMixerVariants) {
  const int64_t b = 2, t = 6, d = 4;
  for (int which = 0; which < 3; ++which) {
    M2SequenceMixer mixer("m2", d, t, mixer_variant(which), 6, Device::cpu());
    Tensor x = randn({b * t, d}, 8);
    gradcheck(
        "m2 sequence mixer variant " + std::to_string(which), &x, mixer.params(), {b * t, d},
        [&](const Tensor& y) { mixer.forward(y, x, b); },
        [&](const Tensor& dx, const Tensor& dy) { mixer.backward(dx, dy); }, 1e-3, 3e-3);
  }
}

TEST(Layers, BlockDiagonalGluMlp) {
  BlockDiagGluMlp mlp("glu", 8, 16, 4, 7, Device::cpu());
  Tensor x2 = randn({5, 8}, 9);
  gradcheck(
      "block-diagonal GLU", &x2, mlp.params(), {5, 8}, [&](const Tensor& y) { mlp.forward(y, x2); },
      [&](const Tensor& dx, const Tensor& dy) { mlp.backward(dx, dy); });
}

// The release's split: the gate reads the first input blocks only, the value the last ones. With
// 2 blocks and the value's input block zero, the output is b2 whatever the gate's input block
// holds.
TEST(Layers, BlockDiagonalGluTakesGateAndValueFromDifferentBlocks) {
  BlockDiagGluMlp mlp("glu", 4, 4, 2, 7, Device::cpu());
  Tensor x = Tensor::from_vector<float>({1.5f, -2.0f, 0.0f, 0.0f, 0.3f, 0.7f, 0.0f, 0.0f}, {2, 4});
  Tensor y = Tensor::empty({2, 4}, DType::kF32);
  mlp.forward(y, x);
  for (float v : y.to_vector<float>()) EXPECT_EQ(v, 0.0f);  // b2 starts at 0
  Tensor x_value = Tensor::from_vector<float>({0, 0, 1.0f, -1.0f}, {1, 4});
  Tensor y_value = Tensor::empty({1, 4}, DType::kF32);
  mlp.forward(y_value, x_value);  // the gate sees 0: GELU(0) = 0, so the output is 0 too
  for (float v : y_value.to_vector<float>()) EXPECT_EQ(v, 0.0f);
}

// Its long convolutions run through DFTs that mix all positions numerically, so outputs at
// positions ≤ t may move by rounding (held to 1e-5 relative) but not more. Returns whether the
// causal positions stayed put for every cut.
bool m2_mixer_is_causal(const M2MixerOptions& o) {
  const int64_t b = 2, t = 9, d = 8;
  M2SequenceMixer mixer("m2", d, t, o, 6, Device::cpu());
  Tensor x = randn({b * t, d}, 10);
  Tensor y0 = Tensor::empty({b * t, d}, DType::kF32);
  mixer.forward(y0, x, b);
  auto base = y0.to_vector<float>();
  for (int64_t p = 0; p + 1 < t; ++p) {
    Tensor xp = x.to(Device::cpu());
    for (int64_t s = 0; s < b; ++s)
      for (int64_t q = p + 1; q < t; ++q)
        for (int64_t c = 0; c < d; ++c) xp.data<float>()[(s * t + q) * d + c] += 1.0f;
    Tensor y = Tensor::empty({b * t, d}, DType::kF32);
    mixer.forward(y, xp, b);
    auto yv = y.to_vector<float>();
    for (int64_t s = 0; s < b; ++s)
      for (int64_t q = 0; q <= p; ++q)
        for (int64_t c = 0; c < d; ++c) {
          size_t i = (s * t + q) * d + c;
          if (std::fabs(yv[i] - base[i]) > 1e-5 * (1 + std::fabs(base[i]))) return false;
        }
  }
  return true;
}

TEST(Causality, M2MixerDoesNotSeeTheFuture) {
  EXPECT_TRUE(m2_mixer_is_causal(mixer_variant(0))) << "explicit kernel";
  EXPECT_TRUE(m2_mixer_is_causal(mixer_variant(1))) << "implicit filter, heads";
  M2MixerOptions residual = mixer_variant(1);
  residual.residual_long_conv = true;
  EXPECT_TRUE(m2_mixer_is_causal(residual)) << "with the residual long convolution";
  // The negative control: M2-BERT's bidirectional mixer must fail the same test.
  EXPECT_FALSE(m2_mixer_is_causal(mixer_variant(2))) << "bidirectional";
}

}  // namespace
}  // namespace sy
