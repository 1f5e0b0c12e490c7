// switchyard — the command. Dispatches to a subcommand; this is the only place (with the test
// main) where an exception becomes a job-wide abort, so no rank is left hanging.
#include <cstdio>
#include <filesystem>
#include <new>
#include <string>
#include <vector>

#include "comm/mpi_communicator.h"
#include "launch/args.h"
#include "launch/commands.h"
#include "runtime/core/config.h"
#include "runtime/core/error.h"
#include "runtime/core/version.h"

namespace {

const char* kUsage =
    "usage: switchyard <command> [options]\n"
    "\n"
    "commands:\n"
    "  bench alltoall [options]    all-to-all-v bandwidth vs the backend's native all-to-all\n"
    "  bench moe-layer [options]   one MoE layer forward+backward: time split, GEMM rate, routing\n"
    "  bench mixer [-b T] [-e T]   M2 sequence mixer vs causal attention over sequence lengths\n"
    "  bench step CONFIG [options] one training step's time split per gradient reduction\n"
    "  config check FILE [--set path=value ...] [--world N]\n"
    "                              parse, override and validate a run config; print it merged\n"
    "  train CONFIG [--set path=value ...] [--resume CHECKPOINT]\n"
    "                              train the model a run config describes\n"
    "  generate CONFIG --checkpoint DIR [--prompt TEXT] [--tokens N] [--temperature T]\n"
    "                              sample text from a trained model (0 = greedy)\n"
    "  eval CONFIG --checkpoint DIR [--batches N]\n"
    "                              validation loss and perplexity of a checkpoint (writes "
    "nothing)\n"
    "  ckpt inspect|verify DIR     what a checkpoint holds; whether every file is intact\n"
    "  plan CONFIG --hardware NAME [--nodes N] [--gpus-per-node G]\n"
    "                              project a step's time, MFU and memory per GPU on a cluster\n"
    "                              for every ep / all-to-all choice; recommend one\n"
    "  prepare --out DIR PATH...   byte-level tokenisation of text into train/val shards\n"
    "  help                        this text (also --help)\n"
    "  --version                   the version\n"
    "\n"
    "Run under MPI for more than one rank: mpirun -np 2 switchyard bench alltoall\n"
    "Each command takes --help.\n";

int dispatch(const std::vector<std::string>& a) {
  auto rest = [&](size_t from) { return std::vector<std::string>(a.begin() + from, a.end()); };
  if (!a.empty() && a[0] == "--version") {
    if (sy::process_rank() <= 0) std::printf("switchyard %s\n", sy::version());
    return 0;
  }
  if (a.empty() || a[0] == "help" || a[0] == "--help" || a[0] == "-h") {
    if (sy::process_rank() <= 0) std::fputs(kUsage, stdout);
    return a.empty() ? 2 : 0;
  }
  if (a[0] == "bench" && a.size() >= 2 && a[1] == "alltoall")
    return sy::bench_alltoall_command(rest(2));
  if (a[0] == "bench" && a.size() >= 2 && a[1] == "mixer") return sy::bench_mixer_command(rest(2));
  if (a[0] == "bench" && a.size() >= 2 && a[1] == "step") return sy::bench_step_command(rest(2));
  if (a[0] == "bench" && a.size() >= 2 && a[1] == "moe-layer")
    return sy::bench_moe_layer_command(rest(2));
  if (a[0] == "prepare") return sy::prepare_command(rest(1));
  if (a[0] == "train") return sy::train_command(rest(1));
  if (a[0] == "generate") return sy::generate_command(rest(1));
  if (a[0] == "eval") return sy::eval_command(rest(1));
  if (a[0] == "ckpt") return sy::ckpt_command(rest(1));
  if (a[0] == "plan") return sy::plan_command(rest(1));
  if (a[0] == "config" && a.size() >= 2 && a[1] == "check")
    return sy::config_check_command(rest(2));
  if (sy::process_rank() <= 0)
    std::fprintf(stderr, "switchyard: unknown command '%s'\n\n%s", a[0].c_str(), kUsage);
  return 2;
}

// A usage or config problem, the same on every rank: printed once, exit code 2, no abort.
int usage_failure(const std::string& message) {
  if (sy::process_rank() <= 0) std::fprintf(stderr, "switchyard: %s\n", message.c_str());
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  sy::mpi_init(&argc, &argv);
  int code = 0;
  try {
    code = dispatch(std::vector<std::string>(argv + 1, argv + argc));
  } catch (const sy::HelpRequested& h) {
    if (sy::process_rank() <= 0) std::fputs(h.what(), stdout);
  } catch (const sy::UsageError& e) {
    code = usage_failure(e.message());
  } catch (const sy::ConfigError& e) {
    code = usage_failure(e.message());
  } catch (const sy::Error& e) {
    sy::mpi_abort_job(e.what(), 1);
  } catch (const std::bad_alloc&) {
    sy::mpi_abort_job(
        "out of host memory: the config needs more than this machine has; lower "
        "data.global_batch, model.seq_len or the model's sizes, or run on more ranks",
        1);
  } catch (const std::filesystem::filesystem_error& e) {
    sy::mpi_abort_job(std::string("file system error: ") + e.what() +
                          " — check that the path exists, is writable and has room",
                      1);
  } catch (const std::exception& e) {
    sy::mpi_abort_job(std::string("unexpected exception: ") + e.what(), 1);
  }
  // A non-zero exit on some ranks only would leave mpirun waiting on nothing, but the others would
  // still finalize; agreeing first keeps the job's status honest.
  int worst = code;
  MPI_Allreduce(&code, &worst, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  sy::mpi_finalize();
  return worst;
}
