#include "runtime/train/checkpoint.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <google/protobuf/text_format.h>

#include "comm/agree.h"
#include "comm/tensor_exchange.h"
#include "runtime/core/config_diff.h"
#include "runtime/core/crc32c.h"
#include "runtime/core/version.h"
#include "runtime/layers/mixed_precision.h"

namespace sy {

namespace {

namespace fs = std::filesystem;

void write_synced(const std::string& path, const std::string& bytes) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  SY_CHECK(fd >= 0, "cannot create " << path << ": " << std::strerror(errno));
  size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    SY_CHECK(n > 0,
             "writing " << path << " failed: " << std::strerror(errno) << " (is the disk full?)");
    done += static_cast<size_t>(n);
  }
  SY_CHECK(::fsync(fd) == 0, "fsync of " << path << " failed: " << std::strerror(errno));
  ::close(fd);
}

void sync_dir(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY);
  if (fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
}

std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in.good()) SY_THROW("checkpoint file " << path << " is missing");
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The MoE layer a parameter belongs to when it is an expert's ("block3.tmoe" for
// "block3.tmoe.experts.w1").
std::string layer_of(const std::string& name) {
  auto at = name.find(".experts.");
  SY_CHECK(at != std::string::npos, "expert parameter '" << name << "' has no '.experts.' part");
  return name.substr(0, at);
}

// Builds one file: tensors appended in order, with their records.
struct FileBuilder {
  std::string bytes;
  pb::CheckpointFile meta;
  void add(const std::string& name, const Tensor& t) {
    Tensor host = t.to(Device::cpu());
    pb::TensorRecord* r = meta.add_tensors();
    r->set_name(name);
    for (int64_t d : t.shape()) r->add_shape(d);
    r->set_offset(bytes.size());
    r->set_bytes(host.nbytes());
    bytes.append(static_cast<const char*>(host.raw()), host.nbytes());
  }
  pb::CheckpointFile finish(const std::string& folder, const std::string& rel) {
    meta.set_path(rel);
    meta.set_bytes(bytes.size());
    meta.set_crc32c(crc32c(bytes.data(), bytes.size()));
    write_synced(folder + "/" + rel, bytes);
    return meta;
  }
};

}  // namespace

std::string read_checkpoint_file(const std::string& folder, const pb::CheckpointFile& meta) {
  std::string bytes = read_all(folder + "/" + meta.path());
  if (bytes.size() != meta.bytes() || crc32c(bytes.data(), bytes.size()) != meta.crc32c())
    SY_THROW("checkpoint file " << folder << "/" << meta.path()
                                << " is corrupt (size or CRC-32C mismatch): restore it or use "
                                   "an earlier checkpoint");
  return bytes;
}

