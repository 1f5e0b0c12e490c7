// `switchyard bench moe-layer`: forward + backward of one expert-parallel MoE layer on random
// tokens, with the time split by step (route, plan, dispatch, experts, undispatch, combine), and —
// measured in the same run — the experts' grouped GEMMs against plain GEMMs of the same total FLOPs
// (OpenBLAS on the CPU, cuBLAS on a GPU), plus the routing figures: activation ratio, drops, bytes.
// Parse (the run config and flags) → run (fills a pb::MoeLayerBenchRecord) → report (prints it,
// and writes it as JSON with --json).
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>

#include <cblas.h>

#include "comm/mpi_communicator.h"
#include "comm/process_groups.h"
#include "experts/moe_layer.h"
#include "launch/args.h"
#include "launch/commands.h"
#include "launch/emulated_link.h"
#include "launch/moe_layer_timing.h"
#include "launch/torch_peer.h"
#include "planner/calibrate.h"
#include "planner/hardware.h"
#include "runtime/core/blas_info.h"
#include "runtime/core/config.h"
#include "runtime/core/cpu_threads.h"
#include "runtime/core/deadline.h"
#include "runtime/core/logging.h"
#include "runtime/core/proto_json.h"
#include "runtime/core/random.h"
#include "runtime/layers/mixed_precision.h"
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
    "  --rounds R         interleaved rounds (the layer, then its GEMMs; in the overlap study "
    "each\n"
    "                     setting), the best of each kept and the spread printed (default 3)\n"
    "  --emulate-link GBPS[,US]  hold each payload all-to-all until it would have crossed a link "
    "of\n"
    "                     GBPS GB/s per rank (+US µs latency): a transfer that, like a NIC's DMA,\n"
    "                     takes no CPU (MPI backend only; see launch/emulated_link.h)\n"
    "  --torch-peer SCRIPT  also time the same layer in PyTorch eager on these cores in every\n"
    "                     round (launch/torch_moe_peer.py; Python from SY_PYTHON, else python3;\n"
    "                     CPU, top-k softmax gate and FFN_GELU experts only) and print the ratio\n"
    "  --hardware FILE|here  also print the planner's projection of this layer call on that\n"
    "                     profile and the measured time over it (median of the rounds); `here`\n"
    "                     calibrates this machine at the start of every round (GEMM rate, memory\n"
    "                     bandwidth, all-to-all; `switchyard plan --calibrate`), so a slow spell\n"
    "                     of a shared machine lands on both\n"
    "  --blas-threads-baseline  also time the layer in every round with OpenBLAS threading its\n"
    "                     own GEMMs (the CPU ops' threads running the rest, the way before they\n"
    "                     took the GEMMs too) and print that time over the layer's (CPU, > 1\n"
    "                     thread per rank)\n"
    "Without --config: d_model 256, 8 experts, top-2, d_expert 1024, FFN_GELU, capacity 1.25,\n"
    "ep = world size. On a GPU: --set parallel.device=CUDA, and --set parallel.comm_backend=NCCL\n"
    "for NCCL (one GPU per rank); with MPI, ranks may share a GPU (staged through host).\n";

// What the command line asks for.
struct BenchSetup {
  pb::RunConfig config;
  MoeOptions options;
  Device device;
  ProcessGroups groups;
  int64_t tokens = 2048;
  int iters = 10, warmup = 2, rounds = 3;
  std::string overlap, link;
  std::string torch_peer;        // --torch-peer: launch/torch_moe_peer.py
  std::string hardware;          // --hardware: a profile to project the layer on, or "here"
  bool blas_baseline = false;    // --blas-threads-baseline
  pb::HardwareProfile profile;   // --hardware FILE, loaded before anything is timed
  CalibrateOptions calibration;  // --hardware here: this machine, with --emulate-link's link
};

