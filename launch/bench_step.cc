// `switchyard bench step CONFIG [--set path=value ...] [-n ROUNDS] [-w WARMUP] [--json PATH]`:
// one training step of the config, its time split into forward, backward, the gradient
// communication left after backward, and the optimizer — for each gradient reduction (one
// all-reduce per parameter, the baseline; buckets after backward; buckets overlapped with
// backward; with --blas-threads-baseline, overlapped with OpenBLAS threading its own GEMMs),
// interleaved round by round on one trainer so the machine's noise falls on all alike, with each
// step's ratio to the baseline. Times are host times (on a GPU the step ends
// with a device synchronisation, so the step total is the device's; the phase split is where
// the host waited). Then the peak memory per rank of one step with each activation recompute
// setting (NONE, MOE_EXPERTS, BLOCK), each on a trainer of its own after the cache was released.
#include <algorithm>
#include <cstdio>
#include <fstream>

#include "comm/mpi_communicator.h"
#include "launch/args.h"
#include "launch/commands.h"
#include "launch/emulated_link.h"
#include "runtime/core/blas_info.h"
#include "runtime/core/config.h"
#include "runtime/core/cpu_threads.h"
#include "runtime/core/logging.h"
#include "runtime/core/proto_json.h"
#include "runtime/train/trainer.h"
#include "switchyard/bench.pb.h"

