#include "runtime/train/safetensors_export.h"

#include <cstdio>
#include <fstream>
#include <map>

#include <google/protobuf/text_format.h>

#include "runtime/core/config.h"
#include "runtime/core/error.h"

namespace sy {

namespace {

// One exported tensor: where its bytes are in which checkpoint file.
struct Entry {
  std::vector<int64_t> shape;
  const std::string* file = nullptr;  // the file's bytes
  uint64_t offset = 0, bytes = 0;
};

std::string json_string(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char esc[8];
      std::snprintf(esc, sizeof esc, "\\u%04x", c);
      out += esc;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

// The file's parameters (not their moments) as entries; expert tensors named per global expert.
void add_entries(const pb::CheckpointFile& meta, const std::string& bytes, int expert,
                 std::map<std::string, Entry>& entries) {
  for (const pb::TensorRecord& r : meta.tensors()) {
    if (r.name().find('#') != std::string::npos) continue;  // AdamW moments
    Entry e;
    e.shape.assign(r.shape().begin() + (expert >= 0 ? 1 : 0), r.shape().end());
    e.file = &bytes;
    e.offset = r.offset();
    e.bytes = r.bytes();
    const std::string name = expert >= 0 ? r.name() + "." + std::to_string(expert) : r.name();
    SY_CHECK(entries.emplace(name, e).second, "tensor '" << name << "' appears twice");
  }
}

std::string header_json(const std::map<std::string, Entry>& entries,
                        const pb::CheckpointManifest& m) {
  std::string config;
  google::protobuf::TextFormat::PrintToString(m.config(), &config);
  std::string h =
      "{\"__metadata__\":{\"format\":\"pt\",\"step\":" + json_string(std::to_string(m.step())) +
      ",\"switchyard_version\":" + json_string(m.switchyard_version()) +
      ",\"config\":" + json_string(config) + "}";
  uint64_t at = 0;
  for (const auto& [name, e] : entries) {
    h += "," + json_string(name) + ":{\"dtype\":\"F32\",\"shape\":[";
    for (size_t i = 0; i < e.shape.size(); ++i) h += (i ? "," : "") + std::to_string(e.shape[i]);
    h += "],\"data_offsets\":[" + std::to_string(at) + "," + std::to_string(at + e.bytes) + "]}";
    at += e.bytes;
  }
  h += "}";
  h.append((8 - h.size() % 8) % 8, ' ');  // the data starts 8-byte aligned
  return h;
}

}  // namespace

ExportStats export_safetensors(const CheckpointOnDisk& c, const std::string& out) {
  std::vector<std::string> files;  // verified bytes, kept while the entries point into them
  files.reserve(1 + c.manifest.experts_size());
  std::map<std::string, Entry> entries;  // sorted by name: a deterministic file
  files.push_back(read_checkpoint_file(c.folder, c.manifest.dense()));
  add_entries(c.manifest.dense(), files.back(), -1, entries);
  for (const pb::ExpertFile& e : c.manifest.experts()) {
    files.push_back(read_checkpoint_file(c.folder, e.file()));
    add_entries(e.file(), files.back(), e.expert(), entries);
  }
  const std::string header = header_json(entries, c.manifest);
  const std::string tmp = out + ".tmp";
  std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
  SY_CHECK(f.good(), "cannot write " << tmp << ": check the folder exists and is writable");
  const uint64_t n = header.size();
  f.write(reinterpret_cast<const char*>(&n), 8);  // little-endian on every host we build for
  f << header;
  ExportStats st;
  for (const auto& [name, e] : entries) {
    f.write(e.file->data() + e.offset, static_cast<std::streamsize>(e.bytes));
    ++st.tensors;
    st.bytes += e.bytes;
  }
  SY_CHECK(f.flush().good(), "writing " << tmp << " failed (is the disk full?)");
  f.close();
  SY_CHECK(std::rename(tmp.c_str(), out.c_str()) == 0, "cannot rename " << tmp << " to " << out);
  return st;
}

}  // namespace sy
