#include "runtime/train/token_stream.h"

#include <fcntl.h>
#include <glob.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <sstream>

#include "runtime/core/error.h"
#include "runtime/train/token_data.h"

namespace sy {

namespace {

// A shard's layout from its first bytes: where the tokens start, how wide, how many.
struct Layout {
  int64_t header_bytes = 0, count = 0;
  int width = 2;
};

Layout llmc_layout(const std::string& path, const int32_t* header, int64_t size) {
  Layout l;
  l.header_bytes = 256 * 4;
  if (header[0] == kLlmcMagic) {
    SY_CHECK(header[1] == kLlmcVersion, path << ": llm.c GPT-2 shard version " << header[1]
                                             << " is not supported (expected 1: uint16 tokens)");
  } else if (header[0] == kLlmcLlama3Magic) {
    SY_CHECK(header[1] == kLlmcLlama3Version, path << ": llm.c LLaMA-3 shard version " << header[1]
                                                   << " is not supported (expected "
                                                   << kLlmcLlama3Version << ": uint32 tokens)");
    l.width = 4;
  } else {
    SY_THROW(path << " has magic " << header[0] << ", not llm.c's " << kLlmcMagic << " or "
                  << kLlmcLlama3Magic
                  << ": is it a raw nanoGPT shard? Set data.format: "
                     "NANOGPT_U16");
  }
  l.count = header[2];
  SY_CHECK(size - l.header_bytes == l.count * l.width,
           path << " is truncated or padded: the header promises " << l.count
                << " tokens, the file holds " << (size - l.header_bytes) / l.width);
  return l;
}

Layout raw_layout(const std::string& path, const unsigned char* bytes, int64_t size) {
  SY_CHECK(size % 2 == 0, path << " has an odd number of bytes: not a uint16 token file");
  int32_t first = 0;
  if (size >= 4) std::memcpy(&first, bytes, 4);
  SY_CHECK(first != kLlmcMagic && first != kLlmcLlama3Magic,
           path << " starts with an llm.c header (magic " << first
                << "), and read as raw tokens it would train on the header: set data.format: "
                   "LLMC");
  Layout l;
  l.count = size / 2;
  return l;
}

}  // namespace

std::vector<std::string> expand_path_spec(const std::string& spec) {
  std::vector<std::string> files;
  std::stringstream parts(spec);
  std::string entry;
  while (std::getline(parts, entry, ',')) {
    if (entry.empty()) continue;
    if (entry.find_first_of("*?[") == std::string::npos) {
      files.push_back(entry);
      continue;
    }
    glob_t g{};
    const int rc = ::glob(entry.c_str(), 0, nullptr, &g);
    std::vector<std::string> matches(g.gl_pathv, g.gl_pathv + (rc == 0 ? g.gl_pathc : 0));
    ::globfree(&g);
    SY_CHECK(!matches.empty(), "no file matches '" << entry << "' (data path spec '" << spec
                                                   << "'): check the pattern");
    std::sort(matches.begin(), matches.end());
    files.insert(files.end(), matches.begin(), matches.end());
  }
  SY_CHECK(!files.empty(), "the data path spec '" << spec << "' names no file");
  return files;
}

TokenStream::TokenStream(const std::string& spec, pb::DataFormat format) {
  for (const std::string& path : expand_path_spec(spec)) map_shard(path, format);
}

TokenStream::TokenStream(std::vector<uint16_t> tokens) : owned_(std::move(tokens)) {
  Shard s;
  s.path = "(in memory)";
  s.tokens = reinterpret_cast<const unsigned char*>(owned_.data());
  s.count = static_cast<int64_t>(owned_.size());
  shards_.push_back(s);
  size_ = s.count;
}

void TokenStream::map_shard(const std::string& path, pb::DataFormat format) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  SY_CHECK(fd >= 0, "cannot open token shard '" << path << "' (" << std::strerror(errno)
                                                << "); run `switchyard prepare` to make shards "
                                                   "from text, or check data.train_path");
  struct stat st {};
  ::fstat(fd, &st);
  const size_t map_bytes = static_cast<size_t>(st.st_size);
  void* map = map_bytes > 0 ? ::mmap(nullptr, map_bytes, PROT_READ, MAP_PRIVATE, fd, 0) : nullptr;
  ::close(fd);
  SY_CHECK(map != MAP_FAILED, "cannot map token shard '" << path << "': " << std::strerror(errno));
  Shard mine;
  mine.path = path;
  mine.map = std::shared_ptr<const unsigned char>(
      static_cast<const unsigned char*>(map), [map_bytes](const unsigned char* p) {
        if (p) ::munmap(const_cast<unsigned char*>(p), map_bytes);
      });
  const unsigned char* bytes = mine.map.get();
  const int64_t size = static_cast<int64_t>(map_bytes);
  Layout l;
  if (format == pb::LLMC) {
    SY_CHECK(size >= 256 * 4, path << " is too short for an llm.c header (" << size << " bytes)");
    int32_t header[256];
    std::memcpy(header, bytes, sizeof header);
    l = llmc_layout(path, header, size);
  } else {
    SY_CHECK(format == pb::NANOGPT_U16, "unknown data format " << pb::DataFormat_Name(format));
    l = raw_layout(path, bytes, size);
  }
  mine.header_bytes = l.header_bytes;
  mine.width = l.width;
  mine.count = l.count;
  mine.tokens = bytes ? bytes + l.header_bytes : nullptr;
  mine.first = size_;
  size_ += l.count;
  shards_.push_back(std::move(mine));
}

uint32_t TokenStream::Shard::at(int64_t i) const {
  if (width == 2) {
    uint16_t t;
    std::memcpy(&t, tokens + 2 * i, 2);
    return t;
  }
  uint32_t t;
  std::memcpy(&t, tokens + 4 * i, 4);
  return t;
}

void TokenStream::copy(int64_t begin, int64_t n, int32_t* out) const {
  SY_CHECK(begin >= 0 && begin + n <= size_, "token range out of the stream");
  // The shard holding `begin`: the last one whose first token is at or before it.
  auto it = std::upper_bound(shards_.begin(), shards_.end(), begin,
                             [](int64_t v, const Shard& s) { return v < s.first; });
  for (--it; n > 0; ++it) {
    const int64_t from = begin - it->first, take = std::min(n, it->count - from);
    for (int64_t i = 0; i < take; ++i) out[i] = static_cast<int32_t>(it->at(from + i));
    out += take;
    begin += take;
    n -= take;
  }
}

void TokenStream::check_range(int vocab_size, int part, int parts) const {
  for (size_t k = static_cast<size_t>(part); k < shards_.size(); k += static_cast<size_t>(parts)) {
    const Shard& s = shards_[k];
    for (int64_t i = 0; i < s.count; ++i) {
      const uint32_t t = s.at(i);
      if (t < static_cast<uint32_t>(vocab_size)) continue;
      SY_THROW(s.path << ": token " << t << " (token " << i << ", byte offset "
                      << s.header_bytes + i * s.width
                      << ") is outside the model's vocabulary (model.vocab_size = " << vocab_size
                      << "): prepare the data with the model's tokenizer, or raise "
                         "model.vocab_size");
    }
  }
}

}  // namespace sy