pb::RunConfig bench_config(const Args& args, int world_size) {
  pb::RunConfig config;
  if (args.has("--config")) {
    config = load_config_file(args.get("--config", ""));
  } else {
    config = parse_config_text(
        "name: 'bench-moe-layer' model { family: TRANSFORMER_MOE d_model: 256 moe { num_experts: 8 "
        "top_k: 2 d_expert: 1024 expert: FFN_GELU capacity_factor: 1.25 } }",
        "<built-in>");
    config.mutable_parallel()->set_ep(world_size);
  }
  apply_overrides(&config, args.get_all("--set"));
  config.mutable_data()->set_global_batch(world_size);  // unused; keeps validation to the layer
  validate_config(config, world_size);
  return config;
}

// --emulate-link GBPS[,US]: the ep group's exchanges held as if they crossed such a link.
void emulate_link(BenchSetup& s) {
  if (!s.link.empty())
    s.groups.ep_group = EmulatedLinkCommunicator::from_spec(s.groups.ep_group, s.link);
}

BenchSetup parse(const Args& args, const std::shared_ptr<Communicator>& world) {
  BenchSetup s;
  s.config = bench_config(args, world->size());
  s.tokens = args.get_int("--tokens", 2048);
  s.iters = static_cast<int>(args.get_int("-n", 10));
  s.warmup = static_cast<int>(args.get_int("-w", 2));
  s.rounds = static_cast<int>(args.get_int("--rounds", 3));
  s.overlap = args.get("--overlap", "");
  s.link = args.get("--emulate-link", "");
  s.torch_peer = args.get("--torch-peer", "");
  s.hardware = args.get("--hardware", "");
  s.blas_baseline = args.has("--blas-threads-baseline");
  if (!s.hardware.empty() && s.hardware != "here") s.profile = load_hardware_profile(s.hardware);
  SY_CHECK(s.tokens >= 1 && s.iters >= 1 && s.warmup >= 0 && s.rounds >= 1,
           "need --tokens ≥ 1, -n ≥ 1, -w ≥ 0, --rounds ≥ 1");
  const pb::ParallelConfig& par = s.config.parallel();
  s.device = par.device() == pb::CUDA ? Device::cuda() : Device::cpu();
  s.calibration.device = s.device;
  if (!s.link.empty()) {
    const LinkSpec link = parse_link_spec(s.link);
    s.calibration.link_gbs = link.gbps;
    s.calibration.link_latency_us = link.latency_us;
  }
  if (s.device.is_cuda()) cuda_set_device(mpi_local_rank());
  const auto& model = s.config.model();
  s.options = MoeOptions::from_config(model.moe(), model.d_model(), model.family() == pb::MH_MOE,
                                      s.config.seed(), "bench");
  Topology topology = topology_of(par);  // AUTO: both all-to-alls timed at this layer's payload
  topology.auto_probe_bytes = static_cast<size_t>(
      token_moe_cost(s.options).payload_bytes(static_cast<double>(s.tokens), s.config.precision()));
  s.groups = make_run_groups(world, par.ep(), par.comm_backend() == pb::NCCL, topology);
  emulate_link(s);
  s.options.set_overlap(par);
  SY_CHECK(!s.blas_baseline || (!s.device.is_cuda() && cpu_threads() > 1),
           "--blas-threads-baseline compares two ways of threading the CPU GEMMs: run on the CPU "
           "with more than one thread per rank (OPENBLAS_NUM_THREADS or SY_CPU_THREADS)");
  if (!s.torch_peer.empty()) {
    const std::string why = torch_peer_mismatch(s.options);
    SY_CHECK(why.empty() && !s.device.is_cuda(),
             "--torch-peer compares on the CPU with the peer's layer, and "
                 << (why.empty() ? "this run is on a GPU" : why));
  }
  return s;
}

