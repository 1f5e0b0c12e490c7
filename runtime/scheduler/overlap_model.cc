#include "runtime/scheduler/overlap_model.h"

#include <algorithm>
#include <cstdio>
#include <vector>

#include "runtime/core/clock.h"
#include "runtime/core/tensor.h"
#include "runtime/ops/ops.h"
#include "runtime/scheduler/comm_thread.h"

namespace sy {

std::string OverlapCosts::describe() const {
  char buf[256];
  std::snprintf(buf, sizeof buf,
                "all-to-all latency %.1f us, bandwidth %.2f GB/s, GEMM %.1f GFLOP/s, stage "
                "overhead %.1f us",
                latency_s * 1e6, bytes_per_s / 1e9, flops_per_s / 1e9, chunk_overhead_s * 1e6);
  return buf;
}

double predict_pipeline_s(const OverlapCosts& c, double flops, double bytes, int exchanges, int n) {
  double compute = flops / c.flops_per_s, comm = bytes / c.bytes_per_s;
  return std::max(compute, comm) + std::min(compute, comm) / n +
         n * (c.chunk_overhead_s + exchanges * c.latency_s);
}

int choose_chunks(const OverlapCosts& c, double flops, double bytes, int exchanges,
                  int max_chunks) {
  int best = 1;
  double best_t = predict_pipeline_s(c, flops, bytes, exchanges, 1);
  for (int n = 2; n <= max_chunks; ++n) {
    double t = predict_pipeline_s(c, flops, bytes, exchanges, n);
    if (t < best_t) {
      best_t = t;
      best = n;
    }
  }
  return best;
}

OverlapCosts measure_overlap_costs(Communicator& group, Device device,
                                   const ExchangeTimer& exchange_s) {
  const int n = group.size();
  OverlapCosts c;
  // α and β from all-to-all-v of 64 B and of 1 MiB per peer, moved as the layer moves them.
  const size_t big = size_t{1} << 20;
  double t_small = exchange_s(64, 20), t_big = exchange_s(big, 5);
  // GEMM rate on the layer's device.
  const int64_t m = 256, k = 512, nn = 512;
  Tensor a = Tensor::zeros({m, k}, DType::kF32, device),
         b = Tensor::zeros({k, nn}, DType::kF32, device);
  Tensor out = Tensor::zeros({m, nn}, DType::kF32, device);
  gemm(out, a, b, false, false, 1, 0);
  if (device.is_cuda()) backend(device).synchronize(Stream{});
  double t0 = now_s();
  const int reps = 5;
  for (int i = 0; i < reps; ++i) gemm(out, a, b, false, false, 1, 0);
  if (device.is_cuda()) backend(device).synchronize(Stream{});
  double t_gemm = (now_s() - t0) / reps;
  // One pipeline stage's hand-off to the communication thread and back (an upper bound for the
  // GPU + NCCL form, whose stages are an event record and wait).
  CommThread thread;
  thread.wait(thread.post([] {}));
  t0 = now_s();
  for (int i = 0; i < 50; ++i) thread.wait(thread.post([] {}));
  double t_stage = (now_s() - t0) / 50;

  std::vector<double> times = {t_small, t_big, t_gemm, t_stage};
  group.all_reduce(times.data(), times.size(), DType::kF64, CommOp::kMax);  // host numbers
  c.latency_s = times[0];
  double sent = static_cast<double>(big) * std::max(n - 1, 1);
  c.bytes_per_s = sent / std::max(times[1] - times[0], 1e-9);
  c.flops_per_s = 2.0 * m * k * nn / std::max(times[2], 1e-9);
  c.chunk_overhead_s = times[3];
  return c;
}

}  // namespace sy
