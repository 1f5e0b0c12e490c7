// The MoE layer on a GPU against the same layer on the CPU (same options, seed, inputs): outputs,
// input gradients and parameter gradients. Skipped only where no GPU is visible.
#include <gtest/gtest.h>

#include <cmath>

#include "tests/moe_test_util.h"
#include "tests/test_world.h"

namespace sy {
namespace {

void expect_close(const Tensor& got, const Tensor& want, const std::string& what) {
  auto g = got.to_vector<float>(), w = want.to_vector<float>();
  ASSERT_EQ(g.size(), w.size()) << what;
  for (size_t i = 0; i < g.size(); ++i)
    ASSERT_LE(std::fabs(g[i] - w[i]), 1e-4 * (1 + std::fabs(w[i]))) << what << "[" << i << "]";
}

TEST(MoeCuda, LayerMatchesTheCpuLayer) {
  if (!cuda_available()) GTEST_SKIP() << "no GPU visible: the CUDA path is compiled, not run";
  auto world = testing::world();
  cuda_set_device(mpi_local_rank());
  const int w = world->size();
  for (int variant = 0; variant < 3; ++variant) {
    MoeOptions o;
    o.d_model = 32;
    o.num_experts = 4 * w;
    o.d_expert = 48;
    o.top_k = 2;
    if (variant == 1) {
      o.expert = pb::SWIGLU;
      o.dropless = true;
      o.num_heads = 4;
      o.mh_projections = true;
    }
    if (variant == 2) {
      o.router = pb::BASE;
      o.top_k = 1;
    }
    ProcessGroups g = make_process_groups(world, w);
    MoeLayer cpu(o, g, Device::cpu()), gpu(o, g, Device::cuda());
    const int64_t n = 64, t0 = world->rank() * n, d = o.d_model;
    Tensor x = testing::global_rows(1, t0, t0 + n, d), dy = testing::global_rows(2, t0, t0 + n, d);
    Tensor y = Tensor::empty({n, d}, DType::kF32), dx = Tensor::empty({n, d}, DType::kF32);
    Tensor yg = Tensor::empty({n, d}, DType::kF32, Device::cuda()), dxg = yg.to(Device::cuda());
    cpu.zero_grad();
    gpu.zero_grad();
    cpu.forward(y, x, nullptr, true);
    gpu.forward(yg, x.to(Device::cuda()), nullptr, true);
    EXPECT_EQ(gpu.routing().expert, cpu.routing().expert) << "variant " << variant;
    cpu.backward(dx, dy);
    gpu.backward(dxg, dy.to(Device::cuda()));
    expect_close(yg, y, "y");
    expect_close(dxg, dx, "dx");
    auto pc = cpu.params(), pg = gpu.params();
    for (size_t i = 0; i < pc.size(); ++i) expect_close(pg[i]->grad, pc[i]->grad, pc[i]->name);
  }
}

}  // namespace
}  // namespace sy