// The experts' GEMMs on this rank's real expert-major row segments, grouped vs dense.
std::unique_ptr<ExpertGemmTimer> make_gemm_timer(const BenchSetup& s, const MoeLayer& layer) {
  const MoeOptions& o = s.options;
  const int64_t width = o.item_width(), hidden = o.hidden();
  const int64_t up = (o.expert == pb::SWIGLU ? 2 : 1) * hidden;
  return std::make_unique<ExpertGemmTimer>(layer.exchange_plan().expert_offsets, width, up, hidden,
                                           s.device);
}

// A round's GEMM times over the ranks: FLOPs summed, times the slowest rank's.
GemmRates over_ranks(const GemmRates& g, Communicator& world) {
  double v[3] = {g.flops, g.grouped_s, g.dense_s};
  world.all_reduce(v, 1, DType::kF64, CommOp::kSum);
  world.all_reduce(v + 1, 2, DType::kF64, CommOp::kMax);
  GemmRates r;
  r.flops = v[0];
  r.grouped_s = v[1];
  r.dense_s = v[2];
  return r;
}

// This rank's random tokens and output gradients, and token ids (for hash routing).
struct BenchInputs {
  Tensor x, dy;
  std::vector<int32_t> ids;
};

BenchInputs make_inputs(const BenchSetup& s, int rank) {
  const int64_t d = s.options.d_model, t0 = rank * s.tokens;
  BenchInputs in{Tensor::empty({s.tokens, d}, DType::kF32, s.device),
                 Tensor::empty({s.tokens, d}, DType::kF32, s.device),
                 std::vector<int32_t>(s.tokens)};
  fill_normal(in.x, s.config.seed(), 101, 1.0f, static_cast<uint64_t>(t0 * d));
  fill_normal(in.dy, s.config.seed(), 102, 1.0f, static_cast<uint64_t>(t0 * d));
  for (int64_t t = 0; t < s.tokens; ++t) in.ids[t] = static_cast<int32_t>((t0 + t) % 50257);
  return in;
}

void set_step_times(pb::MoeLayerBenchRecord& rec, const Timing& t) {
  rec.set_layer_ms(t.layer_s * 1e3);
  rec.set_route_ms(t.steps.route * 1e3);
  rec.set_plan_ms(t.steps.plan * 1e3);
  rec.set_dispatch_ms(t.steps.dispatch * 1e3);
  rec.set_experts_ms(t.steps.experts * 1e3);
  rec.set_undispatch_ms(t.steps.undispatch * 1e3);
  rec.set_combine_ms(t.steps.combine * 1e3);
}

// What the interleaved rounds measured: each round times the layer, then its GEMMs grouped and
// dense, so that a slow spell of a shared machine lands on both and each round's GEMM-limit
// fraction compares neighbours.
struct Rounds {
  Timing best;                                // the layer's fastest round
  double worst_s = 0;                         // its slowest
  std::vector<double> layer_s;                // every round's
  std::vector<pb::HardwareProfile> profiles;  // --hardware here: each round's calibration
  GemmRates gemms;                            // the GEMMs' fastest rounds (over ranks)
  std::vector<double> fractions;              // per round: dense GEMM time / layer time
  std::vector<double> torch_ratios;  // per round: PyTorch peer time / layer time (--torch-peer)
  std::vector<double> blas_ratios;   // per round: time with OpenBLAS's threads / layer time
  MemoryStats memory;                // the layer's, before the GEMMs' operands exist
};

// One run of the PyTorch peer on rank 0 (the other ranks wait, sleeping after 100 ms), its time
// sent to every rank; a failure is every rank's error.
double time_torch_peer(const BenchSetup& s, Communicator& world) {
  double ms = -1;
  std::string why;
  if (world.rank() == 0) {
    TorchPeerRun run;
    if (const char* py = std::getenv("SY_PYTHON")) run.python = py;
    run.script = s.torch_peer;
    run.threads = world.size() * std::max(1, cpu_threads());
    run.tokens = s.tokens * world.size();
    run.iters = std::max(s.iters, 2);
    run.bf16 = s.config.precision() == pb::BF16;
    try {
      ms = run_torch_peer(run, s.options);
    } catch (const Error& e) {
      why = e.what();
    }
  }
  world.broadcast(&ms, sizeof ms, 0);
  SY_CHECK(ms > 0, "--torch-peer: " << (why.empty() ? "the peer failed on rank 0" : why));
  return ms;
}