namespace sy {

namespace {

constexpr const char* kUsage =
    "usage: mpirun -np N switchyard bench step CONFIG.pbtxt [--set path=value ...] [-n ROUNDS "
    "(5)]\n"
    "       [-w WARMUP (2)] [--emulate-link GBPS[,US]] [--blas-threads-baseline] [--json PATH]\n"
    "One training step's time split (forward, backward, exposed gradient communication,\n"
    "optimizer) with gradients reduced per parameter, in buckets after backward, and in buckets\n"
    "overlapped with backward, interleaved in the same run; then the peak memory per recompute\n"
    "setting. --emulate-link holds each gradient all-reduce and MoE all-to-all as if it crossed a\n"
    "link of GBPS GB/s (plus US microseconds), taking no CPU (MPI only; launch/emulated_link.h).\n"
    "--blas-threads-baseline adds a row: buckets overlapped with OpenBLAS threading its own GEMMs\n"
    "instead of the CPU ops' threads running them (CPU, more than one thread per rank).\n";

struct Reduction {
  const char* name;
  GradReduceOptions options;
  bool gemms_on_cpu_threads = true;  // false: OpenBLAS threads its own GEMMs
};

// The settings a run compares, the first the baseline of the ratios.
std::vector<Reduction> reductions(bool blas_threads_baseline) {
  std::vector<Reduction> r = {{"per parameter", {false, false}},
                              {"buckets after backward", {true, false}},
                              {"buckets overlapped", {true, true}}};
  if (blas_threads_baseline) r.push_back({"overlap + BLAS threads", {true, true}, false});
  return r;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// Rounds × one step of every reduction; the rows of the record, medians per phase.
void reduction_study(Trainer& trainer, const std::vector<Reduction>& settings, int warmup,
                     int rounds, pb::StepBenchRecord& rec) {
  const size_t n = settings.size();
  std::vector<std::vector<pb::StepRecord>> steps(n);
  for (int r = 0; r < warmup + rounds; ++r)
    for (size_t i = 0; i < n; ++i) {
      trainer.set_grad_reduction(settings[i].options);
      set_gemms_on_cpu_threads(settings[i].gemms_on_cpu_threads);
      pb::StepRecord s = trainer.train_step();
      if (r >= warmup) steps[i].push_back(s);
    }
  set_gemms_on_cpu_threads(true);
  for (size_t i = 0; i < n; ++i) {
    auto phase = [&](double (pb::StepRecord::*field)() const) {
      std::vector<double> v;
      for (const pb::StepRecord& s : steps[i]) v.push_back((s.*field)());
      return median(v);
    };
    pb::StepBenchRecord::ReductionRow* row = rec.add_reduction();
    row->set_setting(settings[i].name);
    row->set_forward_ms(phase(&pb::StepRecord::forward_ms));
    row->set_backward_ms(phase(&pb::StepRecord::backward_ms));
    row->set_grad_comm_ms(phase(&pb::StepRecord::grad_comm_exposed_ms));
    row->set_optimizer_ms(phase(&pb::StepRecord::optimizer_ms));
    row->set_step_ms(phase(&pb::StepRecord::ms));
    std::vector<double> ms;
    for (const pb::StepRecord& s : steps[i]) ms.push_back(s.ms());
    row->set_spread(
        (*std::max_element(ms.begin(), ms.end()) - *std::min_element(ms.begin(), ms.end())) /
        row->step_ms());
  }
  for (auto& row : *rec.mutable_reduction())
    row.set_ratio(row.step_ms() / rec.reduction(0).step_ms());
}

// One trainer per recompute setting, one after the other: a warm-up step, the cache released,
// then the measured step's peaks.
void memory_study(const pb::RunConfig& config, std::shared_ptr<Communicator> world,
                  pb::StepBenchRecord& rec) {
  for (pb::Recompute mode : {pb::NONE, pb::MOE_EXPERTS, pb::BLOCK}) {
    pb::RunConfig c = config;
    c.set_recompute(mode);
    Trainer trainer(c, world);
    trainer.train_step();
    Backend& b = backend(trainer.device());
    b.release_cached_memory();
    double persistent = static_cast<double>(b.memory_stats().in_use);
    world->all_reduce(&persistent, 1, DType::kF64, CommOp::kMax);
    const pb::StepRecord s = trainer.train_step();
    pb::StepBenchRecord::MemoryRow* row = rec.add_memory();
    row->set_recompute(pb::Recompute_Name(mode));
    row->set_peak_in_use_mib(s.peak_in_use_mib());
    row->set_peak_reserved_mib(s.peak_reserved_mib());
    row->set_step_ms(s.ms());
    row->set_persistent_mib(persistent / (1 << 20));
    row->set_activation_mib(s.peak_in_use_mib() - row->persistent_mib());
  }
}

void report_memory(const pb::StepBenchRecord& rec) {
  SY_LOG0(
      "# activation memory: one step per recompute setting after the cache was released "
      "(MiB per rank, max over ranks; activations = peak in use − persistent)");
  SY_LOG0(
      "#  recompute     persistent  activations  ÷ NONE  peak in use  peak reserved  ÷ NONE"
      "   step ms  ÷ NONE");
  const pb::StepBenchRecord::MemoryRow& none = rec.memory(0);
  for (const auto& row : rec.memory()) {
    char line[200];
    std::snprintf(line, sizeof line, "   %-12s %10.2f %12.2f %7.3f %12.2f %14.2f %7.3f %9.2f %7.3f",
                  row.recompute().c_str(), row.persistent_mib(), row.activation_mib(),
                  row.activation_mib() / none.activation_mib(), row.peak_in_use_mib(),
                  row.peak_reserved_mib(), row.peak_reserved_mib() / none.peak_reserved_mib(),
                  row.step_ms(), row.step_ms() / none.step_ms());
    SY_LOG0(line);
  }
}

void report_reductions(const pb::StepBenchRecord& rec) {
  SY_LOG0("# gradient reduction (median of "
          << rec.rounds() << " interleaved rounds, ms, max over " << rec.world_size() << " ranks; "
          << rec.grad_mib() << " MiB of gradients per rank in " << rec.buckets() << " buckets)");
  SY_LOG0(
      "#  setting                  forward  backward  grad comm  optimizer     step  "
      "÷ per-param  spread");
  for (const auto& row : rec.reduction()) {
    char line[200];
    std::snprintf(line, sizeof line, "   %-22s %9.2f %9.2f %10.2f %10.2f %8.2f %12.3f %7.2f",
                  row.setting().c_str(), row.forward_ms(), row.backward_ms(), row.grad_comm_ms(),
                  row.optimizer_ms(), row.step_ms(), row.ratio(), row.spread());
    SY_LOG0(line);
  }
}

// The gradient all-reduces held as if they crossed a link of the spec's bandwidth (the MoE
// exchanges: through the trainer's groups hook).
void emulate_link(Trainer& trainer, const std::string& spec, pb::StepBenchRecord& rec) {
  GradComms c = trainer.grad_comms();
  c.dense = EmulatedLinkCommunicator::from_spec(c.dense, spec);
  c.expert = EmulatedLinkCommunicator::from_spec(c.expert, spec);
  trainer.set_grad_comms(c);
  rec.set_emulated_link(spec);
}

// The record's header, and the same on the console.
void describe(const Trainer& trainer, const pb::RunConfig& config, int warmup, int rounds,
              pb::StepBenchRecord& rec) {
  rec.set_config(config_to_text(config));
  rec.set_world_size(static_cast<int32_t>(trainer.world_size()));
  rec.set_device(device_name(trainer.device()));
  rec.set_rounds(rounds);
  rec.set_grad_mib(trainer.flat_params().grad_bytes() / double(1 << 20));
  rec.set_buckets(trainer.flat_params().bucket_count());
  SY_LOG0("# switchyard bench step: "
          << config.name() << ", " << pb::ModelFamily_Name(config.model().family()) << ", "
          << rec.world_size() << " ranks, ep " << config.parallel().ep() << ", " << rec.device()
          << ", " << warmup << " warm-up rounds"
          << (rec.has_emulated_link()
                  ? ", gradient all-reduces and MoE exchanges over an emulated " +
                        rec.emulated_link() + " GB/s link"
                  : std::string()));
  report_blas();
}

}  // namespace

int bench_step_command(const std::vector<std::string>& argv) {
  Args args(argv, {"--set", "-n", "-w", "--json", "--emulate-link"}, kUsage,
            {"--blas-threads-baseline"});
  SY_USAGE_CHECK(args.positional().size() == 1, args);
  pb::RunConfig config = load_config_file(args.positional()[0]);
  apply_overrides(&config, args.get_all("--set"));
  const int rounds = static_cast<int>(args.get_int("-n", 5));
  const int warmup = static_cast<int>(args.get_int("-w", 2));
  SY_CHECK(rounds >= 1 && warmup >= 0, "bench step: need -n ≥ 1 and -w ≥ 0");
  std::shared_ptr<Communicator> world = mpi_world(comm_timeout_s(config.parallel()));
  // Enough schedule for every step the study runs (the learning rate does not change the cost).
  config.mutable_schedule()->set_steps(
      std::max(config.schedule().steps(), (warmup + rounds) * 3 + 2));
  validate_config(config, world->size());
  const bool blas_baseline = args.has("--blas-threads-baseline");
  SY_CHECK(!blas_baseline || (config.parallel().device() != pb::CUDA && cpu_threads() > 1),
           "--blas-threads-baseline compares two ways of threading the CPU GEMMs: run on the CPU "
           "with more than one thread per rank (OPENBLAS_NUM_THREADS or SY_CPU_THREADS)");
  pb::StepBenchRecord rec;
  {
    const std::string link = args.get("--emulate-link", "");
    Trainer trainer(config, world, [&](ProcessGroups& g) {
      if (!link.empty()) g.ep_group = EmulatedLinkCommunicator::from_spec(g.ep_group, link);
    });
    if (!link.empty()) emulate_link(trainer, link, rec);
    describe(trainer, config, warmup, rounds, rec);
    reduction_study(trainer, reductions(blas_baseline), warmup, rounds, rec);
    report_reductions(rec);
  }
  memory_study(config, world, rec);
  report_memory(rec);
  if (args.has("--json") && world->rank() == 0) {
    std::ofstream f(args.get("--json", ""));
    SY_CHECK(f.good(), "bench step: cannot write --json " << args.get("--json", ""));
    f << json_line(rec) << "\n";
  }
  return 0;
}

}  // namespace sy