namespace {

// A verified file, its tensors by name.
struct LoadedFile {
  std::string bytes;
  std::map<std::string, const pb::TensorRecord*> records;
  LoadedFile(const std::string& folder, const pb::CheckpointFile& meta)
      : bytes(read_checkpoint_file(folder, meta)) {
    for (const auto& r : meta.tensors()) records[r.name()] = &r;
  }
  void load(const std::string& name, const Tensor& into) const {
    auto it = records.find(name);
    SY_CHECK(it != records.end(), "the checkpoint has no tensor '"
                                      << name << "': was it written by another model config?");
    const pb::TensorRecord& r = *it->second;
    SY_CHECK(r.bytes() == into.nbytes() && r.offset() + r.bytes() <= bytes.size(),
             "tensor '" << name << "' in the checkpoint has " << r.bytes() << " bytes, the model "
                        << into.nbytes() << ": the model config differs from the checkpoint's");
    Tensor host =
        Tensor::wrap(const_cast<char*>(bytes.data()) + r.offset(), into.shape(), DType::kF32);
    into.copy_from(host);
  }
};

// The optimizer's moments of parameter i (first or second).
Tensor moments(AdamW* optimizer, size_t i, bool second) {
  return second ? optimizer->second_moments()[i] : optimizer->first_moments()[i];
}

// Dense parameters (the same on every rank) and their moments, into dense.bin.
pb::CheckpointFile write_dense_file(const std::vector<Param*>& params, AdamW* optimizer,
                                    const std::string& tmp) {
  FileBuilder f;
  for (size_t i = 0; i < params.size(); ++i) {
    if (params[i]->is_expert) continue;
    f.add(params[i]->name, params[i]->value);
    if (optimizer) {
      f.add(params[i]->name + "#adam_m", moments(optimizer, i, false));
      f.add(params[i]->name + "#adam_v", moments(optimizer, i, true));
    }
  }
  return f.finish(tmp, "dense.bin");
}

// This rank's experts, one file per layer and global expert (keyed by global id, so the
// checkpoint loads with any ep), recorded in `manifest`.
void write_expert_files(const std::vector<Param*>& params, AdamW* optimizer,
                        const ProcessGroups& groups, const std::string& tmp,
                        pb::CheckpointManifest* manifest) {
  std::map<std::pair<std::string, int>, FileBuilder> files;
  for (size_t i = 0; i < params.size(); ++i) {
    Param* p = params[i];
    if (!p->is_expert) continue;
    const int64_t local = p->value.dim(0);
    const int first = groups.expert_range(static_cast<int>(local) * groups.ep).first;
    for (int64_t le = 0; le < local; ++le) {
      FileBuilder& f = files[{layer_of(p->name), first + static_cast<int>(le)}];
      f.add(p->name, p->value.slice_rows(le, le + 1));
      if (optimizer) {
        f.add(p->name + "#adam_m", moments(optimizer, i, false).slice_rows(le, le + 1));
        f.add(p->name + "#adam_v", moments(optimizer, i, true).slice_rows(le, le + 1));
      }
    }
  }
  for (auto& [key, f] : files) {
    pb::ExpertFile* e = manifest->add_experts();
    e->set_expert(key.second);
    *e->mutable_file() = f.finish(tmp, key.first + ".expert" + std::to_string(key.second) + ".bin");
  }
}

// Every rank's part of the manifest, gathered and merged (each rank gets all of it).
pb::CheckpointManifest gather_manifest(Communicator& world, const pb::CheckpointManifest& mine) {
  const std::string blob = mine.SerializeAsString();
  std::vector<size_t> sizes;
  std::vector<char> all = all_gather_v(world, blob.data(), blob.size(), &sizes);
  pb::CheckpointManifest manifest;
  for (int p = 0, at = 0; p < world.size(); at += static_cast<int>(sizes[p++])) {
    pb::CheckpointManifest part;
    SY_CHECK(part.ParseFromArray(all.data() + at, static_cast<int>(sizes[p])),
             "checkpoint: a rank's record did not parse");
    manifest.MergeFrom(part);
  }
  return manifest;
}

// CRC-32C of the manifest's deterministic binary form with its own checksum cleared.
uint32_t manifest_checksum(pb::CheckpointManifest m) {
  m.clear_manifest_crc32c();
  std::string bytes;
  {
    google::protobuf::io::StringOutputStream stream(&bytes);
    google::protobuf::io::CodedOutputStream out(&stream);
    out.SetSerializationDeterministic(true);
    m.SerializeToCodedStream(&out);
  }
  return crc32c(bytes.data(), bytes.size());
}

// Writes the manifest (with its checksum) into the temporary folder, then puts the folder in place
// and points `latest` at it, syncing each step. An existing copy of the step is moved aside first
// and removed only once the new one is in place: a crash at any point leaves a complete copy that
// load_checkpoint finds.
void publish(pb::CheckpointManifest manifest, const std::string& dir, const std::string& name) {
  const std::string final_dir = dir + "/" + name, tmp = final_dir + ".tmp",
                    old = final_dir + ".old";
  manifest.set_manifest_crc32c(manifest_checksum(manifest));
  std::string text;
  google::protobuf::TextFormat::PrintToString(manifest, &text);
  write_synced(tmp + "/manifest.pbtxt", text);
  sync_dir(tmp);
  fs::remove_all(old);
  if (fs::exists(final_dir)) fs::rename(final_dir, old);
  fs::rename(tmp, final_dir);
  sync_dir(dir);
  write_synced(dir + "/latest.tmp", name + "\n");
  fs::rename(dir + "/latest.tmp", dir + "/latest");
  sync_dir(dir);
  fs::remove_all(old);
}

// Runs a collective step of a save; when it fails anywhere, rank 0 removes the temporary folder
// (so a full disk is not kept full) before the error goes on.
void save_step(Communicator& world, const char* what, const std::string& tmp,
               const std::function<void()>& fn) {
  try {
    agree(world, what, fn);
  } catch (...) {
    std::error_code ignored;
    if (world.rank() == 0) fs::remove_all(tmp, ignored);
    throw;
  }
}

}  // namespace