// --blas-threads-baseline: the layer's time with OpenBLAS threading the GEMMs itself.
double time_with_blas_threads(const BenchSetup& s, const BenchInputs& in, TokenMoe& layer,
                              Communicator& world) {
  set_gemms_on_cpu_threads(false);
  const double t = time_layer(layer, in.x, in.dy, in.ids, s.iters, 1, world).layer_s;
  set_gemms_on_cpu_threads(true);
  return t;
}

Rounds time_rounds(const BenchSetup& s, const BenchInputs& in, TokenMoe& layer,
                   Communicator& world) {
  Rounds out;
  std::unique_ptr<ExpertGemmTimer> gemm_timer;
  for (int r = 0; r < s.rounds; ++r) {
    double blas_threads_s = 0;  // first, so that OpenBLAS's idle workers spin into the warm-up
    if (s.blas_baseline) blas_threads_s = time_with_blas_threads(s, in, layer, world);
    const Timing t = time_layer(layer, in.x, in.dy, in.ids, s.iters, r == 0 ? s.warmup : 1, world);
    if (s.blas_baseline) out.blas_ratios.push_back(blas_threads_s / t.layer_s);
    if (r == 0 || t.layer_s < out.best.layer_s) out.best = t;
    out.worst_s = std::max(out.worst_s, t.layer_s);
    out.layer_s.push_back(t.layer_s);
    if (r == 0) {
      out.memory = backend(s.device).memory_stats();
      gemm_timer = make_gemm_timer(s, layer.core());
    }
    const GemmRates g = over_ranks(gemm_timer->time(std::max(s.iters, 3)), world);
    out.gemms.keep_best(g);
    out.fractions.push_back(g.dense_s / t.layer_s);
    if (!s.torch_peer.empty())
      out.torch_ratios.push_back(time_torch_peer(s, world) / (t.layer_s * 1e3));
    if (s.hardware == "here")  // last: its buffers must not count in the layer's memory
      out.profiles.push_back(calibrate_hardware(world, s.calibration));
  }
  return out;
}

// The median of per-round figures, and their range.
struct Spread {
  double median = 0, min = 0, max = 0;
};
Spread spread_of(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return {n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]), v.front(), v.back()};
}

// The GEMM rates and the layer against its GEMM limit: the median round's fraction, with the
// rounds' range; the same for the PyTorch peer's ratio.
void set_gemm_rates(const Rounds& m, int world_size, pb::MoeLayerBenchRecord& rec) {
  const double per_rank = m.gemms.flops / world_size;
  rec.set_grouped_gemm_gflops(per_rank / m.gemms.grouped_s / 1e9);
  rec.set_dense_gemm_gflops(per_rank / m.gemms.dense_s / 1e9);
  rec.set_gemm_ratio(rec.grouped_gemm_gflops() / rec.dense_gemm_gflops());
  const Spread f = spread_of(m.fractions);
  rec.set_gemm_limit_fraction(f.median);
  rec.set_gemm_limit_fraction_min(f.min);
  rec.set_gemm_limit_fraction_max(f.max);
  if (!m.torch_ratios.empty()) {
    const Spread t = spread_of(m.torch_ratios);
    rec.set_torch_eager_ratio(t.median);
    rec.set_torch_eager_ratio_min(t.min);
    rec.set_torch_eager_ratio_max(t.max);
  }
  if (!m.blas_ratios.empty()) {
    const Spread b = spread_of(m.blas_ratios);
    rec.set_blas_threads_ratio(b.median);
    rec.set_blas_threads_ratio_min(b.min);
    rec.set_blas_threads_ratio_max(b.max);
  }
}

