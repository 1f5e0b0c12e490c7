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
  TokenStream stream(path, format);
  std::vector<int32_t> wide(static_cast<size_t>(stream.size()));
  stream.copy(0, stream.size(), wide.data());
  std::vector<uint16_t> tokens(wide.size());
  for (size_t i = 0; i < wide.size(); ++i) {
    SY_CHECK(wide[i] >= 0 && wide[i] < 65536,
             path << ": token " << wide[i] << " does not fit uint16 (read it as a TokenStream)");
    tokens[i] = static_cast<uint16_t>(wide[i]);
  }
  return tokens;
}

namespace {

// Writes tokens [begin, end) of the stream as one split; returns the path spec to read it back.
std::string write_split(const std::vector<uint16_t>& stream, int64_t begin, int64_t end,
                        const std::string& out_dir, const std::string& split, pb::DataFormat format,
                        int64_t shard_tokens) {
  if (end - begin <= shard_tokens) {
    write_shard(out_dir + "/" + split + ".bin", {stream.begin() + begin, stream.begin() + end},
                format);
    return out_dir + "/" + split + ".bin";
  }
  for (int64_t at = begin, i = 0; at < end; at += shard_tokens, ++i) {
    char name[32];
    std::snprintf(name, sizeof name, "_%06lld.bin", static_cast<long long>(i));
    const int64_t stop = std::min(end, at + shard_tokens);
    write_shard(out_dir + "/" + split + name, {stream.begin() + at, stream.begin() + stop}, format);
  }
  return out_dir + "/" + split + "_*.bin";
}

}  // namespace

PrepareStats prepare_text(const std::vector<std::string>& files, const std::string& out_dir,
                          double val_fraction, pb::DataFormat format, int64_t shard_tokens,
                          bool progress) {
  SY_CHECK(!files.empty(), "prepare needs at least one text file");
  SY_CHECK(val_fraction > 0 && val_fraction < 1, "the validation fraction must be in (0, 1)");
  SY_CHECK(shard_tokens >= 1 && shard_tokens <= kMaxShardTokens,
           "tokens per shard must be in [1, 2^30], got " << shard_tokens);
  std::vector<uint16_t> stream;
  PrepareStats st;
  const size_t every = std::max<size_t>(1, files.size() / 10);
  for (const auto& f : files) {
    std::ifstream in(f, std::ios::binary);
    SY_CHECK(in.good(), "cannot read text file '" << f << "'");
    std::stringstream ss;
    ss << in.rdbuf();
    for (unsigned char c : ss.str())
      if (c != 0) stream.push_back(c);  // NUL is the document separator
    stream.push_back(kEndOfDocument);
    ++st.documents;
    if (progress && st.documents % static_cast<int64_t>(every) == 0)
      std::printf("# prepare: %lld of %zu files read, %.1f M tokens\n",
                  static_cast<long long>(st.documents), files.size(), stream.size() / 1e6);
  }
  const int64_t total = static_cast<int64_t>(stream.size());
  const int64_t n_val = static_cast<int64_t>(static_cast<double>(total) * val_fraction);
  const int64_t n_train = total - n_val;
  SY_CHECK(n_val > 0 && n_train > 0, "too little text (" << total << " bytes) to split");
  st.train_path = write_split(stream, 0, n_train, out_dir, "train", format, shard_tokens);
  st.val_path = write_split(stream, n_train, total, out_dir, "val", format, shard_tokens);
  st.train_tokens = n_train;
  st.val_tokens = n_val;
  return st;
}

BatchSampler::BatchSampler(std::vector<uint16_t> tokens, int seq_len, int global_batch,
                           uint64_t seed)
    : BatchSampler(std::make_shared<const TokenStream>(std::move(tokens)), seq_len, global_batch,
                   seed) {}

BatchSampler::BatchSampler(std::shared_ptr<const TokenStream> tokens, int seq_len, int global_batch,
                           uint64_t seed)
    : tokens_(std::move(tokens)), seq_len_(seq_len), global_batch_(global_batch), seed_(seed) {
  SY_CHECK(seq_len >= 1 && global_batch >= 1, "sequence length and batch must be ≥ 1");
  windows_ = (tokens_->size() - 1) / seq_len_;
  SY_CHECK(windows_ >= 1, "the data has " << tokens_->size()
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
  std::vector<int32_t> window(static_cast<size_t>(seq_len_) + 1);
  for (int b = 0; b < local; ++b) {
    int64_t seq = step * global_batch_ + static_cast<int64_t>(rank) * local + b;
    tokens_->copy(window_at(seq) * seq_len_, seq_len_ + 1, window.data());
    std::copy(window.begin(), window.end() - 1, inputs.begin() + b * seq_len_);
    std::copy(window.begin() + 1, window.end(), targets.begin() + b * seq_len_);
  }
}

}  // namespace sy
