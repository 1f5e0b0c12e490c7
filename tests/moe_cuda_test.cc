// The MoE layer on a GPU against the same layer on the CPU (same options, seed, inputs): outputs,
// input gradients and parameter gradients — serial, and through the overlap pipeline's GPU forms
// (n = 2, 3 chunks and auto): host MPI staged through pinned buffers on a communication stream
// (np 1, 2: the ranks may share a GPU), and NCCL on a communication stream ordered by events
// (when every rank has a GPU of its own). Skipped only where no GPU is visible.
#include <gtest/gtest.h>

#include <cmath>

#include "tests/moe_test_util.h"
#include "tests/test_world.h"

namespace sy {
namespace {

struct Result {
  std::vector<float> y, dx;
  std::vector<std::vector<float>> grads;
  std::vector<std::string> names;
  std::vector<int32_t> experts;
  int chunks = 1;
};

// t rounded to multiples of `step` within ±limit. On such coarse binary grids every product and
// every sum the router's projections form is exact in fp32, whatever the summation order, so the
// logits — a cuBLAS GEMM on the GPU, OpenBLAS on the CPU — are bitwise the same on both and a near
// tie cannot route the two layers differently. (The experts' results are compared with a
// tolerance.)
void put_on_grid(const Tensor& t, float step, float limit) {
  Tensor host = t.to(Device::cpu());
  float* v = host.data<float>();
  for (int64_t i = 0; i < host.numel(); ++i)
    v[i] = std::fmin(limit, std::fmax(-limit, std::nearbyint(v[i] / step) * step));
  t.copy_from(host);
}

Result run(const MoeOptions& o, const ProcessGroups& g, Device device, int64_t n) {
  std::unique_ptr<TokenMoe> owner = make_token_moe(o, g, device);
  TokenMoe& layer = *owner;
  for (Param* p : layer.params()) put_on_grid(p->value, 1.0f / 16, 0.5f);
  const int64_t t0 = g.world->rank() * n, d = o.d_model;
  Tensor x = testing::global_rows(1, t0, t0 + n, d), dy = testing::global_rows(2, t0, t0 + n, d);
  put_on_grid(x, 0.25f, 2.0f);
  const std::vector<int32_t> ids = testing::global_token_ids(t0, t0 + n);
  Tensor y = Tensor::empty({n, d}, DType::kF32, device);
  Tensor dx = Tensor::empty({n, d}, DType::kF32, device);
  layer.zero_grad();
  layer.forward(y, x.to(device), ids.data(), true);
  layer.backward(dx, dy.to(device));
  Result r{y.to_vector<float>(),
           dx.to_vector<float>(),
           {},
           {},
           layer.core().routing().expert.to_vector<int32_t>(),
           layer.core().stats().chunks()};
  for (Param* p : layer.params()) {
    r.grads.push_back(p->grad.to_vector<float>());
    r.names.push_back(p->name);
  }
  return r;
}

void expect_close(const std::vector<float>& g, const std::vector<float>& w,
                  const std::string& what) {
  ASSERT_EQ(g.size(), w.size()) << what;
  for (size_t i = 0; i < g.size(); ++i)
    ASSERT_LE(std::fabs(g[i] - w[i]), 1e-4 * (1 + std::fabs(w[i]))) << what << "[" << i << "]";
}

void expect_matches(const Result& gpu, const Result& cpu, const std::string& what) {
  EXPECT_EQ(gpu.experts, cpu.experts) << what << ": routing";
  expect_close(gpu.y, cpu.y, what + " y");
  expect_close(gpu.dx, cpu.dx, what + " dx");
  ASSERT_EQ(gpu.grads.size(), cpu.grads.size());
  for (size_t i = 0; i < cpu.grads.size(); ++i)
    expect_close(gpu.grads[i], cpu.grads[i], what + " " + cpu.names[i]);
}

// The shared catalogue at GPU-friendly sizes: 4 local experts per rank (uneven slices for 3
// chunks).
std::vector<testing::MoeCase> cases(int w) {
  MoeOptions b;
  b.d_model = 32;
  b.num_experts = 4 * w;
  b.d_expert = 48;
  return testing::moe_cases(b);
}

// Overlap settings: off, n = 2 and 3 (4 local experts: uneven slices for 3), auto.
std::vector<std::pair<std::string, MoeOptions>> overlap_settings(const MoeOptions& base) {
  std::vector<std::pair<std::string, MoeOptions>> out;
  for (int n : {1, 2, 3, 0}) {
    MoeOptions o = base;
    o.overlap_auto = n == 0;
    o.chunks = std::max(n, 1);
    o.overlap = n != 1;
    out.emplace_back(n == 0 ? "auto" : "n=" + std::to_string(n), o);
  }
  return out;
}

TEST(MoeCuda, LayerMatchesTheCpuLayerWithAndWithoutOverlapOverHostMpi) {
  if (!cuda_available()) GTEST_SKIP() << "no GPU visible: the CUDA path is compiled, not run";
  auto world = testing::world();
  cuda_set_device(mpi_local_rank());
  const int w = world->size();
  ProcessGroups g = make_process_groups(world, w);
  for (const testing::MoeCase& c : cases(w)) {
    const Result cpu = run(c.o, g, Device::cpu(), 64);
    for (const auto& [name, o] : overlap_settings(c.o)) {
      Result gpu = run(o, g, Device::cuda(), 64);
      expect_matches(gpu, cpu, std::string(c.name) + " " + name);
      if (o.overlap && !o.overlap_auto) {
        EXPECT_EQ(gpu.chunks, o.chunks);
      }
    }
  }
}

TEST(MoeCuda, LayerMatchesTheCpuLayerWithAndWithoutOverlapOverNccl) {
  if (!cuda_available()) GTEST_SKIP() << "no GPU visible: the CUDA path is compiled, not run";
  auto world = testing::world();
  const int w = world->size();
  // NCCL needs a GPU per rank (these tests run on one node).
  if (cuda_device_count() < w) {
    GTEST_SKIP() << "NCCL needs one GPU per rank: " << w << " ranks, " << cuda_device_count()
                 << " GPUs";
  }
  cuda_set_device(mpi_local_rank());
  ProcessGroups g_mpi = make_process_groups(world, w);
  ProcessGroups g = make_run_groups(world, w, true);
  ASSERT_STREQ(g.ep_group->backend_name(), "nccl");
  for (const testing::MoeCase& c : cases(w)) {
    const Result cpu = run(c.o, g_mpi, Device::cpu(), 64);
    for (const auto& [name, o] : overlap_settings(c.o))
      expect_matches(run(o, g, Device::cuda(), 64), cpu,
                     std::string("nccl ") + c.name + " " + name);
  }
}

}  // namespace
}  // namespace sy