// --hardware: the planner's projection of each round's layer call (planner/step_projection.h) on
// the profile — the round's own measurement with `here` — and the rounds' measured times over it.
void set_projection(const BenchSetup& s, const Rounds& m, int world_size,
                    pb::MoeLayerBenchRecord& rec) {
  const bool here = s.hardware == "here";
  std::vector<double> ratios;
  StepProjection p;
  for (size_t r = 0; r < m.layer_s.size(); ++r) {
    const pb::HardwareProfile& hw = here ? m.profiles[r] : s.profile;
    p = project_bench_layer(s.options, s.config, s.tokens, world_size, hw);
    ratios.push_back(m.layer_s[r] / p.time.step);
  }
  const Spread r = spread_of(ratios);
  rec.set_planner_hardware(s.hardware);
  rec.set_planner_projected_ms(p.time.step * 1e3);
  rec.set_planner_ratio(r.median);
  rec.set_planner_ratio_min(r.min);
  rec.set_planner_ratio_max(r.max);
  char line[320];
  std::snprintf(line, sizeof line,
                "planner (%s): projected %.2f ms per layer call (expert GEMMs %.2f, router %.2f, "
                "memory-bound %.2f, all-to-all %.2f exposed; last round); measured / projected "
                "%.2f (median of %zu rounds, range %.2f-%.2f)",
                s.hardware.c_str(), p.time.step * 1e3, p.time.expert_gemm * 1e3,
                p.time.dense_gemm * 1e3, p.time.memory_bound * 1e3, p.time.a2a_exposed * 1e3,
                r.median, ratios.size(), r.min, r.max);
  SY_LOG0(line);
}

pb::MoeLayerBenchRecord run(const BenchSetup& s, const BenchInputs& in, Communicator& world,
                            Rounds* rounds_out) {
  pb::MoeLayerBenchRecord rec;
  const int w = world.size();
  // On a GPU the step split needs the device synchronised at each step boundary (a few µs each);
  // the overlap study's pipelined runs are timed whole, without it.
  MoeOptions main_options = s.options;
  main_options.sync_step_timers = true;
  std::unique_ptr<TokenMoe> layer =
      make_timed_layer(main_options, compute_dtype(s.config.precision()), s.groups, s.device);

  const Rounds rounds = time_rounds(s, in, *layer, world);
  const Timing& main_run = rounds.best;
  set_step_times(rec, main_run);
  rec.set_rounds(s.rounds);
  rec.set_layer_noise(rounds.worst_s / main_run.layer_s - 1);
  rec.set_system_allocs_per_call(main_run.system_allocs);
  rec.set_page_faults_per_call(main_run.page_faults);
  rec.set_tokens_per_s(s.tokens * w / main_run.layer_s);
  *rec.mutable_layer_stats() = layer->core().stats();
  double mib = rec.layer_stats().dispatched_mib();
  world.all_reduce(&mib, 1, DType::kF64, CommOp::kSum);
  rec.set_bytes_dispatched(static_cast<int64_t>(mib * (1 << 20)));
  rec.set_activation_ratio(rec.layer_stats().activation_ratio());
  rec.set_drop_rate(rec.layer_stats().drop_rate());
  set_gemm_rates(rounds, w, rec);
  *rounds_out = rounds;

  double peaks[2] = {static_cast<double>(rounds.memory.peak_in_use),
                     static_cast<double>(rounds.memory.peak_reserved)};
  world.all_reduce(peaks, 2, DType::kF64, CommOp::kMax);
  rec.set_peak_memory_mib(peaks[0] / (1 << 20));
  rec.set_peak_reserved_mib(peaks[1] / (1 << 20));
  rec.set_config(config_to_text(s.config));
  rec.set_world_size(w);
  rec.set_ep(s.config.parallel().ep());
  rec.set_device(device_name(s.device));
  rec.set_tokens_per_rank(s.tokens);
  rec.set_cpu_threads(cpu_threads());  // first: it settles OpenBLAS's threads per call
  rec.set_openblas_threads(openblas_get_num_threads());
  rec.set_cpu_kernels(cpu_kernels_name(cpu_kernels()));
  if (!s.link.empty()) rec.set_emulated_link(s.link);
  return rec;
}

