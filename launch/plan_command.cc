// `switchyard plan CONFIG --nodes N --gpus-per-node G --hardware NAME`: what a config costs per
// step and per GPU on a cluster, for every ep / all-to-all / overlap choice, and which to use
// (planner/plan.h). Nothing runs on the cluster; the assumptions are printed with the answer.
#include <google/protobuf/text_format.h>

#include <cstdio>
#include <fstream>
#include <memory>
#include <string>

#include "comm/mpi_communicator.h"
#include "launch/args.h"
#include "launch/commands.h"
#include "launch/emulated_link.h"
#include "planner/calibrate.h"
#include "planner/hardware.h"
#include "planner/plan.h"
#include "planner/validation.h"
#include "runtime/core/backend.h"
#include "runtime/core/blas_info.h"
#include "runtime/core/config.h"
#include "runtime/core/proto_json.h"

namespace sy {

namespace {

const char* kPlanUsage =
    "usage: switchyard plan CONFIG --hardware NAME|FILE [--nodes N] [--gpus-per-node G]\n"
    "                       [--set path=value ...] [--json FILE]\n"
    "  projects one training step of CONFIG per GPU on N nodes of G GPUs (default: 1 node of\n"
    "  the profile's gpus_per_node) for every valid ep, all-to-all algorithm and overlap\n"
    "  setting, and recommends one. NAME: a profile in launch/hardware/ (h100_sxm, h200,\n"
    "  a100_sxm, h800) or $SY_HARDWARE_DIR; FILE: a HardwareProfile .pbtxt.\n"
    "  Every model family. --json: every projection\n"
    "  as a PlanRecord (proto/switchyard/hardware.proto), one JSON line each.\n"
    "usage: switchyard plan --validate\n"
    "  projects published runs (NCCL, DeepEP, Megatron-Core) and prints the planner's validation\n"
    "  table (Markdown, as in launch/results/README.md); run from the source tree\n"
    "usage: mpirun -np N switchyard plan --calibrate [--out FILE] [--device cpu|cuda]\n"
    "                       [--hardware BASE] [--emulate-link GBPS[,US]]\n"
    "  measures this machine as a hardware profile (GEMM rate and memory bandwidth of one rank\n"
    "  with all ranks busy, the ranks' all-to-all latency and bandwidth) and prints it (and\n"
    "  writes FILE) for --hardware FILE. BASE (required on a GPU) gives what is not measured:\n"
    "  the GPU's memory size, the network. --emulate-link: every rank a node behind such a\n"
    "  link, as `bench moe-layer --emulate-link` runs.\n";

std::string a2a_name(pb::AllToAllAlgorithm a) {
  return a == pb::HIERARCHICAL ? "hier" : "flat";
}

void print_header(const std::string& file, const pb::RunConfig& c, const ModelCost& m,
                  const Cluster& cl, const pb::HardwareProfile& hw) {
  const double tokens = static_cast<double>(c.data().global_batch()) * m.seq_len;
  std::printf("# plan: %s on %d node%s x %d GPUs = %d of %s (%s)\n", file.c_str(), cl.nodes,
              cl.nodes == 1 ? "" : "s", cl.gpus_per_node, cl.world(), hw.name().c_str(),
              hw.description().c_str());
  std::printf(
      "# model: %s, %zu blocks, %d MoE layers, %.3g B weights (%.3g B in experts), "
      "%.3g GFLOP per token forward (%.3g in experts)\n",
      pb::ModelFamily_Name(c.model().family()).c_str(), m.blocks.size(), m.moe_layers(),
      m.weight_count() / 1e9, m.expert_weights() / 1e9, m.forward_flops_per_token() / 1e9,
      m.expert_flops_per_token() / 1e9);
  std::printf(
      "# step: global_batch %d x %lld tokens = %.4g M tokens, %.0f per GPU; %s, "
      "recompute %s\n",
      c.data().global_batch(), static_cast<long long>(m.seq_len), tokens / 1e6, tokens / cl.world(),
      pb::Precision_Name(c.precision()).c_str(), pb::Recompute_Name(c.recompute()).c_str());
  std::printf(
      "# hardware: GEMM %.3g TFLOP/s (%.2f of %.3g peak; grouped %.2f of that), memory %.3g GB "
      "at %.4g GB/s, NVLink %.4g GB/s (%.3g us), network %.4g GB/s per GPU (%.3g us), %.3g us "
      "per message\n",
      peak_flops(c, hw) / 1e12 * hw.gemm_efficiency(), hw.gemm_efficiency(),
      peak_flops(c, hw) / 1e12, hw.grouped_gemm_efficiency(), hw.memory_gb(), hw.memory_gbs(),
      hw.intra_node_gbs(), hw.intra_node_latency_us(), hw.inter_node_gbs(),
      hw.inter_node_latency_us(), hw.message_us());
  std::printf(
      "# assumed: tokens spread evenly over experts (no drops or imbalance); every GEMM "
      "FLOP at the GEMM rate; activations moved 4x through memory; data parallelism over "
      "all GPUs (no tensor or pipeline parallelism); fp32 master weights, gradients and "
      "AdamW moments on every GPU\n");
}

// The row of the choice the config itself makes, or -1: its ep; its all-to-all as the run
// resolves it (HIERARCHICAL where the group spans nodes, else flat; AUTO: the faster); its overlap
// (overlap_auto or more than one chunk) where the ep has something to pipeline.
int config_row(const std::vector<StepProjection>& p, const pb::ParallelConfig& par) {
  const bool overlap = par.overlap_auto() || par.overlap_chunks() > 1;
  bool hier_possible = false;  // HIERARCHICAL asked where the group stays in a node runs flat
  for (const StepProjection& s : p)
    hier_possible = hier_possible || (s.choice.ep == par.ep() && s.choice.a2a == pb::HIERARCHICAL);
  const bool hier = par.a2a() == pb::HIERARCHICAL && hier_possible;
  int row = -1;
  for (int i = 0; i < static_cast<int>(p.size()); ++i) {
    const PlanChoice& c = p[i].choice;
    const bool a2a = par.a2a() == pb::AUTO || (c.a2a == pb::HIERARCHICAL) == hier;
    if (c.ep != par.ep() || !a2a || (c.overlap && !overlap)) continue;
    const bool better = row < 0 || (c.overlap == overlap && p[row].choice.overlap != overlap) ||
                        (c.overlap == p[row].choice.overlap && p[i].time.step < p[row].time.step);
    if (better) row = i;
  }
  return row;
}

// One choice's row: * marks the recommended one, > the config's own.
void print_row(const StepProjection& p, bool recommended, bool config) {
  const StepTimes& t = p.time;
  std::printf(
      "%s%s%3d  %-4s  %-3s  %9.4g  %10.4g  %7.3g  %5.1f%%  %8.3g  %8.3g  %8.3g  %8.3g  "
      "%8.3g  %7.3g  %-3s\n",
      recommended ? "*" : " ", config ? ">" : " ", p.choice.ep, a2a_name(p.choice.a2a).c_str(),
      p.choice.overlap ? "on" : "off", t.step * 1e3, p.tokens_per_s, p.model_tflops_per_gpu,
      p.mfu * 100, t.dense_gemm * 1e3, t.expert_gemm * 1e3, t.a2a * 1e3, t.a2a_exposed * 1e3,
      t.grad_reduce_exposed * 1e3, p.memory.total() / 1e9, p.fits ? "yes" : "NO");
}

void print_breakdown(const StepProjection& p, const pb::HardwareProfile& hw) {
  const StepTimes& t = p.time;
  const StepMemory& m = p.memory;
  std::printf(
      "# recommended: ep %d, %s all-to-all, overlap %s: --set parallel.ep=%d --set "
      "parallel.a2a=%s --set parallel.overlap_auto=%s\n",
      p.choice.ep, a2a_name(p.choice.a2a).c_str(), p.choice.overlap ? "on" : "off", p.choice.ep,
      pb::AllToAllAlgorithm_Name(p.choice.a2a).c_str(), p.choice.overlap ? "true" : "false");
  std::printf(
      "#   per step and GPU: dense GEMM %.3g ms, expert GEMM %.3g ms, memory-bound %.3g ms, "
      "all-to-all %.3g ms (NVLink %.3g, network %.3g; %.3g exposed, %d chunk%s), "
      "gradient all-reduce %.3g ms (%.3g exposed), optimizer %.3g ms -> %.4g ms\n",
      t.dense_gemm * 1e3, t.expert_gemm * 1e3, t.memory_bound * 1e3, t.a2a * 1e3, t.a2a_intra * 1e3,
      t.a2a_inter * 1e3, t.a2a_exposed * 1e3, p.chunks, p.chunks == 1 ? "" : "s",
      t.grad_reduce * 1e3, t.grad_reduce_exposed * 1e3, t.optimizer * 1e3, t.step * 1e3);
  std::printf(
      "#   memory per GPU: weights %.3g GB, gradients %.3g, AdamW %.3g, activations %.3g, "
      "exchange buffers %.3g -> %.3g GB of %.3g usable%s\n",
      m.weights / 1e9, m.gradients / 1e9, m.optimizer / 1e9, m.activations / 1e9, m.exchange / 1e9,
      m.total() / 1e9, hw.memory_gb() * hw.usable_memory_fraction(),
      p.fits ? "" : " — does NOT fit");
}

void print_fit_advice(const FitAdvice& a, int global_batch) {
  auto batch = [](int gb) {
    return gb > 0 ? "--set data.global_batch=" + std::to_string(gb) : std::string("none");
  };
  std::printf("#   what fits instead of global_batch %d: %s; with --set recompute=BLOCK: %s\n",
              global_batch, batch(a.global_batch).c_str(),
              batch(a.global_batch_recompute_block).c_str());
}

pb::PlanRecord plan_record(const std::string& file, const Cluster& cl,
                           const pb::HardwareProfile& hw, const StepProjection& p,
                           bool recommended) {
  pb::PlanRecord r;
  r.set_config(file);
  r.set_hardware(hw.name());
  r.set_nodes(cl.nodes);
  r.set_gpus_per_node(cl.gpus_per_node);
  r.set_ep(p.choice.ep);
  r.set_a2a(pb::AllToAllAlgorithm_Name(p.choice.a2a));
  r.set_overlap(p.choice.overlap);
  r.set_recommended(recommended);
  r.set_step_ms(p.time.step * 1e3);
  r.set_tokens_per_s(p.tokens_per_s);
  r.set_model_tflops_per_gpu(p.model_tflops_per_gpu);
  r.set_mfu(p.mfu);
  r.set_memory_gb(p.memory.total() / 1e9);
  r.set_fits(p.fits);
  r.set_dense_gemm_ms(p.time.dense_gemm * 1e3);
  r.set_expert_gemm_ms(p.time.expert_gemm * 1e3);
  r.set_memory_bound_ms(p.time.memory_bound * 1e3);
  r.set_a2a_ms(p.time.a2a * 1e3);
  r.set_a2a_exposed_ms(p.time.a2a_exposed * 1e3);
  r.set_grad_reduce_ms(p.time.grad_reduce * 1e3);
  r.set_grad_reduce_exposed_ms(p.time.grad_reduce_exposed * 1e3);
  r.set_optimizer_ms(p.time.optimizer * 1e3);
  r.set_weights_gb(p.memory.weights / 1e9);
  r.set_gradients_gb(p.memory.gradients / 1e9);
  r.set_optimizer_state_gb(p.memory.optimizer / 1e9);
  r.set_activations_gb(p.memory.activations / 1e9);
  r.set_exchange_gb(p.memory.exchange / 1e9);
  return r;
}

void write_json(const std::string& path, const std::string& file, const Cluster& cl,
                const pb::HardwareProfile& hw, const std::vector<StepProjection>& p, int best) {
  std::ofstream out(path);
  for (int i = 0; i < static_cast<int>(p.size()); ++i)
    out << json_line(plan_record(file, cl, hw, p[i], i == best)) << "\n";
  SY_CHECK(out, "cannot write --json " << path);
}

// --calibrate: measures, prints the profile, writes it with --out.
int calibrate(const Args& args) {
  SY_USAGE_CHECK(args.positional().empty(), args);
  const std::string device = args.get("--device", "cpu");
  SY_USAGE_CHECK(device == "cpu" || device == "cuda", args);
  std::shared_ptr<Communicator> world = mpi_world(comm_timeout_s(pb::ParallelConfig()));
  CalibrateOptions o;
  o.device = device == "cuda" ? Device::cuda() : Device::cpu();
  if (o.device.is_cuda()) cuda_set_device(mpi_local_rank());
  pb::HardwareProfile base;
  if (args.has("--hardware")) {
    base = load_hardware_profile(args.get("--hardware", ""));
    o.base = &base;
  }
  if (args.has("--emulate-link")) {
    const LinkSpec link = parse_link_spec(args.get("--emulate-link", ""));
    o.link_gbs = link.gbps;
    o.link_latency_us = link.latency_us;
  }
  if (world->rank() == 0) report_blas();
  const pb::HardwareProfile hw = calibrate_hardware(*world, o);
  if (world->rank() != 0) return 0;
  std::string text;
  google::protobuf::TextFormat::PrintToString(hw, &text);
  std::printf("# %s\n%s", hw.description().c_str(), text.c_str());
  if (args.has("--out")) {
    std::ofstream out(args.get("--out", ""));
    out << "# " << hw.description() << "\n" << text;
    SY_CHECK(out, "cannot write the profile to " << args.get("--out", ""));
  }
  return 0;
}

}  // namespace

int plan_command(const std::vector<std::string>& argv) {
  Args args(argv,
            {"--hardware", "--nodes", "--gpus-per-node", "--set", "--out", "--device",
             "--emulate-link", "--json"},
            kPlanUsage, {"--validate", "--calibrate"});
  if (args.has("--calibrate")) return calibrate(args);
  if (args.has("--validate")) {
    SY_USAGE_CHECK(args.positional().empty(), args);
    const std::string table = validation_table(validation_rows());
    if (process_rank() <= 0) std::fputs(table.c_str(), stdout);
    return 0;
  }
  SY_USAGE_CHECK(args.positional().size() == 1 && args.has("--hardware"), args);
  pb::RunConfig config = load_config_file(args.positional()[0]);
  apply_overrides(&config, args.get_all("--set"));
  const pb::HardwareProfile hw = load_hardware_profile(args.get("--hardware", ""));
  Cluster cl;
  cl.nodes = static_cast<int>(args.get_int("--nodes", 1));
  cl.gpus_per_node = static_cast<int>(args.get_int("--gpus-per-node", hw.gpus_per_node()));
  SY_USAGE_CHECK(cl.nodes >= 1 && cl.gpus_per_node >= 1, args);
  const ModelCost model = model_cost(config);
  const std::vector<StepProjection> p = compare_choices(model, config, cl, hw);
  if (process_rank() > 0) return 0;
  print_header(args.positional()[0], config, model, cl, hw);
  SY_CHECK(!p.empty(), "no ep divides both the " << cl.world() << " GPUs and the experts, or "
                                                 << "data.global_batch is not a multiple of "
                                                 << cl.world() << "; change --set "
                                                 << "data.global_batch or the cluster");
  const int best = recommend(p);
  std::printf(
      "  ep  a2a   ovl    step ms       tok/s  TFLOP/s    MFU  dense ms  exprt ms  "
      "a2a ms   a2a exp  grad exp  mem GB  fit\n");
  const int mine = config_row(p, config.parallel());
  for (int i = 0; i < static_cast<int>(p.size()); ++i) print_row(p[i], i == best, i == mine);
  std::printf("# * recommended, > the config's own choice (parallel.ep, a2a, overlap)\n");
  print_breakdown(p[best], hw);
  if (!p[best].fits)
    print_fit_advice(fit_advice(model, config, cl, hw, p[best].choice),
                     config.data().global_batch());
  if (args.has("--json")) write_json(args.get("--json", ""), args.positional()[0], cl, hw, p, best);
  return 0;
}

}  // namespace sy
