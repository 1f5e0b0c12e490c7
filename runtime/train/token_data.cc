#include "runtime/train/token_data.h"

#include <algorithm>

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <numeric>
#include <sstream>

#include "runtime/core/error.h"
#include "runtime/core/random.h"

namespace sy {

namespace {

void write_all(int fd, const void* data, size_t bytes, const std::string& path) {
  const char* p = static_cast<const char*>(data);
  while (bytes > 0) {
    ssize_t n = ::write(fd, p, bytes);
    SY_CHECK(n > 0,
             "writing " << path << " failed: " << std::strerror(errno) << " (is the disk full?)");
    p += n;
    bytes -= static_cast<size_t>(n);
  }
}

int64_t gcd64(int64_t a, int64_t b) {
  return b == 0 ? a : gcd64(b, a % b);
}

}  // namespace

void write_shard(const std::string& path, const std::vector<uint16_t>& tokens,
                 pb::DataFormat format) {
  std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  SY_CHECK(fd >= 0, "cannot create " << tmp << ": " << std::strerror(errno));
  if (format == pb::LLMC) {
    int32_t header[256] = {};
    header[0] = kLlmcMagic;
    header[1] = kLlmcVersion;
    SY_CHECK(tokens.size() <= 0x7fffffffu, "a shard holds at most 2^31 tokens");
    header[2] = static_cast<int32_t>(tokens.size());
    write_all(fd, header, sizeof header, tmp);
  } else {
    SY_CHECK(format == pb::NANOGPT_U16, "unknown data format " << pb::DataFormat_Name(format));
  }
  write_all(fd, tokens.data(), tokens.size() * sizeof(uint16_t), tmp);
  SY_CHECK(::fsync(fd) == 0, "fsync of " << tmp << " failed: " << std::strerror(errno));
  ::close(fd);
  SY_CHECK(std::rename(tmp.c_str(), path.c_str()) == 0,
           "cannot rename " << tmp << " to " << path << ": " << std::strerror(errno));
}

std::vector<uint16_t> read_shard(const std::string& path, pb::DataFormat format) {
  std::ifstream in(path, std::ios::binary);
  SY_CHECK(in.good(), "cannot open token shard '" << path
                                                  << "'; run `switchyard prepare` to make "
                                                     "shards from text, or check data.train_path");
  in.seekg(0, std::ios::end);
  int64_t size = in.tellg();
  in.seekg(0);
  int64_t offset = 0, count = 0;
  if (format == pb::LLMC) {
    int32_t header[256];
    SY_CHECK(size >= static_cast<int64_t>(sizeof header),
             path << " is too short for an llm.c header (" << size << " bytes)");
    in.read(reinterpret_cast<char*>(header), sizeof header);
    SY_CHECK(header[0] != kLlmcLlama3Magic,
             path << " is an llm.c LLaMA-3 shard (magic " << kLlmcLlama3Magic
                  << ", uint32 tokens), which Switchyard does not read yet: prepare the text "
                     "with `switchyard prepare`, or convert the shard to uint16 tokens");
    SY_CHECK(header[0] == kLlmcMagic,
             path << " has magic " << header[0] << ", not llm.c's " << kLlmcMagic
                  << ": is it a raw nanoGPT shard? Set data.format: NANOGPT_U16");
    SY_CHECK(header[1] == kLlmcVersion, path << ": llm.c shard version " << header[1]
                                             << " is not supported (expected 1: uint16 tokens)");
    offset = sizeof header;
    count = header[2];
    SY_CHECK(size - offset == count * 2, path << " is truncated or padded: the header promises "
                                              << count << " tokens, the file holds "
                                              << (size - offset) / 2);
  } else {
    SY_CHECK(size % 2 == 0, path << " has an odd number of bytes: not a uint16 token file");
    int32_t first = 0;
    if (size >= 4) in.read(reinterpret_cast<char*>(&first), sizeof first);
    in.seekg(0);
    SY_CHECK(first != kLlmcMagic && first != kLlmcLlama3Magic,
             path << " starts with an llm.c header (magic " << first
                  << "), and read as raw tokens it would train on the header: set data.format: "
                     "LLMC");
    count = size / 2;
  }
  std::vector<uint16_t> tokens(static_cast<size_t>(count));
  in.read(reinterpret_cast<char*>(tokens.data()), count * 2);
  SY_CHECK(in.good() || count == 0, "reading " << path << " failed");
  return tokens;
}

void check_token_range(const std::vector<uint16_t>& tokens, int vocab_size, const std::string& path,
                       pb::DataFormat format) {
  const auto bad = std::find_if(tokens.begin(), tokens.end(),
                                [vocab_size](uint16_t t) { return t >= vocab_size; });
  if (bad == tokens.end()) return;
  const int64_t index = bad - tokens.begin();
  const int64_t offset = index * 2 + (format == pb::LLMC ? 256 * 4 : 0);
  SY_THROW(path << ": token " << *bad << " (token " << index << ", byte offset " << offset
                << ") is outside the model's vocabulary (model.vocab_size = " << vocab_size
                << "): prepare the data with the model's tokenizer, or raise model.vocab_size");
}

PrepareStats prepare_text(const std::vector<std::string>& files, const std::string& out_dir,
                          double val_fraction, pb::DataFormat format) {
  SY_CHECK(!files.empty(), "prepare needs at least one text file");
  SY_CHECK(val_fraction > 0 && val_fraction < 1, "the validation fraction must be in (0, 1)");
  std::vector<uint16_t> stream;
  PrepareStats st;
  for (const auto& f : files) {
    std::ifstream in(f, std::ios::binary);
    SY_CHECK(in.good(), "cannot read text file '" << f << "'");
    std::stringstream ss;
    ss << in.rdbuf();
    std::string text = ss.str();
    for (unsigned char c : text)
      if (c != 0) stream.push_back(c);  // NUL is the document separator
    stream.push_back(kEndOfDocument);
    ++st.documents;
  }
  int64_t n_val = static_cast<int64_t>(static_cast<double>(stream.size()) * val_fraction);
  int64_t n_train = static_cast<int64_t>(stream.size()) - n_val;
  SY_CHECK(n_val > 0 && n_train > 0, "too little text (" << stream.size() << " bytes) to split");
  write_shard(out_dir + "/train.bin", {stream.begin(), stream.begin() + n_train}, format);
  write_shard(out_dir + "/val.bin", {stream.begin() + n_train, stream.end()}, format);
  st.train_tokens = n_train;
  st.val_tokens = n_val;
  return st;
}

BatchSampler::BatchSampler(std::vector<uint16_t> tokens, int seq_len, int global_batch,
                           uint64_t seed)
    : tokens_(std::move(tokens)), seq_len_(seq_len), global_batch_(global_batch), seed_(seed) {
  SY_CHECK(seq_len >= 1 && global_batch >= 1, "sequence length and batch must be ≥ 1");
  windows_ = (static_cast<int64_t>(tokens_.size()) - 1) / seq_len_;
  SY_CHECK(windows_ >= 1, "the data has " << tokens_.size()
                                          << " tokens, fewer than one sequence of " << seq_len_ + 1
                                          << ": use more text or a shorter "
                                             "model.seq_len");
}

int64_t BatchSampler::window_at(int64_t index) const {
  // Epoch e visits its windows in the order (a·i + b) mod N with gcd(a, N) = 1: a permutation,
  // different each epoch, a pure function of (seed, index).
  int64_t n = windows_, epoch = index / n, i = index % n;
  uint64_t r = random_bits(seed_, 0x5eed, static_cast<uint64_t>(epoch));
  int64_t a = static_cast<int64_t>(r % static_cast<uint64_t>(n)) | 1;
  while (gcd64(a, n) != 1) a = (a + 1) % n == 0 ? 1 : a + 1;
  int64_t b = static_cast<int64_t>((r >> 32) % static_cast<uint64_t>(n));
  return static_cast<int64_t>((static_cast<__int128>(a) * i + b) % n);
}

void BatchSampler::batch(std::vector<int32_t>& inputs, std::vector<int32_t>& targets, int64_t step,
                         int rank, int world) const {
  SY_CHECK(world >= 1 && global_batch_ % world == 0,
           "data.global_batch = " << global_batch_ << " must be a multiple of the " << world
                                  << " data-parallel ranks");
  int local = global_batch_ / world;
  inputs.resize(static_cast<size_t>(local) * seq_len_);
  targets.resize(inputs.size());
  for (int b = 0; b < local; ++b) {
    int64_t seq = step * global_batch_ + static_cast<int64_t>(rank) * local + b;
    int64_t start = window_at(seq) * seq_len_;
    for (int t = 0; t < seq_len_; ++t) {
      inputs[b * seq_len_ + t] = tokens_[start + t];
      targets[b * seq_len_ + t] = tokens_[start + t + 1];
    }
  }
}

}  // namespace sy
