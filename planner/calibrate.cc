#include "planner/calibrate.h"

#include <unistd.h>

#include <algorithm>
#include <sstream>

#include "comm/exchange_timing.h"
#include "runtime/core/backend.h"
#include "runtime/core/clock.h"
#include "runtime/core/error.h"
#include "runtime/ops/ops.h"

namespace sy {

namespace {

void sync(Device device) {
  if (device.is_cuda()) backend(device).synchronize(Stream{});
}

// The best of `reps` timings of f(), after one warm-up call.
template <typename F>
double best_s(Device device, int reps, F&& f) {
  f();
  sync(device);
  double best = 1e30;
  for (int i = 0; i < reps; ++i) {
    const double t0 = now_s();
    f();
    sync(device);
    best = std::min(best, now_s() - t0);
  }
  return best;
}

// FLOP/s of an expert-sized GEMM: (4096 × 512) · (512 × 2048), bf16 operands on a GPU.
double gemm_flops_per_s(Device device) {
  const int64_t m = 4096, k = 512, n = 2048;
  const DType t = device.is_cuda() ? DType::kBF16 : DType::kF32;
  Tensor a = Tensor::zeros({m, k}, t, device), b = Tensor::zeros({k, n}, t, device);
  Tensor c = Tensor::zeros({m, n}, DType::kF32, device);
  const double s = best_s(device, 5, [&] { gemm(c, a, b, false, false, 1, 0); });
  return 2.0 * m * k * n / s;
}

// The grouped GEMM's rate over the dense one's on the same FLOPs: 4 groups of 1024 rows, each
// with its own (512 × 2048) weight, against one (4096 × 512) · (512 × 2048).
double grouped_over_dense(Device device) {
  const int64_t g = 4, m = 1024, k = 512, n = 2048;
  const DType t = device.is_cuda() ? DType::kBF16 : DType::kF32;
  Tensor a = Tensor::zeros({g * m, k}, t, device), b = Tensor::zeros({g, k, n}, t, device);
  Tensor c = Tensor::zeros({g * m, n}, DType::kF32, device);
  std::vector<int64_t> offsets;
  for (int64_t i = 0; i <= g; ++i) offsets.push_back(i * m);
  const double grouped = best_s(device, 5, [&] { grouped_gemm(c, a, b, offsets, false, 1, 0); });
  const Tensor b0 = b.slice_rows(0, 1).reshape({k, n});
  const double dense = best_s(device, 5, [&] { gemm(c, a, b0, false, false, 1, 0); });
  return dense / grouped;
}

// Bytes/s of the ops' streaming loop y += x over 64 Mi floats (two reads, one write each).
double memory_bytes_per_s(Device device) {
  const int64_t n = int64_t{64} << 20;
  Tensor x = Tensor::zeros({n}, DType::kF32, device), y = Tensor::zeros({n}, DType::kF32, device);
  const double s = best_s(device, 5, [&] { add_scaled(y, x, 1.0f); });
  return 3.0 * 4.0 * static_cast<double>(n) / s;
}

// The ranks' all-to-all as the intra-node figures; across nodes: the emulated link, else the
// base profile's network, else the same as inside.
void set_links(pb::HardwareProfile& hw, Communicator& world, const CalibrateOptions& o) {
  const int n = world.size();
  const size_t big = size_t{1} << 20;
  const double small_s = time_all_to_all_s(world, 64, 20);
  const double big_s = time_all_to_all_s(world, big, 5);
  const double moved = static_cast<double>(big) * (n - 1);
  hw.set_intra_node_latency_us(n > 1 ? small_s * 1e6 : 0);
  hw.set_intra_node_gbs(n > 1 ? moved / std::max(big_s - small_s, 1e-9) / 1e9 : 1e3);
  hw.set_message_us(0);  // measured at this group size: in the latency
  const bool link = o.link_gbs > 0;
  hw.set_gpus_per_node(link ? 1 : n);
  if (link) {
    hw.set_inter_node_gbs(o.link_gbs);
    hw.set_inter_node_latency_us(o.link_latency_us);
  } else if (!o.base) {
    hw.set_inter_node_gbs(hw.intra_node_gbs());
    hw.set_inter_node_latency_us(hw.intra_node_latency_us());
  }
}

// The slowest rank's value of a rate.
double min_over(Communicator& world, double v) {
  double inverse = 1.0 / v;
  world.all_reduce(&inverse, 1, DType::kF64, CommOp::kMax);
  return 1.0 / inverse;
}

}  // namespace

pb::HardwareProfile calibrate_hardware(Communicator& world, const CalibrateOptions& o) {
  SY_CHECK(o.base || !o.device.is_cuda(),
           "calibrating a GPU measures its GEMM rate, memory bandwidth and NVLink but not its "
           "memory size or the network: give --hardware BASE (e.g. h100_sxm) for those");
  pb::HardwareProfile hw;
  if (o.base) hw = *o.base;
  hw.set_name("calibrated");
  const double flops = min_over(world, gemm_flops_per_s(o.device));
  const double bytes = min_over(world, memory_bytes_per_s(o.device));
  hw.set_peak_fp32_tflops(flops / 1e12);
  hw.set_peak_bf16_tflops(flops / 1e12);  // the measured rate is the rate: efficiency 1
  hw.set_gemm_efficiency(1);
  hw.set_grouped_gemm_efficiency(min_over(world, grouped_over_dense(o.device)));
  hw.set_memory_gbs(bytes / 1e9);
  const double host = static_cast<double>(sysconf(_SC_PHYS_PAGES)) * sysconf(_SC_PAGE_SIZE);
  if (!o.base) hw.set_memory_gb(host / 1e9 / world.size());
  set_links(hw, world, o);
  std::ostringstream what;
  what << "measured by `switchyard plan --calibrate` on " << world.size() << " rank(s)";
  if (o.link_gbs > 0) what << ", link " << o.link_gbs << " GB/s + " << o.link_latency_us << " us";
  hw.set_description(what.str());
  return hw;
}

}  // namespace sy
