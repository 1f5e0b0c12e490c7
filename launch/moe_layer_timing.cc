#include "launch/moe_layer_timing.h"

#include <sys/resource.h>

#include <algorithm>
#include <cstdio>

#include "runtime/core/clock.h"
#include "runtime/core/logging.h"
#include "runtime/core/random.h"
#include "runtime/layers/mixed_precision.h"
#include "runtime/ops/ops.h"

namespace sy {

namespace {

struct HotPathCounts {
  int64_t allocs = 0, faults = 0;
};

HotPathCounts hot_path_counts(Device device) {
  struct rusage u;
  getrusage(RUSAGE_SELF, &u);
  return HotPathCounts{backend(device).memory_stats().system_allocs,
                       static_cast<int64_t>(u.ru_minflt)};
}

// Adds a recorded pass (milliseconds) to a sum in seconds.
void add_times(MoePassTimes& into, const pb::MoeStepTimes& t) {
  into.route += 1e-3 * t.route_ms();
  into.plan += 1e-3 * t.plan_ms();
  into.dispatch += 1e-3 * t.dispatch_ms();
  into.experts += 1e-3 * t.experts_ms();
  into.undispatch += 1e-3 * t.undispatch_ms();
  into.combine += 1e-3 * t.combine_ms();
}

}  // namespace

Timing time_layer(TokenMoe& layer, const Tensor& x, const Tensor& dy,
                  const std::vector<int32_t>& ids, int iters, int warmup, Communicator& world) {
  const Device device = x.device();
  Tensor y = Tensor::empty(x.shape(), DType::kF32, device),
         dx = Tensor::empty(x.shape(), DType::kF32, device);
  auto step = [&] {
    layer.forward(y, x, ids.data(), true);
    layer.backward(dx, dy);
    if (device.is_cuda()) backend(device).synchronize(Stream{});
  };
  for (int i = 0; i < warmup; ++i) step();
  world.barrier();
  MoePassTimes sum;
  const HotPathCounts before = hot_path_counts(device);
  double t0 = now_s();
  for (int i = 0; i < iters; ++i) {
    step();
    add_times(sum, layer.core().stats().forward());
    add_times(sum, layer.core().stats().backward());
  }
  const double elapsed = now_s() - t0;
  const HotPathCounts after = hot_path_counts(device);
  std::vector<double> t = {elapsed / iters,
                           sum.route / iters,
                           sum.plan / iters,
                           sum.dispatch / iters,
                           sum.experts / iters,
                           sum.undispatch / iters,
                           sum.combine / iters,
                           double(after.allocs - before.allocs) / iters,
                           double(after.faults - before.faults) / iters};
  world.all_reduce(t.data(), t.size(), DType::kF64, CommOp::kMax);
  Timing r;
  r.layer_s = t[0];
  r.steps = MoePassTimes{t[1], t[2], t[3], t[4], t[5], t[6]};
  r.chunks = layer.core().stats().chunks();
  r.system_allocs = t[7];
  r.page_faults = t[8];
  return r;
}

void GemmRates::keep_best(const GemmRates& r) {
  flops = r.flops;
  grouped_s = grouped_s > 0 ? std::min(grouped_s, r.grouped_s) : r.grouped_s;
  dense_s = dense_s > 0 ? std::min(dense_s, r.dense_s) : r.dense_s;
}

ExpertGemmTimer::ExpertGemmTimer(const std::vector<int64_t>& offsets, int64_t width, int64_t up,
                                 int64_t hidden, Device device)
    : offsets_(offsets), device_(device) {
  const int64_t m = offsets.back(), g = static_cast<int64_t>(offsets.size()) - 1;
  flops_ = 3.0 * (2.0 * m * width * up + 2.0 * m * hidden * width);
  uint64_t stream = 0;
  auto randn = [&](Shape s) {
    Tensor t = Tensor::empty(s, DType::kF32, device);
    fill_normal(t, 5, ++stream, 0.1f);
    return t;
  };
  x_ = randn({m, width}), h_ = randn({m, up}), a_ = randn({m, hidden});
  y_ = randn({m, width}), dy_ = randn({m, width}), da_ = randn({m, hidden});
  dh_ = randn({m, up}), dx_ = randn({m, width});
  w1_ = randn({g, width, up}), w2_ = randn({g, hidden, width});
  dw1_ = randn({g, width, up}), dw2_ = randn({g, hidden, width});
  v1_ = randn({width, up}), v2_ = randn({hidden, width});
  dv1_ = randn({width, up}), dv2_ = randn({hidden, width});
  if (m == 0) return;
  grouped();  // warm-up: first touches, BLAS threads started
  dense();
  sync();
}

void ExpertGemmTimer::grouped() {
  grouped_gemm(h_, x_, w1_, offsets_, false, 1, 0);
  grouped_gemm(y_, a_, w2_, offsets_, false, 1, 0);
  grouped_gemm_weight_grad(dw2_, a_, dy_, offsets_, 1, 1);
  grouped_gemm(da_, dy_, w2_, offsets_, true, 1, 0);
  grouped_gemm_weight_grad(dw1_, x_, dh_, offsets_, 1, 1);
  grouped_gemm(dx_, dh_, w1_, offsets_, true, 1, 0);
}

void ExpertGemmTimer::dense() {
  gemm(h_, x_, v1_, false, false, 1, 0);
  gemm(y_, a_, v2_, false, false, 1, 0);
  gemm(dv2_, a_, dy_, true, false, 1, 1);
  gemm(da_, dy_, v2_, false, true, 1, 0);
  gemm(dv1_, x_, dh_, true, false, 1, 1);
  gemm(dx_, dh_, v1_, false, true, 1, 0);
}

void ExpertGemmTimer::sync() {
  if (device_.is_cuda()) backend(device_).synchronize(Stream{});
}

GemmRates ExpertGemmTimer::time(int iters) {
  GemmRates r;
  r.flops = flops_;
  if (offsets_.back() == 0) return r;
  double t0 = now_s();
  for (int i = 0; i < iters; ++i) grouped();
  sync();
  double t1 = now_s();
  for (int i = 0; i < iters; ++i) dense();
  sync();
  r.grouped_s = (t1 - t0) / iters;
  r.dense_s = (now_s() - t1) / iters;
  return r;
}

namespace {

// "off" (the serial baseline: its exchange and expert times are the comm and compute the pipeline
// hides, device synchronised at each step) and one setting per item of `list`.
std::vector<std::pair<std::string, MoeOptions>> overlap_settings(const MoeOptions& o,
                                                                 const std::string& list) {
  MoeOptions off = o;
  off.chunks = 1;
  off.overlap = off.overlap_auto = false;
  off.sync_step_timers = true;
  std::vector<std::pair<std::string, MoeOptions>> out = {{"off", off}};
  size_t at = 0;
  while (at <= list.size()) {
    size_t comma = list.find(',', at);
    std::string item = list.substr(at, comma == std::string::npos ? std::string::npos : comma - at);
    at = comma == std::string::npos ? list.size() + 1 : comma + 1;
    if (item.empty()) continue;
    MoeOptions v = o;
    v.overlap_auto = item == "auto";
    v.chunks = v.overlap_auto ? 1 : std::stoi(item);
    SY_CHECK(v.chunks >= 1, "--overlap: '" << item << "' is not a chunk count ≥ 1 or auto");
    v.overlap = v.overlap_auto || v.chunks > 1;
    v.sync_step_timers = false;
    out.emplace_back(item, v);
  }
  return out;
}

void report_overlap(const pb::MoeLayerBenchRecord& r, int rounds) {
  char line[256];
  std::snprintf(
      line, sizeof line,
      "# overlap: off = %.2f ms per forward+backward, of which comm %.2f ms and expert "
      "compute %.2f ms (serial); best of %d rounds, off's slowest round %.2f ms (+%.0f%%: "
      "the noise)",
      r.overlap_off_ms(), r.overlap_comm_ms(), r.overlap_compute_ms(), rounds,
      r.overlap_off_ms() * (1 + r.overlap_noise()), 100 * r.overlap_noise());
  SY_LOG0(line);
  SY_LOG0("# efficiency = (off − layer) / min(comm, compute): 1 = the shorter one fully hidden");
  SY_LOG0("#   n   chunks   layer(ms)   vs off   efficiency");
  double best_fixed = 1e300, auto_ms = 0;
  for (const auto& row : r.overlap()) {
    std::snprintf(line, sizeof line, "  %4s   %6d   %9.2f   %6.3f   %10.3f", row.setting().c_str(),
                  row.chunks(), row.layer_ms(), row.layer_ms() / r.overlap_off_ms(),
                  row.efficiency());
    SY_LOG0(line);
    if (row.setting() == "auto")
      auto_ms = row.layer_ms();
    else
      best_fixed = std::min(best_fixed, row.layer_ms());
  }
  if (auto_ms > 0 && best_fixed < 1e300)
    SY_LOG0("# auto vs best fixed n: " << auto_ms / best_fixed << " (target ≤ 1.10)");
}

}  // namespace

std::unique_ptr<TokenMoe> make_timed_layer(const MoeOptions& o, DType compute,
                                           const ProcessGroups& groups, Device device) {
  std::unique_ptr<TokenMoe> layer = make_token_moe(o, groups, device);
  use_compute_type(layer->params(), compute);
  return layer;
}

void overlap_study(const MoeOptions& o, DType compute, const ProcessGroups& groups, const Tensor& x,
                   const Tensor& dy, const std::vector<int32_t>& ids, const std::string& list,
                   int iters, int warmup, int rounds, Communicator& world,
                   pb::MoeLayerBenchRecord* record) {
  SY_CHECK(rounds >= 1, "--rounds must be ≥ 1");
  const auto settings = overlap_settings(o, list);
  std::vector<std::unique_ptr<TokenMoe>> layers;
  for (const auto& s : settings)
    layers.push_back(make_timed_layer(s.second, compute, groups, x.device()));
  // Interleaved rounds, the best of each setting kept; off's slowest round is the noise.
  std::vector<Timing> best(layers.size());
  double off_worst = 0;
  for (int r = 0; r < rounds; ++r) {
    for (size_t i = 0; i < layers.size(); ++i) {
      Timing t = time_layer(*layers[i], x, dy, ids, iters, r == 0 ? warmup : 1, world);
      if (r == 0 || t.layer_s < best[i].layer_s) best[i] = t;
      if (i == 0) off_worst = std::max(off_worst, t.layer_s);
    }
  }
  const Timing& off = best[0];
  const double hide = std::max(1e-12, std::min(off.comm_s(), off.compute_s()));
  record->set_overlap_off_ms(off.layer_s * 1e3);
  record->set_overlap_comm_ms(off.comm_s() * 1e3);
  record->set_overlap_compute_ms(off.compute_s() * 1e3);
  record->set_overlap_noise(off_worst / off.layer_s - 1);
  for (size_t i = 1; i < layers.size(); ++i) {
    auto* row = record->add_overlap();
    row->set_setting(settings[i].first);
    row->set_chunks(best[i].chunks);
    row->set_layer_ms(best[i].layer_s * 1e3);
    row->set_efficiency((off.layer_s - best[i].layer_s) / hide);
  }
  report_overlap(*record, rounds);
}

StepProjection project_bench_layer(const MoeOptions& o, const pb::RunConfig& c, int64_t tokens,
                                   int world_size, const pb::HardwareProfile& hw) {
  Cluster cl;
  cl.gpus_per_node = std::min(world_size, hw.gpus_per_node());
  cl.nodes = world_size / cl.gpus_per_node;
  const pb::ParallelConfig& par = c.parallel();
  const bool overlap = o.chunks > 1 || o.overlap_auto;
  auto project = [&](pb::AllToAllAlgorithm a) {
    return project_moe_layer(o, static_cast<double>(tokens), c, cl, hw,
                             PlanChoice{par.ep(), a, overlap});
  };
  if (par.a2a() != pb::AUTO)
    return project(par.a2a() == pb::HIERARCHICAL ? pb::HIERARCHICAL : pb::FLAT);
  // AUTO keeps the faster of the two (the run measures; the projection compares its own costs).
  const StepProjection flat = project(pb::FLAT), hier = project(pb::HIERARCHICAL);
  return hier.time.step < flat.time.step ? hier : flat;
}

}  // namespace sy