void report_header(const BenchSetup& s, const pb::MoeLayerBenchRecord& rec) {
  const MoeOptions& o = s.options;
  SY_LOG0("# switchyard bench moe-layer: world "
          << rec.world_size() << ", ep " << rec.ep() << ", device " << rec.device()
          << ", CPU threads " << rec.cpu_threads()
          << (s.link.empty() ? std::string() : ", emulated link " + s.link));
  report_blas();
  SY_LOG0("# tokens/rank " << s.tokens << ", d " << o.d_model << ", E " << o.num_experts << " ("
                           << o.num_experts / rec.ep() << "/rank), k " << o.top_k << ", F "
                           << o.hidden() << ", h " << o.num_heads
                           << (o.mh_projections ? " (MH-MoE)" : "") << ", router "
                           << pb::RouterKind_Name(o.router) << ", expert "
                           << pb::ExpertKind_Name(o.expert) << ", "
                           << (o.dropless ? std::string("dropless")
                                          : "capacity factor " + std::to_string(o.capacity_factor))
                           << ", chunks " << o.chunks << ", precision "
                           << pb::Precision_Name(s.config.precision()));
  SY_LOG0("# iters " << s.iters << ", warmup " << s.warmup << ", " << s.rounds
                     << " interleaved rounds (best kept); times are max over ranks of the mean");
}

void report_steps(const pb::MoeLayerBenchRecord& rec) {
  char line[256];
  const double layer = rec.layer_ms();
  std::snprintf(line, sizeof line,
                "layer forward+backward: %.2f ms, %.0f tokens/s (all ranks); slowest round +%.1f%%",
                layer, rec.tokens_per_s(), 100 * rec.layer_noise());
  SY_LOG0(line);
  const std::pair<const char*, double> steps[] = {
      {"route", rec.route_ms()},           {"plan", rec.plan_ms()},
      {"dispatch", rec.dispatch_ms()},     {"experts", rec.experts_ms()},
      {"undispatch", rec.undispatch_ms()}, {"combine", rec.combine_ms()}};
  double accounted = 0;
  for (const auto& [name, ms] : steps) {
    std::snprintf(line, sizeof line, "  %-11s %9.3f ms  %5.1f%%", name, ms, 100.0 * ms / layer);
    SY_LOG0(line);
    accounted += ms;
  }
  const double other = std::max(0.0, layer - accounted);
  std::snprintf(line, sizeof line, "  %-11s %9.3f ms  %5.1f%%  (projections, buffers)", "other",
                other, 100.0 * other / layer);
  SY_LOG0(line);
}

// "<what, with the median>; median of R rounds, range a-b)".
void report_spread(const char* what, int rounds, const Spread& s) {
  char head[256], line[384];
  std::snprintf(head, sizeof head, what, s.median);
  std::snprintf(line, sizeof line, "%s; median of %d rounds, range %.2f-%.2f)", head, rounds, s.min,
                s.max);
  SY_LOG0(line);
}

