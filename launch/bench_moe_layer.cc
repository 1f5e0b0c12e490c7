// `switchyard bench moe-layer`: forward + backward of one expert-parallel MoE layer on random
// tokens, with the time split by step (route, plan, dispatch, experts, undispatch, combine), and —
// measured in the same run — the experts' grouped GEMMs against plain GEMMs of the same total FLOPs
// (OpenBLAS on the CPU, cuBLAS on a GPU), plus the routing figures: activation ratio, drops, bytes.
#include <algorithm>
#include <cstdio>
#include <fstream>

#include <cblas.h>
#include <google/protobuf/util/json_util.h>

#include "comm/mpi_communicator.h"
#include "comm/process_groups.h"
#include "experts/moe_layer.h"
#include "launch/args.h"
#include "launch/commands.h"
#include "launch/emulated_link.h"
#include "launch/moe_layer_timing.h"
#include "runtime/core/clock.h"
#include "runtime/core/config.h"
#include "runtime/core/deadline.h"
#include "runtime/core/logging.h"
#include "runtime/core/random.h"
#include "runtime/ops/ops.h"
#include "switchyard/bench.pb.h"

namespace sy {

namespace {

const char* kUsage =
    "usage: mpirun -np N switchyard bench moe-layer [options]\n"
    "  --config FILE      a run config (model.d_model, model.moe, parallel.ep are used)\n"
    "  --set path=value   override a config field (repeatable), e.g. --set model.moe.num_heads=4\n"
    "  --tokens N         tokens per rank (default 2048)\n"
    "  -n ITERS           timed iterations (default 10)\n"
    "  -w WARMUP          warm-up iterations (default 2)\n"
    "  --json FILE        write a MoeLayerBenchRecord as JSON (rank 0)\n"
    "  --overlap LIST     compare overlap settings, e.g. --overlap 1,2,4,auto: for each n the "
    "layer\n"
    "                     time against overlap off (comm + compute measured in the same run)\n"
    "  --rounds R         overlap study: interleaved rounds per setting, best kept (default 3)\n"
    "  --emulate-link GBPS[,US]  hold each payload all-to-all until it would have crossed a link "
    "of\n"
    "                     GBPS GB/s per rank (+US µs latency): a transfer that, like a NIC's DMA,\n"
    "                     takes no CPU (MPI backend only; see launch/emulated_link.h)\n"
    "Without --config: d_model 256, 8 experts, top-2, d_expert 1024, FFN_GELU, capacity 1.25,\n"
    "ep = world size. On a GPU: --set parallel.device=CUDA, and --set parallel.comm_backend=NCCL\n"
    "for NCCL (one GPU per rank); with MPI, ranks may share a GPU (staged through host).\n";

// The experts' six GEMMs of one forward + backward on the expert-major buffer, as grouped GEMMs
// (what the layer runs) and as plain GEMMs over all rows with one weight (the dense baseline).
// Same shapes, same FLOPs; returns seconds per pass.
struct GemmRates {
  double grouped_s = 0, dense_s = 0, flops = 0;
};

GemmRates time_expert_gemms(const std::vector<int64_t>& offsets, int64_t width, int64_t up,
                            int64_t hidden, Device device, int iters) {
  int64_t m = offsets.back(), g = static_cast<int64_t>(offsets.size()) - 1;
  GemmRates r;
  r.flops = 3.0 * (2.0 * m * width * up + 2.0 * m * hidden * width);
  if (m == 0) return r;
  auto randn = [&](Shape s, uint64_t stream) {
    Tensor t = Tensor::empty(s, DType::kF32, device);
    fill_normal(t, 5, stream, 0.1f);
    return t;
  };
  Tensor x = randn({m, width}, 1), h = randn({m, up}, 2), a = randn({m, hidden}, 3);
  Tensor y = randn({m, width}, 4), dy = randn({m, width}, 5), da = randn({m, hidden}, 6);
  Tensor dh = randn({m, up}, 7), dx = randn({m, width}, 8);
  Tensor w1 = randn({g, width, up}, 9), w2 = randn({g, hidden, width}, 10);
  Tensor dw1 = randn({g, width, up}, 11), dw2 = randn({g, hidden, width}, 12);
  Tensor v1 = randn({width, up}, 13), v2 = randn({hidden, width}, 14);
  Tensor dv1 = randn({width, up}, 15), dv2 = randn({hidden, width}, 16);
  auto grouped = [&] {
    grouped_gemm(h, x, w1, offsets, false, 1, 0);
    grouped_gemm(y, a, w2, offsets, false, 1, 0);
    grouped_gemm_weight_grad(dw2, a, dy, offsets, 1, 1);
    grouped_gemm(da, dy, w2, offsets, true, 1, 0);
    grouped_gemm_weight_grad(dw1, x, dh, offsets, 1, 1);
    grouped_gemm(dx, dh, w1, offsets, true, 1, 0);
  };
  auto dense = [&] {
    gemm(h, x, v1, false, false, 1, 0);
    gemm(y, a, v2, false, false, 1, 0);
    gemm(dv2, a, dy, true, false, 1, 1);
    gemm(da, dy, v2, false, true, 1, 0);
    gemm(dv1, x, dh, true, false, 1, 1);
    gemm(dx, dh, v1, false, true, 1, 0);
  };
  auto sync = [&] {
    if (device.is_cuda()) backend(device).synchronize(Stream{});
  };
  grouped();
  dense();
  sync();
  // Alternate so that both see the same machine state; keep the best of three rounds.
  r.grouped_s = r.dense_s = 1e300;
  for (int round = 0; round < 3; ++round) {
    double t0 = now_s();
    for (int i = 0; i < iters; ++i) grouped();
    sync();
    double t1 = now_s();
    for (int i = 0; i < iters; ++i) dense();
    sync();
    double t2 = now_s();
    r.grouped_s = std::min(r.grouped_s, (t1 - t0) / iters);
    r.dense_s = std::min(r.dense_s, (t2 - t1) / iters);
  }
  return r;
}

}  // namespace

int bench_moe_layer_command(const std::vector<std::string>& argv) {
  if (std::find(argv.begin(), argv.end(), "--help") != argv.end()) {
    if (process_rank() <= 0) std::fputs(kUsage, stdout);
    return 0;
  }
  Args args(argv, {"--config", "--set", "--tokens", "-n", "-w", "--json", "--timeout", "--overlap",
                   "--rounds", "--emulate-link"});
  double timeout = args.get_double("--timeout", default_comm_timeout_s());
  std::shared_ptr<Communicator> world = mpi_world(timeout);
  const int w = world->size();

  pb::RunConfig config;
  if (args.has("--config")) {
    config = load_config_file(args.get("--config", ""));
  } else {
    config = parse_config_text(
        "name: 'bench-moe-layer' model { family: TRANSFORMER_MOE d_model: 256 moe { num_experts: 8 "
        "top_k: 2 d_expert: 1024 expert: FFN_GELU capacity_factor: 1.25 } }",
        "<built-in>");
    config.mutable_parallel()->set_ep(w);
  }
  apply_overrides(&config, args.get_all("--set"));
  config.mutable_data()->set_global_batch(w);  // not used here; keeps validation about the layer
  validate_config(config, w);
  const int64_t tokens = args.get_int("--tokens", 2048);
  const int iters = static_cast<int>(args.get_int("-n", 10));
  const int warmup = static_cast<int>(args.get_int("-w", 2));
  SY_CHECK(tokens >= 1 && iters >= 1 && warmup >= 0, "need --tokens ≥ 1, -n ≥ 1, -w ≥ 0");

  Device device = config.parallel().device() == pb::CUDA ? Device::cuda() : Device::cpu();
  if (device.is_cuda()) cuda_set_device(mpi_local_rank());
  const int ep = config.parallel().ep();
  ProcessGroups groups = make_run_groups(world, ep, config.parallel().comm_backend() == pb::NCCL);
  std::string link = args.get("--emulate-link", "");
  if (!link.empty()) {
    SY_CHECK(config.parallel().comm_backend() == pb::MPI,
             "--emulate-link wraps the MPI backend; drop it or use parallel.comm_backend=MPI");
    size_t comma = link.find(',');
    double gbps = std::stod(link.substr(0, comma));
    double latency_us = comma == std::string::npos ? 0.0 : std::stod(link.substr(comma + 1));
    groups.ep_group =
        std::make_shared<EmulatedLinkCommunicator>(groups.ep_group, gbps, latency_us * 1e-6);
  }
  const auto& model = config.model();
  MoeOptions o = MoeOptions::from_config(model.moe(), model.d_model(), model.family() == pb::MH_MOE,
                                         config.seed(), "bench");
  o.set_overlap(config.parallel());
  // On a GPU the step split needs the device synchronised at each step boundary (a few µs each);
  // the overlap study's pipelined runs are timed whole, without it.
  MoeOptions main_options = o;
  main_options.sync_step_timers = true;
  MoeLayer layer(main_options, groups, device);

  const int64_t d = o.d_model, t0 = world->rank() * tokens;
  Tensor x = Tensor::empty({tokens, d}, DType::kF32, device);
  Tensor dy = Tensor::empty({tokens, d}, DType::kF32, device);
  fill_normal(x, config.seed(), 101, 1.0f, static_cast<uint64_t>(t0 * d));
  fill_normal(dy, config.seed(), 102, 1.0f, static_cast<uint64_t>(t0 * d));
  std::vector<int32_t> ids(tokens);
  for (int64_t t = 0; t < tokens; ++t) ids[t] = static_cast<int32_t>((t0 + t) % 50257);
  const Timing main_run = time_layer(layer, x, dy, ids, iters, warmup, *world);
  const MoeStepTimes& st_t = main_run.steps;
  const std::vector<double> t = {main_run.layer_s, st_t.route,      st_t.plan,   st_t.dispatch,
                                 st_t.experts,     st_t.undispatch, st_t.combine};
  int64_t bytes = layer.stats().bytes_dispatched;
  world->all_reduce(&bytes, 1, DType::kI64, CommOp::kSum);

  // The GEMM comparison on this rank's real expert-major row segments (one chunk's plan).
  const int64_t width = o.item_width(), hidden = o.hidden();
  const int64_t up = (o.expert == pb::SWIGLU ? 2 : 1) * hidden;
  const std::vector<int64_t>& offsets = layer.exchange_plan().expert_offsets;
  GemmRates g = time_expert_gemms(offsets, width, up, hidden, device, std::max(iters, 3));
  std::vector<double> gr = {g.flops, g.grouped_s, g.dense_s};
  world->all_reduce(gr.data(), 1, DType::kF64, CommOp::kSum);  // total FLOPs
  world->all_reduce(gr.data() + 1, 2, DType::kF64, CommOp::kMax);
  double grouped_gflops = gr[0] / w / gr[1] / 1e9, dense_gflops = gr[0] / w / gr[2] / 1e9;

  const MoeStats& st = layer.stats();
  double drop_rate = st.routed_world ? double(st.dropped_world) / st.routed_world : 0.0;
  int active = 0;
  for (int64_t l : st.load_world) active += l > 0;
  SY_LOG0("# switchyard bench moe-layer: world "
          << w << ", ep " << ep << ", device " << device_name(device) << ", OpenBLAS threads "
          << openblas_get_num_threads()
          << (link.empty() ? std::string() : ", emulated link " + link));
  SY_LOG0("# tokens/rank " << tokens << ", d " << d << ", E " << o.num_experts << " ("
                           << o.num_experts / ep << "/rank), k " << o.top_k << ", F " << hidden
                           << ", h " << o.num_heads << (o.mh_projections ? " (MH-MoE)" : "")
                           << ", router " << pb::RouterKind_Name(o.router) << ", expert "
                           << pb::ExpertKind_Name(o.expert) << ", "
                           << (o.dropless ? std::string("dropless")
                                          : "capacity factor " + std::to_string(o.capacity_factor))
                           << ", chunks " << o.chunks);
  SY_LOG0("# iters " << iters << ", warmup " << warmup << "; times are max over ranks of the mean");
  char line[256];
  std::snprintf(line, sizeof line, "layer forward+backward: %.2f ms, %.0f tokens/s (all ranks)",
                t[0] * 1e3, tokens * w / t[0]);
  SY_LOG0(line);
  const char* names[] = {"route", "plan", "dispatch", "experts", "undispatch", "combine"};
  double accounted = 0;
  for (int i = 0; i < 6; ++i) {
    std::snprintf(line, sizeof line, "  %-11s %9.3f ms  %5.1f%%", names[i], t[i + 1] * 1e3,
                  100.0 * t[i + 1] / t[0]);
    SY_LOG0(line);
    accounted += t[i + 1];
  }
  std::snprintf(line, sizeof line, "  %-11s %9.3f ms  %5.1f%%  (projections, buffers)", "other",
                std::max(0.0, t[0] - accounted) * 1e3,
                100.0 * std::max(0.0, t[0] - accounted) / t[0]);
  SY_LOG0(line);
  std::snprintf(line, sizeof line,
                "expert GEMMs: grouped %.2f GFLOP/s vs dense %.2f GFLOP/s on the same %.3g FLOP "
                "per rank: ratio %.3f",
                grouped_gflops, dense_gflops, gr[0] / w, grouped_gflops / dense_gflops);
  SY_LOG0(line);
  std::snprintf(line, sizeof line,
                "routing: activation ratio %.4f (%d of %d experts got items), dropped %.2f%% "
                "(%lld of %lld choices), capacity %lld",
                st.activation_ratio, active, o.num_experts, 100 * drop_rate,
                static_cast<long long>(st.dropped_world), static_cast<long long>(st.routed_world),
                static_cast<long long>(st.capacity));
  SY_LOG0(line);
  std::snprintf(line, sizeof line,
                "all-to-all payload per layer call: forward dispatch %.3f MiB over all ranks "
                "(x4 with undispatch and backward)",
                bytes / 1048576.0);
  SY_LOG0(line);

  double peak = static_cast<double>(backend(device).peak_bytes());
  world->all_reduce(&peak, 1, DType::kF64, CommOp::kMax);
  std::snprintf(line, sizeof line, "peak memory per rank: %.1f MiB (%s, max over ranks)",
                peak / (1 << 20), device_name(device).c_str());
  SY_LOG0(line);

  pb::MoeLayerBenchRecord rec;
  if (args.has("--overlap"))
    overlap_study(o, groups, x, dy, ids, args.get("--overlap", ""), iters, warmup,
                  static_cast<int>(args.get_int("--rounds", 3)), *world, &rec);

  if (args.has("--json") && world->rank() == 0) {
    rec.set_peak_memory_mib(peak / (1 << 20));
    if (!link.empty()) rec.set_emulated_link(link);
    rec.set_config(config_to_text(config));
    rec.set_world_size(w);
    rec.set_ep(ep);
    rec.set_device(device_name(device));
    rec.set_tokens_per_rank(tokens);
    rec.set_layer_ms(t[0] * 1e3);
    rec.set_tokens_per_s(tokens * w / t[0]);
    rec.set_route_ms(t[1] * 1e3);
    rec.set_plan_ms(t[2] * 1e3);
    rec.set_dispatch_ms(t[3] * 1e3);
    rec.set_experts_ms(t[4] * 1e3);
    rec.set_undispatch_ms(t[5] * 1e3);
    rec.set_combine_ms(t[6] * 1e3);
    rec.set_grouped_gemm_gflops(grouped_gflops);
    rec.set_dense_gemm_gflops(dense_gflops);
    rec.set_gemm_ratio(grouped_gflops / dense_gflops);
    rec.set_activation_ratio(st.activation_ratio);
    rec.set_drop_rate(drop_rate);
    rec.set_bytes_dispatched(bytes);
    std::string out;
    (void)google::protobuf::util::MessageToJsonString(rec, &out);
    std::ofstream(args.get("--json", "")) << out << "\n";
  }
  return 0;
}

}  // namespace sy