CheckpointOnDisk save_checkpoint(const std::string& dir, int64_t step, const pb::RunConfig& config,
                                 LanguageModel& model, AdamW* optimizer,
                                 const ProcessGroups& groups) {
  Communicator& world = *groups.world_host;
  const std::string name = "step_" + std::to_string(step);
  const std::string tmp = dir + "/" + name + ".tmp";
  agree(world, "creating the checkpoint folder", [&] {
    if (world.rank() == 0) {
      fs::remove_all(tmp);
      fs::create_directories(tmp);
    }
  });
  const std::vector<Param*> params = model.params();
  pb::CheckpointManifest mine;
  save_step(world, "writing the checkpoint files", tmp, [&] {
    if (world.rank() == 0) *mine.mutable_dense() = write_dense_file(params, optimizer, tmp);
    // Experts: the first replica (edp index 0, i.e. ep group 0) writes them.
    if (groups.ep_index() == 0) write_expert_files(params, optimizer, groups, tmp, &mine);
  });
  pb::CheckpointManifest manifest = gather_manifest(world, mine);
  save_step(world, "writing the checkpoint manifest", tmp, [&] {
    if (world.rank() != 0) return;
    manifest.set_version(1);
    manifest.set_switchyard_version(sy::version());
    manifest.set_step(step);
    manifest.set_optimizer_steps(optimizer ? optimizer->steps_taken() : 0);
    manifest.set_world_size(world.size());
    manifest.set_ep(groups.ep);
    *manifest.mutable_config() = config;
    publish(manifest, dir, name);
  });
  return CheckpointOnDisk{dir + "/" + name, manifest};
}

