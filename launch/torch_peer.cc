#include "launch/torch_peer.h"

#include <sched.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "runtime/core/error.h"

namespace sy {

std::string torch_peer_mismatch(const MoeOptions& o) {
  if (o.router != pb::TOPK_SOFTMAX) return "its gate is top-k softmax, this layer's router is not";
  if (o.expert != pb::FFN_GELU || o.gelu != Activation::kGelu)
    return "its experts are FFN with tanh GELU";
  if (o.expert_bias) return "its experts have no biases";
  if (o.dropless || o.num_heads != 1) return "it drops by capacity and has one head";
  return "";
}

namespace {

// The "layer_ms" of the peer's JSON record.
double layer_ms_of(const std::string& path) {
  std::ifstream f(path);
  std::stringstream text;
  text << f.rdbuf();
  const std::string s = text.str();
  const size_t at = s.find("\"layer_ms\":");
  SY_CHECK(at != std::string::npos, "the PyTorch peer wrote no layer_ms to " << path);
  return std::strtod(s.c_str() + at + 11, nullptr);
}

// f() with this process's CPU affinity widened to every online core, then restored.
template <typename F>
int with_every_core(F&& f) {
  cpu_set_t mine, all;
  if (sched_getaffinity(0, sizeof mine, &mine) != 0) return f();
  CPU_ZERO(&all);
  const long cores = sysconf(_SC_NPROCESSORS_ONLN);
  for (long c = 0; c < cores && c < CPU_SETSIZE; ++c) CPU_SET(c, &all);
  sched_setaffinity(0, sizeof all, &all);
  const int rc = f();
  sched_setaffinity(0, sizeof mine, &mine);
  return rc;
}

}  // namespace

double run_torch_peer(const TorchPeerRun& run, const MoeOptions& o) {
  const std::string json = (std::filesystem::temp_directory_path() /
                            ("sy_torch_peer_" + std::to_string(getpid()) + ".json"))
                               .string();
  // The peer gets the cores and threads of all the benchmark's ranks: its BLAS threads set, and
  // the affinity mpirun gave this rank widened while it runs.
  std::ostringstream cmd;
  cmd << "OPENBLAS_NUM_THREADS=" << run.threads << " OMP_NUM_THREADS=" << run.threads << " "
      << run.python << " " << run.script << " --device cpu --dtype " << (run.bf16 ? "bf16" : "fp32")
      << " --threads " << run.threads << " --tokens " << run.tokens << " --d-model " << o.d_model
      << " --experts " << o.num_experts << " --top-k " << o.top_k << " --d-expert " << o.hidden()
      << " --capacity-factor " << o.capacity_factor << " -n " << run.iters << " -w 1 --json "
      << json << " > /dev/null";
  const int rc = with_every_core([&] { return std::system(cmd.str().c_str()); });
  SY_CHECK(rc == 0, "the PyTorch peer failed (exit " << rc << "): " << cmd.str()
                                                     << " — it needs a Python with torch (set "
                                                        "SY_PYTHON; Debian: python3-torch)");
  const double ms = layer_ms_of(json);
  std::remove(json.c_str());
  return ms;
}

}  // namespace sy
