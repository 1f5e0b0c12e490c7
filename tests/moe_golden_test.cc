// Parity with an independent implementation: the fixtures in tests/golden/ were written by
// PyTorch (tests/golden/make_moe_fixtures.py) from the same inputs and weights; the layer must
// reproduce PyTorch's output, input gradient, every parameter gradient and the auxiliary loss.
// Tolerance 1e-5 · (1 + |value|): both sides compute in f32, in different summation orders.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <map>
#include <sstream>

#include "tests/moe_test_util.h"
#include "tests/test_world.h"

namespace sy {
namespace {

struct Fixture {
  std::map<std::string, std::string> options;
  std::map<std::string, Tensor> tensors;
  std::map<std::string, double> scalars;
};

Fixture load(const std::string& path) {
  std::ifstream in(path);
  SY_CHECK(in.good(), "cannot open fixture " << path);
  Fixture f;
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream is(line);
    std::string kind, name;
    is >> kind >> name;
    if (kind == "option") {
      is >> f.options[name];
    } else if (kind == "scalar") {
      is >> f.scalars[name];
    } else if (kind == "tensor") {
      Shape shape;
      std::string tok;
      while (is >> tok && tok != ":") shape.push_back(std::stoll(tok));
      std::vector<float> v;
      float x;
      while (is >> x) v.push_back(x);
      f.tensors[name] = Tensor::from_vector(v, shape);
    }
  }
  return f;
}

MoeOptions options_of(const Fixture& f) {
  auto i = [&](const char* k) { return std::stoi(f.options.at(k)); };
  auto d = [&](const char* k) { return std::stof(f.options.at(k)); };
  MoeOptions o;
  o.d_model = i("d_model");
  o.num_experts = i("num_experts");
  o.top_k = i("top_k");
  o.d_expert = i("d_expert");
  o.expert = f.options.at("expert") == "SWIGLU" ? pb::SWIGLU : pb::FFN_GELU;
  o.capacity_factor = d("capacity_factor");
  o.dropless = i("dropless") != 0;
  o.renormalize = i("renormalize") != 0;
  o.num_heads = i("num_heads");
  o.mh_projections = i("mh_projections") != 0;
  o.balance_coef = d("balance_coef");
  o.z_coef = d("z_coef");
  return o;
}

void expect_close(const Tensor& got, const Tensor& want, const std::string& what) {
  auto g = got.to_vector<float>(), w = want.to_vector<float>();
  ASSERT_EQ(g.size(), w.size()) << what;
  for (size_t i = 0; i < g.size(); ++i)
    ASSERT_LE(std::fabs(g[i] - w[i]), 1e-5 * (1 + std::fabs(w[i])))
        << what << "[" << i << "]: ours " << g[i] << ", PyTorch " << w[i];
}

class MoeGolden : public ::testing::TestWithParam<std::string> {};

TEST_P(MoeGolden, MatchesPyTorch) {
  Fixture f = load(std::string(SY_GOLDEN_DIR) + "/moe_" + GetParam() + ".txt");
  MoeOptions o = options_of(f);
  auto world = testing::world();
  auto self = std::shared_ptr<Communicator>(world->split(world->rank(), 0, "self"));
  std::unique_ptr<TokenMoe> owner = make_token_moe(o, make_process_groups(self, 1), Device::cpu());
  TokenMoe& layer = *owner;
  for (auto& [name, t] : f.tensors) {
    if (name.rfind("param.", 0) != 0) continue;
    Param* p = testing::find_param(layer, "." + name.substr(6));
    ASSERT_NE(p, nullptr) << name;
    ASSERT_EQ(p->value.shape(), t.shape()) << name;
    p->value.copy_from(t);
  }
  const Tensor& x = f.tensors.at("x");
  Tensor y = Tensor::empty(x.shape(), DType::kF32), dx = Tensor::empty(x.shape(), DType::kF32);
  layer.zero_grad();
  layer.forward(y, x, nullptr, true);
  layer.backward(dx, f.tensors.at("dy"));
  if (!o.dropless) {
    EXPECT_GT(layer.core().stats().dropped_world(), 0) << "the fixture should drop items";
  }
  expect_close(y, f.tensors.at("y"), "y");
  expect_close(dx, f.tensors.at("dx"), "dx");
  EXPECT_NEAR(layer.core().aux_loss(), f.scalars.at("aux"), 1e-6);
  for (auto& [name, t] : f.tensors) {
    if (name.rfind("grad.", 0) != 0) continue;
    Param* p = testing::find_param(layer, "." + name.substr(5));
    ASSERT_NE(p, nullptr) << name;
    expect_close(p->grad, t, name);
  }
}

INSTANTIATE_TEST_SUITE_P(Fixtures, MoeGolden,
                         ::testing::Values("switch_top1_capacity_gelu",
                                           "gshard_top2_renorm_dropless_swiglu",
                                           "mh_moe_h2_top2_capacity_gelu"));

}  // namespace
}  // namespace sy