namespace {

// The checkpoint folder `folder_in` names: itself, or the one its `latest` file points at. When
// that one is missing but its ".old" copy exists (a crash while a step was being re-saved), the
// old copy.
std::string checkpoint_folder(const std::string& folder_in) {
  std::string folder = folder_in;
  if (!fs::exists(folder + "/manifest.pbtxt") && fs::exists(folder + "/latest")) {
    std::string latest = read_all(folder + "/latest");
    while (!latest.empty() && (latest.back() == '\n' || latest.back() == ' ')) latest.pop_back();
    folder += "/" + latest;
  }
  if (!fs::exists(folder + "/manifest.pbtxt") && fs::exists(folder + ".old/manifest.pbtxt"))
    folder += ".old";
  SY_CHECK(fs::exists(folder + "/manifest.pbtxt"),
           "no checkpoint at '" << folder_in << "' (expected manifest.pbtxt or a `latest` file)");
  return folder;
}

// The manifest, checked against its own checksum.
pb::CheckpointManifest read_manifest(const std::string& folder) {
  const std::string path = folder + "/manifest.pbtxt";
  pb::CheckpointManifest m;
  SY_CHECK(google::protobuf::TextFormat::ParseFromString(read_all(path), &m),
           "cannot parse " << path << ": restore it or use an earlier checkpoint");
  SY_CHECK(!m.has_manifest_crc32c() || m.manifest_crc32c() == manifest_checksum(m),
           path << " does not match its own checksum (manifest_crc32c): it was edited or "
                   "damaged; restore it or use an earlier checkpoint");
  return m;
}

// Refuses a checkpoint written by another model, listing the settings that differ.
void check_same_model(const CheckpointOnDisk& c, const pb::ModelConfig& model) {
  std::vector<std::string> diff = model_mismatches(c.manifest.config().model(), model);
  if (diff.empty()) return;
  std::string list;
  for (const std::string& d : diff) list += "\n  - " + d;
  SY_THROW("the checkpoint " << c.folder << " was written by another model (" << diff.size()
                             << " setting(s) differ):" << list
                             << "\nload it with the config it was trained with (its manifest "
                                "holds it); ep and the world size may differ");
}

// Every parameter's tensors (and, with an optimizer, its moments) from the checkpoint's files.
void load_tensors(const std::string& folder, const pb::CheckpointManifest& manifest,
                  LanguageModel& model, AdamW* optimizer, const ProcessGroups& groups) {
  LoadedFile dense(folder, manifest.dense());
  std::map<std::pair<std::string, int>, std::unique_ptr<LoadedFile>> experts;  // opened on demand
  auto expert_file = [&](const std::string& layer, int e) -> LoadedFile& {
    std::unique_ptr<LoadedFile>& f = experts[{layer, e}];
    if (!f)
      for (const auto& x : manifest.experts())
        if (x.expert() == e && x.file().path() == layer + ".expert" + std::to_string(e) + ".bin")
          f = std::make_unique<LoadedFile>(folder, x.file());
    SY_CHECK(f, "the checkpoint has no file for expert "
                    << e << " of '" << layer << "': was it written with fewer experts?");
    return *f;
  };
  auto load = [&](LoadedFile& f, const Param& p, size_t i, int64_t row) {
    auto part = [&](const Tensor& t) { return row < 0 ? t : t.slice_rows(row, row + 1); };
    f.load(p.name, part(p.value));
    if (!optimizer) return;
    f.load(p.name + "#adam_m", part(optimizer->first_moments()[i]));
    f.load(p.name + "#adam_v", part(optimizer->second_moments()[i]));
  };
  const std::vector<Param*> params = model.params();
  for (size_t i = 0; i < params.size(); ++i) {
    const Param& p = *params[i];
    if (!p.is_expert) {
      load(dense, p, i, -1);
      continue;
    }
    const int64_t local = p.value.dim(0);
    const int first = groups.expert_range(static_cast<int>(local) * groups.ep).first;
    for (int64_t le = 0; le < local; ++le)
      load(expert_file(layer_of(p.name), first + static_cast<int>(le)), p, i, le);
  }
}

}  // namespace

CheckpointOnDisk open_checkpoint(const std::string& path) {
  CheckpointOnDisk c;
  c.folder = checkpoint_folder(path);
  c.manifest = read_manifest(c.folder);
  return c;
}

std::vector<const pb::CheckpointFile*> checkpoint_files(const pb::CheckpointManifest& m) {
  std::vector<const pb::CheckpointFile*> files = {&m.dense()};
  for (const auto& e : m.experts()) files.push_back(&e.file());
  return files;
}

uint64_t checkpoint_file_bytes(const pb::CheckpointManifest& m) {
  uint64_t bytes = 0;
  for (const pb::CheckpointFile* f : checkpoint_files(m)) bytes += f->bytes();
  return bytes;
}

std::vector<std::string> verify_checkpoint(const CheckpointOnDisk& c) {
  std::vector<std::string> problems;
  for (const pb::CheckpointFile* f : checkpoint_files(c.manifest)) {
    try {
      read_checkpoint_file(c.folder, *f);
    } catch (const Error& e) {
      problems.push_back(e.message());
    }
  }
  return problems;
}

pb::CheckpointManifest load_checkpoint(const std::string& folder_in, LanguageModel& model,
                                       AdamW* optimizer, const ProcessGroups& groups) {
  pb::CheckpointManifest manifest;
  agree(*groups.world_host, "loading the checkpoint", [&] {
    const CheckpointOnDisk c = open_checkpoint(folder_in);
    check_same_model(c, model.config());
    load_tensors(c.folder, c.manifest, model, optimizer, groups);
    if (optimizer) optimizer->set_steps_taken(c.manifest.optimizer_steps());
    manifest = c.manifest;
  });
  refresh_compute_copies(model.params());  // the GEMMs' bf16 copies follow the loaded masters
  return manifest;
}

}  // namespace sy