void report_routing(const BenchSetup& s, const pb::MoeLayerBenchRecord& rec) {
  const pb::MoeLayerStats& st = rec.layer_stats();
  char line[256];
  std::snprintf(line, sizeof line,
                "expert GEMMs: grouped %.2f GFLOP/s vs dense %.2f GFLOP/s on the same FLOPs: "
                "ratio %.3f",
                rec.grouped_gemm_gflops(), rec.dense_gemm_gflops(), rec.gemm_ratio());
  SY_LOG0(line);
  if (rec.has_torch_eager_ratio())
    report_spread(
        "layer %.2fx PyTorch eager on the same cores (peer time / layer time", rec.rounds(),
        {rec.torch_eager_ratio(), rec.torch_eager_ratio_min(), rec.torch_eager_ratio_max()});
  if (rec.has_blas_threads_ratio())
    report_spread(
        "layer %.2fx faster with the GEMMs on the CPU ops' threads than on OpenBLAS's own "
        "(OpenBLAS-threaded time / layer time, interleaved",
        rec.rounds(),
        {rec.blas_threads_ratio(), rec.blas_threads_ratio_min(), rec.blas_threads_ratio_max()});
  report_spread(
      "layer at %.2f of its GEMM limit (its expert GEMMs' FLOPs at the dense rate over the layer's "
      "time",
      rec.rounds(),
      {rec.gemm_limit_fraction(), rec.gemm_limit_fraction_min(), rec.gemm_limit_fraction_max()});
  int active = 0;
  for (int64_t l : st.load()) active += l > 0;
  std::snprintf(line, sizeof line,
                "routing: activation ratio %.4f (%d of %d experts got items), dropped %.2f%% "
                "(%d of %d choices), capacity %d",
                st.activation_ratio(), active, s.options.num_experts, 100 * st.drop_rate(),
                st.dropped_world(), st.routed_world(), st.capacity());
  SY_LOG0(line);
  std::snprintf(line, sizeof line,
                "host synchronisations per layer call: forward %d, backward %d (the plan's one "
                "read, BASE's assignment, host-staged exchanges)",
                st.host_syncs_forward(), st.host_syncs_backward());
  SY_LOG0(line);
  std::snprintf(line, sizeof line,
                "all-to-all payload per layer call: forward dispatch %.3f MiB over all ranks "
                "(x4 with undispatch and backward)",
                rec.bytes_dispatched() / 1048576.0);
  SY_LOG0(line);
  std::snprintf(line, sizeof line,
                "peak memory per rank: %.1f MiB in use, %.1f MiB reserved (%s, max over ranks)",
                rec.peak_memory_mib(), rec.peak_reserved_mib(), rec.device().c_str());
  SY_LOG0(line);
  std::snprintf(line, sizeof line,
                "hot path per layer call after warm-up: %.1f allocations from the system, %.1f "
                "page faults (max over ranks)",
                rec.system_allocs_per_call(), rec.page_faults_per_call());
  SY_LOG0(line);
}

void write_json(const pb::MoeLayerBenchRecord& rec, const std::string& path) {
  std::ofstream f(path);
  SY_CHECK(f.good(), "bench moe-layer: cannot write --json " << path);
  f << json_line(rec) << "\n";
}

}  // namespace

int bench_moe_layer_command(const std::vector<std::string>& argv) {
  Args args(argv,
            {"--config", "--set", "--tokens", "-n", "-w", "--json", "--timeout", "--overlap",
             "--rounds", "--emulate-link", "--torch-peer", "--hardware"},
            kUsage, {"--blas-threads-baseline"});
  std::shared_ptr<Communicator> world =
      mpi_world(args.get_double("--timeout", default_comm_timeout_s()));
  const BenchSetup s = parse(args, world);
  const BenchInputs in = make_inputs(s, world->rank());
  Rounds rounds;
  pb::MoeLayerBenchRecord rec = run(s, in, *world, &rounds);
  report_header(s, rec);
  report_steps(rec);
  if (!s.hardware.empty()) set_projection(s, rounds, world->size(), rec);
  report_routing(s, rec);
  if (!s.overlap.empty())
    overlap_study(s.options, compute_dtype(s.config.precision()), s.groups, in.x, in.dy, in.ids,
                  s.overlap, s.iters, s.warmup, s.rounds, *world, &rec);
  if (args.has("--json") && world->rank() == 0) write_json(rec, args.get("--json", ""));
  return 0;
}

}  // namespace sy
