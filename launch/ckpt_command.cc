// `switchyard ckpt inspect|verify|export CHECKPOINT`: what a checkpoint holds (step, writer,
// model, files), whether every file is intact (sizes and CRC-32C, the manifest's own checksum),
// and its parameters as one safetensors file. One process, no MPI collective; CHECKPOINT is a
// step folder or a folder with a `latest` file.
#include <cstdio>
#include <map>

#include "launch/args.h"
#include "launch/commands.h"
#include "runtime/core/clock.h"
#include "runtime/train/checkpoint.h"
#include "runtime/train/safetensors_export.h"

namespace sy {

namespace {

constexpr const char* kUsage =
    "usage: switchyard ckpt inspect|verify CHECKPOINT\n"
    "       switchyard ckpt export CHECKPOINT --out MODEL.safetensors\n"
    "  inspect: step, writer, model and files of a checkpoint (a step folder or its parent)\n"
    "  verify:  reads every file and checks its size and CRC-32C; exit 1 when one is damaged\n"
    "  export:  the parameters as one safetensors file (F32, model names; expert parameters as\n"
    "           one tensor per global expert, <name>.<e>); load with safetensors.torch\n";

int inspect(const CheckpointOnDisk& c) {
  const pb::CheckpointManifest& m = c.manifest;
  const pb::ModelConfig& model = m.config().model();
  std::map<std::string, int> experts_per_layer;
  for (const auto& e : m.experts()) {
    const std::string& path = e.file().path();
    ++experts_per_layer[path.substr(0, path.rfind(".expert"))];
  }
  std::printf(
      "%s\n  step %lld (optimizer steps %lld), written by switchyard %s on %d ranks, ep %d\n",
      c.folder.c_str(), static_cast<long long>(m.step()),
      static_cast<long long>(m.optimizer_steps()),
      m.has_switchyard_version() ? m.switchyard_version().c_str() : "(unrecorded)", m.world_size(),
      m.ep());
  std::printf("  run '%s': %s, d_model %d, %d layers, vocab %d, seq_len %d\n",
              m.config().name().c_str(), pb::ModelFamily_Name(model.family()).c_str(),
              model.d_model(), model.n_layers(), model.vocab_size(), model.seq_len());
  std::printf("  dense.bin: %d tensors, %.2f MiB\n", m.dense().tensors_size(),
              m.dense().bytes() / 1048576.0);
  for (const auto& [layer, n] : experts_per_layer)
    std::printf("  %s: %d expert files\n", layer.c_str(), n);
  std::printf("  %d files, %.2f MiB in all\n", 1 + m.experts_size(),
              checkpoint_file_bytes(m) / 1048576.0);
  return 0;
}

int verify(const CheckpointOnDisk& c) {
  const double t0 = now_s();
  const std::vector<std::string> problems = verify_checkpoint(c);
  const double seconds = now_s() - t0;
  for (const std::string& p : problems) std::printf("DAMAGED: %s\n", p.c_str());
  const uint64_t bytes = checkpoint_file_bytes(c.manifest);
  std::printf("%s: %s — %d files, %.2f MiB read in %.2f s (%.2f GB/s)\n", c.folder.c_str(),
              problems.empty() ? "intact" : "DAMAGED", 1 + c.manifest.experts_size(),
              bytes / 1048576.0, seconds, bytes / 1e9 / std::max(seconds, 1e-9));
  return problems.empty() ? 0 : 1;
}

int export_file(const CheckpointOnDisk& c, const std::string& out) {
  const double t0 = now_s();
  const ExportStats st = export_safetensors(c, out);
  std::printf("%s: %d tensors, %.2f MiB in %.2f s (step %lld of %s)\n", out.c_str(), st.tensors,
              st.bytes / 1048576.0, now_s() - t0, static_cast<long long>(c.manifest.step()),
              c.folder.c_str());
  return 0;
}

}  // namespace

int ckpt_command(const std::vector<std::string>& argv) {
  Args args(argv, {"--out"}, kUsage);
  const auto& p = args.positional();
  const std::string what = p.empty() ? "" : p[0];
  SY_USAGE_CHECK(p.size() == 2 && (what == "inspect" || what == "verify" || what == "export"),
                 args);
  SY_USAGE_CHECK(what != "export" || args.has("--out"), args);
  if (process_rank() > 0) return 0;  // under mpirun: one report
  const CheckpointOnDisk c = open_checkpoint(p[1]);
  if (what == "export") return export_file(c, args.get("--out", ""));
  return what == "inspect" ? inspect(c) : verify(c);
}

}  // namespace sy
